// The scalar reference kernels (ops/reference/reference_kernels.h) against an independent float64
// re-derivation of the ops (docs/OPERATORS.md), written here from the format definitions.
//
// FP8GEMM tolerance. The kernel dequantizes in float32 (a = fl(code * scale), b likewise: one
// rounding each, relative error <= u = 2^-24), multiplies in float32 (one more rounding), sums K
// products in float32 (error <= (K - 1) u sum|p| for any order), adds bias (one rounding) and
// rounds once to out_type. Against the exact float64 value r of the same formula:
//   |y - r| <= (K + 5) * 2^-24 * sum_k |a_k b_k| + 2^-24 * |bias| + ulp_out(|r| + that) / 2,
// (K + 3 would do; 2 more for the O(K u^2) terms) with ulp_out the unit in the last place of
// out_type (0 for float: its rounding is the bias addition's, already counted).
#include "ops/reference/reference_kernels.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "tests/common/gemm_test_data.h"
#include "tests/unit/numeric_reference.h"

namespace fp8ops {
namespace {

using testref::BitsFloat;
using testref::FloatBits;

const char* Name(DType t) { return DTypeName(t); }

testref::FormatDef Def16(DType t) { return t == DType::kFloat16 ? testref::kHalf : testref::kBf16; }

// Independent value of element i of a buffer of type t (float, float16, bfloat16).
double ValueAt(const std::vector<uint8_t>& buf, DType t, int64_t i) {
  if (t == DType::kFloat) {
    float f;
    std::memcpy(&f, buf.data() + i * 4, 4);
    return f;
  }
  uint16_t h;
  std::memcpy(&h, buf.data() + i * 2, 2);
  return testref::DecodeBits(h, Def16(t));
}

// Random values of type t (float: as they are; 16-bit types: rounded by the test's own rounding).
std::vector<uint8_t> RandomFloats(int64_t n, DType t, std::mt19937& rng, float sigma = 1.0f) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<uint8_t> out(static_cast<size_t>(n) * DTypeSize(t));
  for (int64_t i = 0; i < n; ++i) {
    float v = dist(rng);
    if (v == 0.0f) v = 0.5f;  // never zero
    if (t == DType::kFloat) {
      std::memcpy(out.data() + i * 4, &v, 4);
    } else {
      const uint16_t h = testref::RoundToBits16(v, Def16(t));
      std::memcpy(out.data() + i * 2, &h, 2);
    }
  }
  return out;
}

std::vector<float> AsFloats(const std::vector<uint8_t>& buf, DType t, int64_t n) {
  std::vector<float> f(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) f[i] = static_cast<float>(ValueAt(buf, t, i));
  return f;
}

// Half an ulp of the output type at magnitude v (0 for float, see the header comment).
double HalfUlpOut(double v, DType out) {
  if (out == DType::kFloat) return 0.0;
  return 0.5 * testref::Ulp(v, Def16(out));
}

struct Gran {
  int64_t bn, bk, a_block;
  const char* name;
};
// The spec's granularities plus an odd one (a_block = block_k when both are blocked; otherwise a
// per-row or per-group A scale).
constexpr Gran kGrans[] = {{0, 0, 0, "per-tensor"},   {1, 0, 128, "per-channel"},
                           {1, 128, 128, "1-D"},      {128, 128, 128, "2-D"},
                           {32, 96, 96, "odd 32x96"}, {0, 0, 128, "per-tensor/a128"}};
constexpr DType kATypes[] = {DType::kE4M3FN, DType::kE5M2, DType::kFloat, DType::kFloat16,
                             DType::kBFloat16};
constexpr DType kOutTypes[] = {DType::kFloat, DType::kFloat16, DType::kBFloat16};

struct GemmCase {
  int64_t m, k, n;
  Gran g;
  DType a_type, out;
  bool bias;
  Fp8Format b_fmt;
  std::string Str() const {
    return "M=" + std::to_string(m) + " K=" + std::to_string(k) + " N=" + std::to_string(n) + " " +
           g.name + " A=" + Name(a_type) + " B=" + Fp8FormatName(b_fmt) + " out=" + Name(out) +
           (bias ? " +bias" : "");
  }
};

// Inputs of one case, made with the library's quantizer from random floats by the builder the
// kernel tests share (tests/common/gemm_test_data.h); the reference below reads codes and scales
// on its own, so a layout error in either would show.
using GemmData = testing::GemmInputs;

testing::GemmCase Shared(const GemmCase& c) {
  return {c.m, c.n, c.k, c.g.bn, c.g.bk, c.g.a_block, c.a_type, c.b_fmt, c.out, c.bias};
}

GemmData MakeData(const GemmCase& c, std::mt19937& rng) {
  const auto x = AsFloats(RandomFloats(c.m * c.k, DType::kFloat, rng), DType::kFloat, c.m * c.k);
  return testing::MakeGemmInputs(Shared(c), x, rng);
}

reference::GemmProblem Problem(const GemmCase& c, const GemmData& d, void* y) {
  reference::GemmProblem p = testing::ReferenceProblem(Shared(c), d);
  p.y = y;
  return p;
}

// Dequantized operands in float64, straight from the format definitions and the block layout.
std::vector<double> DequantA(const GemmCase& c, const GemmData& d) {
  std::vector<double> a(static_cast<size_t>(c.m * c.k));
  const int64_t g = c.g.a_block == 0 ? c.k : c.g.a_block;
  const int64_t groups = c.g.a_block == 0 ? 1 : (c.k + g - 1) / g;
  for (int64_t m = 0; m < c.m; ++m) {
    for (int64_t k = 0; k < c.k; ++k) {
      const int64_t i = m * c.k + k;
      a[i] = IsFp8DType(c.a_type)
                 ? testref::DecodeBits(d.a[i], testref::Fp8Def(static_cast<int>(c.a_type))) *
                       d.a_scale[m * groups + k / g]
                 : ValueAt(d.a, c.a_type, i);
    }
  }
  return a;
}
std::vector<double> DequantB(const GemmCase& c, const GemmData& d) {
  std::vector<double> b(static_cast<size_t>(c.n * c.k));
  const int64_t bn = c.g.bn == 0 ? c.n : c.g.bn, bk = c.g.bk == 0 ? c.k : c.g.bk;
  const int64_t kb = c.g.bk == 0 ? 1 : (c.k + bk - 1) / bk;
  for (int64_t n = 0; n < c.n; ++n) {
    for (int64_t k = 0; k < c.k; ++k) {
      b[n * c.k + k] =
          testref::DecodeBits(d.b[n * c.k + k], testref::Fp8Def(static_cast<int>(c.b_fmt))) *
          d.b_scale[(n / bn) * kb + k / bk];
    }
  }
  return b;
}

// Runs the reference kernel on one case and checks every element against the float64 value.
void RunGemmCase(const GemmCase& c, std::mt19937& rng) {
  SCOPED_TRACE(c.Str());
  const GemmData d = MakeData(c, rng);
  const int osize = DTypeSize(c.out);
  std::vector<uint8_t> y(static_cast<size_t>(c.m * c.n * osize) + 8, 0xA5);  // + sentinel
  reference::Fp8Gemm(Problem(c, d, y.data()), 0, c.m, 0, c.n);
  for (size_t i = y.size() - 8; i < y.size(); ++i) ASSERT_EQ(y[i], 0xA5) << "wrote past Y";

  const auto a = DequantA(c, d), b = DequantB(c, d);
  int failures = 0;
  double max_ratio = 0.0;
  for (int64_t m = 0; m < c.m; ++m) {
    for (int64_t n = 0; n < c.n; ++n) {
      double r = 0.0, abs_sum = 0.0;
      for (int64_t k = 0; k < c.k; ++k) {
        r += a[m * c.k + k] * b[n * c.k + k];
        abs_sum += std::fabs(a[m * c.k + k] * b[n * c.k + k]);
      }
      const double bias = c.bias ? ValueAt(d.bias, c.out, n) : 0.0;
      r += bias;
      const double acc_err =
          (c.k + 5) * std::ldexp(abs_sum, -24) + std::ldexp(std::fabs(bias), -24);
      const double tol = acc_err + HalfUlpOut(std::fabs(r) + acc_err, c.out);
      const double got = ValueAt(y, c.out, m * c.n + n);
      const double err = std::fabs(got - r);
      if (tol > 0) max_ratio = std::max(max_ratio, err / tol);
      if (!(err <= tol) && ++failures <= 5) {
        ADD_FAILURE() << "Y[" << m << "," << n << "] = " << got << ", float64 " << r << ", |err| "
                      << err << " > tol " << tol;
      }
    }
  }
  EXPECT_EQ(failures, 0) << "max err/tol " << max_ratio;
}

constexpr int64_t kMs[] = {0, 1, 3, 64};
constexpr int64_t kKs[] = {1, 127, 128, 129, 300, 4096};
constexpr int64_t kNs[] = {1, 130, 384};

// Every M x K x N of the sweep, two type/granularity combinations each, cycling so that every
// granularity meets every A type, and every out_type every bias setting.
TEST(ReferenceFp8Gemm, ShapeSweepMatchesFloat64) {
  std::mt19937 rng(2024);
  int combo = 0;
  for (int64_t m : kMs) {
    for (int64_t k : kKs) {
      for (int64_t n : kNs) {
        for (int j = 0; j < 2; ++j, ++combo) {
          const GemmCase c{m,
                           k,
                           n,
                           kGrans[combo % 5],
                           kATypes[(combo / 5) % 5],
                           kOutTypes[combo % 3],
                           (combo / 3) % 2 == 1,
                           (combo / 7) % 2 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN};
          RunGemmCase(c, rng);
          if (HasFatalFailure()) return;
        }
      }
    }
  }
}

// Every granularity x A type x out_type x bias x B format on one ragged shape (partial blocks in
// N and K).
TEST(ReferenceFp8Gemm, AllTypeAndGranularityCombinations) {
  std::mt19937 rng(99);
  for (const Gran& g : kGrans) {
    for (DType at : kATypes) {
      for (DType out : kOutTypes) {
        for (bool bias : {false, true}) {
          for (Fp8Format bf : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
            RunGemmCase({3, 300, 130, g, at, out, bias, bf}, rng);
            if (HasFatalFailure()) return;
          }
        }
      }
    }
  }
}

// K = 0: Y = bias (or 0).
TEST(ReferenceFp8Gemm, EmptyKGivesBias) {
  std::mt19937 rng(1);
  for (DType out : kOutTypes) {
    for (bool bias : {false, true}) {
      const GemmCase c{3, 0, 5, kGrans[3], DType::kE4M3FN, out, bias, Fp8Format::kE4M3FN};
      const GemmData d = MakeData(c, rng);
      std::vector<uint8_t> y(static_cast<size_t>(c.m * c.n * DTypeSize(out)), 0xA5);
      reference::Fp8Gemm(Problem(c, d, y.data()), 0, c.m, 0, c.n);
      for (int64_t m = 0; m < c.m; ++m) {
        for (int64_t n = 0; n < c.n; ++n) {
          EXPECT_EQ(ValueAt(y, out, m * c.n + n), bias ? ValueAt(d.bias, out, n) : 0.0)
              << Name(out);
        }
      }
    }
  }
}

// Tiles of (m, n) compute the same values as one call, and write only their own tile.
TEST(ReferenceFp8Gemm, TilesEqualWholeAndStayInside) {
  std::mt19937 rng(5);
  const GemmCase c{
      37, 300, 70, kGrans[3], DType::kE5M2, DType::kBFloat16, true, Fp8Format::kE4M3FN};
  const GemmData d = MakeData(c, rng);
  const size_t bytes = static_cast<size_t>(c.m * c.n * 2);
  std::vector<uint8_t> whole(bytes), tiled(bytes, 0xA5);
  reference::Fp8Gemm(Problem(c, d, whole.data()), 0, c.m, 0, c.n);
  const int64_t tm = 8, tn = 16;
  for (int64_t m0 = 0; m0 < c.m; m0 += tm) {
    for (int64_t n0 = 0; n0 < c.n; n0 += tn) {
      const int64_t m1 = std::min(c.m, m0 + tm), n1 = std::min(c.n, n0 + tn);
      std::vector<uint8_t> before = tiled;
      reference::Fp8Gemm(Problem(c, d, tiled.data()), m0, m1, n0, n1);
      for (int64_t m = 0; m < c.m; ++m) {
        for (int64_t n = 0; n < c.n; ++n) {
          const bool inside = m >= m0 && m < m1 && n >= n0 && n < n1;
          const size_t i = static_cast<size_t>((m * c.n + n) * 2);
          if (!inside) {
            ASSERT_TRUE(tiled[i] == before[i] && tiled[i + 1] == before[i + 1]) << m << "," << n;
          }
        }
      }
    }
  }
  EXPECT_EQ(tiled, whole);
  // An empty range writes nothing.
  std::vector<uint8_t> untouched(bytes, 0x5A);
  reference::Fp8Gemm(Problem(c, d, untouched.data()), 4, 4, 0, c.n);
  reference::Fp8Gemm(Problem(c, d, untouched.data()), 0, c.m, 9, 9);
  EXPECT_EQ(untouched, std::vector<uint8_t>(bytes, 0x5A));
}

// The row dequantizers give fl(decode(code) * scale) exactly (a float32 product of the two).
TEST(ReferenceFp8Gemm, DequantizeRowsAreFloatProducts) {
  std::mt19937 rng(6);
  for (const Gran& g : kGrans) {
    for (DType at : kATypes) {
      const GemmCase c{5, 300, 130, g, at, DType::kFloat, false, Fp8Format::kE5M2};
      const GemmData d = MakeData(c, rng);
      const auto p = Problem(c, d, nullptr);
      const auto a = DequantA(c, d), b = DequantB(c, d);
      std::vector<float> row(static_cast<size_t>(c.k));
      for (int64_t m = 0; m < c.m; ++m) {
        reference::DequantizeARow(p, m, row.data());
        for (int64_t k = 0; k < c.k; ++k) {
          ASSERT_EQ(FloatBits(row[k]), FloatBits(static_cast<float>(a[m * c.k + k])))
              << g.name << Name(at);
        }
      }
      for (int64_t n = 0; n < c.n; ++n) {
        reference::DequantizeBRow(p, n, row.data());
        for (int64_t k = 0; k < c.k; ++k) {
          ASSERT_EQ(FloatBits(row[k]), FloatBits(static_cast<float>(b[n * c.k + k])))
              << g.name << " row " << n;
        }
      }
    }
  }
}

// ---- QuantizeFP8 --------------------------------------------------------------------------------

TEST(ReferenceQuantizeFp8, MatchesFloat64Derivation) {
  std::mt19937 rng(31);
  struct Shape {
    int64_t rows, k;
  };
  for (const Shape s :
       {Shape{3, 300}, Shape{1, 1}, Shape{5, 128}, Shape{2, 129}, Shape{2, 0}, Shape{0, 7}}) {
    for (int64_t block : {0, 1, 32, 128, 300}) {
      for (DType xt : {DType::kFloat, DType::kFloat16, DType::kBFloat16}) {
        for (int fmt : {17, 19}) {
          for (int mode = 0; mode < 6;
               ++mode) {  // saturate x {dynamic, static 1, static per group}
            const bool sat = mode % 2 == 0;
            const int scale_mode = mode / 2;
            const bool pow2 = (rng() & 1) != 0;
            const int64_t ng = NumBlocks(s.k, block), g = EffectiveBlock(s.k, block);
            // Values spread over many binades so that static scales overflow some of them.
            auto x = RandomFloats(s.rows * s.k, xt, rng, 30.0f);
            std::vector<float> stat;
            if (scale_mode == 1) stat = {0.0625f + static_cast<float>(rng() % 100) / 50.0f};
            if (scale_mode == 2) {
              for (int64_t i = 0; i < s.rows * ng; ++i)
                stat.push_back(std::ldexp(1.0f + (rng() % 7) / 8.0f, -3));
            }
            reference::QuantizeProblem p;
            p.rows = s.rows;
            p.k = s.k;
            p.x = x.data();
            p.x_type = xt;
            p.block_size = block;
            p.params = {static_cast<Fp8Format>(fmt), sat, pow2};
            p.static_scale = stat.empty() ? nullptr : stat.data();
            p.static_scale_count = static_cast<int64_t>(stat.size());
            std::vector<uint8_t> y(static_cast<size_t>(s.rows * s.k), 0xAA);
            std::vector<float> ys(static_cast<size_t>(s.rows * ng), -1.0f);
            p.y = y.data();
            p.y_scale = ys.data();
            // Two row ranges: the split must not matter.
            reference::QuantizeFp8(p, 0, s.rows / 2);
            reference::QuantizeFp8(p, s.rows / 2, s.rows);
            const std::string where =
                std::string(Name(xt)) + " rows=" + std::to_string(s.rows) +
                " k=" + std::to_string(s.k) + " block=" + std::to_string(block) +
                " fp8=" + std::to_string(fmt) + " sat=" + std::to_string(sat) +
                " scale_mode=" + std::to_string(scale_mode) + " pow2=" + std::to_string(pow2);
            for (int64_t r = 0; r < s.rows; ++r) {
              for (int64_t b = 0; b < ng; ++b) {
                const int64_t k0 = b * g, len = std::min(g, s.k - k0);
                double amax = 0.0;
                for (int64_t i = 0; i < len; ++i)
                  amax = std::max(amax, std::fabs(ValueAt(x, xt, r * s.k + k0 + i)));
                const float want_s = scale_mode == 0   ? testref::ExpectedScale(amax, fmt, pow2)
                                     : scale_mode == 1 ? stat[0]
                                                       : stat[r * ng + b];
                ASSERT_EQ(FloatBits(ys[r * ng + b]), FloatBits(want_s))
                    << where << " r=" << r << " b=" << b;
                for (int64_t i = 0; i < len; ++i) {
                  const int64_t idx = r * s.k + k0 + i;
                  const float q =
                      static_cast<float>(ValueAt(x, xt, idx)) / want_s;  // float32 division
                  ASSERT_EQ(y[idx], testref::EncodeFp8Ref(q, fmt, sat)) << where << " idx " << idx;
                }
              }
            }
          }
        }
      }
    }
  }
}

// ---- DequantizeFP8 ------------------------------------------------------------------------------

TEST(ReferenceDequantizeFp8, MatchesFloat64Derivation) {
  std::mt19937 rng(77);
  struct Mode {
    bool last_axis;
    int64_t block_size, bn, bk;
    bool per_tensor;
  };
  const Mode modes[] = {{false, 0, 128, 128, false}, {false, 0, 1, 0, false},
                        {false, 0, 0, 0, false},     {false, 0, 32, 96, false},
                        {true, 0, 0, 0, false},      {true, 1, 0, 0, false},
                        {true, 32, 0, 0, false},     {true, 128, 0, 0, false},
                        {false, 0, 128, 128, true},  {true, 128, 0, 0, true}};
  for (const Mode& md : modes) {
    for (int fmt : {17, 19}) {
      for (DType out : kOutTypes) {
        const int64_t rows = 130, k = 300;
        std::vector<uint8_t> x(static_cast<size_t>(rows * k));
        for (auto& c : x) c = static_cast<uint8_t>(rng());  // every code: NaN and Inf included
        int64_t count;
        if (md.per_tensor) {
          count = 1;
        } else if (md.last_axis) {
          count = rows * NumBlocks(k, md.block_size);
        } else {
          count = NumBlocks(rows, md.bn) * NumBlocks(k, md.bk);
        }
        std::vector<float> scale(static_cast<size_t>(count));
        for (auto& s : scale)
          s = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f,
                         -static_cast<int>(rng() % 12));
        std::vector<uint8_t> y(static_cast<size_t>(rows * k * DTypeSize(out)));
        reference::DequantizeProblem p;
        p.rows = rows;
        p.k = k;
        p.x = x.data();
        p.format = static_cast<Fp8Format>(fmt);
        p.scale = scale.data();
        p.scale_count = count;
        p.last_axis_groups = md.last_axis;
        p.block_size = md.block_size;
        p.block_n = md.bn;
        p.block_k = md.bk;
        p.out_type = out;
        p.y = y.data();
        reference::DequantizeFp8(p, 0, 50);
        reference::DequantizeFp8(p, 50, rows);
        const int64_t g = md.block_size == 0 ? k : md.block_size;
        const int64_t bn = md.bn == 0 ? rows : md.bn, bk = md.bk == 0 ? k : md.bk;
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t i = 0; i < k; ++i) {
            float s;
            if (md.per_tensor) {
              s = scale[0];
            } else if (md.last_axis) {
              s = scale[r * ((k + g - 1) / g) + i / g];
            } else {
              s = scale[(r / bn) * ((k + bk - 1) / bk) + i / bk];
            }
            // The spec: float(X) * scale in float32 (exact in double, then one rounding), then
            // rounded to out_type.
            const float prod =
                static_cast<float>(testref::DecodeBits(x[r * k + i], testref::Fp8Def(fmt)) * s);
            const double got = ValueAt(y, out, r * k + i);
            double want = prod;
            if (out != DType::kFloat)
              want = testref::DecodeBits(testref::RoundToBits16(prod, Def16(out)), Def16(out));
            ASSERT_TRUE(testref::SameFloat(static_cast<float>(got), static_cast<float>(want)))
                << "fmt " << fmt << " out " << Name(out) << " mode " << (&md - modes) << " [" << r
                << "," << i << "] code " << int{x[r * k + i]} << ": got " << got << ", want "
                << want;
          }
        }
      }
    }
  }
}

}  // namespace
}  // namespace fp8ops
