// The FP8 codec (include/fp8ops/fp8.h) and the float16/bfloat16 conversions (float16.h) against
//  1. the format definitions, re-derived in float64 in tests/unit/numeric_reference.h (always), and
//  2. CUDA's host-side conversions from cuda_fp8.h / cuda_fp16.h / cuda_bf16.h (when CMake found
//     them; skipped with a message otherwise).
// Inputs: every FP8 code, every rounding tie and boundary of both formats, NaN payloads, +-Inf,
// +-0, float32 subnormals, and millions of float32 bit patterns (the whole bit space, plus a dense
// band over the FP8 range).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "fp8ops/float16.h"
#include "fp8ops/fp8.h"
#include "tests/unit/numeric_reference.h"

#if FP8OPS_HAVE_CUDA_FP8
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#endif

namespace fp8ops {
namespace {

using testref::BitsFloat;
using testref::FloatBits;

#define FP8OPS_SKIP_WITHOUT_CUDA()                                        \
  if (!FP8OPS_HAVE_CUDA_FP8)                                              \
  GTEST_SKIP()                                                            \
      << "cuda_fp8.h was not found when CMake configured the tests (set " \
         "-DFP8OPS_CUDA_INCLUDE=<dir>): the comparison with CUDA's conversions is skipped"

struct Fmt {
  Fp8Format format;
  int onnx;
  const char* name;
};
constexpr Fmt kFormats[] = {{Fp8Format::kE4M3FN, 17, "E4M3FN"}, {Fp8Format::kE5M2, 19, "E5M2"}};

// CUDA's encoding (0 when CUDA's headers are absent; callers skip first).
uint8_t CudaEncode(float x, Fp8Format f, bool saturate) {
#if FP8OPS_HAVE_CUDA_FP8
  return __nv_cvt_float_to_fp8(x, saturate ? __NV_SATFINITE : __NV_NOSAT,
                               f == Fp8Format::kE4M3FN ? __NV_E4M3 : __NV_E5M2);
#else
  (void)x, (void)f, (void)saturate;
  return 0;
#endif
}

std::string Hex(uint32_t v, int width = 2) {
  std::ostringstream s;
  s << "0x" << std::hex;
  s.width(width);
  s.fill('0');
  s << v;
  return s.str();
}

std::string Describe(float x) {
  std::ostringstream s;
  s.precision(9);
  s << x << " (bits " << Hex(FloatBits(x), 8) << ")";
  return s.str();
}

// Counts mismatches and keeps the first few messages.
struct Mismatches {
  int64_t count = 0, checked = 0;
  std::string first;
  void Add(const std::string& msg) {
    if (++count <= 8) first += msg + "\n";
  }
};

// Checks EncodeFp8 (both formats, both saturate modes) on `values` against the float64 spec
// re-derivation, or against CUDA when `vs_cuda`.
Mismatches CheckEncode(const std::vector<float>& values, bool vs_cuda) {
  Mismatches mm;
  for (const Fmt& f : kFormats) {
    for (bool sat : {false, true}) {
      for (float x : values) {
        const uint8_t got = EncodeFp8(x, f.format, sat);
        const uint8_t want = vs_cuda ? CudaEncode(x, f.format, sat)
                                     : testref::EncodeFp8Ref(static_cast<double>(x), f.onnx, sat);
        ++mm.checked;
        if (got != want) {
          mm.Add(std::string(f.name) + " saturate=" + (sat ? "1" : "0") + " x=" + Describe(x) +
                 ": got " + Hex(got) + ", want " + Hex(want) + (vs_cuda ? " (CUDA)" : " (spec)"));
        }
      }
    }
  }
  return mm;
}

// ---- value sets ------------------------------------------------------------------------------

// Positive finite values of a format in increasing order (magnitude codes 0..max code).
std::vector<double> PositiveGrid(int onnx) {
  const auto def = testref::Fp8Def(onnx);
  std::vector<double> v;
  for (uint32_t c = 0; c < 0x80; ++c) {
    const double d = testref::DecodeBits(c, def);
    if (std::isfinite(d)) v.push_back(d);
  }
  return v;
}

// Midpoints between all adjacent representable values (subnormals included, and the midpoint
// between max and the next value of the unbounded grid), one float ulp either side, both signs.
std::vector<float> TieValues() {
  std::vector<float> out;
  for (const Fmt& f : kFormats) {
    auto grid = PositiveGrid(f.onnx);
    grid.push_back(grid.back() + testref::Ulp(grid.back(), testref::Fp8Def(f.onnx)));
    for (size_t i = 0; i + 1 < grid.size(); ++i) {
      const float mid = static_cast<float>((grid[i] + grid[i + 1]) / 2);  // exact in float
      for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f)}) {
        out.push_back(v);
        out.push_back(-v);
      }
    }
  }
  return out;
}

std::vector<float> BoundaryValues() {
  std::vector<float> base;
  for (const Fmt& f : kFormats) {
    const auto def = testref::Fp8Def(f.onnx);
    const double max = testref::MaxFinite(def);
    const double min_normal = std::ldexp(1.0, testref::MinExp(def));
    const double min_sub = std::ldexp(1.0, testref::MinExp(def) - def.man);
    const double next_above_max = max + testref::Ulp(max, def);
    for (double d : {max, next_above_max, (max + next_above_max) / 2, 2 * max, min_normal,
                     min_normal - min_sub, min_normal - min_sub / 2, min_sub, min_sub / 2,
                     min_sub * 1.5, min_sub / 4, 0.0}) {
      base.push_back(static_cast<float>(d));
    }
  }
  for (float v : {1.0f, 1e30f, std::numeric_limits<float>::max(), std::numeric_limits<float>::min(),
                  std::numeric_limits<float>::infinity()}) {
    base.push_back(v);
  }
  std::vector<float> out;
  for (float v : base) {
    for (float w :
         {v, std::nextafter(v, 0.0f), std::nextafter(v, std::numeric_limits<float>::infinity())}) {
      out.push_back(w);
      out.push_back(-w);
    }
  }
  return out;
}

std::vector<float> NanValues() {
  std::vector<float> out;
  for (uint32_t payload : {0x400000u, 0x000001u, 0x7FFFFFu, 0x200000u, 0x400001u, 0x123456u}) {
    out.push_back(BitsFloat(0x7F800000u | payload));
    out.push_back(BitsFloat(0xFF800000u | payload));
  }
  out.push_back(std::numeric_limits<float>::quiet_NaN());
  out.push_back(-std::numeric_limits<float>::quiet_NaN());
  return out;
}

std::vector<float> Float32Subnormals() {
  std::vector<float> out;
  std::mt19937 rng(11);
  for (uint32_t u : {0x1u, 0x2u, 0x3u, 0x400000u, 0x7FFFFFu, 0x7FFFFEu}) {
    out.push_back(BitsFloat(u));
    out.push_back(BitsFloat(u | 0x80000000u));
  }
  for (int i = 0; i < 4096; ++i)
    out.push_back(BitsFloat((rng() & 0x807FFFFFu) | (i == 0 ? 1u : 0u)));
  return out;
}

// 2^24 patterns, one in every aligned block of 256 bit patterns: the whole float32 bit space.
std::vector<float> SpreadBits() {
  std::vector<float> out(size_t{1} << 24);
  std::mt19937 rng(12345);
  for (uint32_t i = 0; i < (1u << 24); ++i) out[i] = BitsFloat((i << 8) | (rng() & 0xFFu));
  return out;
}

// 2^22 random floats with exponents 2^-22 .. 2^18: every FP8 binade (subnormals included), the
// underflow below them and the overflow above, dense.
std::vector<float> DenseBand() {
  std::vector<float> out(size_t{1} << 22);
  std::mt19937 rng(777);
  for (auto& v : out) {
    const uint32_t r = rng();
    const uint32_t exp = 127 - 22 + (r % 41);
    v = BitsFloat(((r >> 31) << 31) | (exp << 23) | (rng() & 0x7FFFFFu));
  }
  return out;
}

// ---- decoding --------------------------------------------------------------------------------

TEST(Fp8Decode, EveryCodeMatchesTheFormatDefinition) {
  for (const Fmt& f : kFormats) {
    const auto def = testref::Fp8Def(f.onnx);
    int nans = 0, infs = 0;
    for (int c = 0; c < 256; ++c) {
      const double want = testref::DecodeBits(static_cast<uint32_t>(c), def);
      const float got = DecodeFp8(static_cast<uint8_t>(c), f.format);
      const float got_t = f.format == Fp8Format::kE4M3FN
                              ? DecodeFp8<Fp8Format::kE4M3FN>(static_cast<uint8_t>(c))
                              : DecodeFp8<Fp8Format::kE5M2>(static_cast<uint8_t>(c));
      nans += std::isnan(want);
      infs += std::isinf(want);
      if (!std::isnan(want)) {
        ASSERT_EQ(static_cast<double>(static_cast<float>(want)), want);
      }
      EXPECT_TRUE(testref::SameFloat(got, static_cast<float>(want)))
          << f.name << " code " << Hex(c) << ": got " << got << ", want " << want;
      EXPECT_TRUE(testref::SameFloat(got_t, got)) << f.name << " code " << Hex(c);
    }
    // E4M3FN: NaN = S.1111.111 only, no Inf. E5M2: Inf = S.11111.00, NaN = S.11111.{01,10,11}.
    EXPECT_EQ(nans, f.onnx == 17 ? 2 : 6) << f.name;
    EXPECT_EQ(infs, f.onnx == 17 ? 0 : 2) << f.name;
  }
  // Landmarks named in the spec table.
  EXPECT_EQ(DecodeFp8(0x7E, Fp8Format::kE4M3FN), 448.0f);
  EXPECT_TRUE(std::isnan(DecodeFp8(0x7F, Fp8Format::kE4M3FN)));
  EXPECT_TRUE(std::isnan(DecodeFp8(0xFF, Fp8Format::kE4M3FN)));
  EXPECT_EQ(DecodeFp8(0x01, Fp8Format::kE4M3FN), std::ldexp(1.0f, -9));
  EXPECT_EQ(DecodeFp8(0x08, Fp8Format::kE4M3FN), std::ldexp(1.0f, -6));
  EXPECT_EQ(DecodeFp8(0x7B, Fp8Format::kE5M2), 57344.0f);
  EXPECT_EQ(DecodeFp8(0x7C, Fp8Format::kE5M2), std::numeric_limits<float>::infinity());
  EXPECT_EQ(DecodeFp8(0xFC, Fp8Format::kE5M2), -std::numeric_limits<float>::infinity());
  EXPECT_EQ(DecodeFp8(0x01, Fp8Format::kE5M2), std::ldexp(1.0f, -16));
  EXPECT_EQ(DecodeFp8(0x04, Fp8Format::kE5M2), std::ldexp(1.0f, -14));
  EXPECT_TRUE(std::signbit(DecodeFp8(0x80, Fp8Format::kE4M3FN)));
  EXPECT_EQ(DecodeFp8(0x80, Fp8Format::kE4M3FN), 0.0f);
  EXPECT_EQ(static_cast<double>(Fp8Max(Fp8Format::kE4M3FN)), testref::MaxFinite(testref::kE4M3FN));
  EXPECT_EQ(static_cast<double>(Fp8Max(Fp8Format::kE5M2)), testref::MaxFinite(testref::kE5M2));
}

TEST(Fp8Decode, TableEqualsDecodeFp8) {
  for (const Fmt& f : kFormats) {
    const float* table = Fp8DecodeTable(f.format);
    ASSERT_NE(table, nullptr);
    for (int c = 0; c < 256; ++c) {
      EXPECT_TRUE(testref::SameFloat(table[c], DecodeFp8(static_cast<uint8_t>(c), f.format)))
          << f.name << " code " << Hex(c);
    }
  }
  EXPECT_NE(Fp8DecodeTable(Fp8Format::kE4M3FN), Fp8DecodeTable(Fp8Format::kE5M2));
}

TEST(Fp8Decode, MatchesCuda) {
  FP8OPS_SKIP_WITHOUT_CUDA();
#if FP8OPS_HAVE_CUDA_FP8
  for (const Fmt& f : kFormats) {
    for (int c = 0; c < 256; ++c) {
      const __half_raw hr = __nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(c),
                                                    f.onnx == 17 ? __NV_E4M3 : __NV_E5M2);
      const float want = __half2float(__half(hr));
      EXPECT_TRUE(testref::SameFloat(DecodeFp8(static_cast<uint8_t>(c), f.format), want))
          << f.name << " code " << Hex(c) << " CUDA " << want;
    }
  }
#endif
}

// ---- encoding: the spec, stated directly -------------------------------------------------------

// A tie between two adjacent grid values goes to the one with the even code; one float ulp off
// the tie goes to the nearer one. The tie above max goes to max when max's code is even
// (E4M3FN: 464 -> 448) and overflows otherwise (E5M2: 61440 -> Inf / max).
TEST(Fp8EncodeSpec, TiesRoundToEvenCode) {
  for (const Fmt& f : kFormats) {
    const auto grid = PositiveGrid(f.onnx);
    const auto def = testref::Fp8Def(f.onnx);
    const uint8_t max_code = static_cast<uint8_t>(grid.size() - 1);
    const double next = grid.back() + testref::Ulp(grid.back(), def);
    for (bool sat : {false, true}) {
      const uint8_t overflow = sat ? max_code : (f.onnx == 17 ? 0x7F : 0x7C);
      for (size_t i = 0; i < grid.size(); ++i) {
        const double hi = i + 1 < grid.size() ? grid[i + 1] : next;
        const uint8_t lo_code = static_cast<uint8_t>(i);
        const uint8_t hi_code = i + 1 < grid.size() ? static_cast<uint8_t>(i + 1) : overflow;
        const float mid = static_cast<float>((grid[i] + hi) / 2);
        ASSERT_EQ(static_cast<double>(mid), (grid[i] + hi) / 2);
        const uint8_t even = (i % 2 == 0) ? lo_code : hi_code;
        for (uint8_t sign : {uint8_t{0}, uint8_t{0x80}}) {
          const float s = sign ? -1.0f : 1.0f;
          // NaN overflow (E4M3FN saturate=0) drops no sign: S.1111.111 keeps the input's sign.
          auto with_sign = [&](uint8_t c) { return static_cast<uint8_t>(c | sign); };
          EXPECT_EQ(EncodeFp8(s * mid, f.format, sat), with_sign(even))
              << f.name << " sat=" << sat << " tie " << Describe(s * mid);
          EXPECT_EQ(EncodeFp8(s * std::nextafter(mid, 0.0f), f.format, sat), with_sign(lo_code))
              << f.name << " sat=" << sat << " below tie " << Describe(s * mid);
          EXPECT_EQ(EncodeFp8(s * std::nextafter(mid, 1e30f), f.format, sat), with_sign(hi_code))
              << f.name << " sat=" << sat << " above tie " << Describe(s * mid);
        }
      }
    }
  }
}

TEST(Fp8EncodeSpec, SpecialValues) {
  const float inf = std::numeric_limits<float>::infinity();
  for (bool sat : {false, true}) {
    // E4M3FN: no Inf; overflow is NaN (sign kept) or +-max.
    EXPECT_EQ(EncodeFp8(inf, Fp8Format::kE4M3FN, sat), sat ? 0x7E : 0x7F);
    EXPECT_EQ(EncodeFp8(-inf, Fp8Format::kE4M3FN, sat), sat ? 0xFE : 0xFF);
    EXPECT_EQ(EncodeFp8(1e6f, Fp8Format::kE4M3FN, sat), sat ? 0x7E : 0x7F);
    EXPECT_EQ(EncodeFp8(-480.0f, Fp8Format::kE4M3FN, sat), sat ? 0xFE : 0xFF);
    // E5M2: overflow is +-Inf or +-max.
    EXPECT_EQ(EncodeFp8(inf, Fp8Format::kE5M2, sat), sat ? 0x7B : 0x7C);
    EXPECT_EQ(EncodeFp8(-inf, Fp8Format::kE5M2, sat), sat ? 0xFB : 0xFC);
    EXPECT_EQ(EncodeFp8(65536.0f, Fp8Format::kE5M2, sat), sat ? 0x7B : 0x7C);
    for (const Fmt& f : kFormats) {
      EXPECT_EQ(EncodeFp8(0.0f, f.format, sat), 0x00) << f.name;
      EXPECT_EQ(EncodeFp8(-0.0f, f.format, sat), 0x80) << f.name;
      for (float n : NanValues())
        EXPECT_EQ(EncodeFp8(n, f.format, sat), 0x7F) << f.name << Describe(n);
      for (float s : Float32Subnormals()) {
        EXPECT_EQ(EncodeFp8(s, f.format, sat), std::signbit(s) ? 0x80 : 0x00)
            << f.name << Describe(s);
      }
    }
  }
}

TEST(Fp8EncodeSpec, RoundTripEveryCode) {
  for (const Fmt& f : kFormats) {
    for (bool sat : {false, true}) {
      for (int c = 0; c < 256; ++c) {
        const float v = DecodeFp8(static_cast<uint8_t>(c), f.format);
        uint8_t want = static_cast<uint8_t>(c);
        if (std::isnan(v)) want = 0x7F;  // canonical NaN
        if (std::isinf(v) && sat)
          want = static_cast<uint8_t>((c & 0x80) | 0x7B);  // E5M2 Inf -> max
        EXPECT_EQ(EncodeFp8(v, f.format, sat), want)
            << f.name << " sat=" << sat << " code " << Hex(c);
      }
    }
  }
}

TEST(Fp8EncodeSpec, TiesBoundariesAndSpecialsMatchReDerivation) {
  std::vector<float> v = TieValues();
  for (const auto& extra : {BoundaryValues(), NanValues(), Float32Subnormals()}) {
    v.insert(v.end(), extra.begin(), extra.end());
  }
  const auto mm = CheckEncode(v, /*vs_cuda=*/false);
  EXPECT_GT(mm.checked, 4000);
  EXPECT_EQ(mm.count, 0) << mm.first;
}

TEST(Fp8EncodeSpec, RandomBitPatternsMatchReDerivation) {
  auto v = SpreadBits();
  const auto band = DenseBand();
  v.insert(v.end(), band.begin(), band.end());
  const auto mm = CheckEncode(v, /*vs_cuda=*/false);
  EXPECT_EQ(mm.count, 0) << mm.count << " of " << mm.checked << " differ:\n" << mm.first;
}

// ---- encoding: CUDA
// ------------------------------------------------------------------------------

TEST(Fp8EncodeCuda, TiesBoundariesAndSpecials) {
  FP8OPS_SKIP_WITHOUT_CUDA();
  std::vector<float> v = TieValues();
  for (const auto& extra : {BoundaryValues(), NanValues(), Float32Subnormals()}) {
    v.insert(v.end(), extra.begin(), extra.end());
  }
  for (float inf :
       {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
    v.push_back(inf);
  }
  v.push_back(0.0f);
  v.push_back(-0.0f);
  const auto mm = CheckEncode(v, /*vs_cuda=*/true);
  EXPECT_EQ(mm.count, 0) << mm.first;
}

TEST(Fp8EncodeCuda, RandomBitPatterns) {
  FP8OPS_SKIP_WITHOUT_CUDA();
  auto v = SpreadBits();
  const auto band = DenseBand();
  v.insert(v.end(), band.begin(), band.end());
  const auto mm = CheckEncode(v, /*vs_cuda=*/true);
  EXPECT_EQ(mm.checked, int64_t{4} * ((int64_t{1} << 24) + (int64_t{1} << 22)));
  EXPECT_EQ(mm.count, 0) << mm.count << " of " << mm.checked << " differ:\n" << mm.first;
}

TEST(Fp8EncodeCuda, RoundTripEveryCode) {
  FP8OPS_SKIP_WITHOUT_CUDA();
  for (const Fmt& f : kFormats) {
    for (bool sat : {false, true}) {
      for (int c = 0; c < 256; ++c) {
        const float v = DecodeFp8(static_cast<uint8_t>(c), f.format);
        EXPECT_EQ(EncodeFp8(v, f.format, sat), CudaEncode(v, f.format, sat))
            << f.name << " sat=" << sat << " code " << Hex(c);
      }
    }
  }
}

// ---- float16 / bfloat16 -------------------------------------------------------------------------

// Float values of interest for the 16-bit formats: every value of the format, the ties between
// adjacent ones and one float ulp either side, specials, random floats.
std::vector<float> Values16(const testref::FormatDef& def, bool with_random) {
  std::vector<float> out;
  for (uint32_t h = 0; h < 0x8000u; ++h) {
    const double v = testref::DecodeBits(h, def);
    if (!std::isfinite(v)) continue;
    const double next = testref::DecodeBits(h + 1, def);
    const double hi = std::isfinite(next) ? next : v + testref::Ulp(v, def);  // above max
    const float mid = static_cast<float>((v + hi) / 2);
    for (float w : {static_cast<float>(v), mid, std::nextafter(mid, 0.0f),
                    std::nextafter(mid, std::numeric_limits<float>::infinity())}) {
      out.push_back(w);
      out.push_back(-w);
    }
  }
  for (const auto& extra : {NanValues(), Float32Subnormals(), BoundaryValues()}) {
    out.insert(out.end(), extra.begin(), extra.end());
  }
  if (with_random) {
    std::mt19937 rng(99);
    for (int i = 0; i < (1 << 22); ++i) out.push_back(BitsFloat(rng()));
  }
  return out;
}

TEST(Float16, HalfToFloatEveryCode) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const double want = testref::DecodeBits(h, testref::kHalf);
    const float got = HalfToFloat(static_cast<uint16_t>(h));
    ASSERT_TRUE(testref::SameFloat(got, static_cast<float>(want))) << Hex(h, 4) << " got " << got;
    if (std::isnan(got)) {  // NaN payload and sign preserved
      EXPECT_EQ(FloatBits(got), ((h & 0x8000u) << 16) | 0x7F800000u | ((h & 0x3FFu) << 13))
          << Hex(h, 4);
    }
  }
}

TEST(Float16, Bf16ToFloatEveryCode) {
  for (uint32_t b = 0; b < 0x10000u; ++b) {
    const double want = testref::DecodeBits(b, testref::kBf16);
    const float got = Bf16ToFloat(static_cast<uint16_t>(b));
    ASSERT_TRUE(testref::SameFloat(got, static_cast<float>(want))) << Hex(b, 4) << " got " << got;
  }
}

TEST(Float16, FloatToHalfAndBf16MatchReDerivation) {
  for (const auto* def : {&testref::kHalf, &testref::kBf16}) {
    const bool half = def == &testref::kHalf;
    Mismatches mm;
    for (float x : Values16(*def, /*with_random=*/true)) {
      const uint16_t got = half ? FloatToHalf(x) : FloatToBf16(x);
      const uint16_t want = testref::RoundToBits16(static_cast<double>(x), *def);
      const bool got_nan = std::isnan(testref::DecodeBits(got, *def));
      const bool ok = std::isnan(x) ? got_nan && ((got & 0x8000) == (want & 0x8000)) : got == want;
      ++mm.checked;
      if (!ok)
        mm.Add(std::string(half ? "half" : "bf16") + " x=" + Describe(x) + ": got " + Hex(got, 4) +
               ", want " + Hex(want, 4));
    }
    EXPECT_EQ(mm.count, 0) << mm.count << " of " << mm.checked << ":\n" << mm.first;
  }
}

TEST(Float16, RoundTripEveryCode) {
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    const float hv = HalfToFloat(static_cast<uint16_t>(h));
    const float bv = Bf16ToFloat(static_cast<uint16_t>(h));
    if (!std::isnan(hv)) {
      EXPECT_EQ(FloatToHalf(hv), h) << Hex(h, 4);
    } else {  // quiet NaN, sign kept
      EXPECT_TRUE(std::isnan(HalfToFloat(FloatToHalf(hv)))) << Hex(h, 4);
      EXPECT_EQ(FloatToHalf(hv) & 0x8000u, h & 0x8000u) << Hex(h, 4);
    }
    if (!std::isnan(bv)) {
      EXPECT_EQ(FloatToBf16(bv), h) << Hex(h, 4);
    } else {
      EXPECT_TRUE(std::isnan(Bf16ToFloat(FloatToBf16(bv)))) << Hex(h, 4);
    }
  }
}

TEST(Float16Cuda, MatchesCudaFp16AndBf16) {
  FP8OPS_SKIP_WITHOUT_CUDA();
#if FP8OPS_HAVE_CUDA_FP8
  // Every half and bfloat16 to float.
  for (uint32_t h = 0; h < 0x10000u; ++h) {
    __half_raw hr;
    hr.x = static_cast<unsigned short>(h);
    __nv_bfloat16_raw br;
    br.x = static_cast<unsigned short>(h);
    ASSERT_TRUE(testref::SameFloat(HalfToFloat(static_cast<uint16_t>(h)), __half2float(__half(hr))))
        << Hex(h, 4);
    ASSERT_TRUE(testref::SameFloat(Bf16ToFloat(static_cast<uint16_t>(h)),
                                   __bfloat162float(__nv_bfloat16(br))))
        << Hex(h, 4);
  }
  // Floats to half / bfloat16: bit-exact except NaN, where both must give a NaN.
  Mismatches mm;
  auto values = Values16(testref::kHalf, /*with_random=*/true);
  const auto more = Values16(testref::kBf16, /*with_random=*/false);
  values.insert(values.end(), more.begin(), more.end());
  for (float x : values) {
    const __half_raw ch = __half(__float2half_rn(x));
    const __nv_bfloat16_raw cb = __nv_bfloat16(__float2bfloat16_rn(x));
    const uint16_t h = FloatToHalf(x), b = FloatToBf16(x);
    ++mm.checked;
    if (std::isnan(x)) {
      if (!std::isnan(HalfToFloat(h)) || !std::isnan(__half2float(__half(ch))) ||
          !std::isnan(Bf16ToFloat(b)) || !std::isnan(__bfloat162float(__nv_bfloat16(cb)))) {
        mm.Add("NaN " + Describe(x));
      }
      continue;
    }
    if (h != ch.x)
      mm.Add("half x=" + Describe(x) + ": got " + Hex(h, 4) + ", CUDA " + Hex(ch.x, 4));
    if (b != cb.x)
      mm.Add("bf16 x=" + Describe(x) + ": got " + Hex(b, 4) + ", CUDA " + Hex(cb.x, 4));
  }
  EXPECT_EQ(mm.count, 0) << mm.count << " of " << mm.checked << ":\n" << mm.first;
#endif
}

}  // namespace
}  // namespace fp8ops
