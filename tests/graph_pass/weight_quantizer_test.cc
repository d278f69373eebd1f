// The panel-by-panel, multi-threaded weight quantizer gives exactly QuantizeBlocks2D's result on
// the whole float32 matrix, for every dtype, orientation, block layout and thread count.
#include "graph_pass/weight_quantizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "fp8ops/float16.h"

namespace fp8ops::graph_pass {
namespace {

TEST(WeightQuantizer, MatchesQuantizeBlocks2DOnTheWholeMatrix) {
  const int64_t n = 300, k = 261;  // ragged against every block below
  std::mt19937 rng(11);
  std::normal_distribution<float> d(0.0f, 0.3f);
  std::vector<float> src(n * k);
  for (auto& v : src) v = d(rng);
  src[5] = std::numeric_limits<float>::infinity();  // non-finite values are ignored by amax
  src[777] = std::numeric_limits<float>::quiet_NaN();
  src[1000] = 3000.0f;  // an outlier that saturates E4M3 in its block
  for (int64_t i = 2000; i < 2000 + 128; ++i) src[i] = 0.0f;  // a zero run
  for (DType dt : {DType::kFloat, DType::kFloat16, DType::kBFloat16}) {
    std::vector<uint16_t> bits(src.size());
    std::vector<float> as_float(src.size());
    for (size_t i = 0; i < src.size(); ++i) {
      if (dt == DType::kFloat16) {
        bits[i] = FloatToHalf(src[i]);
        as_float[i] = HalfToFloat(bits[i]);
      } else if (dt == DType::kBFloat16) {
        bits[i] = FloatToBf16(src[i]);
        as_float[i] = Bf16ToFloat(bits[i]);
      } else {
        as_float[i] = src[i];
      }
    }
    for (bool transposed : {false, true}) {
      // Source layout: [n, k] as is, or the [k, n] matrix whose transpose is as_float.
      std::vector<float> src_f(src.size());
      std::vector<uint16_t> src_b(src.size());
      for (int64_t r = 0; r < n; ++r) {
        for (int64_t c = 0; c < k; ++c) {
          const int64_t at = transposed ? c * n + r : r * k + c;
          src_f[at] = as_float[r * k + c];
          src_b[at] = bits[r * k + c];
        }
      }
      for (auto [bn, bk] : {std::pair<int64_t, int64_t>{128, 128},
                            {0, 0},
                            {1, 0},
                            {1, 128},
                            {3, 5},
                            {0, 128},
                            {256, 64},
                            {7, 0}}) {
        for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
          Fp8QuantParams p;
          p.format = f;
          std::vector<uint8_t> want(n * k);
          std::vector<float> want_s(NumBlocks(n, bn) * NumBlocks(k, bk));
          QuantizeBlocks2D(as_float.data(), n, k, bn, bk, p, want.data(), want_s.data());
          for (int threads : {1, 2, 3}) {
            WeightMatrix w;
            w.dtype = dt;
            w.n = n;
            w.k = k;
            w.transposed = transposed;
            w.data = dt == DType::kFloat ? static_cast<const void*>(src_f.data()) : src_b.data();
            QuantizedWeight q;
            QuantizeWeight(w, bn, bk, p, threads, &q);
            SCOPED_TRACE(::testing::Message()
                         << DTypeName(dt) << " transposed=" << transposed << " block " << bn << "x"
                         << bk << " " << Fp8FormatName(f) << " threads " << threads);
            ASSERT_EQ(q.codes.size(), want.size());
            EXPECT_EQ(std::memcmp(q.codes.data(), want.data(), want.size()), 0);
            ASSERT_EQ(q.scales, want_s);
            EXPECT_GT(q.signal_sq, 0.0);
            EXPECT_GT(q.error_sq, 0.0);
            EXPECT_TRUE(std::isfinite(q.error_sq));
          }
        }
      }
    }
  }
}

TEST(WeightQuantizer, StatisticsDoNotDependOnThreads) {
  const int64_t n = 1000, k = 300;
  std::mt19937 rng(12);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> w(n * k);
  for (auto& v : w) v = d(rng);
  WeightMatrix m;
  m.n = n;
  m.k = k;
  m.data = w.data();
  QuantizedWeight a, b;
  QuantizeWeight(m, 128, 128, {}, 1, &a);
  QuantizeWeight(m, 128, 128, {}, 2, &b);
  EXPECT_EQ(a.signal_sq, b.signal_sq);
  EXPECT_EQ(a.error_sq, b.error_sq);
  double s = 0;
  for (float v : w) s += double(v) * v;
  EXPECT_NEAR(a.signal_sq, s, 1e-3 * s);
}

}  // namespace
}  // namespace fp8ops::graph_pass
