// Block quantization (include/fp8ops/quantize.h) against a float64 re-derivation of the spec
// (docs/OPERATORS.md 1.4, 2): per group, scale = amax / fp8_max over finite values (1 for an
// all-zero group; rounded up to a power of two with scale_pow2), code = cast_fp8(x / scale) with
// the division in float32, so each finite code decodes to within half an FP8 ulp of x / scale.
#include "fp8ops/quantize.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "fp8ops/fp8.h"
#include "tests/unit/numeric_reference.h"

namespace fp8ops {
namespace {

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

int Onnx(Fp8Format f) { return static_cast<int>(f); }

std::string ParamStr(const Fp8QuantParams& p) {
  return std::string(Fp8FormatName(p.format)) + " saturate=" + (p.saturate ? "1" : "0") +
         " scale_pow2=" + (p.scale_pow2 ? "1" : "0");
}

float ExpectedScale(double amax, const Fp8QuantParams& p) {
  return testref::ExpectedScale(amax, Onnx(p.format), p.scale_pow2);
}

// Checks one group of `rows` x `len` values (row stride `ld`) quantized with `scale` into `codes`
// (row stride `ld`). Returns the number of failures (and records them with ADD_FAILURE).
int CheckGroup(const float* x, int64_t rows, int64_t len, int64_t ld, float scale,
               const uint8_t* codes, const Fp8QuantParams& p, const std::string& where) {
  double amax = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < len; ++i) {
      const double v = x[r * ld + i];
      if (std::isfinite(v)) amax = std::max(amax, std::fabs(v));
    }
  }
  int failures = 0;
  auto fail = [&](const std::string& msg) {
    if (++failures <= 3) ADD_FAILURE() << ParamStr(p) << " " << where << ": " << msg;
  };
  const float want_scale = ExpectedScale(amax, p);
  if (testref::FloatBits(scale) != testref::FloatBits(want_scale)) {
    fail("scale " + std::to_string(scale) + " != expected " + std::to_string(want_scale) +
         " (amax " + std::to_string(amax) + ")");
    return failures;
  }
  const auto def = testref::Fp8Def(Onnx(p.format));
  const double max = testref::MaxFinite(def);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t i = 0; i < len; ++i) {
      const float xv = x[r * ld + i];
      const uint8_t c = codes[r * ld + i];
      const float q = xv / scale;  // the spec's float32 division
      const uint8_t want =
          testref::EncodeFp8Ref(static_cast<double>(q), Onnx(p.format), p.saturate);
      if (c != want || c != EncodeFp8(q, p.format, p.saturate)) {
        fail("x=" + std::to_string(xv) + " code " + std::to_string(c) +
             " != " + std::to_string(want));
        continue;
      }
      const double d = testref::DecodeBits(c, def);
      if (std::isnan(xv)) {
        if (!std::isnan(d)) fail("NaN input gave a non-NaN code " + std::to_string(c));
      } else if (std::isinf(xv)) {
        const double want_inf = p.saturate ? max : (p.format == Fp8Format::kE4M3FN ? NAN : kInf);
        if (!(std::fabs(d) == want_inf || (std::isnan(d) && std::isnan(want_inf))))
          fail("Inf input");
      } else {
        // Finite: within half an FP8 ulp of the exact quotient (+ the float division's rounding),
        // and never NaN / Inf: amax / scale <= fp8_max by construction.
        const double exact = static_cast<double>(xv) / static_cast<double>(scale);
        const double tol = 0.5 * testref::Ulp(exact, def) + testref::UlpFloat(exact);
        if (!std::isfinite(d) || std::fabs(d - exact) > tol) {
          fail("x=" + std::to_string(xv) + " x/scale=" + std::to_string(exact) + " decodes to " +
               std::to_string(d));
        }
      }
    }
  }
  return failures;
}

// Random values with a per-group magnitude spread over many binades, plus: an all-zero group, a
// group of only NaN/Inf, NaN and Inf among finite values, a group of float32 subnormals.
std::vector<float> TestData(int64_t rows, int64_t k, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::uniform_int_distribution<int> exp(-30, 30);
  std::vector<float> x(static_cast<size_t>(rows * k));
  int e = exp(rng);
  for (size_t i = 0; i < x.size(); ++i) {
    if (i % 37 == 0) e = exp(rng);
    x[i] = std::ldexp(normal(rng), e);
  }
  if (x.size() > 40) {
    x[3] = kNaN;
    x[11] = kInf;
    x[12] = -kInf;
  }
  if (rows >= 3 && k >= 8) {
    std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // row 1: all zero
    for (int64_t i = 0; i < k; ++i) {                   // row 2: float32 subnormals
      x[2 * k + i] = testref::BitsFloat(static_cast<uint32_t>(rng() & 0x807FFFFFu));
    }
  }
  if (rows >= 4 && k >= 2) {  // row 3: only non-finite values
    for (int64_t i = 0; i < k; ++i) x[3 * k + i] = (i % 2) ? kNaN : -kInf;
  }
  return x;
}

std::vector<Fp8QuantParams> AllParams() {
  std::vector<Fp8QuantParams> v;
  for (auto f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    for (bool sat : {true, false}) {
      for (bool pow2 : {false, true}) v.push_back({f, sat, pow2});
    }
  }
  return v;
}

TEST(ScaleFromAmax, MatchesFloat64Derivation) {
  std::mt19937 rng(5);
  std::vector<float> amaxes = {0.0f,
                               1.0f,
                               448.0f,
                               57344.0f,
                               std::numeric_limits<float>::max(),
                               std::numeric_limits<float>::min(),
                               std::numeric_limits<float>::denorm_min(),
                               1e-38f,
                               1e-40f,
                               3e-36f,
                               5.2e-36f,
                               2.0f,
                               0.5f,
                               7.0f};
  for (int i = 0; i < 200000; ++i) {
    amaxes.push_back(testref::BitsFloat(rng() & 0x7FFFFFFFu));  // every positive float class
  }
  for (const auto& p : AllParams()) {
    int failures = 0;
    for (float a : amaxes) {
      if (!std::isfinite(a)) continue;
      const float got = ScaleFromAmax(a, p);
      const float want = ExpectedScale(a, p);
      if (testref::FloatBits(got) != testref::FloatBits(want) && ++failures <= 5) {
        ADD_FAILURE() << ParamStr(p) << " amax=" << a << ": got " << got << ", want " << want;
      }
      // The property the scale exists for: amax / scale never leaves the FP8 range.
      if (a > 0 &&
          !(static_cast<double>(a) / got <=
            testref::MaxFinite(testref::Fp8Def(Onnx(p.format))) * (1 + std::ldexp(1.0, -23))) &&
          ++failures <= 5) {
        ADD_FAILURE() << ParamStr(p) << " amax=" << a << ": amax / scale = " << a / got
                      << " exceeds max";
      }
      int e2 = 0;
      if (p.scale_pow2 && std::frexp(got, &e2) != 0.5f && ++failures <= 5) {
        ADD_FAILURE() << ParamStr(p) << " amax=" << a << ": scale " << got
                      << " is not a power of two";
      }
    }
    EXPECT_EQ(failures, 0) << ParamStr(p);
    EXPECT_EQ(ScaleFromAmax(0.0f, p), 1.0f);
  }
}

TEST(FiniteAbsMax, IgnoresNaNAndInf) {
  std::mt19937 rng(3);
  for (int64_t n : {0, 1, 2, 17, 1000}) {
    std::vector<float> x(static_cast<size_t>(n));
    for (auto& v : x) v = testref::BitsFloat(rng());  // every class: NaN, Inf, subnormal, ...
    double want = 0.0;
    for (float v : x) {
      if (std::isfinite(v)) want = std::max(want, std::fabs(static_cast<double>(v)));
    }
    EXPECT_EQ(static_cast<double>(FiniteAbsMax(x.data(), n)), want) << n;
  }
  const float only_bad[] = {kNaN, kInf, -kInf};
  EXPECT_EQ(FiniteAbsMax(only_bad, 3), 0.0f);
  const float neg[] = {-3.0f, 2.0f, kNaN, -kInf};
  EXPECT_EQ(FiniteAbsMax(neg, 4), 3.0f);
}

TEST(QuantizeWithScale, CodesAreCastOfQuotient) {
  std::mt19937 rng(8);
  for (const auto& p : AllParams()) {
    auto x = TestData(1, 4096, rng());
    for (float scale : {1.0f, 0.013f, 3.7e-3f, 1e-20f, 250.0f}) {
      std::vector<uint8_t> codes(x.size());
      QuantizeWithScale(x.data(), static_cast<int64_t>(x.size()), scale, p, codes.data());
      for (size_t i = 0; i < x.size(); ++i) {
        ASSERT_EQ(codes[i], testref::EncodeFp8Ref(static_cast<double>(x[i] / scale), Onnx(p.format),
                                                  p.saturate))
            << ParamStr(p) << " x=" << x[i] << " scale=" << scale;
      }
    }
  }
}

TEST(QuantizeRowGroups, MatchesFloat64Derivation) {
  uint32_t seed = 100;
  for (int64_t k : {1, 5, 127, 128, 129, 300}) {
    for (int64_t group : {0, 1, 32, 128, 200}) {
      const int64_t rows = 5;
      const auto x = TestData(rows, k, ++seed);
      for (const auto& p : AllParams()) {
        const int64_t g = group == 0 ? k : group;
        const int64_t ng = group == 0 ? 1 : (k + group - 1) / group;
        ASSERT_EQ(NumBlocks(k, group), ng);
        std::vector<uint8_t> codes(static_cast<size_t>(rows * k), 0xAA);
        std::vector<float> scales(static_cast<size_t>(rows * ng) + 1, -7.0f);  // +1: sentinel
        QuantizeRowGroups(x.data(), rows, k, group, p, codes.data(), scales.data());
        EXPECT_EQ(scales.back(), -7.0f) << "wrote past the scales";
        int failures = 0;
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t b = 0; b < ng; ++b) {
            const int64_t k0 = b * g, len = std::min(g, k - k0);  // last group may be partial
            failures += CheckGroup(x.data() + r * k + k0, 1, len, k, scales[r * ng + b],
                                   codes.data() + r * k + k0, p,
                                   "k=" + std::to_string(k) + " group=" + std::to_string(group) +
                                       " row " + std::to_string(r) + " block " + std::to_string(b));
          }
        }
        ASSERT_EQ(failures, 0);
      }
    }
  }
}

struct Block2D {
  int64_t bn, bk;
};
constexpr Block2D kBlocks[] = {{0, 0},   {1, 0},   {1, 128}, {128, 128},
                               {64, 32}, {0, 128}, {128, 0}, {3, 7}};

TEST(QuantizeBlocks2D, MatchesFloat64Derivation) {
  uint32_t seed = 200;
  for (int64_t n : {1, 7, 130, 257}) {
    for (int64_t k : {1, 129, 300}) {
      const auto w = TestData(n, k, ++seed);
      for (const Block2D blk : kBlocks) {
        for (const auto& p : AllParams()) {
          if (p.scale_pow2 && !p.saturate) continue;  // keeps the sweep short; pow2 is per-scale
          const int64_t nbn = NumBlocks(n, blk.bn), nbk = NumBlocks(k, blk.bk);
          const int64_t bn = blk.bn == 0 ? n : blk.bn, bk = blk.bk == 0 ? k : blk.bk;
          ASSERT_EQ(nbn, (n + bn - 1) / bn);
          ASSERT_EQ(nbk, (k + bk - 1) / bk);
          std::vector<uint8_t> codes(static_cast<size_t>(n * k), 0xAA);
          std::vector<float> scales(static_cast<size_t>(nbn * nbk) + 1, -7.0f);
          QuantizeBlocks2D(w.data(), n, k, blk.bn, blk.bk, p, codes.data(), scales.data());
          EXPECT_EQ(scales.back(), -7.0f) << "wrote past the scales";
          int failures = 0;
          for (int64_t i = 0; i < nbn && failures == 0; ++i) {
            for (int64_t j = 0; j < nbk; ++j) {
              const int64_t n0 = i * bn, k0 = j * bk;
              failures +=
                  CheckGroup(w.data() + n0 * k + k0, std::min(bn, n - n0), std::min(bk, k - k0), k,
                             scales[i * nbk + j], codes.data() + n0 * k + k0, p,
                             "n=" + std::to_string(n) + " k=" + std::to_string(k) + " block (" +
                                 std::to_string(blk.bn) + "," + std::to_string(blk.bk) + ") [" +
                                 std::to_string(i) + "," + std::to_string(j) + "]");
            }
          }
          ASSERT_EQ(failures, 0);
        }
      }
    }
  }
}

// Streaming: quantizing panels of rows (a multiple of block_n each) gives the same codes and scales
// as one call on the whole matrix.
TEST(QuantizeBlocks2D, PanelsEqualWholeMatrix) {
  const int64_t n = 389, k = 300;
  const auto w = TestData(n, k, 4242);
  for (const Block2D blk : kBlocks) {
    if (blk.bn == 0) continue;  // one block spans all rows: no panels
    for (const Fp8QuantParams p :
         {Fp8QuantParams{}, Fp8QuantParams{Fp8Format::kE5M2, false, true}}) {
      const int64_t nbn = NumBlocks(n, blk.bn), nbk = NumBlocks(k, blk.bk);
      std::vector<uint8_t> codes(static_cast<size_t>(n * k)), pcodes(codes.size(), 0xAA);
      std::vector<float> scales(static_cast<size_t>(nbn * nbk)), pscales(scales.size(), -1.0f);
      QuantizeBlocks2D(w.data(), n, k, blk.bn, blk.bk, p, codes.data(), scales.data());
      for (int64_t blocks_per_panel : {1, 2, 5}) {
        const int64_t panel = blk.bn * blocks_per_panel;
        for (int64_t r0 = 0; r0 < n; r0 += panel) {
          const int64_t rows = std::min(panel, n - r0);
          QuantizeBlocks2D(w.data() + r0 * k, rows, k, blk.bn, blk.bk, p, pcodes.data() + r0 * k,
                           pscales.data() + (r0 / blk.bn) * nbk);
        }
        EXPECT_EQ(pcodes, codes) << "block (" << blk.bn << "," << blk.bk << ") panel " << panel;
        for (size_t i = 0; i < scales.size(); ++i) {
          ASSERT_EQ(testref::FloatBits(pscales[i]), testref::FloatBits(scales[i]))
              << "block (" << blk.bn << "," << blk.bk << ") panel " << panel << " scale " << i;
        }
      }
    }
  }
}

// Edge cases named by the spec, stated directly.
TEST(QuantizeRowGroups, SpecEdgeCases) {
  const Fp8QuantParams e4m3{};
  // All-zero group: scale 1, codes 0 (sign kept for -0).
  {
    const float x[4] = {0.0f, -0.0f, 0.0f, 0.0f};
    uint8_t c[4];
    float s;
    QuantizeRowGroups(x, 1, 4, 0, e4m3, c, &s);
    EXPECT_EQ(s, 1.0f);
    EXPECT_EQ(c[0], 0x00);
    EXPECT_EQ(c[1], 0x80);
  }
  // NaN/Inf are ignored for amax: the group's largest finite value maps to +-max.
  {
    const float x[5] = {kNaN, 2.0f, -kInf, -4.0f, kInf};
    uint8_t c[5];
    float s;
    QuantizeRowGroups(x, 1, 5, 128, e4m3, c, &s);
    EXPECT_EQ(s, 4.0f / 448.0f);
    EXPECT_EQ(c[3], 0xFE);  // -4 / s = -448
    EXPECT_EQ(c[0], 0x7F);  // NaN
    EXPECT_EQ(c[2], 0xFE);  // -Inf saturates
    EXPECT_EQ(c[4], 0x7E);
  }
  // scale_pow2: 4/448 rounds up to 2^-6; a power-of-two scale stays.
  {
    const float x[2] = {4.0f, 1.0f};
    uint8_t c[2];
    float s;
    QuantizeRowGroups(x, 1, 2, 0, {Fp8Format::kE4M3FN, true, true}, c, &s);
    EXPECT_EQ(s, std::ldexp(1.0f, -6));
    const float y[1] = {448.0f * 0.25f};
    QuantizeRowGroups(y, 1, 1, 0, {Fp8Format::kE4M3FN, true, true}, c, &s);
    EXPECT_EQ(s, 0.25f);
  }
  // A group of subnormal float32 values: no code overflows, with or without saturation.
  for (bool sat : {false, true}) {
    for (auto f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
      // amax 2^-140: amax / 448 = 1.14 * 2^-149, which rounded to nearest is 2^-149: x / scale =
      // 512.
      const float x[3] = {std::ldexp(1.0f, -140), -std::ldexp(1.0f, -141), 3e-43f};
      uint8_t c[3];
      float s;
      QuantizeRowGroups(x, 1, 3, 0, {f, sat, false}, c, &s);
      EXPECT_GT(s, 0.0f);
      for (int i = 0; i < 3; ++i) {
        EXPECT_TRUE(std::isfinite(DecodeFp8(c[i], f)))
            << Fp8FormatName(f) << " sat=" << sat << " x=" << x[i];
      }
    }
  }
}

}  // namespace
}  // namespace fp8ops
