// The CPU kernels of libfp8ops.so, each op alone in a model built here, run in a real ONNX Runtime
// session (host::Session), against the reference kernels:
//   QuantizeFP8 / DequantizeFP8: bit-exact (codes, scales and outputs);
//   FP8GEMM: within the spec's tolerance (docs/OPERATORS.md 1.5; the summation order is not
//   specified, so optimized kernels may differ from the reference in the last bits), computed in
//   float64 from the same float32-dequantized operands:
//     |y - r| <= (K + 2) 2^-24 sum|a_k b_k| + 2^-24 |bias| + ulp_out(|r| + that) / 2.
// Also: every type combination of the spec, ranks 1..4, M = 0, K = 0, symbolic dims, output types
// inferred by ONNX Runtime, every error of the spec (message names node and problem; the process
// survives), concurrent Run calls on one session, and intra_op_num_threads 1 vs 2.
#include <gtest/gtest.h>
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <iostream>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"
#include "host/ort_session.h"
#include "ops/reference/reference_kernels.h"
#include "tests/common/model_builder.h"
#include "tests/unit/numeric_reference.h"

namespace fp8ops {
namespace {

using host::HostTensor;
using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

constexpr int32_t kF32 = 1, kF16 = 10, kBF16 = 16, kE4M3 = 17, kE5M2 = 19, kI32 = 6;
constexpr float kInf = std::numeric_limits<float>::infinity();

using Inputs = std::vector<std::pair<std::string, HostTensor>>;

absl::StatusOr<std::unique_ptr<host::Session>> Load(const onnx::ModelProto& m, int threads = 1) {
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  so.intra_op_threads = threads;
  return host::Session::FromBytes(testing::Serialize(m), so);
}

int64_t Prod(const std::vector<int64_t>& s, size_t end) {
  int64_t p = 1;
  for (size_t i = 0; i < end; ++i) p *= s[i];
  return p;
}
int64_t NumEl(const std::vector<int64_t>& s) { return Prod(s, s.size()); }
int64_t Rows(const std::vector<int64_t>& s) { return s.empty() ? 1 : Prod(s, s.size() - 1); }

std::string ShapeStr(const std::vector<int64_t>& s) {
  std::string r = "[";
  for (size_t i = 0; i < s.size(); ++i) r += (i ? "," : "") + std::to_string(s[i]);
  return r + "]";
}

HostTensor Raw(int32_t type, std::vector<int64_t> shape, std::vector<uint8_t> bytes) {
  HostTensor t;
  t.elem_type = type;
  t.shape = std::move(shape);
  t.bytes = std::move(bytes);
  return t;
}
HostTensor Floats(std::vector<int64_t> shape, const std::vector<float>& v) {
  return HostTensor::From(kF32, std::move(shape), v);
}

// n random values of a float type (float / float16 / bfloat16), never zero, as raw bytes.
std::vector<uint8_t> RandomOf(int32_t type, int64_t n, std::mt19937& rng, float sigma = 1.0f) {
  std::normal_distribution<float> dist(0.0f, sigma);
  std::vector<float> f(static_cast<size_t>(n));
  for (auto& v : f) {
    v = dist(rng);
    if (v == 0.0f) v = 0.25f;
  }
  std::vector<uint8_t> out(static_cast<size_t>(n) * DTypeSize(static_cast<DType>(type)));
  StoreFromFloat(f.data(), n, static_cast<DType>(type), out.data());
  return out;
}

// Value of element i of a float/float16/bfloat16 tensor.
double ValueAt(const HostTensor& t, int64_t i) {
  float f;
  LoadAsFloat(t.bytes.data() + i * DTypeSize(static_cast<DType>(t.elem_type)),
              static_cast<DType>(t.elem_type), 1, &f);
  return f;
}

// ---- QuantizeFP8 --------------------------------------------------------------------------------

enum class ScaleMode { kDynamic, kStaticScalar, kStaticPerGroup, kStaticInitializer };

struct QuantCase {
  int32_t x_type;
  std::vector<int64_t> shape;
  int64_t block;  // -1: attribute absent (default 128)
  int32_t fp8;
  int64_t sat;
  int64_t pow2;
  ScaleMode scale;
};

TEST(QuantizeFp8Session, AllTypesModesAndRanksBitExact) {
  std::mt19937 rng(1);
  const std::vector<std::vector<int64_t>> shapes = {{300}, {3, 300}, {2, 3, 129}, {2, 1, 3, 200}};
  const ScaleMode modes[] = {ScaleMode::kDynamic, ScaleMode::kStaticScalar,
                             ScaleMode::kStaticPerGroup, ScaleMode::kStaticInitializer};
  const int64_t blocks[] = {-1, 0, 32, 128, 1};
  int combo = 0;
  for (int32_t xt : {kF32, kF16, kBF16}) {
    for (int32_t fp8 : {kE4M3, kE5M2}) {
      for (int64_t sat : {0, 1}) {
        for (ScaleMode mode : modes) {
          ++combo;
          const QuantCase c{xt,  shapes[combo % 4], blocks[combo % 5], fp8, sat, (combo / 2) % 2,
                            mode};
          const int64_t block = c.block < 0 ? 128 : c.block;
          const int64_t k = c.shape.back(), rows = Rows(c.shape), ng = NumBlocks(k, block);
          std::vector<int64_t> s_shape = c.shape;
          s_shape.back() = ng;
          SCOPED_TRACE("x_type " + std::to_string(xt) + " " + ShapeStr(c.shape) + " block " +
                       std::to_string(c.block) + " fp8 " + std::to_string(fp8) + " sat " +
                       std::to_string(sat) + " pow2 " + std::to_string(c.pow2) + " scale mode " +
                       std::to_string(static_cast<int>(mode)));

          // Wide values, some NaN / Inf, so that static scales overflow (saturate matters).
          auto x = RandomOf(xt, NumEl(c.shape), rng, 40.0f);
          const int esize = DTypeSize(static_cast<DType>(xt));
          const float specials[] = {std::numeric_limits<float>::quiet_NaN(), kInf, -kInf, 1e5f,
                                    -3e4f};
          for (int i = 0; i < 5; ++i)
            StoreFromFloat(&specials[i], 1, static_cast<DType>(xt), x.data() + (7 * i + 2) * esize);
          std::vector<float> stat;
          if (mode == ScaleMode::kStaticScalar || mode == ScaleMode::kStaticInitializer)
            stat = {0.0371f};
          if (mode == ScaleMode::kStaticPerGroup) {
            for (int64_t i = 0; i < rows * ng; ++i)
              stat.push_back(std::ldexp(1.0f + (rng() % 16) / 16.0f, -(int)(rng() % 6)));
          }

          auto m = testing::NewModel();
          std::vector<int64_t> decl = c.shape;
          decl[0] = -1;  // symbolic leading dim
          AddInput(m, "x", xt, decl);
          std::vector<std::string> ins = {"x"};
          if (mode == ScaleMode::kStaticScalar) AddInput(m, "scale", kF32, {});
          if (mode == ScaleMode::kStaticPerGroup) AddInput(m, "scale", kF32, s_shape);
          if (mode == ScaleMode::kStaticInitializer) AddInitializer(m, "scale", kF32, {1}, stat);
          if (mode != ScaleMode::kDynamic) ins.push_back("scale");
          std::vector<Attr> attrs = {Attr::Int("fp8_type", fp8), Attr::Int("saturate", sat),
                                     Attr::Int("scale_pow2", c.pow2)};
          if (c.block >= 0) attrs.push_back(Attr::Int("block_size", c.block));
          AddNode(m, "QuantizeFP8", ins, {"y", "ys"}, attrs, "fp8ops", "quant");
          AddOutput(m, "y");  // untyped: ORT infers
          AddOutput(m, "ys");
          auto session = Load(m);
          ASSERT_TRUE(session.ok()) << session.status();
          Inputs in = {{"x", Raw(xt, c.shape, x)}};
          if (mode == ScaleMode::kStaticScalar) in.push_back({"scale", Floats({}, stat)});
          if (mode == ScaleMode::kStaticPerGroup) in.push_back({"scale", Floats(s_shape, stat)});
          auto out = (*session)->Run(in);
          ASSERT_TRUE(out.ok()) << out.status();
          ASSERT_EQ(out->size(), 2u);
          const HostTensor& y = (*out)[0];
          const HostTensor& ys = (*out)[1];
          EXPECT_EQ(y.elem_type, fp8);
          EXPECT_EQ(ys.elem_type, kF32);
          EXPECT_EQ(y.shape, c.shape);
          EXPECT_EQ(ys.shape, s_shape);

          reference::QuantizeProblem p;
          p.rows = rows;
          p.k = k;
          p.x = x.data();
          p.x_type = static_cast<DType>(xt);
          p.block_size = block;
          p.params = {static_cast<Fp8Format>(fp8), sat != 0, c.pow2 != 0};
          p.static_scale = stat.empty() ? nullptr : stat.data();
          p.static_scale_count = static_cast<int64_t>(stat.size());
          std::vector<uint8_t> want_y(static_cast<size_t>(rows * k));
          std::vector<float> want_s(static_cast<size_t>(rows * ng));
          p.y = want_y.data();
          p.y_scale = want_s.data();
          reference::QuantizeFp8(p, 0, rows);
          EXPECT_EQ(y.bytes, want_y);
          ASSERT_EQ(ys.bytes.size(), want_s.size() * 4);
          EXPECT_EQ(std::memcmp(ys.bytes.data(), want_s.data(), ys.bytes.size()), 0);
        }
      }
    }
  }
}

// Leading dims of size 0 give empty outputs; K = 0 gives empty Y and Y_scale [..., 0] (or
// [..., 1] of ones for block_size 0: one empty group, scale 1).
TEST(QuantizeFp8Session, EmptyRowsAndEmptyK) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t block;
    std::vector<int64_t> want_scale_shape;
  };
  for (const Case& c : {Case{{0, 300}, 128, {0, 3}}, Case{{2, 0, 5}, 2, {2, 0, 3}},
                        Case{{3, 0}, 128, {3, 0}}, Case{{3, 0}, 0, {3, 1}}}) {
    SCOPED_TRACE(ShapeStr(c.shape) + " block " + std::to_string(c.block));
    auto m = testing::NewModel();
    AddInput(m, "x", kF32, c.shape);
    AddNode(m, "QuantizeFP8", {"x"}, {"y", "ys"}, {Attr::Int("block_size", c.block)}, "fp8ops",
            "quant");
    AddOutput(m, "y");
    AddOutput(m, "ys");
    auto session = Load(m);
    ASSERT_TRUE(session.ok()) << session.status();
    auto out = (*session)->Run({{"x", Raw(kF32, c.shape, {})}});
    ASSERT_TRUE(out.ok()) << out.status();
    EXPECT_EQ((*out)[0].shape, c.shape);
    EXPECT_TRUE((*out)[0].bytes.empty());
    EXPECT_EQ((*out)[1].shape, c.want_scale_shape);
    for (int64_t i = 0; i < NumEl(c.want_scale_shape); ++i)
      EXPECT_EQ((*out)[1].data<float>()[i], 1.0f);
  }
}

// ---- FP8GEMM ------------------------------------------------------------------------------------

struct Gran {
  int64_t bn, bk, a_block;
  const char* name;
};
constexpr Gran kGrans[] = {{0, 0, 0, "per-tensor"},
                           {1, 0, 128, "per-channel"},
                           {1, 128, 128, "1-D"},
                           {128, 128, 128, "2-D"},
                           {32, 96, 96, "odd"}};

struct GemmCase {
  int32_t a_type;
  std::vector<int64_t> a_shape;  // [..., K]
  int64_t n;
  Gran g;
  int32_t b_type;
  int32_t out;
  bool bias;
  bool b_as_input = false;  // B, B_scale as graph inputs instead of initializers
};

struct GemmInputs {
  HostTensor a, a_scale, b, b_scale, bias;
};

GemmInputs MakeGemmInputs(const GemmCase& c, std::mt19937& rng) {
  GemmInputs in;
  const int64_t k = c.a_shape.back(), m = Rows(c.a_shape);
  if (IsFp8Format(c.a_type)) {
    std::vector<float> x(static_cast<size_t>(m * k));
    std::normal_distribution<float> d(0.0f, 1.0f);
    for (auto& v : x) v = d(rng);
    std::vector<uint8_t> codes(x.size());
    std::vector<int64_t> s_shape = c.a_shape;
    s_shape.back() = NumBlocks(k, c.g.a_block);
    std::vector<float> scales(static_cast<size_t>(NumEl(s_shape)));
    QuantizeRowGroups(x.data(), m, k, c.g.a_block, {static_cast<Fp8Format>(c.a_type), true, false},
                      codes.data(), scales.data());
    in.a = Raw(c.a_type, c.a_shape, codes);
    in.a_scale = Floats(s_shape, scales);
  } else {
    in.a = Raw(c.a_type, c.a_shape, RandomOf(c.a_type, m * k, rng));
  }
  std::vector<float> w(static_cast<size_t>(c.n * k));
  std::normal_distribution<float> d(0.0f, 0.05f);
  for (auto& v : w) v = d(rng);
  std::vector<uint8_t> wq(w.size());
  std::vector<int64_t> bs_shape = {NumBlocks(c.n, c.g.bn), NumBlocks(k, c.g.bk)};
  std::vector<float> ws(static_cast<size_t>(NumEl(bs_shape)));
  QuantizeBlocks2D(w.data(), c.n, k, c.g.bn, c.g.bk,
                   {static_cast<Fp8Format>(c.b_type), true, false}, wq.data(), ws.data());
  in.b = Raw(c.b_type, {c.n, k}, wq);
  in.b_scale = Floats(bs_shape, ws);
  if (c.bias) in.bias = Raw(c.out, {c.n}, RandomOf(c.out, c.n, rng));
  return in;
}

onnx::ModelProto GemmModel(const GemmCase& c, const GemmInputs& in, bool symbolic = true,
                           const std::string& node = "gemm") {
  auto m = testing::NewModel();
  std::vector<int64_t> decl = c.a_shape;
  if (symbolic) {
    for (size_t i = 0; i + 1 < decl.size(); ++i) decl[i] = -1;
  }
  AddInput(m, "A", c.a_type, decl);
  std::vector<std::string> ins = {"A", ""};
  if (IsFp8Format(c.a_type)) {
    std::vector<int64_t> sd = in.a_scale.shape;
    if (symbolic) {
      for (size_t i = 0; i + 1 < sd.size(); ++i) sd[i] = -1;
    }
    AddInput(m, "A_scale", kF32, sd);
    ins[1] = "A_scale";
  }
  if (c.b_as_input) {
    AddInput(m, "B", c.b_type, in.b.shape);
    AddInput(m, "B_scale", kF32, in.b_scale.shape);
  } else {
    AddInitializer(m, "B", c.b_type, in.b.shape, in.b.bytes);
    AddInitializer(m, "B_scale", kF32, in.b_scale.shape, in.b_scale.bytes);
  }
  ins.push_back("B");
  ins.push_back("B_scale");
  if (c.bias) {
    AddInput(m, "bias", c.out, {c.n});
    ins.push_back("bias");
  }
  AddNode(m, "FP8GEMM", ins, {"Y"},
          {Attr::Int("block_n", c.g.bn), Attr::Int("block_k", c.g.bk),
           Attr::Int("a_block", c.g.a_block), Attr::Int("out_type", c.out)},
          "fp8ops", node);
  AddOutput(m, "Y");  // untyped: ORT infers out_type
  return m;
}

Inputs GemmFeeds(const GemmCase& c, const GemmInputs& in) {
  Inputs feeds = {{"A", in.a}};
  if (IsFp8Format(c.a_type)) feeds.push_back({"A_scale", in.a_scale});
  if (c.b_as_input) {
    feeds.push_back({"B", in.b});
    feeds.push_back({"B_scale", in.b_scale});
  }
  if (c.bias) feeds.push_back({"bias", in.bias});
  return feeds;
}

// Checks Y against the float64 sum of the float32-dequantized operands, within the spec tolerance.
void CheckGemm(const GemmCase& c, const GemmInputs& in, const HostTensor& y) {
  const int64_t k = c.a_shape.back(), m = Rows(c.a_shape), n = c.n;
  std::vector<int64_t> y_shape = c.a_shape;
  y_shape.back() = n;
  ASSERT_EQ(y.elem_type, c.out);
  ASSERT_EQ(y.shape, y_shape);
  reference::GemmProblem p;
  p.m = m;
  p.n = n;
  p.k = k;
  p.a = in.a.bytes.data();
  p.a_type = static_cast<DType>(c.a_type);
  p.a_scale = IsFp8Format(c.a_type) ? in.a_scale.data<float>() : nullptr;
  p.a_block = c.g.a_block;
  p.b = in.b.bytes.data();
  p.b_format = static_cast<Fp8Format>(c.b_type);
  p.b_scale = in.b_scale.data<float>();
  p.block_n = c.g.bn;
  p.block_k = c.g.bk;
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < m; ++i) reference::DequantizeARow(p, i, a.data() + i * k);
  for (int64_t j = 0; j < n; ++j) reference::DequantizeBRow(p, j, b.data() + j * k);
  int failures = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      double r = 0.0, abs_sum = 0.0;
      for (int64_t kk = 0; kk < k; ++kk) {
        const double prod = static_cast<double>(a[i * k + kk]) * b[j * k + kk];  // exact
        r += prod;
        abs_sum += std::fabs(prod);
      }
      const double bias = c.bias ? ValueAt(in.bias, j) : 0.0;
      r += bias;
      const double acc_err = (k + 2) * std::ldexp(abs_sum, -24) + std::ldexp(std::fabs(bias), -24);
      const testref::FormatDef out_def = c.out == kF32   ? testref::FormatDef{23, 127, 8, 1}
                                         : c.out == kF16 ? testref::kHalf
                                                         : testref::kBf16;
      const double tol = acc_err + 0.5 * testref::Ulp(std::fabs(r) + acc_err, out_def);
      const double got = ValueAt(y, i * n + j);
      if (!(std::fabs(got - r) <= tol) && ++failures <= 5) {
        ADD_FAILURE() << "Y[" << i << "," << j << "] = " << got << ", float64 " << r << ", tol "
                      << tol;
      }
    }
  }
  EXPECT_EQ(failures, 0);
}

std::string CaseStr(const GemmCase& c) {
  return "A " + std::to_string(c.a_type) + ShapeStr(c.a_shape) + " N=" + std::to_string(c.n) + " " +
         c.g.name + " B " + std::to_string(c.b_type) + " out " + std::to_string(c.out) +
         (c.bias ? " +bias" : "") + (c.b_as_input ? " B as input" : "");
}

// Every A type x out_type x bias x B format; granularity and A rank (1..4) cycle through all
// values.
TEST(Fp8GemmSession, AllTypeCombinationsRanksAndGranularities) {
  std::mt19937 rng(2);
  const std::vector<std::vector<int64_t>> a_shapes = {{300}, {3, 300}, {2, 3, 300}, {2, 1, 3, 300}};
  int combo = 0;
  for (int32_t at : {kE4M3, kE5M2, kF32, kF16, kBF16}) {
    for (int32_t out : {kF32, kF16, kBF16}) {
      for (bool bias : {false, true}) {
        for (int32_t bt : {kE4M3, kE5M2}) {
          ++combo;
          const GemmCase c{at,   a_shapes[combo % 4], 130, kGrans[combo % 5], bt, out,
                           bias, combo % 3 == 0};
          SCOPED_TRACE(CaseStr(c));
          const auto in = MakeGemmInputs(c, rng);
          auto session = Load(GemmModel(c, in));
          ASSERT_TRUE(session.ok()) << session.status();
          auto y = (*session)->Run(GemmFeeds(c, in));
          ASSERT_TRUE(y.ok()) << y.status();
          ASSERT_EQ(y->size(), 1u);
          CheckGemm(c, in, (*y)[0]);
        }
      }
    }
  }
}

// Shapes: M = 1 and 64, K around the block and large, N small and around the tile sizes; every
// granularity.
TEST(Fp8GemmSession, ShapesAndGranularities) {
  std::mt19937 rng(3);
  int combo = 0;
  for (const Gran& g : kGrans) {
    for (int64_t m : {1, 64}) {
      for (int64_t k : {1, 127, 129, 1000}) {
        for (int64_t n : {1, 65, 384}) {
          ++combo;
          const GemmCase c{
              combo % 2 ? kE4M3 : kBF16,    {m, k},        n, g, combo % 3 ? kE4M3 : kE5M2,
              combo % 4 == 0 ? kF16 : kF32, combo % 2 == 0};
          SCOPED_TRACE(CaseStr(c));
          const auto in = MakeGemmInputs(c, rng);
          auto session = Load(GemmModel(c, in), 2);
          ASSERT_TRUE(session.ok()) << session.status();
          auto y = (*session)->Run(GemmFeeds(c, in));
          ASSERT_TRUE(y.ok()) << y.status();
          CheckGemm(c, in, (*y)[0]);
        }
      }
    }
  }
}

// A per-tensor B_scale may be a scalar or [1] when block_n = block_k = 0.
TEST(Fp8GemmSession, PerTensorScalarBScale) {
  std::mt19937 rng(4);
  for (std::vector<int64_t> bs_shape : {std::vector<int64_t>{}, std::vector<int64_t>{1}}) {
    GemmCase c{kE4M3, {3, 200}, 50, kGrans[0], kE4M3, kF32, true, true};
    auto in = MakeGemmInputs(c, rng);
    in.b_scale.shape = bs_shape;
    auto session = Load(GemmModel(c, in));
    ASSERT_TRUE(session.ok()) << session.status();
    auto y = (*session)->Run(GemmFeeds(c, in));
    ASSERT_TRUE(y.ok()) << y.status();
    CheckGemm(c, in, (*y)[0]);
  }
}

// M = 0 (leading dims of size 0) gives an empty Y; K = 0 gives bias (or 0).
TEST(Fp8GemmSession, EmptyMAndEmptyK) {
  std::mt19937 rng(5);
  for (std::vector<int64_t> a_shape :
       {std::vector<int64_t>{0, 300}, std::vector<int64_t>{2, 0, 300}}) {
    for (int32_t at : {kE4M3, kF16}) {
      const GemmCase c{at, a_shape, 130, kGrans[3], kE4M3, kBF16, true};
      const auto in = MakeGemmInputs(c, rng);
      auto session = Load(GemmModel(c, in));
      ASSERT_TRUE(session.ok()) << session.status();
      auto y = (*session)->Run(GemmFeeds(c, in));
      ASSERT_TRUE(y.ok()) << y.status();
      std::vector<int64_t> want = a_shape;
      want.back() = 130;
      EXPECT_EQ((*y)[0].shape, want);
      EXPECT_TRUE((*y)[0].bytes.empty());
    }
  }
  for (bool bias : {false, true}) {
    for (int32_t out : {kF32, kF16}) {
      const GemmCase c{kE4M3, {3, 0}, 7, kGrans[3], kE4M3, out, bias, true};
      const auto in = MakeGemmInputs(c, rng);
      auto session = Load(GemmModel(c, in));
      ASSERT_TRUE(session.ok()) << session.status();
      auto y = (*session)->Run(GemmFeeds(c, in));
      ASSERT_TRUE(y.ok()) << y.status();
      ASSERT_EQ((*y)[0].shape, (std::vector<int64_t>{3, 7}));
      for (int64_t i = 0; i < 21; ++i)
        EXPECT_EQ(ValueAt((*y)[0], i), bias ? ValueAt(in.bias, i % 7) : 0.0) << i;
    }
  }
}

// One session, symbolic leading dims, run with several shapes.
TEST(Fp8GemmSession, SymbolicDimsOneSessionManyShapes) {
  std::mt19937 rng(6);
  GemmCase c{kE4M3, {2, 3, 300}, 130, kGrans[3], kE4M3, kF16, true};
  auto in = MakeGemmInputs(c, rng);
  auto session = Load(GemmModel(c, in, /*symbolic=*/true));
  ASSERT_TRUE(session.ok()) << session.status();
  for (std::vector<int64_t> lead : {std::vector<int64_t>{1, 1}, {5, 7}, {0, 3}, {2, 33}}) {
    GemmCase c2 = c;
    c2.a_shape = {lead[0], lead[1], 300};
    auto in2 = MakeGemmInputs(c2, rng);
    in2.b = in.b;  // the session's initializers
    in2.b_scale = in.b_scale;
    auto y = (*session)->Run(GemmFeeds(c2, in2));
    ASSERT_TRUE(y.ok()) << y.status();
    CheckGemm(c2, in2, (*y)[0]);
  }
}

// ---- DequantizeFP8 ------------------------------------------------------------------------------

TEST(DequantizeFp8Session, AllModesTypesAndRanksBitExact) {
  std::mt19937 rng(7);
  struct Mode {
    std::vector<int64_t> shape;
    int64_t block_size;  // -1: absent (2-D mode)
    int64_t bn, bk;      // -1: attribute absent (default 128)
    bool per_tensor;
  };
  const Mode modes[] = {{{130, 300}, -1, -1, -1, false},  {{130, 300}, -1, 1, 0, false},
                        {{130, 300}, -1, 32, 96, false},  {{130, 300}, -1, 0, 0, false},
                        {{300}, 128, -1, -1, false},      {{3, 300}, 0, -1, -1, false},
                        {{2, 3, 129}, 32, -1, -1, false}, {{2, 1, 3, 200}, 128, -1, -1, false},
                        {{2, 3, 5}, -1, -1, -1, true},    {{0, 300}, 128, -1, -1, false}};
  for (const Mode& md : modes) {
    for (int32_t fmt : {kE4M3, kE5M2}) {
      for (int32_t out : {kF32, kF16, kBF16}) {
        SCOPED_TRACE(ShapeStr(md.shape) + " block_size " + std::to_string(md.block_size) + " bn " +
                     std::to_string(md.bn) + " bk " + std::to_string(md.bk) + " fmt " +
                     std::to_string(fmt) + " out " + std::to_string(out));
        const int64_t k = md.shape.back(), rows = Rows(md.shape);
        std::vector<uint8_t> x(static_cast<size_t>(NumEl(md.shape)));
        for (auto& v : x) v = static_cast<uint8_t>(rng());  // all codes, NaN and Inf included
        std::vector<int64_t> s_shape;
        const int64_t bn = md.bn < 0 ? 128 : md.bn, bk = md.bk < 0 ? 128 : md.bk;
        if (md.per_tensor) {
          s_shape = {1};
        } else if (md.block_size >= 0) {
          s_shape = md.shape;
          s_shape.back() = NumBlocks(k, md.block_size);
        } else {
          s_shape = {NumBlocks(md.shape[0], bn), NumBlocks(k, bk)};
        }
        std::vector<float> scale(static_cast<size_t>(NumEl(s_shape)));
        for (auto& s : scale)
          s = std::ldexp(1.0f + (rng() % 100) / 100.0f, -static_cast<int>(rng() % 10));
        auto m = testing::NewModel();
        AddInput(m, "x", fmt, md.shape);
        AddInput(m, "scale", kF32, s_shape);
        std::vector<Attr> attrs = {Attr::Int("out_type", out)};
        if (md.block_size >= 0) attrs.push_back(Attr::Int("block_size", md.block_size));
        if (md.bn >= 0) attrs.push_back(Attr::Int("block_n", md.bn));
        if (md.bk >= 0) attrs.push_back(Attr::Int("block_k", md.bk));
        AddNode(m, "DequantizeFP8", {"x", "scale"}, {"y"}, attrs, "fp8ops", "deq");
        AddOutput(m, "y");
        auto session = Load(m);
        ASSERT_TRUE(session.ok()) << session.status();
        auto y = (*session)->Run({{"x", Raw(fmt, md.shape, x)}, {"scale", Floats(s_shape, scale)}});
        ASSERT_TRUE(y.ok()) << y.status();
        EXPECT_EQ((*y)[0].elem_type, out);
        EXPECT_EQ((*y)[0].shape, md.shape);

        reference::DequantizeProblem p;
        p.rows = rows;
        p.k = k;
        p.x = x.data();
        p.format = static_cast<Fp8Format>(fmt);
        p.scale = scale.data();
        p.scale_count = static_cast<int64_t>(scale.size());
        p.last_axis_groups = md.block_size >= 0;
        p.block_size = std::max<int64_t>(md.block_size, 0);
        p.block_n = bn;
        p.block_k = bk;
        p.out_type = static_cast<DType>(out);
        std::vector<uint8_t> want(static_cast<size_t>(NumEl(md.shape) * DTypeSize(p.out_type)));
        p.y = want.data();
        reference::DequantizeFp8(p, 0, rows);
        // NaN codes: any NaN will do; compare NaN-ness there, bits elsewhere.
        ASSERT_EQ((*y)[0].bytes.size(), want.size());
        HostTensor w = Raw(out, md.shape, want);
        for (int64_t i = 0; i < NumEl(md.shape); ++i) {
          const double g = ValueAt((*y)[0], i), r = ValueAt(w, i);
          ASSERT_TRUE((std::isnan(g) && std::isnan(r)) ||
                      std::memcmp((*y)[0].bytes.data() + i * DTypeSize(p.out_type),
                                  want.data() + i * DTypeSize(p.out_type),
                                  DTypeSize(p.out_type)) == 0)
              << i << ": " << g << " vs " << r;
        }
      }
    }
  }
}

// A one-element scale is per tensor for any X, a scalar X included.
TEST(DequantizeFp8Session, ScalarXPerTensorScale) {
  for (int32_t fmt : {kE4M3, kE5M2}) {
    for (int32_t out : {kF32, kF16, kBF16}) {
      auto m = testing::NewModel();
      AddInput(m, "x", fmt, {});
      AddInput(m, "scale", kF32, {});
      AddNode(m, "DequantizeFP8", {"x", "scale"}, {"y"}, {Attr::Int("out_type", out)}, "fp8ops",
              "deq");
      AddOutput(m, "y");
      auto session = Load(m);
      ASSERT_TRUE(session.ok()) << session.status();
      const uint8_t code = 0xC2;  // negative, normal in both formats
      auto y = (*session)->Run({{"x", Raw(fmt, {}, {code})}, {"scale", Floats({}, {0.375f})}});
      ASSERT_TRUE(y.ok()) << y.status();
      EXPECT_EQ((*y)[0].elem_type, out);
      EXPECT_TRUE((*y)[0].shape.empty());
      const double want =
          testref::DecodeBits(code, testref::Fp8Def(fmt)) * 0.375;  // exact in all 3 types
      EXPECT_EQ(ValueAt((*y)[0], 0), want) << fmt << " " << out;
    }
  }
}

// ---- output types as ONNX Runtime sees them at load time --------------------------------------

TEST(OutputTypeInference, OrtSeesInferredTypesAndShapes) {
  std::mt19937 rng(8);
  GemmCase gc{kE4M3, {2, 300}, 130, kGrans[3], kE5M2, kBF16, false};
  auto gin = MakeGemmInputs(gc, rng);
  auto m = testing::NewModel();
  AddInput(m, "x", kF16, {-1, 300});
  AddInitializer(m, "B", kE5M2, gin.b.shape, gin.b.bytes);
  AddInitializer(m, "B_scale", kF32, gin.b_scale.shape, gin.b_scale.bytes);
  AddNode(m, "QuantizeFP8", {"x"}, {"xq", "xs"},
          {Attr::Int("fp8_type", 19), Attr::Int("block_size", 128)}, "fp8ops", "q");
  AddNode(m, "FP8GEMM", {"xq", "xs", "B", "B_scale"}, {"y"}, {Attr::Int("out_type", 16)}, "fp8ops",
          "g");
  AddNode(m, "DequantizeFP8", {"xq", "xs"}, {"xd"},
          {Attr::Int("block_size", 128), Attr::Int("out_type", 10)}, "fp8ops", "d");
  for (const char* o : {"xq", "xs", "y", "xd"}) AddOutput(m, o);
  const std::string bytes = testing::Serialize(m);

  Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "ops_session_test");
  Ort::SessionOptions so;
  so.RegisterCustomOpsLibrary(FP8OPS_PLUGIN_PATH);
  Ort::Session session(env, bytes.data(), bytes.size(), so);
  ASSERT_EQ(session.GetOutputCount(), 4u);
  const ONNXTensorElementDataType want_types[] = {
      ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT,
      ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16};
  const std::vector<int64_t> want_shapes[] = {{-1, 300}, {-1, 3}, {-1, 130}, {-1, 300}};
  for (size_t i = 0; i < 4; ++i) {
    const Ort::TypeInfo type_info = session.GetOutputTypeInfo(i);  // owns what `info` views
    const auto info = type_info.GetTensorTypeAndShapeInfo();
    EXPECT_EQ(info.GetElementType(), want_types[i]) << "output " << i;
    EXPECT_EQ(info.GetShape(), want_shapes[i]) << "output " << i;
    const auto sym = info.GetSymbolicDimensions();
    ASSERT_EQ(sym.size(), 2u);
    EXPECT_STREQ(sym[0], "d0") << "output " << i << ": the leading dim keeps its symbol";
  }
}

// A graph input declared with a type but no shape: the outputs' types are still inferred and the
// results are right. (ORT's shape-inference C API reports an unknown rank as rank 0 and cannot
// express "unknown shape" for an output, so the outputs' shapes as ORT sees them at load are not
// checked here.)
TEST(OutputTypeInference, InputWithoutShape) {
  auto m = testing::NewModel();
  testing::AddValueInfo(m.mutable_graph()->add_input(), "x", kBF16, {}, /*with_shape=*/false);
  AddNode(m, "QuantizeFP8", {"x"}, {"y", "ys"},
          {Attr::Int("fp8_type", 19), Attr::Int("block_size", 32)}, "fp8ops", "quant");
  AddOutput(m, "y");
  AddOutput(m, "ys");
  const std::string bytes = testing::Serialize(m);
  {
    Ort::Env env(ORT_LOGGING_LEVEL_ERROR, "ops_session_test");
    Ort::SessionOptions so;
    so.RegisterCustomOpsLibrary(FP8OPS_PLUGIN_PATH);
    Ort::Session session(env, bytes.data(), bytes.size(), so);
    const Ort::TypeInfo y_info = session.GetOutputTypeInfo(0),
                        ys_info = session.GetOutputTypeInfo(1);
    EXPECT_EQ(y_info.GetTensorTypeAndShapeInfo().GetElementType(),
              ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2);
    EXPECT_EQ(ys_info.GetTensorTypeAndShapeInfo().GetElementType(),
              ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT);
  }
  std::mt19937 rng(12);
  const std::vector<int64_t> shape = {2, 3, 100};
  const auto x = RandomOf(kBF16, NumEl(shape), rng, 3.0f);
  auto session = Load(m);
  ASSERT_TRUE(session.ok()) << session.status();
  auto out = (*session)->Run({{"x", Raw(kBF16, shape, x)}});
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ((*out)[0].elem_type, kE5M2);
  EXPECT_EQ((*out)[0].shape, shape);
  EXPECT_EQ((*out)[1].shape, (std::vector<int64_t>{2, 3, 4}));
  reference::QuantizeProblem p;
  p.rows = 6;
  p.k = 100;
  p.x = x.data();
  p.x_type = DType::kBFloat16;
  p.block_size = 32;
  p.params = {Fp8Format::kE5M2, true, false};
  std::vector<uint8_t> want_y(600);
  std::vector<float> want_s(24);
  p.y = want_y.data();
  p.y_scale = want_s.data();
  reference::QuantizeFp8(p, 0, 6);
  EXPECT_EQ((*out)[0].bytes, want_y);
  EXPECT_EQ(std::memcmp((*out)[1].bytes.data(), want_s.data(), 96), 0);
}

// ORT checks a graph output's declared type against the inferred one: out_type's type loads, any
// other is a type error at load.
TEST(OutputTypeInference, DeclaredOutputTypeIsCheckedAgainstInference) {
  std::mt19937 rng(9);
  for (int32_t out : {kF32, kF16, kBF16}) {
    GemmCase c{kF32, {2, 64}, 8, kGrans[0], kE4M3, out, false};
    auto in = MakeGemmInputs(c, rng);
    for (int32_t declared : {kF32, kF16, kBF16}) {
      SCOPED_TRACE("out_type " + std::to_string(out) + ", Y declared " + std::to_string(declared));
      auto m = GemmModel(c, in);
      m.mutable_graph()->mutable_output()->Clear();
      AddOutput(m, "Y", declared, {-1, 8});
      auto session = Load(m);
      if (declared != out) {
        ASSERT_FALSE(session.ok()) << "ORT accepted Y declared as type " << declared;
        EXPECT_NE(session.status().message().find("Type"), std::string::npos) << session.status();
        continue;
      }
      ASSERT_TRUE(session.ok()) << session.status();
      auto y = (*session)->Run(GemmFeeds(c, in));
      ASSERT_TRUE(y.ok()) << y.status();
      EXPECT_EQ((*y)[0].elem_type, out);
      CheckGemm(c, in, (*y)[0]);
    }
  }
}

// ---- errors -------------------------------------------------------------------------------------

struct ErrorCase {
  std::string node;  // unique node name, must appear in the message
  std::function<onnx::ModelProto()> model;
  Inputs feeds;                    // empty: the error is expected at load
  std::vector<std::string> words;  // must all appear in the message
};

onnx::ModelProto QuantModel(const std::string& node, std::vector<Attr> attrs, int32_t x_type = kF32,
                            std::vector<int64_t> x_shape = {2, 8}, int32_t scale_type = 0,
                            std::vector<int64_t> scale_shape = {}) {
  auto m = testing::NewModel();
  AddInput(m, "x", x_type, x_shape);
  std::vector<std::string> ins = {"x"};
  if (scale_type != 0) {
    AddInput(m, "scale", scale_type, scale_shape);
    ins.push_back("scale");
  }
  AddNode(m, "QuantizeFP8", ins, {"y", "ys"}, attrs, "fp8ops", node);
  AddOutput(m, "y");
  AddOutput(m, "ys");
  return m;
}

// FP8GEMM with every input a graph input (types and shapes as given; type 0 = input absent).
struct GemmDecl {
  int32_t a = kE4M3, a_scale = kF32, b = kE4M3, b_scale = kF32, bias = 0;
  std::vector<int64_t> a_shape = {3, 256}, a_scale_shape = {3, 2}, b_shape = {16, 256},
                       b_scale_shape = {1, 2}, bias_shape = {16};
};
onnx::ModelProto GemmDeclModel(const std::string& node, const GemmDecl& d, std::vector<Attr> attrs,
                               bool drop_b_scale = false) {
  auto m = testing::NewModel();
  std::vector<std::string> ins;
  auto add = [&](const char* name, int32_t type, const std::vector<int64_t>& shape) {
    if (type == 0) {
      ins.push_back("");
      return;
    }
    AddInput(m, name, type, shape);
    ins.push_back(name);
  };
  add("A", d.a, d.a_shape);
  add("A_scale", d.a_scale, d.a_scale_shape);
  add("B", d.b, d.b_shape);
  add("B_scale", d.b_scale, d.b_scale_shape);
  add("bias", d.bias, d.bias_shape);
  while (!ins.empty() && ins.back().empty()) ins.pop_back();  // trailing optional inputs
  if (drop_b_scale) ins.resize(3);
  AddNode(m, "FP8GEMM", ins, {"Y"}, attrs, "fp8ops", node);
  AddOutput(m, "Y");
  return m;
}

HostTensor Zeros(int32_t type, std::vector<int64_t> shape) {
  const int64_t n = NumEl(shape);
  std::vector<uint8_t> bytes(static_cast<size_t>(n) * HostTensor::ElementSize(type),
                             0x3C);  // finite codes
  if (type == kF32) {
    std::vector<float> ones(static_cast<size_t>(n), 0.5f);
    return Floats(shape, ones);
  }
  return Raw(type, std::move(shape), std::move(bytes));
}

Inputs GemmDeclFeeds(const GemmDecl& d) {
  Inputs f;
  if (d.a) f.push_back({"A", Zeros(d.a, d.a_shape)});
  if (d.a_scale) f.push_back({"A_scale", Zeros(d.a_scale, d.a_scale_shape)});
  if (d.b) f.push_back({"B", Zeros(d.b, d.b_shape)});
  if (d.b_scale) f.push_back({"B_scale", Zeros(d.b_scale, d.b_scale_shape)});
  if (d.bias) f.push_back({"bias", Zeros(d.bias, d.bias_shape)});
  return f;
}

onnx::ModelProto DeqModel(const std::string& node, std::vector<Attr> attrs, int32_t x_type = kE4M3,
                          std::vector<int64_t> x_shape = {4, 256}, int32_t s_type = kF32,
                          std::vector<int64_t> s_shape = {1, 2}) {
  auto m = testing::NewModel();
  AddInput(m, "x", x_type, x_shape);
  AddInput(m, "scale", s_type, s_shape);
  AddNode(m, "DequantizeFP8", {"x", "scale"}, {"y"}, attrs, "fp8ops", node);
  AddOutput(m, "y");
  return m;
}

std::vector<ErrorCase> ErrorCases() {
  std::vector<ErrorCase> v;
  auto load = [&](std::string node, std::function<onnx::ModelProto()> model,
                  std::vector<std::string> words) {
    v.push_back({std::move(node), std::move(model), {}, std::move(words)});
  };
  auto run = [&](std::string node, std::function<onnx::ModelProto()> model, Inputs feeds,
                 std::vector<std::string> words) {
    v.push_back({std::move(node), std::move(model), std::move(feeds), std::move(words)});
  };
  using I = Attr;
  // Attributes (load time).
  load("q_neg_block", [] { return QuantModel("q_neg_block", {I::Int("block_size", -1)}); },
       {"block_size=-1", ">= 0"});
  load("q_fp8_type", [] { return QuantModel("q_fp8_type", {I::Int("fp8_type", 5)}); },
       {"fp8_type=5", "17", "19"});
  load("q_saturate", [] { return QuantModel("q_saturate", {I::Int("saturate", 2)}); },
       {"saturate=2", "0 or 1"});
  load("q_pow2", [] { return QuantModel("q_pow2", {I::Int("scale_pow2", 3)}); },
       {"scale_pow2=3", "0 or 1"});
  load("q_attr_type", [] { return QuantModel("q_attr_type", {I::Float("fp8_type", 17.0f)}); },
       {"fp8_type must be an int"});
  load("g_neg_bn", [] { return GemmDeclModel("g_neg_bn", {}, {I::Int("block_n", -1)}); },
       {"block_n=-1", ">= 0"});
  load("g_neg_bk", [] { return GemmDeclModel("g_neg_bk", {}, {I::Int("block_k", -2)}); },
       {"block_k=-2", ">= 0"});
  load("g_neg_ab", [] { return GemmDeclModel("g_neg_ab", {}, {I::Int("a_block", -3)}); },
       {"a_block=-3", ">= 0"});
  load("g_out_type", [] { return GemmDeclModel("g_out_type", {}, {I::Int("out_type", 7)}); },
       {"out_type=7"});
  load("g_a_block", [] { return GemmDeclModel("g_a_block", {}, {I::Int("a_block", 64)}); },
       {"a_block=64", "block_k=128"});
  load("d_neg_block", [] { return DeqModel("d_neg_block", {I::Int("block_size", -1)}); },
       {"block_size=-1", ">= 0"});
  load("d_neg_bn", [] { return DeqModel("d_neg_bn", {I::Int("block_n", -5)}); },
       {"block_n=-5", ">= 0"});
  load("d_out_type", [] { return DeqModel("d_out_type", {I::Int("out_type", 7)}); },
       {"out_type=7"});
  // Element types (load time).
  load("q_x_int", [] { return QuantModel("q_x_int", {}, kI32); }, {"input X", "got int32"});
  load("q_x_fp8", [] { return QuantModel("q_x_fp8", {}, kE4M3); }, {"input X", "float8e4m3fn"});
  load("q_scale_f16",
       [] {
         return QuantModel("q_scale_f16", {}, kF32, {2, 8}, kF16, {});
       },
       {"(scale)", "float16"});
  load("g_a_int",
       [] {
         GemmDecl d;
         d.a = kI32;
         d.a_scale = 0;
         return GemmDeclModel("g_a_int", d, {});
       },
       {"input A", "got int32"});
  load("g_a_quant_bad",
       [] {
         GemmDecl d;
         d.a = kF32;
         d.a_scale = 0;
         return GemmDeclModel("g_a_quant_bad", d, {Attr::Int("a_quant_type", 18)});
       },
       {"a_quant_type=18", "must be 0"});
  load("g_a_quant_fp8_a",
       [] { return GemmDeclModel("g_a_quant_fp8_a", GemmDecl{}, {Attr::Int("a_quant_type", 17)}); },
       {"a_quant_type=17", "A must be float", "float8e4m3fn"});
  load("g_a_quant_a_scale",
       [] {
         GemmDecl d;
         d.a = kF16;
         return GemmDeclModel("g_a_quant_a_scale", d, {Attr::Int("a_quant_type", 19)});
       },
       {"A_scale is given", "a_quant_type"});
  load("g_b_float",
       [] {
         GemmDecl d;
         d.b = kF32;
         return GemmDeclModel("g_b_float", d, {});
       },
       {"(B)", "tensor(float)"});
  load("g_bscale_f16",
       [] {
         GemmDecl d;
         d.b_scale = kF16;
         return GemmDeclModel("g_bscale_f16", d, {});
       },
       {"(B_scale)", "float16"});
  load("g_ascale_f16",
       [] {
         GemmDecl d;
         d.a_scale = kF16;
         return GemmDeclModel("g_ascale_f16", d, {});
       },
       {"(A_scale)", "float16"});
  load("g_bias_type",
       [] {
         GemmDecl d;
         d.bias = kF16;
         return GemmDeclModel("g_bias_type", d, {});
       },
       {"bias", "out_type", "float16"});
  load("g_bias_type2",
       [] {
         GemmDecl d;
         d.bias = kF32;
         return GemmDeclModel("g_bias_type2", d, {I::Int("out_type", 16)});
       },
       {"bias", "out_type", "bfloat16"});
  load("g_ascale_float_a",
       [] {
         GemmDecl d;
         d.a = kF16;
         return GemmDeclModel("g_ascale_float_a", d, {});
       },
       {"A_scale", "float type"});
  load("g_missing_ascale",
       [] {
         GemmDecl d;
         d.a_scale = 0;
         return GemmDeclModel("g_missing_ascale", d, {});
       },
       {"A_scale", "missing"});
  // A required input left out: ORT's own schema check (4 required inputs) names node and problem.
  load("g_missing_bscale",
       [] {
         GemmDecl d;
         return GemmDeclModel("g_missing_bscale", d, {}, true);
       },
       {"input size 3", "min=4"});
  // A required input given as "" (no tensor).
  load("g_empty_bscale",
       [] {
         GemmDecl d;
         d.b_scale = 0;
         d.bias = kF32;
         return GemmDeclModel("g_empty_bscale", d, {});
       },
       {"input 3", "empty"});
  load("d_empty_scale",
       [] {
         auto m = DeqModel("d_empty_scale", {});
         m.mutable_graph()->mutable_node(0)->set_input(1, "");
         return m;
       },
       {"input 1", "empty"});
  load("d_x_float", [] { return DeqModel("d_x_float", {}, kF32); }, {"input X", "FP8"});
  load("d_scale_f16",
       [] {
         return DeqModel("d_scale_f16", {}, kE4M3, {4, 256}, kF16);
       },
       {"(scale)", "float16"});
  // Shapes (run time).
  {
    GemmDecl d;
    d.b_shape = {16, 200};
    run("g_k_mismatch", [d] { return GemmDeclModel("g_k_mismatch", d, {}); }, GemmDeclFeeds(d),
        {"K mismatch", "K=256", "K=200"});
  }
  {
    GemmDecl d;
    d.b_scale_shape = {2, 2};
    run("g_bscale_shape", [d] { return GemmDeclModel("g_bscale_shape", d, {}); }, GemmDeclFeeds(d),
        {"B_scale", "[2,2]", "expected [1,2]"});
  }
  {
    GemmDecl d;
    d.a_scale_shape = {3, 1};
    run("g_ascale_shape", [d] { return GemmDeclModel("g_ascale_shape", d, {}); }, GemmDeclFeeds(d),
        {"A_scale", "[3,1]", "expected [3,2]"});
  }
  {
    GemmDecl d;
    d.bias = kF32;
    d.bias_shape = {15};
    run("g_bias_shape", [d] { return GemmDeclModel("g_bias_shape", d, {}); }, GemmDeclFeeds(d),
        {"bias", "[15]", "expected [16]"});
  }
  {
    GemmDecl d;
    d.b_shape = {16, 256, 1};
    run("g_b_rank", [d] { return GemmDeclModel("g_b_rank", d, {}); }, GemmDeclFeeds(d),
        {"input B must be 2-D", "[16,256,1]"});
  }
  {
    GemmDecl d;
    d.a_shape = {};
    d.a_scale_shape = {1};
    run("g_a_scalar", [d] { return GemmDeclModel("g_a_scalar", d, {}); }, GemmDeclFeeds(d),
        {"input A must have rank >= 1", "scalar"});
  }
  run("q_scale_shape",
      [] {
        return QuantModel("q_scale_shape", {}, kF32, {2, 8}, kF32, {2, 2});
      },
      {{"x", Zeros(kF32, {2, 8})}, {"scale", Floats({2, 2}, {1, 1, 1, 1})}},
      {"scale", "[2,2]", "[2,1]"});
  const std::pair<float, const char*> bad_scales[] = {
      {0.0f, "scale[0]=0 "},
      {-1.0f, "scale[0]=-1 "},
      {std::numeric_limits<float>::quiet_NaN(), "scale[0]=nan "},
      {kInf, "scale[0]=inf "}};
  for (const auto& [bad, word] : bad_scales) {
    const std::string node = "q_static_" + std::to_string(v.size());
    run(node,
        [node] {
          return QuantModel(node, {}, kF32, {2, 8}, kF32, {});
        },
        {{"x", Zeros(kF32, {2, 8})}, {"scale", Floats({}, {bad})}}, {word, "finite and > 0"});
  }
  run("q_per_group_bad",
      [] {
        return QuantModel("q_per_group_bad", {I::Int("block_size", 4)}, kF32, {2, 8}, kF32, {2, 2});
      },
      {{"x", Zeros(kF32, {2, 8})}, {"scale", Floats({2, 2}, {1, 1, 0.5f, -2})}},
      {"scale[3]", "finite and > 0"});
  run("q_scalar_x", [] { return QuantModel("q_scalar_x", {}, kF32, {}); },
      {{"x", Floats({}, {1.0f})}}, {"input X must have rank >= 1", "scalar"});
  run("d_scale_shape",
      [] {
        return DeqModel("d_scale_shape", {}, kE4M3, {4, 256}, kF32, {1, 3});
      },
      {{"x", Zeros(kE4M3, {4, 256})}, {"scale", Floats({1, 3}, {1, 1, 1})}},
      {"scale", "[1,3]", "expected [1,2]"});
  run("d_rank3",
      [] {
        return DeqModel("d_rank3", {}, kE4M3, {2, 4, 256}, kF32, {1, 2});
      },
      {{"x", Zeros(kE4M3, {2, 4, 256})}, {"scale", Floats({1, 2}, {1, 1})}},
      {"input X must be 2-D", "[2,4,256]"});
  run("d_group_shape",
      [] {
        return DeqModel("d_group_shape", {I::Int("block_size", 128)}, kE4M3, {4, 256}, kF32,
                        {4, 1});
      },
      {{"x", Zeros(kE4M3, {4, 256})}, {"scale", Floats({4, 1}, {1, 1, 1, 1})}},
      {"scale", "[4,1]", "expected [4,2]"});
  return v;
}

TEST(ErrorsSession, EveryErrorNamesNodeAndProblem) {
  for (const ErrorCase& e : ErrorCases()) {
    SCOPED_TRACE(e.node);
    auto session = Load(e.model());
    std::string msg;
    if (e.feeds.empty()) {
      ASSERT_FALSE(session.ok()) << "expected a load error";
      msg = std::string(session.status().message());
    } else {
      ASSERT_TRUE(session.ok()) << "expected a run error, got a load error: " << session.status();
      auto out = (*session)->Run(e.feeds);
      ASSERT_FALSE(out.ok()) << "expected a run error";
      msg = std::string(out.status().message());
      // The session survives a failed Run (and fails the same way again).
      auto again = (*session)->Run(e.feeds);
      EXPECT_FALSE(again.ok());
    }
    std::cout << "[message] " << e.node << ": " << msg << "\n";
    EXPECT_NE(msg.find(e.node), std::string::npos) << "node name missing: " << msg;
    for (const auto& w : e.words)
      EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' missing: " << msg;
  }
}

// ---- concurrency and threads --------------------------------------------------------------------

// Quantize -> GEMM in one model, the weight as initializers.
struct PipelineModel {
  GemmInputs weights;
  std::string bytes;
};
PipelineModel MakePipeline(std::mt19937& rng) {
  PipelineModel pm;
  GemmCase c{kE4M3, {1, 512}, 384, kGrans[3], kE4M3, kF32, false};
  pm.weights = MakeGemmInputs(c, rng);
  auto m = testing::NewModel();
  AddInput(m, "x", kF32, {-1, 512});
  AddInitializer(m, "B", kE4M3, pm.weights.b.shape, pm.weights.b.bytes);
  AddInitializer(m, "B_scale", kF32, pm.weights.b_scale.shape, pm.weights.b_scale.bytes);
  AddNode(m, "QuantizeFP8", {"x"}, {"xq", "xs"}, {}, "fp8ops", "q");
  AddNode(m, "FP8GEMM", {"xq", "xs", "B", "B_scale"}, {"y"}, {}, "fp8ops", "g");
  AddNode(m, "DequantizeFP8", {"xq", "xs"}, {"xd"}, {Attr::Int("block_size", 128)}, "fp8ops", "d");
  AddOutput(m, "xq");
  AddOutput(m, "y");
  AddOutput(m, "xd");
  pm.bytes = testing::Serialize(m);
  return pm;
}

TEST(ConcurrencySession, ThreadsRunOneSessionWithDifferentInputs) {
  std::mt19937 rng(10);
  const auto pm = MakePipeline(rng);
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  so.intra_op_threads = 2;
  auto session = host::Session::FromBytes(pm.bytes, so);
  ASSERT_TRUE(session.ok()) << session.status();
  // Expected outputs, from a single-threaded run of each input first.
  constexpr int kThreads = 4, kIters = 6;
  std::vector<HostTensor> inputs;
  std::vector<std::vector<HostTensor>> expected;
  for (int i = 0; i < kThreads * 2; ++i) {
    const int64_t m = 1 + 13 * i;
    inputs.push_back(Raw(kF32, {m, 512}, RandomOf(kF32, m * 512, rng)));
    auto out = (*session)->Run({{"x", inputs.back()}});
    ASSERT_TRUE(out.ok()) << out.status();
    // Check that one against the reference too.
    GemmCase c{kE4M3, {m, 512}, 384, kGrans[3], kE4M3, kF32, false};
    GemmInputs gi = pm.weights;
    gi.a = (*out)[0];
    std::vector<uint8_t> xq(static_cast<size_t>(m * 512));
    std::vector<float> xs(static_cast<size_t>(m * 4));
    QuantizeRowGroups(inputs.back().data<float>(), m, 512, 128, {}, xq.data(), xs.data());
    ASSERT_EQ((*out)[0].bytes, xq);
    gi.a_scale = Floats({m, 4}, xs);
    CheckGemm(c, gi, (*out)[1]);
    expected.push_back(*std::move(out));
  }
  std::vector<int> failures(kThreads, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int it = 0; it < kIters; ++it) {
        const size_t which = static_cast<size_t>((t + it) % (kThreads * 2));
        auto out = (*session)->Run({{"x", inputs[which]}});
        if (!out.ok() || out->size() != 3) {
          ++failures[t];
          continue;
        }
        for (size_t o = 0; o < 3; ++o) {
          if ((*out)[o].bytes != expected[which][o].bytes ||
              (*out)[o].shape != expected[which][o].shape)
            ++failures[t];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], 0) << "thread " << t;
}

TEST(ConcurrencySession, IntraOpThreads1And2GiveIdenticalResults) {
  std::mt19937 rng(11);
  const auto pm = MakePipeline(rng);
  std::vector<std::vector<HostTensor>> results;
  const auto x = Raw(kF32, {97, 512}, RandomOf(kF32, 97 * 512, rng));
  for (int threads : {1, 2}) {
    host::SessionOptions so;
    so.plugin_path = FP8OPS_PLUGIN_PATH;
    so.intra_op_threads = threads;
    auto session = host::Session::FromBytes(pm.bytes, so);
    ASSERT_TRUE(session.ok()) << session.status();
    auto out = (*session)->Run({{"x", x}});
    ASSERT_TRUE(out.ok()) << out.status();
    results.push_back(*std::move(out));
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  for (size_t o = 0; o < results[0].size(); ++o) {
    EXPECT_EQ(results[0][o].shape, results[1][o].shape) << o;
    EXPECT_EQ(results[0][o].bytes, results[1][o].bytes)
        << "output " << o << " differs between 1 and 2 threads";
  }
}

// ONNX Runtime's own integer MatMul (MLAS, whose AMX kernels configure a thread's tiles once and
// rely on them staying configured; whether it takes them depends on the build and the CPU) and
// the FP8 pipeline (FP8GEMM's AMX tile path at this M on AMX CPUs) in one model on one intra-op
// thread, run repeatedly: every run succeeds, the integer product is exact, the FP8 outputs stay
// the same. The tile configuration itself is checked in cpu_kernels_test (AmxKeeps...).
TEST(ConcurrencySession, OrtIntegerMatMulAndFp8GemmShareOneThread) {
  std::mt19937 rng(12);
  constexpr int64_t kM = 96, kK = 512, kN = 384;
  GemmCase c{kE4M3, {kM, kK}, kN, kGrans[3], kE4M3, kF32, false};
  const GemmInputs w = MakeGemmInputs(c, rng);
  std::vector<uint8_t> wi(static_cast<size_t>(kK * kN));  // int8 [K, N]
  std::uniform_int_distribution<int> q(-127, 127);
  for (auto& v : wi) v = static_cast<uint8_t>(static_cast<int8_t>(q(rng)));
  auto m = testing::NewModel();
  AddInput(m, "x", kF32, {-1, kK});
  AddInitializer(m, "B", kE4M3, w.b.shape, w.b.bytes);
  AddInitializer(m, "B_scale", kF32, w.b_scale.shape, w.b_scale.bytes);
  constexpr int32_t kI8 = 3;
  AddInitializer(m, "Wi", kI8, {kK, kN}, wi);
  AddNode(m, "DynamicQuantizeLinear", {"x"}, {"xu", "xus", "xuz"}, {}, "", "dql");
  AddNode(m, "MatMulInteger", {"xu", "Wi", "xuz"}, {"yi"}, {}, "", "mmi");
  AddNode(m, "QuantizeFP8", {"x"}, {"xq", "xs"}, {}, "fp8ops", "q");
  AddNode(m, "FP8GEMM", {"xq", "xs", "B", "B_scale"}, {"y"}, {}, "fp8ops", "g");
  for (const char* out : {"xu", "xuz", "yi", "xq", "xs", "y"}) AddOutput(m, out);
  auto session = Load(m, 1);
  ASSERT_TRUE(session.ok()) << session.status();
  const auto x = Raw(kF32, {kM, kK}, RandomOf(kF32, kM * kK, rng));
  std::vector<HostTensor> first;
  for (int run = 0; run < 4; ++run) {
    auto out = (*session)->Run({{"x", x}});
    ASSERT_TRUE(out.ok()) << "run " << run << ": " << out.status();
    ASSERT_EQ(out->size(), 6u);
    const HostTensor &xu = (*out)[0], &xuz = (*out)[1], &yi = (*out)[2];
    ASSERT_EQ(yi.shape, (std::vector<int64_t>{kM, kN}));
    const int32_t zp = xuz.bytes[0];
    int wrong = 0;
    for (int64_t i = 0; i < kM; ++i) {
      for (int64_t j = 0; j < kN; ++j) {
        int64_t r = 0;
        for (int64_t kk = 0; kk < kK; ++kk) {
          r += (static_cast<int32_t>(xu.bytes[i * kK + kk]) - zp) *
               static_cast<int32_t>(static_cast<int8_t>(wi[kk * kN + j]));
        }
        if (yi.data<int32_t>()[i * kN + j] != r && ++wrong <= 3) {
          ADD_FAILURE() << "run " << run << ": MatMulInteger[" << i << "," << j
                        << "] = " << yi.data<int32_t>()[i * kN + j] << ", want " << r;
        }
      }
    }
    ASSERT_EQ(wrong, 0);
    if (run == 0) {
      GemmInputs gi = w;
      gi.a = (*out)[3];
      gi.a_scale = (*out)[4];
      CheckGemm(c, gi, (*out)[5]);
      first = *std::move(out);
    } else {
      for (size_t o = 3; o < 6; ++o) {
        EXPECT_EQ((*out)[o].bytes, first[o].bytes) << "run " << run << ", output " << o;
      }
    }
  }
}

}  // namespace
}  // namespace fp8ops
