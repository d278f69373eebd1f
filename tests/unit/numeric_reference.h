// Independent float64 re-derivations of the number formats fp8ops uses, written from the format
// definitions (sign, exponent, mantissa, bias) and not from the library code, for the tests to
// compare the library against. Nothing here includes fp8ops headers.
#ifndef FP8OPS_TESTS_UNIT_NUMERIC_REFERENCE_H_
#define FP8OPS_TESTS_UNIT_NUMERIC_REFERENCE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace fp8ops::testref {

// A binary floating-point format with `man` explicit mantissa bits and exponent bias `bias`.
struct FormatDef {
  int man;   // explicit mantissa bits
  int bias;  // exponent bias
  int exp_bits;
  int onnx_type;  // 17, 19, 10 (half), 16 (bfloat16)
};
constexpr FormatDef kE4M3FN{3, 7, 4, 17};
constexpr FormatDef kE5M2{2, 15, 5, 19};
constexpr FormatDef kHalf{10, 15, 5, 10};
constexpr FormatDef kBf16{7, 127, 8, 16};

inline FormatDef Fp8Def(int onnx_type) { return onnx_type == 17 ? kE4M3FN : kE5M2; }

// Smallest normal exponent: 1 - bias.
inline int MinExp(const FormatDef& f) { return 1 - f.bias; }

// Largest finite value from the definition: E4M3FN's top exponent field holds finite values
// except S.1111.111 (NaN); the IEEE-like formats reserve the top exponent field for Inf/NaN.
inline double MaxFinite(const FormatDef& f) {
  if (f.onnx_type == 17) return std::ldexp(1.0 + 6.0 / 8.0, 15 - 7);  // 1.110b * 2^8 = 448
  const int emax = (1 << f.exp_bits) - 2 - f.bias;
  return std::ldexp(2.0 - std::ldexp(1.0, -f.man), emax);
}

// Value of a code of the format, from sign / exponent field / mantissa field.
inline double DecodeBits(uint32_t code, const FormatDef& f) {
  const int total = 1 + f.exp_bits + f.man;
  const bool neg = (code >> (total - 1)) & 1u;
  const uint32_t e = (code >> f.man) & ((1u << f.exp_bits) - 1u);
  const uint32_t m = code & ((1u << f.man) - 1u);
  const uint32_t e_all = (1u << f.exp_bits) - 1u;
  double v;
  if (f.onnx_type == 17) {
    if (e == e_all && m == ((1u << f.man) - 1u)) return std::numeric_limits<double>::quiet_NaN();
  } else if (e == e_all) {
    if (m != 0) return std::numeric_limits<double>::quiet_NaN();
    return neg ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  }
  if (e == 0) {
    v = std::ldexp(static_cast<double>(m), MinExp(f) - f.man);  // subnormal: 0.m * 2^(1-bias)
  } else {
    v = std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man), static_cast<int>(e) - f.bias);
  }
  return neg ? -v : v;
}

// Rounds |a| (finite, >= 0) to the format's grid, ties to even, with the exponent range unbounded
// above (so the result may exceed MaxFinite). Subnormals are multiples of 2^(1-bias-man).
inline double RoundMagnitude(double a, const FormatDef& f) {
  if (a == 0.0) return 0.0;
  int e2;
  std::frexp(a, &e2);  // a = fr * 2^e2, fr in [0.5, 1): unbiased exponent e2 - 1
  const int e = std::max(e2 - 1, MinExp(f));
  const double quantum = std::ldexp(1.0, e - f.man);
  const double q = a / quantum;  // exact: division by a power of two
  const double fl = std::floor(q);
  const double rem = q - fl;
  double r = fl;
  if (rem > 0.5 || (rem == 0.5 && std::fmod(fl, 2.0) != 0.0)) r = fl + 1.0;
  return r * quantum;
}

// Code (sign bit excluded) of a finite magnitude that lies on the format's grid and is <= max.
inline uint32_t MagnitudeCode(double v, const FormatDef& f) {
  if (v == 0.0) return 0;
  const double min_normal = std::ldexp(1.0, MinExp(f));
  if (v < min_normal) return static_cast<uint32_t>(v / std::ldexp(1.0, MinExp(f) - f.man));
  int e2;
  std::frexp(v, &e2);
  const int e = e2 - 1;
  const double frac = v / std::ldexp(1.0, e) - 1.0;  // in [0, 1)
  return (static_cast<uint32_t>(e + f.bias) << f.man) |
         static_cast<uint32_t>(frac * std::ldexp(1.0, f.man));
}

// FP8 encoding from the spec (docs/OPERATORS.md 1.2): RNE with unbounded exponent; overflow ->
// +-max (saturate) or NaN / +-Inf; NaN -> 0x7F. `x` is any double (a float's value is exact).
inline uint8_t EncodeFp8Ref(double x, int onnx_type, bool saturate) {
  const FormatDef f = Fp8Def(onnx_type);
  if (std::isnan(x)) return 0x7F;
  const uint8_t sign = std::signbit(x) ? 0x80 : 0x00;
  const double max = MaxFinite(f);
  const uint8_t max_code = static_cast<uint8_t>(MagnitudeCode(max, f));
  const uint8_t overflow = onnx_type == 17 ? 0x7F : 0x7C;
  const double a = std::fabs(x);
  if (std::isinf(a)) return sign | (saturate ? max_code : overflow);
  const double r = RoundMagnitude(a, f);
  if (r > max) return sign | (saturate ? max_code : overflow);
  return sign | static_cast<uint8_t>(MagnitudeCode(r, f));
}

// The spec's dynamic scale (docs/OPERATORS.md 1.4) of a group whose finite amax is `amax`:
// amax / fp8_max rounded to float32 (nearest; upward where the result is subnormal, so that
// amax / scale <= fp8_max), 1 for amax 0, then with pow2 the smallest power of two >= it.
inline float ExpectedScale(double amax, int onnx_type, bool pow2) {
  if (!(amax > 0.0)) return 1.0f;
  const double q = amax / MaxFinite(Fp8Def(onnx_type));
  float s = static_cast<float>(q);
  if (static_cast<double>(s) < static_cast<double>(std::numeric_limits<float>::min()) &&
      static_cast<double>(s) < q) {
    s = std::nextafter(s, std::numeric_limits<float>::infinity());
  }
  if (pow2) {
    double p = std::ldexp(1.0, -149);
    while (p < static_cast<double>(s)) p *= 2;
    s = static_cast<float>(p);
  }
  return s;
}

// Rounds x to IEEE half / bfloat16 bits, RNE, overflow to Inf, NaN -> a quiet NaN (0x7E00 /
// 0x7FC0 with x's sign). Only the NaN-ness of NaN results is meaningful.
inline uint16_t RoundToBits16(double x, const FormatDef& f) {
  const uint16_t sign = std::signbit(x) ? 0x8000 : 0;
  const uint16_t inf = static_cast<uint16_t>(((1u << f.exp_bits) - 1u) << f.man);
  if (std::isnan(x)) return sign | inf | static_cast<uint16_t>(1u << (f.man - 1));
  const double a = std::fabs(x);
  if (std::isinf(a)) return sign | inf;
  const double r = RoundMagnitude(a, f);
  if (r > MaxFinite(f)) return sign | inf;
  return sign | static_cast<uint16_t>(MagnitudeCode(r, f));
}
inline uint16_t RoundToHalfBits(double x) { return RoundToBits16(x, kHalf); }
inline uint16_t RoundToBf16Bits(double x) { return RoundToBits16(x, kBf16); }

// Unit in the last place of the format at magnitude |v| (subnormal spacing below min normal).
inline double Ulp(double v, const FormatDef& f) {
  const double a = std::fabs(v);
  int e = MinExp(f);
  if (a >= std::ldexp(1.0, MinExp(f))) {
    int e2;
    std::frexp(a, &e2);
    e = e2 - 1;
  }
  return std::ldexp(1.0, e - f.man);
}
// float32's own ulp (23 mantissa bits, bias 127).
inline double UlpFloat(double v) { return Ulp(v, FormatDef{23, 127, 8, 1}); }

inline uint32_t FloatBits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// True when a and b are the same float, bit for bit, or both NaN.
inline bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || FloatBits(a) == FloatBits(b);
}

}  // namespace fp8ops::testref

#endif  // FP8OPS_TESTS_UNIT_NUMERIC_REFERENCE_H_
