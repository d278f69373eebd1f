// Tests of the conformance runner and of the FP8GEMM bound: the bound accepts every reasonable
// float32 evaluation of the committed cases and rejects the known ways to get FP8 GEMM wrong; the
// runner reports failures, counts and exit codes as documented.
#include "tests/conformance/runner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"
#include "ops/reference/reference_kernels.h"
#include "tests/conformance/case_io.h"
#include "tests/conformance/gemm_bound.h"

namespace fp8ops::conformance {
namespace {

namespace fs = std::filesystem;

const std::string kCases = std::string(FP8OPS_SOURCE_DIR) + "/tests/conformance/cases";

// ------------------------------------------------------------------------------------ the bound

TEST(GemmBound, OutputUlpAndOverflow) {
  EXPECT_EQ(OutputUlp(1.0, DType::kFloat), std::ldexp(1.0, -23));
  EXPECT_EQ(OutputUlp(1.5, DType::kFloat16), std::ldexp(1.0, -10));
  EXPECT_EQ(OutputUlp(-3.0, DType::kBFloat16), std::ldexp(1.0, -6));
  EXPECT_EQ(OutputUlp(1e-6, DType::kFloat16), std::ldexp(1.0, -24));  // float16 subnormal
  EXPECT_EQ(OutputUlp(0.0, DType::kFloat), std::ldexp(1.0, -149));    // float32 subnormal
  EXPECT_EQ(OutputUlp(65504.0, DType::kFloat16), 32.0);
  EXPECT_EQ(OutputUlp(1e9, DType::kFloat16), 32.0);  // beyond max: the top binade's spacing
  EXPECT_EQ(OverflowThreshold(DType::kFloat16), 65520.0);
  EXPECT_EQ(OverflowThreshold(DType::kFloat), std::ldexp(2.0 - std::ldexp(1.0, -24), 127));
}

TEST(GemmBound, ElementRules) {
  const double nan = std::nan(""), inf = INFINITY;
  EXPECT_TRUE(WithinGemmBound(nan, nan, 1, 4, DType::kFloat, nullptr));
  EXPECT_FALSE(WithinGemmBound(1.0, nan, 1, 4, DType::kFloat, nullptr));
  EXPECT_FALSE(WithinGemmBound(nan, 1.0, 1, 4, DType::kFloat, nullptr));
  EXPECT_TRUE(WithinGemmBound(-inf, -inf, 1, 4, DType::kFloat, nullptr));
  EXPECT_FALSE(WithinGemmBound(inf, -inf, 1, 4, DType::kFloat, nullptr));
  // Exact float16 overflow far beyond the threshold, and not near a finite result.
  EXPECT_TRUE(WithinGemmBound(inf, 1e6, 1e6, 4, DType::kFloat16, nullptr));
  EXPECT_FALSE(WithinGemmBound(65504.0, 1e6, 1e6, 4, DType::kFloat16, nullptr));
  EXPECT_FALSE(WithinGemmBound(inf, 1000.0, 1000.0, 4, DType::kFloat16, nullptr));
  EXPECT_FALSE(WithinGemmBound(-inf, 1e6, 1e6, 4, DType::kFloat16, nullptr));
  // Finite: 2 (K + 2) 2^-24 T + ulp/2. K=6, T=1: 16 * 2^-24 plus half a float16 ulp at 1.
  const double allowed = 16 * std::ldexp(1.0, -24) + std::ldexp(1.0, -11);
  double ratio = 0;
  EXPECT_TRUE(WithinGemmBound(1.0 + allowed, 1.0, 1.0, 6, DType::kFloat16, &ratio));
  EXPECT_DOUBLE_EQ(ratio, 1.0);
  EXPECT_FALSE(WithinGemmBound(1.0 + 1.01 * allowed, 1.0, 1.0, 6, DType::kFloat16, &ratio));
}

// The FP8GEMM operands and expected output of a committed case.
struct GemmCaseData {
  CaseData data;
  GemmOperands ops;
  const HostTensor* want = nullptr;
};

GemmCaseData LoadGemmCase(const std::string& name) {
  GemmCaseData g;
  auto c = LoadCase(kCases + "/" + name);
  EXPECT_TRUE(c.ok()) << c.status();
  if (!c.ok()) return g;
  g.data = *std::move(c);
  static std::vector<std::unique_ptr<HostTensor>> keep;  // initializers, alive for the test binary
  std::map<std::string, const HostTensor*> values;
  for (const auto& init : g.data.model.graph().initializer()) {
    keep.push_back(std::make_unique<HostTensor>(*FromTensorProto(init)));
    values[init.name()] = keep.back().get();
  }
  for (const auto& [n, t] : g.data.inputs) values[n] = &t;
  const onnx::NodeProto& node = g.data.model.graph().node(0);
  EXPECT_EQ(node.op_type(), "FP8GEMM");
  for (const auto& a : node.attribute()) {
    if (a.name() == "block_n") g.ops.attrs.block_n = a.i();
    if (a.name() == "block_k") g.ops.attrs.block_k = a.i();
    if (a.name() == "a_block") g.ops.attrs.a_block = a.i();
    if (a.name() == "out_type") g.ops.attrs.out_type = a.i();
    if (a.name() == "a_quant_type") g.ops.attrs.a_quant_type = a.i();
  }
  const HostTensor** slots[] = {&g.ops.a, &g.ops.a_scale, &g.ops.b, &g.ops.b_scale, &g.ops.bias};
  for (int i = 0; i < node.input_size(); ++i) {
    if (!node.input(i).empty()) *slots[i] = values.at(node.input(i));
  }
  g.want = &g.data.outputs[0].second;
  return g;
}

// An FP8GEMM evaluated another reasonable way, for one output element.
enum class Order { kReverse, kScaleAfterSegmentSums, kDoubleThenRound };

// Y of the case computed with `order` (float32 arithmetic except kDoubleThenRound).
HostTensor Evaluate(const GemmOperands& ops, Order order) {
  if (ops.attrs.a_quant_type != 0) {  // the same evaluation of the QuantizeFP8 -> FP8GEMM operands
    const int64_t k = ops.a->shape.back(), rows = k == 0 ? 0 : ops.a->NumElements() / k;
    HostTensor a8 = *ops.a, s8;
    a8.elem_type = static_cast<int32_t>(ops.attrs.a_quant_type);
    a8.bytes.assign(static_cast<size_t>(ops.a->NumElements()), 0);
    s8.elem_type = 1;
    s8.shape = QuantizeScaleShape(ops.a->shape, ops.attrs.a_block);
    s8.bytes.assign(static_cast<size_t>(rows * NumBlocks(k, ops.attrs.a_block)) * sizeof(float), 0);
    reference::QuantizeFp8(reference::FusedActivationQuantization(
                               ops.a->bytes.data(), static_cast<DType>(ops.a->elem_type), rows, k,
                               ops.attrs.a_block, static_cast<Fp8Format>(ops.attrs.a_quant_type),
                               a8.bytes.data(), s8.mutable_data<float>()),
                           0, rows);
    GemmOperands w8a8 = ops;
    w8a8.attrs.a_quant_type = 0;
    w8a8.a = &a8;
    w8a8.a_scale = &s8;
    return Evaluate(w8a8, order);
  }
  reference::GemmProblem p;
  p.k = ops.a->shape.back();
  p.m = 1;
  for (size_t i = 0; i + 1 < ops.a->shape.size(); ++i) p.m *= ops.a->shape[i];
  p.n = ops.b->shape[0];
  p.a = ops.a->bytes.data();
  p.a_type = static_cast<DType>(ops.a->elem_type);
  p.a_scale = ops.a_scale ? ops.a_scale->data<float>() : nullptr;
  p.a_block = ops.attrs.a_block;
  p.b = ops.b->bytes.data();
  p.b_format = ToFp8Format(static_cast<DType>(ops.b->elem_type));
  p.b_scale = ops.b_scale->data<float>();
  p.block_n = ops.attrs.block_n;
  p.block_k = ops.attrs.block_k;
  const DType out = static_cast<DType>(ops.attrs.out_type);
  const bool fp8_a = IsFp8DType(p.a_type);
  const int64_t ag = EffectiveBlock(p.k, p.a_block), bg = EffectiveBlock(p.k, p.block_k);
  const int64_t nbk = NumBlocks(p.k, p.block_k), nba = NumBlocks(p.k, p.a_block);
  std::vector<float> bias(static_cast<size_t>(p.n), 0.0f), a_row(p.k), b_row(p.k), y(p.m * p.n);
  if (ops.bias) LoadAsFloat(ops.bias->bytes.data(), out, p.n, bias.data());
  for (int64_t m = 0; m < p.m; ++m) {
    reference::DequantizeARow(p, m, a_row.data());
    for (int64_t n = 0; n < p.n; ++n) {
      reference::DequantizeBRow(p, n, b_row.data());
      float acc = 0;
      if (order == Order::kReverse) {
        for (int64_t k = p.k - 1; k >= 0; --k) acc += a_row[k] * b_row[k];
      } else if (order == Order::kDoubleThenRound) {
        double d = 0;
        for (int64_t k = 0; k < p.k; ++k) d += static_cast<double>(a_row[k]) * b_row[k];
        acc = static_cast<float>(d);
      } else {
        // Sum raw code products over segments of constant A and B scales, then scale each segment
        // sum by (a_scale * b_scale): what block-scaled FP8 GEMM kernels do.
        const float* table_b = Fp8DecodeTable(p.b_format);
        const int64_t bn = EffectiveBlock(p.n, p.block_n);
        for (int64_t k0 = 0; k0 < p.k;) {
          int64_t k1 = std::min((k0 / bg + 1) * bg, p.k);
          if (fp8_a) k1 = std::min(k1, (k0 / ag + 1) * ag);
          float seg = 0;
          for (int64_t k = k0; k < k1; ++k) {
            const float qa =
                fp8_a ? Fp8DecodeTable(ToFp8Format(p.a_type))[ops.a->bytes[m * p.k + k]] : a_row[k];
            seg += qa * table_b[ops.b->bytes[n * p.k + k]];
          }
          const float sa = fp8_a ? p.a_scale[m * nba + k0 / ag] : 1.0f;
          const float sb = p.b_scale[(n / bn) * nbk + k0 / bg];
          acc += seg * (sa * sb);
          k0 = k1;
        }
      }
      y[m * p.n + n] = acc + bias[n];
    }
  }
  HostTensor t;
  t.elem_type = ops.attrs.out_type;
  t.shape = ops.a->shape;
  t.shape.back() = p.n;
  t.bytes.resize(y.size() * DTypeSize(out));
  if (!y.empty()) StoreFromFloat(y.data(), static_cast<int64_t>(y.size()), out, t.bytes.data());
  return t;
}

std::vector<std::string> GemmCaseNames() {
  std::vector<std::string> names;
  auto all = ListCases(kCases);
  if (all.ok()) {
    for (const auto& n : *all) {
      if (n.rfind("gemm_", 0) == 0) names.push_back(n);
    }
  }
  return names;
}

TEST(GemmBound, AcceptsOtherFloat32EvaluationsOfEveryCase) {
  const auto names = GemmCaseNames();
  ASSERT_GT(names.size(), 50u);
  for (const auto& name : names) {
    GemmCaseData g = LoadGemmCase(name);
    ASSERT_NE(g.want, nullptr) << name;
    auto ref = CheckGemmBound(g.ops, *g.want);
    ASSERT_TRUE(ref.ok()) << name << ": " << ref.status();
    EXPECT_EQ(ref->failures, 0) << name << " (stored output): " << ref->first_failure;
    for (Order o : {Order::kReverse, Order::kScaleAfterSegmentSums, Order::kDoubleThenRound}) {
      auto r = CheckGemmBound(g.ops, Evaluate(g.ops, o));
      ASSERT_TRUE(r.ok()) << name << ": " << r.status();
      EXPECT_EQ(r->failures, 0) << name << " order " << static_cast<int>(o) << ": "
                                << r->first_failure;
    }
  }
}

// A kernel that drops the last, partial K block (a bug other block-FP8 kernels have shipped).
TEST(GemmBound, RejectsDroppedLastKBlock) {
  GemmCaseData g = LoadGemmCase("gemm_ragged_k_last_block_counts");
  ASSERT_NE(g.want, nullptr);
  const int64_t k = g.ops.a->shape.back();
  ASSERT_EQ(k % g.ops.attrs.block_k, 2);
  HostTensor b = *g.ops.b;
  for (size_t i = 0; i < b.bytes.size(); ++i) {
    if (static_cast<int64_t>(i) % k >= k - 2) b.bytes[i] = 0;  // the last two columns
  }
  GemmOperands dropped = g.ops;
  dropped.b = &b;
  const HostTensor y = Evaluate(dropped, Order::kReverse);
  auto r = CheckGemmBound(g.ops, y);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->failures, r->elements * 9 / 10) << "nearly every output should be off";
}

// A kernel that indexes B_scale with the wrong block row, or applies A's scale of the wrong group.
TEST(GemmBound, RejectsWrongBlockScales) {
  for (const char* name : {"gemm_block_n_37_odd", "gemm_block_k_37_odd", "gemm_2d_blocks"}) {
    GemmCaseData g = LoadGemmCase(name);
    ASSERT_NE(g.want, nullptr);
    HostTensor shifted = *g.ops.b_scale;  // rotate the scales by one block
    const int64_t count = shifted.NumElements();
    std::vector<float> s(shifted.data<float>(), shifted.data<float>() + count);
    for (int64_t i = 0; i < count; ++i) shifted.mutable_data<float>()[i] = s[(i + 1) % count];
    GemmOperands wrong = g.ops;
    wrong.b_scale = &shifted;
    auto r = CheckGemmBound(g.ops, Evaluate(wrong, Order::kReverse));
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_GT(r->failures, r->elements / 4) << name;
  }
}

// Accumulating in bfloat16 (or any rounding per step) is not conforming on K=300.
TEST(GemmBound, RejectsLowPrecisionAccumulation) {
  GemmCaseData g = LoadGemmCase("gemm_1d_groups");
  ASSERT_NE(g.want, nullptr);
  HostTensor y = *g.want;
  reference::GemmProblem p;
  p.k = g.ops.a->shape.back();
  p.m = g.ops.a->NumElements() / p.k;
  p.n = g.ops.b->shape[0];
  p.a = g.ops.a->bytes.data();
  p.a_type = static_cast<DType>(g.ops.a->elem_type);
  p.a_scale = g.ops.a_scale->data<float>();
  p.a_block = g.ops.attrs.a_block;
  p.b = g.ops.b->bytes.data();
  p.b_format = ToFp8Format(static_cast<DType>(g.ops.b->elem_type));
  p.b_scale = g.ops.b_scale->data<float>();
  p.block_n = g.ops.attrs.block_n;
  p.block_k = g.ops.attrs.block_k;
  std::vector<float> a(p.k), b(p.k);
  for (int64_t m = 0; m < p.m; ++m) {
    reference::DequantizeARow(p, m, a.data());
    for (int64_t n = 0; n < p.n; ++n) {
      reference::DequantizeBRow(p, n, b.data());
      float acc = 0;
      for (int64_t k = 0; k < p.k; ++k) acc = Bf16ToFloat(FloatToBf16(acc + a[k] * b[k]));
      y.mutable_data<float>()[m * p.n + n] = acc;
    }
  }
  auto r = CheckGemmBound(g.ops, y);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_GT(r->failures, r->elements / 2);
}

// ----------------------------------------------------------------------------------- the runner

class RunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) /
           (std::string("fp8ops_conformance_") +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  void CopyCase(const std::string& name) {
    fs::copy(fs::path(kCases) / name, dir_ / name, fs::copy_options::recursive);
  }
  // Rewrites output_<i>.pb of a copied case through `edit`.
  void EditOutput(const std::string& name, int i, const std::function<void(HostTensor*)>& edit) {
    const std::string path =
        (dir_ / name / "test_data_set_0" / ("output_" + std::to_string(i) + ".pb")).string();
    onnx::TensorProto t;
    ASSERT_TRUE(t.ParseFromString(*ReadFileBytes(path)));
    HostTensor h = *FromTensorProto(t);
    edit(&h);
    std::string bytes;
    ToTensorProto(t.name(), h).SerializeToString(&bytes);
    ASSERT_TRUE(WriteFileBytes(path, bytes).ok());
  }
  int Main(std::vector<std::string> args) {
    args.insert(args.begin(), "conformance");
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    return RunConformanceMain(static_cast<int>(argv.size()), argv.data());
  }
  RunnerOptions Options() const {
    RunnerOptions o;
    o.plugin_path = FP8OPS_PLUGIN_PATH;
    o.dir = dir_.string();
    return o;
  }
  static std::string LastLine(std::string s) {
    while (!s.empty() && s.back() == '\n') s.pop_back();
    return s.substr(s.rfind('\n') + 1);  // npos + 1 == 0
  }
  fs::path dir_;
};

TEST_F(RunnerTest, PassesCommittedCasesWithTheCpuPlugin) {
  RunnerOptions o = Options();
  o.dir = kCases;
  o.filter = "rank_(1|3)$";
  std::ostringstream out;
  auto s = RunConformance(o, out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_GE(s->passed, 5) << out.str();
  EXPECT_EQ(s->failed, 0) << out.str();
  EXPECT_EQ(LastLine(out.str()), std::to_string(s->passed) + " passed, 0 failed");
  EXPECT_EQ(out.str().find("dequantize_block_size_rank_4"), std::string::npos) << "filter ignored";
}

TEST_F(RunnerTest, ReportsAWrongQuantizedCode) {
  CopyCase("quantize_block_size_32");
  CopyCase("quantize_rank_3");
  EditOutput("quantize_block_size_32", 0, [](HostTensor* t) { t->bytes[17] ^= 0x01; });
  std::ostringstream out;
  auto s = RunConformance(Options(), out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->passed, 1);
  EXPECT_EQ(s->failed, 1);
  EXPECT_NE(out.str().find("FAIL   quantize_block_size_32"), std::string::npos) << out.str();
  EXPECT_NE(out.str().find("Y[17]"), std::string::npos) << out.str();
  EXPECT_EQ(LastLine(out.str()), "1 passed, 1 failed");
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, dir_.string()}), 1);
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, "--filter", "rank", dir_.string()}), 0);
}

TEST_F(RunnerTest, ReportsAWrongScaleBitAndTreatsNaNAsEqual) {
  CopyCase("dequantize_all_codes_e4m3fn_out_float");  // has NaN outputs (codes 0x7F, 0xFF)
  CopyCase("quantize_static_scale_per_group");
  EditOutput("quantize_static_scale_per_group", 1,
             [](HostTensor* t) { t->bytes[0] ^= 0x01; });  // scale's low bit
  // Another NaN payload is still NaN.
  EditOutput("dequantize_all_codes_e4m3fn_out_float", 0, [](HostTensor* t) {
    const uint32_t other_nan = 0xFFC00001u;
    std::memcpy(t->bytes.data() + 0x7F * 4, &other_nan, 4);
  });
  std::ostringstream out;
  auto s = RunConformance(Options(), out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->passed, 1) << out.str();
  EXPECT_NE(out.str().find("FAIL   quantize_static_scale_per_group"), std::string::npos)
      << out.str();
  EXPECT_NE(out.str().find("Y_scale[0]"), std::string::npos) << out.str();
}

TEST_F(RunnerTest, ReportsInconsistentGemmData) {
  CopyCase("gemm_rank_3");
  EditOutput("gemm_rank_3", 0, [](HostTensor* t) { t->mutable_data<float>()[4] += 1.0f; });
  std::ostringstream out;
  auto s = RunConformance(Options(), out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->failed, 1);
  EXPECT_NE(out.str().find("case data inconsistent"), std::string::npos) << out.str();
}

TEST_F(RunnerTest, ReportsAPluginThatCannotLoad) {
  CopyCase("gemm_rank_1");
  RunnerOptions o = Options();
  o.plugin_path = (dir_ / "no_such_plugin.so").string();
  std::ostringstream out;
  auto s = RunConformance(o, out);
  ASSERT_TRUE(s.ok()) << s.status();
  EXPECT_EQ(s->failed, 1);
  EXPECT_NE(out.str().find("session creation failed"), std::string::npos) << out.str();
}

TEST_F(RunnerTest, CommandLineErrors) {
  CopyCase("gemm_rank_1");
  EXPECT_EQ(Main({dir_.string()}), 2) << "--plugin is required";
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, "--ep", "tpu", dir_.string()}), 2);
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, "--bogus", dir_.string()}), 2);
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, "--filter", "(", dir_.string()}), 2);
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, (dir_ / "missing").string()}), 2);
  EXPECT_EQ(Main({"--plugin", FP8OPS_PLUGIN_PATH, "--filter", "^nothing$", dir_.string()}), 1);
  EXPECT_EQ(Main({"--plugin=" FP8OPS_PLUGIN_PATH, "--threads=2", dir_.string()}), 0);
}

}  // namespace
}  // namespace fp8ops::conformance
