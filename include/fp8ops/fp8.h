// FP8 codec: the one implementation of E4M3FN / E5M2 encode and decode used by the rewrite, the
// reference kernels and the fast kernels.
//
// Encoding is round-to-nearest-even on the exact float32 value, then:
//   saturate=1: any magnitude beyond the format's max (+-Inf included) becomes +-max;
//   saturate=0: overflow becomes NaN (E4M3FN has no Inf) or +-Inf (E5M2).
// NaN becomes the canonical NaN code 0x7F (sign dropped). These are the semantics of CUDA's host-side
// __nv_cvt_float_to_fp8 (__NV_SATFINITE / __NV_NOSAT); tests/fp8_codec_test.cc checks them
// exhaustively against cuda_fp8.h.
#ifndef FP8OPS_FP8_H_
#define FP8OPS_FP8_H_

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

namespace fp8ops {

// Values are ONNX TensorProto element types, so they can be stored in attributes as they are.
enum class Fp8Format : int32_t {
  kE4M3FN = 17,
  kE5M2 = 19,
};

inline bool IsFp8Format(int64_t onnx_type) { return onnx_type == 17 || onnx_type == 19; }
inline const char* Fp8FormatName(Fp8Format f) {
  return f == Fp8Format::kE4M3FN ? "E4M3FN" : "E5M2";
}

// Largest finite magnitude: 448 (E4M3FN), 57344 (E5M2).
constexpr float Fp8Max(Fp8Format f) { return f == Fp8Format::kE4M3FN ? 448.0f : 57344.0f; }

namespace internal {

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

// Format constants. kMaxCode is the magnitude code of the largest finite value.
template <Fp8Format F>
struct Fp8Traits;
template <>
struct Fp8Traits<Fp8Format::kE4M3FN> {
  static constexpr int kManBits = 3;
  static constexpr int kBias = 7;
  static constexpr uint8_t kMaxCode = 0x7E;
  static constexpr uint8_t kNanCode = 0x7F;
  static constexpr uint8_t kOverflowCode = 0x7F;  // NaN: E4M3FN has no Inf
};
template <>
struct Fp8Traits<Fp8Format::kE5M2> {
  static constexpr int kManBits = 2;
  static constexpr int kBias = 15;
  static constexpr uint8_t kMaxCode = 0x7B;
  static constexpr uint8_t kNanCode = 0x7F;
  static constexpr uint8_t kOverflowCode = 0x7C;  // Inf
};

}  // namespace internal

// Encodes one float32 to an FP8 code of format F.
template <Fp8Format F>
inline uint8_t EncodeFp8(float x, bool saturate) {
  using T = internal::Fp8Traits<F>;
  constexpr int kShift = 23 - T::kManBits;
  const uint32_t u = internal::FloatBits(x);
  const uint8_t sign = static_cast<uint8_t>((u >> 24) & 0x80u);
  const uint32_t a = u & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return T::kNanCode;  // canonical positive NaN, as CUDA
  if (a == 0x7F800000u) return sign | (saturate ? T::kMaxCode : T::kOverflowCode);

  const int exp = static_cast<int>(a >> 23) - 127;  // unbiased float32 exponent
  uint32_t code;
  if (exp >= 1 - T::kBias) {
    // Normal in FP8: round the float32 mantissa to kManBits, ties to even. A carry out of the
    // mantissa correctly bumps the exponent.
    if (exp > T::kBias + 1) {
      code = 0x80;  // far beyond range; treated as overflow below
    } else {
      const uint32_t lsb = (a >> kShift) & 1u;
      const uint32_t rounded = (a + ((1u << (kShift - 1)) - 1u) + lsb) >> kShift;
      code = rounded - (static_cast<uint32_t>(127 - T::kBias) << T::kManBits);
    }
  } else {
    // Subnormal (or zero) in FP8: the code is |x| / 2^(1 - bias - man_bits), rounded to nearest
    // even. Scaling by a power of two is exact; nearbyint uses the default RNE mode.
    const float scaled =
        std::ldexp(internal::BitsFloat(a), T::kBias - 1 + T::kManBits);
    code = static_cast<uint32_t>(std::nearbyint(scaled));
  }
  if (code > T::kMaxCode) return sign | (saturate ? T::kMaxCode : T::kOverflowCode);
  return sign | static_cast<uint8_t>(code);
}

inline uint8_t EncodeFp8(float x, Fp8Format f, bool saturate) {
  return f == Fp8Format::kE4M3FN ? EncodeFp8<Fp8Format::kE4M3FN>(x, saturate)
                                 : EncodeFp8<Fp8Format::kE5M2>(x, saturate);
}

// Decodes one FP8 code (computed, not tabled: this is the definition the tables are built from).
template <Fp8Format F>
inline float DecodeFp8(uint8_t c) {
  using T = internal::Fp8Traits<F>;
  const bool neg = (c & 0x80) != 0;
  const int mag = c & 0x7F;
  const int exp_field = mag >> T::kManBits;
  const int man = mag & ((1 << T::kManBits) - 1);
  float v;
  if (F == Fp8Format::kE4M3FN && mag == 0x7F) {
    v = std::numeric_limits<float>::quiet_NaN();
  } else if (F == Fp8Format::kE5M2 && exp_field == 31) {
    v = man == 0 ? std::numeric_limits<float>::infinity()
                 : std::numeric_limits<float>::quiet_NaN();
  } else if (exp_field == 0) {
    v = std::ldexp(static_cast<float>(man), 1 - T::kBias - T::kManBits);
  } else {
    v = std::ldexp(static_cast<float>(man + (1 << T::kManBits)),
                   exp_field - T::kBias - T::kManBits);
  }
  return neg ? -v : v;
}

inline float DecodeFp8(uint8_t c, Fp8Format f) {
  return f == Fp8Format::kE4M3FN ? DecodeFp8<Fp8Format::kE4M3FN>(c)
                                 : DecodeFp8<Fp8Format::kE5M2>(c);
}

// 256-entry decode table (float32 value of every code), built once from DecodeFp8.
const float* Fp8DecodeTable(Fp8Format f);

}  // namespace fp8ops

#endif  // FP8OPS_FP8_H_
