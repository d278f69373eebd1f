// The fast CPU kernels (ops/cpu) of every ISA level this CPU has, against the scalar reference
// kernels (ops/reference/reference_kernels.h). Levels the CPU lacks are skipped with a message.
//
// QuantizeFP8 must be bit-exact with the reference (codes and scales). FP8GEMM sums in another
// order, so it is checked against the exact float64 value r of the reference's own dequantized
// operands (reference::DequantizeARow / DequantizeBRow):
//   |y - r| <= (K + 5) * 2^-24 * sum_k |a_k b_k| + 2^-24 * |bias| + ulp_out(|r| + that) / 2
// (the bound of docs/OPERATORS.md 1.5 with the slack reference_kernels_test.cc uses; the kernels
// sum exact FP8 products per K block, then scale: a few roundings fewer or more than the
// reference, never K more). Decoding is checked exactly: one-hot rows of A pick single weights.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"
#include "ops/cpu/dispatch.h"
#include "ops/cpu/fp8_gemm.h"
#include "ops/cpu/isa.h"
#include "ops/cpu/quantize_fp8.h"
#include "ops/reference/reference_kernels.h"
#include "tests/common/gemm_test_data.h"

namespace fp8ops::cpu {
namespace {

constexpr Isa kAllIsas[] = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16,
                            Isa::kAvx512Amx};

// The levels to test; prints the ones this CPU lacks. (Not with gtest's "[  SKIPPED ]" tag:
// ctest marks a whole test skipped when its output has it, and these tests still ran the other
// levels. A test that needs one level alone uses GTEST_SKIP.)
std::vector<Isa> TestedIsas() {
  std::vector<Isa> out;
  for (Isa isa : kAllIsas) {
    if (IsaSupported(isa)) {
      out.push_back(isa);
    } else {
      std::printf("[   NOTE   ] ISA level %s not tested: this CPU does not support it\n",
                  IsaName(isa));
    }
  }
  return out;
}

uint32_t FloatBitsOf(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

float BitsToFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Random floats with the hard cases mixed in: zeros, NaN, +-Inf, huge, tiny and subnormal
// values, FP8 rounding midpoints.
std::vector<float> NastyFloats(int64_t n, std::mt19937& rng, float sigma) {
  std::normal_distribution<float> normal(0.0f, sigma);
  std::uniform_int_distribution<uint32_t> bits;
  std::uniform_int_distribution<int> pick(0, 19);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) {
    switch (pick(rng)) {
      case 0:
        x = 0.0f;
        break;
      case 1:
        x = -0.0f;
        break;
      case 2:
        x = std::numeric_limits<float>::quiet_NaN();
        break;
      case 3:
        x = (bits(rng) & 1) ? std::numeric_limits<float>::infinity()
                            : -std::numeric_limits<float>::infinity();
        break;
      case 4:
        x = BitsToFloat(bits(rng));
        break;  // any pattern
      case 5:
        x = BitsToFloat(bits(rng) & 0x807FFFFFu);
        break;  // subnormal
      case 6:
        x = normal(rng) * 1e-3f;
        break;
      default:
        x = normal(rng);
        break;
    }
  }
  return v;
}

// Runs tasks on 3 threads, to check that results do not depend on the split.
absl::Status RunThreaded(size_t n, absl::FunctionRef<void(size_t)> task) {
  std::vector<std::thread> threads;
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] {
      for (size_t i = t; i < n; i += 3) task(i);
    });
  }
  for (auto& th : threads) th.join();
  return absl::OkStatus();
}

// ------------------------------------------------------------------------------------ ISA basics

TEST(CpuIsa, NamesRoundTripAndScalarAlwaysRuns) {
  for (Isa isa : kAllIsas) EXPECT_EQ(ParseIsa(IsaName(isa)), isa);
  EXPECT_EQ(ParseIsa("AVX512"), Isa::kAvx512);
  EXPECT_FALSE(ParseIsa("sse9").has_value());
  EXPECT_TRUE(IsaSupported(Isa::kScalar));
  EXPECT_TRUE(IsaSupported(BestSupportedIsa()));
  EXPECT_TRUE(IsaSupported(ActiveIsa()));
  EXPECT_EQ(GemmKernelsFor(Isa::kScalar), nullptr);
  for (Isa isa : kAllIsas) {
    if (isa != Isa::kScalar && IsaSupported(isa)) {
      EXPECT_NE(GemmKernelsFor(isa), nullptr) << IsaName(isa);
      EXPECT_NE(QuantizeKernelsFor(isa), nullptr) << IsaName(isa);
    } else if (!IsaSupported(isa)) {
      EXPECT_EQ(GemmKernelsFor(isa), nullptr) << IsaName(isa);
    }
  }
  std::printf("best ISA %s, active %s\n", IsaName(BestSupportedIsa()), IsaName(ActiveIsa()));
}

// ------------------------------------------------------------------------------------ QuantizeFP8

struct QuantCase {
  int64_t rows, k, block;
  DType x_type;
  Fp8QuantParams params;
  int static_mode;  // 0 dynamic, 1 per tensor, 2 per group
};

void CheckQuantize(Isa isa, const QuantCase& c, std::mt19937& rng) {
  const std::vector<float> xf = NastyFloats(c.rows * c.k, rng, 3.0f);
  const std::vector<uint8_t> x = testing::FloatsAs(xf, c.x_type);
  const int64_t ng = NumBlocks(c.k, c.block);
  std::vector<float> static_scale;
  if (c.static_mode == 1) static_scale = {0.37f};
  if (c.static_mode == 2) {
    std::uniform_real_distribution<float> u(1e-3f, 4.0f);
    static_scale.resize(static_cast<size_t>(c.rows * ng));
    for (auto& s : static_scale) s = u(rng);
  }
  reference::QuantizeProblem p;
  p.rows = c.rows;
  p.k = c.k;
  p.x = x.data();
  p.x_type = c.x_type;
  p.block_size = c.block;
  p.params = c.params;
  p.static_scale = static_scale.empty() ? nullptr : static_scale.data();
  p.static_scale_count = static_cast<int64_t>(static_scale.size());
  std::vector<uint8_t> want(static_cast<size_t>(c.rows * c.k), 0xAA), got = want;
  std::vector<float> want_s(static_cast<size_t>(c.rows * ng), -1.0f), got_s = want_s;
  p.y = want.data();
  p.y_scale = want_s.data();
  reference::QuantizeFp8(p, 0, c.rows);
  p.y = got.data();
  p.y_scale = got_s.data();
  QuantizeFp8(p, 0, c.rows, isa);
  const std::string what = absl::StrCat(
      IsaName(isa), " rows=", c.rows, " k=", c.k, " block=", c.block, " x=", DTypeName(c.x_type),
      " fp8=", Fp8FormatName(c.params.format), " sat=", c.params.saturate,
      " pow2=", c.params.scale_pow2, " static=", c.static_mode);
  for (size_t i = 0; i < want_s.size(); ++i) {
    ASSERT_EQ(FloatBitsOf(got_s[i]), FloatBitsOf(want_s[i])) << what << " scale " << i;
  }
  for (size_t i = 0; i < want.size(); ++i) {
    ASSERT_EQ(got[i], want[i]) << what << " element " << i << " x=" << xf[i];
  }
}

TEST(CpuQuantizeFp8, BitExactWithReferenceOnShapeSweep) {
  std::mt19937 rng(1234);
  for (Isa isa : TestedIsas()) {
    for (DType xt : {DType::kFloat, DType::kFloat16, DType::kBFloat16}) {
      for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
        for (int sat = 0; sat < 2; ++sat) {
          for (int64_t block : {int64_t{128}, int64_t{0}, int64_t{1}, int64_t{7}, int64_t{33}}) {
            for (int64_t k :
                 {int64_t{1}, int64_t{15}, int64_t{16}, int64_t{17}, int64_t{128}, int64_t{300}}) {
              QuantCase c{3,
                          k,
                          block,
                          xt,
                          {f, sat != 0, (k + block) % 2 == 1},
                          static_cast<int>((k + block + sat) % 3)};
              CheckQuantize(isa, c, rng);
              if (HasFatalFailure()) return;
            }
          }
        }
      }
    }
  }
}

TEST(CpuQuantizeFp8, EmptyRowsAndZeroK) {
  std::mt19937 rng(5);
  for (Isa isa : TestedIsas()) {
    CheckQuantize(isa, {0, 64, 128, DType::kFloat, {}, 0}, rng);
    CheckQuantize(isa, {4, 0, 128, DType::kFloat, {}, 0}, rng);
  }
}

// Codes of a spread of float bit patterns (every 97th of all 2^32, plus every FP8 rounding
// midpoint and its float neighbours) against EncodeFp8, through the kernels with a static scale
// of 1 (x / 1 is exact).
TEST(CpuQuantizeFp8, EncodeMatchesCodecOnBitPatternSweep) {
  std::vector<float> xs;
  for (uint64_t u = 0; u < (uint64_t{1} << 32); u += 97)
    xs.push_back(BitsToFloat(static_cast<uint32_t>(u)));
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const float* table = Fp8DecodeTable(f);
    for (int c = 0; c < 127; ++c) {
      const float lo = table[c], hi = table[c + 1];
      if (!std::isfinite(lo) || !std::isfinite(hi)) continue;
      const float mid = lo + (hi - lo) / 2;  // exact: few mantissa bits
      for (float v : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e30f), lo, hi}) {
        xs.push_back(v);
        xs.push_back(-v);
      }
    }
  }
  const int64_t n = static_cast<int64_t>(xs.size());
  const float one = 1.0f;
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    for (bool sat : {true, false}) {
      std::vector<uint8_t> want(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) want[i] = EncodeFp8(xs[i], f, sat);
      for (Isa isa : TestedIsas()) {
        if (isa == Isa::kScalar) continue;  // the reference itself
        reference::QuantizeProblem p;
        p.rows = 1;
        p.k = n;
        p.x = xs.data();
        p.x_type = DType::kFloat;
        p.block_size = 0;
        p.params = {f, sat, false};
        p.static_scale = &one;
        p.static_scale_count = 1;
        std::vector<uint8_t> got(static_cast<size_t>(n));
        float s_out;
        p.y = got.data();
        p.y_scale = &s_out;
        QuantizeFp8(p, 0, 1, isa);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(got[i], want[i]) << IsaName(isa) << " " << Fp8FormatName(f) << " sat=" << sat
                                     << " x bits=0x" << std::hex << FloatBitsOf(xs[i]);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------- FP8GEMM

using testing::GemmCase;
using testing::ReferenceProblem;

std::string Describe(Isa isa, const GemmCase& c) {
  return absl::StrCat(IsaName(isa), " m=", c.m, " n=", c.n, " k=", c.k, " block_n=", c.block_n,
                      " block_k=", c.block_k, " a_block=", c.a_block, " A=", DTypeName(c.a_type),
                      " B=", Fp8FormatName(c.b_format), " out=", DTypeName(c.out_type),
                      " bias=", c.bias);
}

using GemmData = testing::GemmInputs;

GemmData MakeData(const GemmCase& c, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(c.m * c.k));
  for (auto& v : x) v = normal(rng);
  return testing::MakeGemmInputs(c, x, rng);
}

BSource SourceOf(const GemmCase& c, const GemmData& d) {
  BSource src;
  src.b = d.b.data();
  src.n = c.n;
  src.k = c.k;
  src.format = c.b_format;
  src.b_scale = d.b_scale.data();
  src.b_scale_count = static_cast<int64_t>(d.b_scale.size());
  src.block_n = c.block_n;
  src.block_k = c.block_k;
  src.a_block = c.a_block;
  return src;
}

// Y of the fast kernels (out_type bytes) with B's metadata `prepared` and its codes read from
// `b_codes`.
std::vector<uint8_t> RunPrepared(const PreparedB& prepared, const uint8_t* b_codes,
                                 const GemmCase& c, const GemmData& d, bool threaded) {
  GemmInput in;
  in.m = c.m;
  in.a = d.a.data();
  in.a_type = c.a_type;
  in.a_scale = d.a_scale.empty() ? nullptr : d.a_scale.data();
  in.a_block = c.a_block;
  in.bias = d.bias.empty() ? nullptr : d.bias.data();
  in.out_type = c.out_type;
  std::vector<uint8_t> y(static_cast<size_t>(c.m * c.n * DTypeSize(c.out_type)), 0xCD);
  in.y = y.data();
  const absl::Status s =
      threaded ? Fp8Gemm(prepared, b_codes, in, RunThreaded) : Fp8Gemm(prepared, b_codes, in);
  EXPECT_TRUE(s.ok()) << s;
  return y;
}

// Y of the fast kernels (out_type bytes). gemv_bf16 >= 0 overrides PreparedB::gemv_bf16_max_m
// (0: the FP32 GEMV at every M, 1: the bf16 one at every M), so that both GEMVs are covered at
// every level whose CPU has AVX512_BF16 (PrepareB's own choice depends on the CPU's dot rates).
std::vector<uint8_t> RunFast(Isa isa, const GemmCase& c, const GemmData& d, bool threaded,
                             Isa* prepared_isa = nullptr, int gemv_bf16 = -1) {
  auto prepared = PrepareB(SourceOf(c, d), isa);
  if (prepared_isa) *prepared_isa = prepared->isa;
  if (gemv_bf16 >= 0) {
    prepared->gemv_bf16_max_m = gemv_bf16 != 0 ? std::numeric_limits<int64_t>::max() : 0;
  }
  return RunPrepared(*prepared, d.b.data(), c, d, threaded);
}

double UlpOut(double r, DType t) {
  if (t == DType::kFloat) return 0.0;
  const int man = t == DType::kFloat16 ? 10 : 7;
  const int emin = t == DType::kFloat16 ? -14 : -126;
  int e;
  std::frexp(std::fabs(r), &e);  // |r| in [2^(e-1), 2^e)
  return std::ldexp(1.0, std::max(e - 1, emin) - man);
}

// Checks y against the float64 value of the reference's dequantized operands.
void CheckGemm(Isa isa, const GemmCase& c, const GemmData& d, const std::vector<uint8_t>& y) {
  reference::GemmProblem p = ReferenceProblem(c, d);
  std::vector<float> arow(static_cast<size_t>(c.k)), brow(static_cast<size_t>(c.k));
  std::vector<float> bias(static_cast<size_t>(c.n), 0.0f);
  if (c.bias) LoadAsFloat(d.bias.data(), c.out_type, c.n, bias.data());
  std::vector<float> yf(static_cast<size_t>(c.m * c.n));
  LoadAsFloat(y.data(), c.out_type, c.m * c.n, yf.data());
  std::vector<std::vector<float>> b_rows(static_cast<size_t>(c.n));
  for (int64_t n = 0; n < c.n; ++n) {
    b_rows[n].resize(static_cast<size_t>(c.k));
    reference::DequantizeBRow(p, n, b_rows[n].data());
  }
  int reported = 0;
  for (int64_t m = 0; m < c.m; ++m) {
    reference::DequantizeARow(p, m, arow.data());
    for (int64_t n = 0; n < c.n; ++n) {
      double r = 0, mag = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) {
        const double t = static_cast<double>(arow[kk]) * b_rows[n][kk];
        r += t;
        mag += std::fabs(t);
      }
      r += bias[n];
      const double acc_err = (c.k + 5) * std::ldexp(mag, -24) + std::ldexp(std::fabs(bias[n]), -24);
      const double tol = acc_err + UlpOut(std::fabs(r) + acc_err, c.out_type) / 2;
      const double got = yf[m * c.n + n];
      if (!(std::fabs(got - r) <= tol)) {
        ADD_FAILURE() << Describe(isa, c) << " Y[" << m << "," << n << "]=" << got << " want " << r
                      << " +- " << tol;
        if (++reported > 5) return;
      }
    }
  }
}

TEST(CpuFp8Gemm, MatchesReferenceOnShapeSweep) {
  struct Gran {
    int64_t bn, bk;
  };
  const Gran grans[] = {{0, 0}, {1, 0}, {1, 128}, {128, 128}, {3, 64}, {0, 128}, {16, 12}, {5, 5}};
  const int64_t shapes[][3] = {{1, 1, 1},
                               {1, 15, 3},
                               {1, 33, 128},
                               {1, 130, 401},
                               {2, 64, 300},
                               {3, 17, 129},
                               {4, 40, 256},
                               {5, 31, 130},
                               {8, 37, 200},
                               {13, 70, 67},
                               {40, 33, 401},
                               // the GEMV's K slabs (GemvArgs::slab) with 128-blocks: 9 segments
                               // at M = 8 are two slabs, the last one short
                               {8, 19, 1100}};
  const DType a_types[] = {DType::kE4M3FN, DType::kE5M2, DType::kFloat, DType::kFloat16,
                           DType::kBFloat16};
  std::mt19937 rng(99);
  for (Isa isa : TestedIsas()) {
    int idx = 0;
    for (const Gran& g : grans) {
      for (DType at : a_types) {
        for (const auto& s : shapes) {
          ++idx;
          GemmCase c;
          c.m = s[0];
          c.n = s[1];
          c.k = s[2];
          c.block_n = g.bn;
          c.block_k = g.bk;
          // a_block: block_k when blocked (the op requires it), else per row or 64-groups.
          c.a_block = g.bk > 0 ? (idx % 3 == 0 ? 0 : g.bk) : (idx % 2 ? 0 : 64);
          c.a_type = at;
          c.b_format = idx % 4 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
          c.out_type = idx % 3 == 0   ? DType::kFloat16
                       : idx % 3 == 1 ? DType::kFloat
                                      : DType::kBFloat16;
          c.bias = idx % 2 == 0;
          const GemmData d = MakeData(c, rng);
          // Every case once with each GEMV at the AVX-512 levels where the CPU has AVX512_BF16
          // (the FP32 one and the bf16 one), else as PrepareB chose.
          const bool both = isa >= Isa::kAvx512 && IsaSupported(Isa::kAvx512Bf16);
          for (int gemv_bf16 : {0, 1}) {
            if (gemv_bf16 == 1 && !both) continue;
            CheckGemm(
                isa, c, d,
                RunFast(isa, c, d, /*threaded=*/idx % 5 == 0, nullptr, both ? gemv_bf16 : -1));
          }
          if (HasFailure()) return;
        }
      }
    }
  }
}

// FP8GEMM's a_quant_type: A (float, float16, bfloat16) quantized inside the op gives exactly the
// Y of QuantizeFP8 -> FP8GEMM (the reference QuantizeFP8, then the same kernels), on the GEMV and
// tile paths, every granularity the op allows with blocked or whole-row groups, both formats.
TEST(CpuFp8Gemm, FusedActivationQuantizationEqualsQuantizeThenGemm) {
  struct Gran {
    int64_t bn, bk, ab;
  };
  const Gran grans[] = {{128, 128, 128}, {1, 0, 0}, {1, 128, 128}, {0, 0, 64}, {3, 64, 64}};
  const int64_t shapes[][3] = {{1, 1, 1},    {1, 33, 130}, {2, 64, 300},  {4, 17, 128},
                               {9, 70, 257}, {17, 40, 64}, {40, 33, 401}, {300, 70, 1100}};
  const DType a_types[] = {DType::kFloat, DType::kFloat16, DType::kBFloat16};
  std::mt19937 rng(2026);
  for (Isa isa : TestedIsas()) {
    int idx = 0;
    for (const Gran& g : grans) {
      for (const auto& s : shapes) {
        ++idx;
        GemmCase c{s[0],
                   s[1],
                   s[2],
                   g.bn,
                   g.bk,
                   g.ab,
                   a_types[idx % 3],
                   idx % 4 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                   idx % 3 == 0   ? DType::kFloat16
                   : idx % 3 == 1 ? DType::kFloat
                                  : DType::kBFloat16,
                   idx % 2 == 0};
        const Fp8Format af = idx % 5 == 2 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
        const GemmData d = testing::MakeGemmInputs(c, testing::FusedQuantActivations(c, rng), rng);
        const testing::QuantizedCase q = testing::QuantizeActivations(c, d, af);
        auto prepared = PrepareB(SourceOf(c, d), isa);
        GemmInput in;
        in.m = c.m;
        in.a = d.a.data();
        in.a_type = c.a_type;
        in.a_block = c.a_block;
        in.quantize_a = true;
        in.a_quant_format = af;
        in.bias = d.bias.empty() ? nullptr : d.bias.data();
        in.out_type = c.out_type;
        std::vector<uint8_t> y(static_cast<size_t>(c.m * c.n * DTypeSize(c.out_type)), 0xCD);
        in.y = y.data();
        const bool threaded = idx % 2 == 1;
        const absl::Status st = threaded ? Fp8Gemm(*prepared, d.b.data(), in, RunThreaded)
                                         : Fp8Gemm(*prepared, d.b.data(), in);
        ASSERT_TRUE(st.ok()) << st;
        const auto want = RunPrepared(*prepared, d.b.data(), q.c, q.d, threaded);
        ASSERT_EQ(y, want) << Describe(isa, c) << " a_quant=" << Fp8FormatName(af)
                           << ": fused differs from QuantizeFP8 -> FP8GEMM";
        CheckGemm(isa, q.c, q.d, y);
        if (HasFailure()) return;
      }
    }
  }
}

// The reference defines the fused op by the same two steps.
TEST(CpuFp8Gemm, ReferenceFusedQuantizationIsQuantizeThenGemm) {
  std::mt19937 rng(5);
  GemmCase c{5, 19, 300, 128, 128, 128, DType::kBFloat16, Fp8Format::kE4M3FN, DType::kFloat, true};
  const GemmData d = testing::MakeGemmInputs(c, testing::FusedQuantActivations(c, rng), rng);
  for (Fp8Format af : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const testing::QuantizedCase q = testing::QuantizeActivations(c, d, af);
    std::vector<float> fused(static_cast<size_t>(c.m * c.n)), two(fused.size());
    reference::GemmProblem p = ReferenceProblem(c, d);
    p.quantize_a = true;
    p.a_quant_format = af;
    p.y = fused.data();
    reference::Fp8Gemm(p, 0, c.m, 0, c.n);
    reference::GemmProblem p2 = ReferenceProblem(q.c, q.d);
    p2.y = two.data();
    reference::Fp8Gemm(p2, 0, c.m, 0, c.n);
    EXPECT_EQ(fused, two) << Fp8FormatName(af);
  }
}

// Exercises the tile path's K chunks (K > 512), row blocks (M > 256) and ragged last pieces.
TEST(CpuFp8Gemm, LargerShapesAndThreadedSplitGiveSameResult) {
  std::mt19937 rng(7);
  for (Isa isa : TestedIsas()) {
    for (DType at : {DType::kE4M3FN, DType::kFloat}) {
      GemmCase c{300, 70, 1100, 128, 128, 128, at, Fp8Format::kE4M3FN, DType::kFloat, true};
      const GemmData d = MakeData(c, rng);
      const auto y1 = RunFast(isa, c, d, false);
      CheckGemm(isa, c, d, y1);
      const auto y3 = RunFast(isa, c, d, true);
      EXPECT_EQ(y1, y3) << Describe(isa, c) << ": threaded result differs";
    }
  }
}

// The float tile path's microkernel shapes: M padded to 16-column vectors and cut into panels of
// up to 4 vectors, whose first (widest) one sets the B rows per call (12, 12, 8, 6 on AVX-512):
// every panel width first and last, M blocks over 256 columns, K over several tile passes with a
// short last one, N with a partial last task and call.
// The AVX-512 GEMV decodes weights times 2^8 (E4M3) / 2^16 (E5M2) and takes that back in the
// block scale; float / bfloat16 activations near 2^100 would overflow there where the reference
// (scales applied first) stays finite, so such calls take the tile path: same Y as the reference.
TEST(CpuFp8Gemm, HugeActivationsDoNotOverflowTheGemv) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Isa isa : TestedIsas()) {
    for (DType at : {DType::kFloat, DType::kBFloat16}) {
      for (int64_t m : {1, 3}) {
        GemmCase c{m, 9, 256, 128, 128, 128, at, Fp8Format::kE5M2, DType::kFloat, false};
        std::vector<float> x(static_cast<size_t>(c.m * c.k));
        for (auto& v : x) v = std::ldexp(normal(rng), 100);
        const GemmData d = testing::MakeGemmInputs(c, x, rng);
        const std::vector<uint8_t> y = RunFast(isa, c, d, /*threaded=*/false);
        std::vector<float> yf(static_cast<size_t>(c.m * c.n));
        LoadAsFloat(y.data(), c.out_type, c.m * c.n, yf.data());
        for (float v : yf) ASSERT_TRUE(std::isfinite(v)) << Describe(isa, c);
        CheckGemm(isa, c, d, y);
        if (HasFailure()) return;
      }
    }
  }
}

// A B computed at run time is prepared for one call without the optional flags (kernel_abi.h),
// as is every B where the arithmetic decode did not measure faster: the AVX-512 GEMV then decodes
// every chunk by the tile paths' exact lookups with A in their order. Both preparations must
// meet the reference's bound, zero / subnormal / max codes included, and the flagless one holds
// less metadata.
TEST(CpuFp8Gemm, PreparationWithoutFlagsMatchesReference) {
  std::mt19937 rng(5);
  for (Isa isa : TestedIsas()) {
    int idx = 0;
    for (int64_t m : {1, 2, 5, 8, 20}) {
      ++idx;
      GemmCase c{m,
                 37,
                 300,
                 128,
                 128,
                 128,
                 DType::kE4M3FN,
                 idx % 2 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                 DType::kFloat,
                 false};
      c.a_type = idx % 3 == 0 ? DType::kFloat : DType::kE4M3FN;
      GemmData d = MakeData(c, rng);
      const uint8_t special[] = {0x00, 0x80, 0x01, 0x83, 0x7B, 0xFB};
      std::uniform_int_distribution<size_t> pos(0, d.b.size() - 1);
      for (size_t i = 0; i < d.b.size() / 30 + 1; ++i) d.b[pos(rng)] = special[i % 6];
      auto usual = PrepareB(SourceOf(c, d), isa);
      auto one = PrepareB(SourceOf(c, d), isa, RunSerial, /*one_call=*/true);
      ASSERT_LE(one->MemoryBytes(), usual->MemoryBytes());
      CheckGemm(isa, c, d, RunPrepared(*usual, d.b.data(), c, d, false));
      CheckGemm(isa, c, d, RunPrepared(*one, d.b.data(), c, d, false));
      if (HasFailure()) return;
    }
  }
}

TEST(CpuFp8Gemm, TilePanelsAndRowBlocksMatchReference) {
  std::mt19937 rng(11);
  const int64_t ms[] = {18, 31, 40, 48, 49, 64, 65, 80, 97, 113, 128, 257, 300};
  for (Isa isa : TestedIsas()) {
    int idx = 0;
    for (int64_t m : ms) {
      ++idx;
      const DType at = idx % 3 == 0 ? DType::kFloat : DType::kE4M3FN;
      const int64_t k = idx % 2 == 0 ? 1100 : 600;
      GemmCase c{m, 53 + idx % 3, k, 128, 128, 128, at, Fp8Format::kE4M3FN, DType::kFloat, true};
      const GemmData d = MakeData(c, rng);
      CheckGemm(isa, c, d, RunFast(isa, c, d, /*threaded=*/idx % 2 == 1));
      if (HasFailure()) return;
    }
  }
}

TEST(CpuFp8Gemm, EmptyDimensionsAndZeroK) {
  std::mt19937 rng(3);
  for (Isa isa : TestedIsas()) {
    // M = 0: nothing is written.
    GemmCase c0{0, 20, 64, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat, true};
    EXPECT_TRUE(RunFast(isa, c0, MakeData(c0, rng), false).empty());
    // K = 0: Y = bias.
    GemmCase ck{3, 20, 0, 128, 128, 0, DType::kFloat, Fp8Format::kE4M3FN, DType::kFloat16, true};
    const GemmData d = MakeData(ck, rng);
    const auto y = RunFast(isa, ck, d, false);
    for (int64_t m = 0; m < 3; ++m) {
      EXPECT_EQ(0, std::memcmp(y.data() + m * 40, d.bias.data(), 40)) << IsaName(isa);
    }
  }
}

// Every finite code of each format decodes exactly: A is one-hot (row m picks k = m), so
// Y[m, n] = dequant(B[n, m]) exactly. B holds all codes (NaN/Inf excluded: 0 * NaN poisons a
// column; they have their own test).
TEST(CpuFp8Gemm, EveryCodeDecodesExactly) {
  for (Isa isa : TestedIsas()) {
    for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
      const float* table = Fp8DecodeTable(f);
      // Normal codes only (kernels may decode those on a fast path), then every finite code.
      for (bool with_small : {false, true}) {
        std::vector<uint8_t> codes;
        for (int c = 0; c < 256; ++c) {
          const bool small = std::fabs(table[c]) < (f == Fp8Format::kE4M3FN ? 0x1p-6f : 0x1p-14f);
          if (std::isfinite(table[c]) && (with_small || !small))
            codes.push_back(static_cast<uint8_t>(c));
        }
        const int64_t k = static_cast<int64_t>(codes.size()), n = 37;
        for (DType at : {DType::kFloat, DType::kE4M3FN, DType::kBFloat16}) {
          for (int64_t m : {int64_t{1}, k}) {  // GEMV path and tile path
            GemmCase c{m, n, k, 0, 0, 0, at, f, DType::kFloat, false};
            GemmData d;
            d.b.resize(static_cast<size_t>(n * k));
            for (int64_t j = 0; j < n; ++j) {
              for (int64_t kk = 0; kk < k; ++kk) d.b[j * k + kk] = codes[(kk + j * 7) % k];
            }
            d.b_scale = {1.0f};
            const float one = 1.0f;
            std::vector<float> a(static_cast<size_t>(m * k), 0.0f);
            for (int64_t i = 0; i < m; ++i) a[i * k + (i * 5) % k] = one;
            if (IsFp8DType(at)) {
              d.a.resize(a.size());
              for (size_t i = 0; i < a.size(); ++i)
                d.a[i] = EncodeFp8(a[i], Fp8Format::kE4M3FN, true);
              d.a_scale.assign(static_cast<size_t>(m), 1.0f);
            } else {
              d.a = testing::FloatsAs(a, at);
            }
            const auto y = RunFast(isa, c, d, false);
            std::vector<float> yf(static_cast<size_t>(m * n));
            std::memcpy(yf.data(), y.data(), y.size());
            for (int64_t i = 0; i < m; ++i) {
              for (int64_t j = 0; j < n; ++j) {
                const float want = table[d.b[j * k + (i * 5) % k]];
                // Value equality: a -0 weight sums to +0 (0 * x + -0 = +0), as in the reference.
                ASSERT_EQ(yf[i * n + j], want)
                    << Describe(isa, c) << " row " << i << " col " << j << " small=" << with_small;
              }
            }
          }
        }
      }
    }
  }
}

// A NaN weight makes its column NaN (and only it); an E5M2 Inf weight gives +-Inf or NaN exactly
// where the reference does.
TEST(CpuFp8Gemm, NanAndInfWeightsPropagateLikeReference) {
  std::mt19937 rng(11);
  for (Isa isa : TestedIsas()) {
    for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
      for (int64_t m : {int64_t{1}, int64_t{5}, int64_t{20}}) {
        for (int64_t bk : {int64_t{128}, int64_t{48}}) {
          GemmCase c{m, 40, 300, 128, bk, bk, DType::kFloat, f, DType::kFloat, false};
          GemmData d = MakeData(c, rng);
          d.b[3 * 300 + 17] = 0x7F;                             // NaN in column 3
          d.b[20 * 300 + 290] = 0xFF;                           // -NaN in column 20
          if (f == Fp8Format::kE5M2) d.b[30 * 300 + 5] = 0x7C;  // +Inf in column 30
          const auto y = RunFast(isa, c, d, false);
          reference::GemmProblem p = ReferenceProblem(c, d);
          std::vector<float> want(static_cast<size_t>(m * 40));
          p.y = want.data();
          reference::Fp8Gemm(p, 0, m, 0, 40);
          std::vector<float> got(want.size());
          std::memcpy(got.data(), y.data(), y.size());
          for (size_t i = 0; i < want.size(); ++i) {
            EXPECT_EQ(std::isnan(got[i]), std::isnan(want[i])) << Describe(isa, c) << " i=" << i;
            EXPECT_EQ(std::isinf(got[i]), std::isinf(want[i])) << Describe(isa, c) << " i=" << i;
            if (std::isinf(want[i])) {
              EXPECT_EQ(got[i], want[i]);
            }
          }
          EXPECT_TRUE(std::isnan(got[3]) && std::isnan(got[20]));
        }
      }
    }
  }
}

// A K block shorter than a chunk (block_k = 5) runs on the SIMD kernels too (no fallback).
TEST(CpuFp8Gemm, OddKBlockRunsOnSimdKernels) {
  std::mt19937 rng(2);
  for (Isa isa : TestedIsas()) {
    for (int64_t m : {int64_t{3}, int64_t{20}}) {
      GemmCase c{m, 20, 50, 1, 5, 5, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat, false};
      const GemmData d = MakeData(c, rng);
      Isa prepared_isa;
      const auto y = RunFast(isa, c, d, false, &prepared_isa);
      EXPECT_EQ(prepared_isa, isa);
      CheckGemm(isa, c, d, y);
    }
  }
}

// The brief's sweep: every M of both paths and their edges, odd N and K (K < one chunk, K not a
// multiple of the chunk, K = 4096), every K granularity (128, 64, 32, 48, 3, whole K), every B
// scale layout, both B formats with zero, subnormal and max codes mixed in, FP8 and float A, bias
// and output types.
TEST(CpuFp8Gemm, MatchesReferenceOnBlockAndPathSweep) {
  struct Layout {
    int64_t bn, bk;  // B's blocks (0 = whole dimension)
  };
  const int64_t blocks[] = {128, 64, 32, 48, 3, 0};
  const int64_t ms[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33, 130};
  const DType a_types[] = {DType::kE4M3FN, DType::kE5M2, DType::kFloat, DType::kFloat16,
                           DType::kBFloat16};
  std::mt19937 rng(1234);
  for (Isa isa : TestedIsas()) {
    int idx = 0;
    for (int64_t blk : blocks) {
      // Per tensor (0, 0), per channel (1, 0), 1-D (1, blk), 2-D (blk or 16, blk).
      const Layout layouts[] = {{0, 0}, {1, 0}, {1, blk}, {blk > 0 ? blk : 16, blk}};
      for (const Layout& lay : layouts) {
        for (int64_t m : ms) {
          ++idx;
          GemmCase c;
          c.m = m;
          const int64_t ns[] = {1, 7, 37, 67};
          const int64_t ks[] = {5, 63, 65, 131, 200, 4096};
          c.n = ns[idx % 4];
          c.k = ks[(idx / 4) % 6];
          if (c.k == 4096 && m > 17) c.k = 515;  // keep the float64 check quick
          c.block_n = lay.bn;
          c.block_k = lay.bk;
          c.a_type = a_types[idx % 5];
          // a_block equals block_k when B is blocked along K (the op requires it).
          c.a_block = lay.bk > 0 ? lay.bk : blk;
          c.b_format = idx % 3 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
          c.out_type = idx % 3 == 0   ? DType::kFloat16
                       : idx % 3 == 1 ? DType::kFloat
                                      : DType::kBFloat16;
          c.bias = idx % 2 == 0;
          GemmData d = MakeData(c, rng);
          // Codes the fast decoders treat apart: zero, subnormal, max (both signs), ~2% of B.
          const uint8_t special[] = {
              0x00,
              0x80,
              0x01,
              0x83,
              static_cast<uint8_t>(c.b_format == Fp8Format::kE5M2 ? 0x7B : 0x7E),
              static_cast<uint8_t>(c.b_format == Fp8Format::kE5M2 ? 0xFB : 0xFE)};
          std::uniform_int_distribution<size_t> pos(0, d.b.size() - 1);
          for (size_t i = 0; i < d.b.size() / 50 + 1; ++i) d.b[pos(rng)] = special[i % 6];
          CheckGemm(isa, c, d, RunFast(isa, c, d, /*threaded=*/idx % 4 == 0));
          if (HasFailure()) return;
        }
      }
    }
  }
}

// Zero-copy: the kernel keeps only small metadata (no copy of B's codes) and reads the codes from
// the buffer passed at each call: a copy of B at another address gives the same Y, and changed
// codes in that buffer (normal codes replaced by other normal codes: same flags) change Y as the
// reference says, even after the buffer B was prepared from is gone.
TEST(CpuFp8Gemm, ReadsCodesFromTheCallersBufferAndKeepsSmallMetadata) {
  std::mt19937 rng(5);
  for (Isa isa : TestedIsas()) {
    for (int64_t m : {int64_t{1}, int64_t{3}, int64_t{40}}) {
      for (int64_t bk : {int64_t{128}, int64_t{3}, int64_t{0}}) {
        GemmCase c{m,
                   45,
                   1000,
                   bk > 0 ? 128 : 1,
                   bk,
                   bk > 0 ? bk : 128,
                   DType::kE4M3FN,
                   Fp8Format::kE4M3FN,
                   DType::kFloat,
                   true};
        GemmData d = MakeData(c, rng);
        std::unique_ptr<PreparedB> prepared;
        {
          const std::vector<uint8_t> b1 = d.b;  // prepared from a buffer that goes away
          GemmData d1 = d;
          d1.b = b1;
          prepared = PrepareB(SourceOf(c, d1), isa);
        }
        const size_t scale_bytes = d.b_scale.size() * sizeof(float);
        EXPECT_LE(prepared->MemoryBytes(), static_cast<size_t>(c.n * c.k / 16) + scale_bytes + 1024)
            << Describe(isa, c);
        std::vector<uint8_t> b2(d.b.size() + 7);
        uint8_t* codes = b2.data() + 7;  // another, unaligned address
        std::memcpy(codes, d.b.data(), d.b.size());
        CheckGemm(isa, c, d, RunPrepared(*prepared, codes, c, d, false));
        int changed = 0;
        for (size_t i = 0; i < d.b.size(); i += 13) {
          const uint8_t v = codes[i];
          const int e = (v >> 3) & 15;
          if (e >= 1 && e <= 14) {  // normal: move to another normal exponent (1..13)
            codes[i] = static_cast<uint8_t>((v & 0x87) | ((e == 1 ? 2 : e - 1) << 3));
            ++changed;
          }
        }
        ASSERT_GT(changed, 100);
        GemmData d2 = d;
        d2.b.assign(codes, codes + d.b.size());
        CheckGemm(isa, c, d2, RunPrepared(*prepared, codes, c, d, true));
        if (HasFailure()) return;
      }
    }
  }
}

// bfloat16 activations near the bottom of the float32 range: bf16 dot products (vdpbf16ps,
// TDPBF16PS) treat subnormal inputs as zero and flush subnormal results, float32 arithmetic (the
// spec, docs/OPERATORS.md 1.5) does not; every level must meet the bound there too.
TEST(CpuFp8Gemm, TinyBf16ActivationsKeepFloat32Accuracy) {
  std::mt19937 rng(21);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (Isa isa : TestedIsas()) {
    for (int64_t m : {int64_t{1}, int64_t{5}, int64_t{40}}) {
      GemmCase c{m,    37, 300, 128, 128, 128, DType::kBFloat16, Fp8Format::kE4M3FN, DType::kFloat,
                 false};
      std::vector<float> x(static_cast<size_t>(m * c.k));
      for (auto& v : x) v = std::ldexp(normal(rng), -125);  // some float32-subnormal
      const GemmData d = testing::MakeGemmInputs(c, x, rng);
      CheckGemm(isa, c, d, RunFast(isa, c, d, /*threaded=*/false));
      if (HasFailure()) return;
    }
  }
}

// AMX: a GEMM leaves the calling thread's tile configuration as it found it (ONNX Runtime's MLAS
// configures a thread's tiles once and relies on them staying configured): another
// configuration is restored, unconfigured tiles are released again.
TEST(CpuFp8Gemm, AmxKeepsTheThreadsTileConfiguration) {
  if (!IsaSupported(Isa::kAvx512Amx)) {
    GTEST_SKIP() << "ISA level avx512_amx: this CPU does not support it";
  }
  std::mt19937 rng(17);
  GemmCase c{40, 70, 300, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat, true};
  const GemmData d = MakeData(c, rng);
  auto prepared = PrepareB(SourceOf(c, d), Isa::kAvx512Amx);
  ASSERT_EQ(prepared->isa, Isa::kAvx512Amx);

  alignas(64) uint8_t other[amx::kTileConfigBytes] = {};
  other[0] = 1;  // palette 1; tmm0 8 rows of 64 bytes, tmm1-7 16 rows of 32 bytes
  for (int t = 0; t < 8; ++t) {
    const uint16_t colsb = t == 0 ? 64 : 32;
    std::memcpy(other + 16 + 2 * t, &colsb, 2);
    other[48 + t] = t == 0 ? 8 : 16;
  }
  amx::LoadTileConfig(other);
  CheckGemm(Isa::kAvx512Amx, c, d, RunPrepared(*prepared, d.b.data(), c, d, false));
  alignas(64) uint8_t now[amx::kTileConfigBytes];
  amx::ReadTileConfig(now);
  EXPECT_EQ(std::memcmp(now, other, sizeof(now)), 0) << "the configuration was not restored";

  alignas(64) const uint8_t none[amx::kTileConfigBytes] = {};
  amx::TileEnd(none);  // release: no configuration
  CheckGemm(Isa::kAvx512Amx, c, d, RunPrepared(*prepared, d.b.data(), c, d, false));
  amx::ReadTileConfig(now);
  EXPECT_EQ(std::memcmp(now, none, sizeof(now)), 0) << "the tiles were left configured";
}

}  // namespace
}  // namespace fp8ops::cpu
