// Unit tests of the rewrite on models built in C++: what becomes what, names, initializers,
// scopes, sharing, skip reasons, errors, idempotence.
#include "fp8ops/rewrite.h"

#include <gtest/gtest.h>

#include <random>

#include "fp8ops/dtype.h"
#include "fp8ops/float16.h"
#include "fp8ops/quantize.h"
#include "tests/common/model_builder.h"

namespace fp8ops {
namespace {

using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

std::vector<float> RandomFloats(int64_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = d(rng);
  return v;
}

onnx::ModelProto BaseModel() {
  auto m = testing::NewModel(17, /*with_fp8ops=*/false);
  m.set_ir_version(8);
  return m;
}

const onnx::TensorProto* FindInit(const onnx::GraphProto& g, const std::string& name) {
  for (const auto& t : g.initializer()) {
    if (t.name() == name) return &t;
  }
  return nullptr;
}

const onnx::NodeProto* FindNode(const onnx::GraphProto& g, const std::string& op, int index = 0) {
  for (const auto& n : g.node()) {
    if (n.op_type() == op && index-- == 0) return &n;
  }
  return nullptr;
}

int64_t IntAttr(const onnx::NodeProto& n, const std::string& name, int64_t def = -999) {
  for (const auto& a : n.attribute()) {
    if (a.name() == name) return a.i();
  }
  return def;
}

const NodeReport* FindReport(const RewriteReport& r, const std::string& node) {
  for (const auto& n : r.nodes) {
    if (n.node == node) return &n;
  }
  return nullptr;
}

// The expected FP8 weight: the [K, N] float matrix transposed to [N, K] and quantized by
// QuantizeBlocks2D (the library's one quantizer) in one call.
struct Expected {
  std::vector<uint8_t> codes;
  std::vector<float> scales;
};
Expected QuantizeTransposed(const std::vector<float>& w_kn, int64_t k, int64_t n, int64_t bn,
                            int64_t bk, Fp8Format f = Fp8Format::kE4M3FN, float alpha = 1.0f,
                            bool transpose = true) {
  std::vector<float> w_nk(static_cast<size_t>(n * k));
  for (int64_t i = 0; i < k; ++i) {
    for (int64_t j = 0; j < n; ++j) {
      if (transpose) {
        w_nk[j * k + i] = w_kn[i * n + j];
      } else {
        w_nk[j * k + i] = w_kn[j * k + i];  // already [N, K]
      }
    }
  }
  Expected e;
  e.codes.resize(static_cast<size_t>(n * k));
  e.scales.resize(static_cast<size_t>(NumBlocks(n, bn) * NumBlocks(k, bk)));
  Fp8QuantParams p;
  p.format = f;
  QuantizeBlocks2D(w_nk.data(), n, k, bn, bk, p, e.codes.data(), e.scales.data());
  for (auto& s : e.scales) s *= alpha;
  return e;
}

void ExpectTensorIs(const onnx::TensorProto& t, int32_t type, std::vector<int64_t> dims,
                    const void* data, size_t bytes) {
  EXPECT_EQ(t.data_type(), type) << t.name();
  EXPECT_EQ(std::vector<int64_t>(t.dims().begin(), t.dims().end()), dims) << t.name();
  ASSERT_EQ(t.raw_data().size(), bytes) << t.name();
  EXPECT_EQ(std::memcmp(t.raw_data().data(), data, bytes), 0) << t.name();
}

// x [b, s, K] @ W [K, N] -> y, K and N not multiples of the block.
onnx::ModelProto SingleMatMul(int64_t k, int64_t n, const std::vector<float>& w) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {-1, 3, k});
  AddInitializer(m, "W", 1, {k, n}, w);
  AddNode(m, "MatMul", {"x", "W"}, {"y"}, {}, "", "mm");
  AddOutput(m, "y", 1, {-1, 3, n});
  testing::AddValueInfo(m.mutable_graph()->add_value_info(), "unrelated", 1, {4});
  return m;
}

TEST(Rewrite, MatMulInitializerBecomesQuantizeAndFp8Gemm) {
  const int64_t K = 300, N = 130;
  const auto w = RandomFloats(K * N, 1, 0.05f);
  auto m = SingleMatMul(K, N, w);
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  const auto& g = m.graph();
  ASSERT_EQ(g.node_size(), 2);
  const auto& q = g.node(0);
  const auto& gemm = g.node(1);
  EXPECT_EQ(q.op_type(), "QuantizeFP8");
  EXPECT_EQ(q.domain(), "fp8ops");
  EXPECT_EQ(q.input(0), "x");
  EXPECT_EQ(IntAttr(q, "block_size"), 128);
  EXPECT_EQ(IntAttr(q, "fp8_type"), 17);
  EXPECT_EQ(gemm.op_type(), "FP8GEMM");
  EXPECT_EQ(gemm.domain(), "fp8ops");
  EXPECT_EQ(gemm.name(), "mm");
  ASSERT_EQ(gemm.input_size(), 4);
  EXPECT_EQ(gemm.input(0), q.output(0));
  EXPECT_EQ(gemm.input(1), q.output(1));
  EXPECT_EQ(gemm.input(2), "W_fp8");
  EXPECT_EQ(gemm.input(3), "W_fp8_scale");
  EXPECT_EQ(gemm.output(0), "y");
  EXPECT_EQ(IntAttr(gemm, "block_n"), 128);
  EXPECT_EQ(IntAttr(gemm, "block_k"), 128);
  EXPECT_EQ(IntAttr(gemm, "a_block"), 128);
  EXPECT_EQ(IntAttr(gemm, "out_type"), 1);
  // The weight: transposed once to [N, K], the original removed.
  EXPECT_EQ(FindInit(g, "W"), nullptr);
  const auto want = QuantizeTransposed(w, K, N, 128, 128);
  ASSERT_NE(FindInit(g, "W_fp8"), nullptr);
  ExpectTensorIs(*FindInit(g, "W_fp8"), 17, {N, K}, want.codes.data(), want.codes.size());
  ASSERT_NE(FindInit(g, "W_fp8_scale"), nullptr);
  ExpectTensorIs(*FindInit(g, "W_fp8_scale"), 1, {2, 3}, want.scales.data(),
                 want.scales.size() * 4);
  // Model-level: IR 9, fp8ops opset added next to the original one; inputs, outputs, value_info
  // kept.
  EXPECT_EQ(m.ir_version(), 9);
  ASSERT_EQ(m.opset_import_size(), 2);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  EXPECT_EQ(m.opset_import(1).domain(), "fp8ops");
  EXPECT_EQ(m.opset_import(1).version(), 1);
  ASSERT_EQ(g.input_size(), 1);
  EXPECT_EQ(g.input(0).name(), "x");
  ASSERT_EQ(g.output_size(), 1);
  EXPECT_EQ(g.output(0).type().tensor_type().shape().dim(2).dim_value(), N);
  ASSERT_EQ(g.value_info_size(), 1);
  // Report.
  ASSERT_EQ(report->nodes.size(), 1u);
  const auto& n = report->nodes[0];
  EXPECT_EQ(n.action, NodeReport::Action::kRewritten);
  EXPECT_EQ(n.k, K);
  EXPECT_EQ(n.n, N);
  EXPECT_EQ(n.bytes_before, K * N * 4);
  EXPECT_EQ(n.bytes_after, K * N + 6 * 4);
  EXPECT_EQ(n.activation_shape, (std::vector<std::string>{"d0", "3", "300"}));
  EXPECT_GT(n.weight_rel_rms, 0.005);
  EXPECT_LT(n.weight_rel_rms, 0.05);
  EXPECT_NEAR(n.weight_sqnr_db, -20 * std::log10(n.weight_rel_rms), 1e-9);
  EXPECT_EQ(report->totals.weight_bytes_before, K * N * 4);
  EXPECT_EQ(report->totals.weight_bytes_after, K * N + 24);
  EXPECT_EQ(report->totals.fp8_bytes_after, K * N);
}

TEST(Rewrite, ReportedErrorIsTheDequantizationError) {
  const int64_t K = 200, N = 70;
  const auto w = RandomFloats(K * N, 2);
  auto m = SingleMatMul(K, N, w);
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  const auto want = QuantizeTransposed(w, K, N, 128, 128);
  const float* table = Fp8DecodeTable(Fp8Format::kE4M3FN);
  double s2 = 0, e2 = 0;
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < K; ++k) {
      const float x = w[k * N + n];
      const float d = table[want.codes[n * K + k]] * want.scales[(n / 128) * 2 + k / 128];
      s2 += double(x) * x;
      e2 += double(x - d) * (x - d);
    }
  }
  EXPECT_NEAR(report->nodes[0].weight_rel_rms, std::sqrt(e2 / s2), 1e-6);
}

TEST(Rewrite, WeightOnlyFeedsFloatActivations) {
  const auto w = RandomFloats(64 * 48, 3);
  auto m = SingleMatMul(64, 48, w);
  RewriteOptions o;
  o.recipe = RewriteRecipe::kWeightOnly;
  ASSERT_TRUE(RewriteModel(m, o).ok());
  ASSERT_EQ(m.graph().node_size(), 1);
  const auto& g = m.graph().node(0);
  EXPECT_EQ(g.op_type(), "FP8GEMM");
  EXPECT_EQ(g.input(0), "x");
  EXPECT_EQ(g.input(1), "");  // no A_scale in weight-only mode
  EXPECT_EQ(IntAttr(g, "a_block"), -999);
}

TEST(Rewrite, ConstantNodeWeightIsQuantizedAndRemoved) {
  const int64_t K = 40, N = 24;
  const auto w = RandomFloats(K * N, 4);
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, K});
  auto* c = AddNode(m, "Constant", {}, {"Wc"}, {}, "", "const_w");
  auto* a = c->add_attribute();
  a->set_name("value");
  a->set_type(onnx::AttributeProto::TENSOR);
  *a->mutable_t() = testing::MakeTensor("", 1, {K, N}, w.data(), w.size() * 4);
  AddNode(m, "MatMul", {"x", "Wc"}, {"y"}, {}, "", "mm");
  AddOutput(m, "y");
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(FindNode(m.graph(), "Constant"), nullptr);
  const auto want = QuantizeTransposed(w, K, N, 128, 128);
  ASSERT_NE(FindInit(m.graph(), "Wc_fp8"), nullptr);
  ExpectTensorIs(*FindInit(m.graph(), "Wc_fp8"), 17, {N, K}, want.codes.data(), want.codes.size());
}

TEST(Rewrite, GemmTransB1FoldsAlphaAndUsesCAsBias) {
  const int64_t K = 150, N = 20;
  const auto w = RandomFloats(N * K, 5);  // [N, K]
  auto m = BaseModel();
  AddInput(m, "x", 1, {3, K});
  AddInitializer(m, "W", 1, {N, K}, w);
  AddInitializer(m, "C", 1, {N}, RandomFloats(N, 6));
  AddNode(m, "Gemm", {"x", "W", "C"}, {"y"}, {Attr::Int("transB", 1), Attr::Float("alpha", 0.25f)},
          "", "g");
  AddOutput(m, "y");
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  const auto* g = FindNode(m.graph(), "FP8GEMM");
  ASSERT_NE(g, nullptr);
  ASSERT_EQ(g->input_size(), 5);
  EXPECT_EQ(g->input(4), "C");
  ASSERT_NE(FindInit(m.graph(), "C"), nullptr);  // still used, as the bias
  const auto want =
      QuantizeTransposed(w, K, N, 128, 128, Fp8Format::kE4M3FN, 0.25f, /*transpose=*/false);
  ExpectTensorIs(*FindInit(m.graph(), "W_fp8"), 17, {N, K}, want.codes.data(), want.codes.size());
  ExpectTensorIs(*FindInit(m.graph(), "W_fp8_scale"), 1, {1, 2}, want.scales.data(),
                 want.scales.size() * 4);
}

TEST(Rewrite, GemmTransB0IsTransposed) {
  const int64_t K = 33, N = 17;
  const auto w = RandomFloats(K * N, 7);
  auto m = BaseModel();
  AddInput(m, "x", 1, {3, K});
  AddInitializer(m, "W", 1, {K, N}, w);
  AddNode(m, "Gemm", {"x", "W"}, {"y"}, {}, "", "g");
  AddOutput(m, "y");
  ASSERT_TRUE(RewriteModel(m, {}).ok());
  const auto want = QuantizeTransposed(w, K, N, 128, 128);
  ExpectTensorIs(*FindInit(m.graph(), "W_fp8"), 17, {N, K}, want.codes.data(), want.codes.size());
  EXPECT_EQ(FindNode(m.graph(), "FP8GEMM")->input_size(), 4);
}

TEST(Rewrite, GemmSkipReasons) {
  const int64_t K = 16, N = 8;
  auto m = BaseModel();
  AddInput(m, "x", 1, {K, K});
  AddInput(m, "cin", 1, {N});
  AddInitializer(m, "W", 1, {K, N}, RandomFloats(K * N, 8));
  AddInitializer(m, "C", 1, {N}, RandomFloats(N, 9));
  AddInitializer(m, "C2", 1, {1, N}, RandomFloats(N, 10));
  AddNode(m, "Gemm", {"x", "W"}, {"y1"}, {Attr::Int("transA", 1)}, "", "trans_a");
  AddNode(m, "Gemm", {"x", "W", "C"}, {"y2"}, {Attr::Float("beta", 0.5f)}, "", "beta");
  AddNode(m, "Gemm", {"x", "W", "C2"}, {"y3"}, {}, "", "c_2d");
  AddNode(m, "Gemm", {"x", "W", "cin"}, {"y4"}, {}, "", "c_input");
  AddNode(m, "Gemm", {"x", "W"}, {"y5"}, {Attr::Float("alpha", 0.0f)}, "", "alpha0");
  for (const char* y : {"y1", "y2", "y3", "y4", "y5"}) AddOutput(m, y);
  const std::string before = testing::Serialize(m);
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(testing::Serialize(m), before);  // nothing changed
  EXPECT_NE(FindReport(*report, "trans_a")->reason.find("transA"), std::string::npos);
  EXPECT_NE(FindReport(*report, "beta")->reason.find("beta=0.5"), std::string::npos);
  EXPECT_NE(FindReport(*report, "c_2d")->reason.find("C has shape [1,8]"), std::string::npos);
  EXPECT_NE(FindReport(*report, "c_input")->reason.find("C is not a constant"), std::string::npos);
  EXPECT_NE(FindReport(*report, "alpha0")->reason.find("alpha=0"), std::string::npos);
}

TEST(Rewrite, SkipReasonsAndOthersUntouched) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  AddInput(m, "Wover", 1, {16, 16});
  AddInput(m, "a3", 1, {2, 16, 16});
  AddInitializer(m, "Wover", 1, {16, 16},
                 RandomFloats(256, 11));  // initializer that is also an input
  AddInitializer(m, "W3", 1, {2, 16, 16}, RandomFloats(512, 12));
  AddInitializer(m, "Wi8", 3, {16, 16}, std::vector<int8_t>(256, 3));
  AddInitializer(m, "Wd", 11, {16, 16}, std::vector<double>(256, 0.5));
  AddInitializer(m, "Wsmall", 1, {16, 4}, RandomFloats(64, 13));
  AddInitializer(m, "Wex", 1, {16, 16}, RandomFloats(256, 14));
  AddInitializer(m, "Wa", 1, {2, 16}, RandomFloats(32, 15));
  AddNode(m, "MatMul", {"x", "x"}, {"y_aa"}, {}, "", "act_x_act");
  AddNode(m, "MatMul", {"Wa", "x"}, {"y_ca"}, {}, "", "const_a");
  AddNode(m, "MatMul", {"x", "Wover"}, {"y_over"}, {}, "", "overridable");
  AddNode(m, "MatMul", {"a3", "W3"}, {"y_3d"}, {}, "", "three_d");
  AddNode(m, "MatMul", {"x", "Wd"}, {"y_d"}, {}, "", "double_w");
  AddNode(m, "MatMulInteger", {"x", "Wi8"}, {"y_i8"}, {}, "",
          "int8");  // not a MatMul: not reported
  AddNode(m, "MatMul", {"x", "Wsmall"}, {"y_small"}, {}, "", "small");
  AddNode(m, "MatMul", {"x", "Wex"}, {"y_ex"}, {}, "", "skip_me");
  for (const char* y : {"y_aa", "y_ca", "y_over", "y_3d", "y_d", "y_i8", "y_small", "y_ex"})
    AddOutput(m, y);
  RewriteOptions o;
  o.min_elements = 65;
  o.exclude_regex = "skip_";
  const std::string before = testing::Serialize(m);
  auto report = RewriteModel(m, o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(testing::Serialize(m), before);
  EXPECT_EQ(report->nodes.size(), 7u);
  auto reason = [&](const char* n) { return FindReport(*report, n)->reason; };
  EXPECT_NE(reason("act_x_act").find("activation x activation"), std::string::npos);
  EXPECT_NE(reason("const_a").find("input A"), std::string::npos);
  EXPECT_NE(reason("overridable").find("graph input"), std::string::npos);
  EXPECT_NE(reason("three_d").find("3-D"), std::string::npos);
  EXPECT_NE(reason("double_w").find("unsupported weight dtype DOUBLE"), std::string::npos);
  EXPECT_NE(reason("small").find("too small: 64 elements < --min-elements 65"), std::string::npos);
  EXPECT_NE(reason("skip_me").find("excluded by the user"), std::string::npos);
  EXPECT_EQ(report->totals.nodes_skipped, 7);
}

TEST(Rewrite, IncludeSelectsByName) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  AddInitializer(m, "W1", 1, {16, 16}, RandomFloats(256, 16));
  AddInitializer(m, "W2", 1, {16, 16}, RandomFloats(256, 17));
  AddNode(m, "MatMul", {"x", "W1"}, {"y1"}, {}, "", "/layers.0/mlp/up");
  AddNode(m, "MatMul", {"x", "W2"}, {"y2"}, {}, "", "/layers.0/attn/q");
  AddOutput(m, "y1");
  AddOutput(m, "y2");
  RewriteOptions o;
  o.include_regex = "/mlp/";
  auto report = RewriteModel(m, o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(FindReport(*report, "/layers.0/mlp/up")->action, NodeReport::Action::kRewritten);
  EXPECT_NE(FindReport(*report, "/layers.0/attn/q")->reason.find("--include"), std::string::npos);
}

TEST(Rewrite, KeepLastLeavesTheFinalProjection) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  AddInitializer(m, "W1", 1, {16, 16}, RandomFloats(256, 18));
  AddInitializer(m, "Wk", 1, {16, 16}, RandomFloats(256, 19));
  AddInitializer(m, "Wlm", 1, {16, 32}, RandomFloats(512, 20));
  AddNode(m, "MatMul", {"x", "W1"}, {"h"}, {}, "", "proj");
  AddNode(m, "MatMul", {"h", "Wk"}, {"kv"}, {}, "", "k_proj");  // feeds an output through Transpose
  AddNode(m, "Transpose", {"kv"}, {"present"}, {}, "", "t");
  AddNode(m, "Relu", {"h"}, {"r"}, {}, "", "relu");
  AddNode(m, "MatMul", {"r", "Wlm"}, {"lm"}, {}, "", "lm_head");
  AddNode(m, "Softmax", {"lm"}, {"probs"}, {}, "", "softmax");
  AddOutput(m, "present");
  AddOutput(m, "probs");
  RewriteOptions o;
  o.keep_last = true;
  auto report = RewriteModel(m, o);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_NE(FindReport(*report, "lm_head")->reason.find("--keep-last"), std::string::npos);
  EXPECT_EQ(FindReport(*report, "k_proj")->action, NodeReport::Action::kRewritten);
  EXPECT_EQ(FindReport(*report, "proj")->action, NodeReport::Action::kRewritten);
  ASSERT_NE(FindInit(m.graph(), "Wlm"), nullptr);
}

TEST(Rewrite, SharedWeightQuantizedOnceAndKeptWhileUsed) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  AddInput(m, "ids", 7, {2});
  AddInitializer(m, "W", 1, {16, 16}, RandomFloats(256, 21));
  AddInitializer(m, "E", 1, {16, 16}, RandomFloats(256, 22));
  AddNode(m, "MatMul", {"x", "W"}, {"a"}, {}, "", "mm1");
  AddNode(m, "MatMul", {"a", "W"}, {"b"}, {}, "", "mm2");
  AddNode(m, "Gather", {"E", "ids"}, {"e"}, {}, "", "gather");
  AddNode(m, "MatMul", {"b", "E"}, {"c"}, {}, "", "mm3");
  AddOutput(m, "c");
  AddOutput(m, "e");
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  int w_fp8 = 0;
  for (const auto& t : m.graph().initializer()) w_fp8 += t.name().rfind("W_fp8", 0) == 0;
  EXPECT_EQ(w_fp8, 2);  // W_fp8 and W_fp8_scale, once
  EXPECT_EQ(FindInit(m.graph(), "W"), nullptr);
  ASSERT_NE(FindInit(m.graph(), "E"), nullptr);  // still used by Gather
  ASSERT_NE(FindInit(m.graph(), "E_fp8"), nullptr);
  EXPECT_EQ(FindNode(m.graph(), "FP8GEMM", 0)->input(2), "W_fp8");
  EXPECT_EQ(FindNode(m.graph(), "FP8GEMM", 1)->input(2), "W_fp8");
  EXPECT_FALSE(FindReport(*report, "mm1")->shared);
  EXPECT_TRUE(FindReport(*report, "mm2")->shared);
  EXPECT_EQ(report->totals.weights_quantized, 2);
}

TEST(Rewrite, ActivationQuantizedOnceForSeveralConsumers) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  for (const char* w : {"Wq", "Wk", "Wv"})
    AddInitializer(m, w, 1, {16, 16}, RandomFloats(256, w[1]));
  AddNode(m, "MatMul", {"x", "Wq"}, {"q"}, {}, "", "q_proj");
  AddNode(m, "MatMul", {"x", "Wk"}, {"k"}, {}, "", "k_proj");
  AddNode(m, "MatMul", {"x", "Wv"}, {"v"}, {}, "", "v_proj");
  for (const char* y : {"q", "k", "v"}) AddOutput(m, y);
  ASSERT_TRUE(RewriteModel(m, {}).ok());
  ASSERT_EQ(m.graph().node_size(), 4);
  EXPECT_EQ(m.graph().node(0).op_type(), "QuantizeFP8");
  for (int i = 1; i < 4; ++i) EXPECT_EQ(m.graph().node(i).input(0), m.graph().node(0).output(0));
}

// --fuse-activation-quant: a projection that alone reads its activation quantizes it itself; an
// activation read by several projections keeps its one QuantizeFP8.
TEST(Rewrite, FusedActivationQuantizationOnlyForSingleReaders) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  for (const char* w : {"Wq", "Wk", "Wo"})
    AddInitializer(m, w, 1, {16, 16}, RandomFloats(256, w[1]));
  AddNode(m, "MatMul", {"x", "Wq"}, {"q"}, {}, "", "q_proj");
  AddNode(m, "MatMul", {"x", "Wk"}, {"k"}, {}, "", "k_proj");
  AddNode(m, "Add", {"q", "k"}, {"h"}, {}, "", "add");
  AddNode(m, "MatMul", {"h", "Wo"}, {"o"}, {}, "", "o_proj");
  AddOutput(m, "o");
  RewriteOptions o;
  o.fuse_activation_quant = true;
  o.activation_format = Fp8Format::kE5M2;
  o.block_k = 64;
  o.activation_block = 64;
  auto report = RewriteModel(m, o);
  ASSERT_TRUE(report.ok()) << report.status();
  int quantize_nodes = 0;
  for (const auto& n : m.graph().node()) quantize_nodes += n.op_type() == "QuantizeFP8";
  EXPECT_EQ(quantize_nodes, 1);  // x's, shared by q_proj and k_proj
  for (int i = 0; i < 2; ++i) {
    const auto* n = FindNode(m.graph(), "FP8GEMM", i);
    ASSERT_NE(n, nullptr);
    EXPECT_NE(n->input(0), "x");
    EXPECT_NE(n->input(1), "");
    EXPECT_EQ(IntAttr(*n, "a_quant_type"), -999);
  }
  const auto* fused = FindNode(m.graph(), "FP8GEMM", 2);
  ASSERT_NE(fused, nullptr);
  EXPECT_EQ(fused->name(), "o_proj");
  EXPECT_EQ(fused->input(0), "h");
  EXPECT_EQ(fused->input(1), "");  // no A_scale
  EXPECT_EQ(IntAttr(*fused, "a_quant_type"), 19);
  EXPECT_EQ(IntAttr(*fused, "a_block"), 64);
  EXPECT_EQ(FindReport(*report, "q_proj")->recipe, "w8a8");
  EXPECT_EQ(FindReport(*report, "o_proj")->recipe, "w8a8-fused");
  EXPECT_EQ(FindReport(*report, "o_proj")->activation_format, "E5M2");
  // Without the option: no a_quant_type attribute.
  auto m2 = SingleMatMul(16, 8, RandomFloats(128, 3));
  ASSERT_TRUE(RewriteModel(m2, {}).ok());
  EXPECT_EQ(IntAttr(*FindNode(m2.graph(), "FP8GEMM"), "a_quant_type"), -999);
  // Weight-only has no activation quantization to fuse.
  o.recipe = RewriteRecipe::kWeightOnly;
  EXPECT_FALSE(ValidateRewriteOptions(o).ok());
}

TEST(Rewrite, Float16AndBfloat16Weights) {
  const int64_t K = 130, N = 129;
  const auto w = RandomFloats(K * N, 23, 0.1f);
  for (int32_t type : {10, 16}) {
    std::vector<uint16_t> bits(w.size());
    std::vector<float> as_float(w.size());
    for (size_t i = 0; i < w.size(); ++i) {
      bits[i] = type == 10 ? FloatToHalf(w[i]) : FloatToBf16(w[i]);
      as_float[i] = type == 10 ? HalfToFloat(bits[i]) : Bf16ToFloat(bits[i]);
    }
    auto m = BaseModel();
    AddInput(m, "x", type, {2, K});
    AddInitializer(m, "W", type, {K, N}, bits);
    AddNode(m, "MatMul", {"x", "W"}, {"y"}, {}, "", "mm");
    AddOutput(m, "y");
    ASSERT_TRUE(RewriteModel(m, {}).ok());
    const auto want = QuantizeTransposed(as_float, K, N, 128, 128);
    ExpectTensorIs(*FindInit(m.graph(), "W_fp8"), 17, {N, K}, want.codes.data(), want.codes.size());
    ExpectTensorIs(*FindInit(m.graph(), "W_fp8_scale"), 1, {2, 2}, want.scales.data(),
                   want.scales.size() * 4);
    EXPECT_EQ(IntAttr(*FindNode(m.graph(), "FP8GEMM"), "out_type"), type);
  }
}

TEST(Rewrite, TypedFieldWeights) {
  // FLOAT in float_data and FLOAT16 in int32_data (as some exporters write them).
  const int64_t K = 20, N = 12;
  const auto w = RandomFloats(K * N, 24);
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, K});
  AddInput(m, "xh", 10, {2, K});
  auto* t = m.mutable_graph()->add_initializer();
  t->set_name("Wf");
  t->set_data_type(1);
  t->add_dims(K);
  t->add_dims(N);
  for (float v : w) t->add_float_data(v);
  auto* h = m.mutable_graph()->add_initializer();
  h->set_name("Wh");
  h->set_data_type(10);
  h->add_dims(K);
  h->add_dims(N);
  std::vector<float> hf(w.size());
  for (size_t i = 0; i < w.size(); ++i) {
    h->add_int32_data(FloatToHalf(w[i]));
    hf[i] = HalfToFloat(FloatToHalf(w[i]));
  }
  AddNode(m, "MatMul", {"x", "Wf"}, {"y"}, {}, "", "mf");
  AddNode(m, "MatMul", {"xh", "Wh"}, {"yh"}, {}, "", "mh");
  AddOutput(m, "y");
  AddOutput(m, "yh");
  ASSERT_TRUE(RewriteModel(m, {}).ok());
  const auto wf = QuantizeTransposed(w, K, N, 128, 128);
  const auto wh = QuantizeTransposed(hf, K, N, 128, 128);
  ExpectTensorIs(*FindInit(m.graph(), "Wf_fp8"), 17, {N, K}, wf.codes.data(), wf.codes.size());
  ExpectTensorIs(*FindInit(m.graph(), "Wh_fp8"), 17, {N, K}, wh.codes.data(), wh.codes.size());
}

TEST(Rewrite, BlockLayoutsAndFormats) {
  const int64_t K = 260, N = 140;
  const auto w = RandomFloats(K * N, 25);
  struct Case {
    int64_t bn, bk, act;
    Fp8Format f;
  } cases[] = {{0, 0, 0, Fp8Format::kE4M3FN},
               {1, 0, 128, Fp8Format::kE4M3FN},
               {1, 128, 128, Fp8Format::kE5M2},
               {128, 128, 128, Fp8Format::kE5M2},
               {64, 32, 32, Fp8Format::kE4M3FN}};
  for (const auto& c : cases) {
    auto m = SingleMatMul(K, N, w);
    RewriteOptions o;
    o.block_n = c.bn;
    o.block_k = c.bk;
    o.activation_block = c.act;
    o.weight_format = c.f;
    o.activation_format = Fp8Format::kE5M2;
    ASSERT_TRUE(RewriteModel(m, o).ok());
    const auto want = QuantizeTransposed(w, K, N, c.bn, c.bk, c.f);
    const int64_t sn = NumBlocks(N, c.bn), sk = NumBlocks(K, c.bk);
    ExpectTensorIs(*FindInit(m.graph(), "W_fp8"), static_cast<int32_t>(c.f), {N, K},
                   want.codes.data(), want.codes.size());
    ExpectTensorIs(*FindInit(m.graph(), "W_fp8_scale"), 1, {sn, sk}, want.scales.data(),
                   want.scales.size() * 4);
    const auto* g = FindNode(m.graph(), "FP8GEMM");
    EXPECT_EQ(IntAttr(*g, "block_n"), c.bn);
    EXPECT_EQ(IntAttr(*g, "block_k"), c.bk);
    EXPECT_EQ(IntAttr(*g, "a_block"), c.act);
    const auto* q = FindNode(m.graph(), "QuantizeFP8");
    EXPECT_EQ(IntAttr(*q, "block_size"), c.act);
    EXPECT_EQ(IntAttr(*q, "fp8_type"), 19);
  }
}

onnx::GraphProto* AddSubgraph(onnx::NodeProto* n, const std::string& attr) {
  auto* a = n->add_attribute();
  a->set_name(attr);
  a->set_type(onnx::AttributeProto::GRAPH);
  a->mutable_g()->set_name(attr);
  return a->mutable_g();
}

TEST(Rewrite, SubgraphsWithOuterScopeWeightsAndNestedLoop) {
  auto m = BaseModel();
  AddInput(m, "x", 1, {2, 16});
  AddInput(m, "cond", 9, {});
  AddInitializer(m, "W_outer", 1, {16, 16}, RandomFloats(256, 26));
  auto* iff = AddNode(m, "If", {"cond"}, {"y"}, {}, "", "if");
  auto* then_g = AddSubgraph(iff, "then_branch");
  {
    auto* n = then_g->add_node();
    n->set_op_type("MatMul");
    n->set_name("then_mm");
    n->add_input("x");
    n->add_input("W_outer");
    n->add_output("ty");
    testing::AddValueInfo(then_g->add_output(), "ty", 1, {2, 16});
  }
  auto* else_g = AddSubgraph(iff, "else_branch");
  {
    auto* t = else_g->add_initializer();
    const auto w = RandomFloats(256, 27);
    *t = testing::MakeTensor("W_inner", 1, {16, 16}, w.data(), w.size() * 4);
    // A Loop inside the else branch whose body uses W_inner (two scopes up) and W_outer.
    auto* loop = else_g->add_node();
    loop->set_op_type("Loop");
    loop->set_name("loop");
    loop->add_input("");
    loop->add_input("");
    loop->add_input("x");
    loop->add_output("ly");
    auto* body = AddSubgraph(loop, "body");
    testing::AddValueInfo(body->add_input(), "i", 7, {});
    testing::AddValueInfo(body->add_input(), "c", 9, {});
    testing::AddValueInfo(body->add_input(), "h", 1, {2, 16});
    for (auto [in, w, out, name] : {std::tuple{"h", "W_inner", "h1", "body_mm1"},
                                    std::tuple{"h1", "W_outer", "h2", "body_mm2"}}) {
      auto* n = body->add_node();
      n->set_op_type("MatMul");
      n->set_name(name);
      n->add_input(in);
      n->add_input(w);
      n->add_output(out);
    }
    auto* id = body->add_node();
    id->set_op_type("Identity");
    id->add_input("c");
    id->add_output("c_out");
    testing::AddValueInfo(body->add_output(), "c_out", 9, {});
    testing::AddValueInfo(body->add_output(), "h2", 1, {2, 16});
    testing::AddValueInfo(else_g->add_output(), "ly", 1, {2, 16});
  }
  AddOutput(m, "y");
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->totals.nodes_rewritten, 3);
  EXPECT_EQ(report->totals.weights_quantized, 2);
  // W_outer's FP8 copy lives in the main graph (visible to every branch); W_inner's in the branch.
  EXPECT_EQ(FindInit(m.graph(), "W_outer"), nullptr);
  EXPECT_NE(FindInit(m.graph(), "W_outer_fp8"), nullptr);
  const auto& then_after = m.graph().node(0).attribute(0).g();
  const auto& else_after = m.graph().node(0).attribute(1).g();
  EXPECT_EQ(FindInit(else_after, "W_inner"), nullptr);
  EXPECT_NE(FindInit(else_after, "W_inner_fp8"), nullptr);
  EXPECT_EQ(then_after.node(0).op_type(), "QuantizeFP8");  // activation quantized inside the branch
  EXPECT_EQ(then_after.node(1).input(2), "W_outer_fp8");
  const auto& body = else_after.node(0).attribute(0).g();
  ASSERT_EQ(body.node_size(), 5);  // (QuantizeFP8 + FP8GEMM) x 2 + Identity
  EXPECT_EQ(body.node(1).input(2), "W_inner_fp8");
  EXPECT_EQ(body.node(3).input(2), "W_outer_fp8");
  EXPECT_EQ(FindReport(*report, "body_mm1")->graph, "main/if:else_branch/loop:body");
}

TEST(Rewrite, NamesNeverCollide) {
  auto m = SingleMatMul(16, 16, RandomFloats(256, 28));
  AddInitializer(m, "W_fp8", 1, {1},
                 std::vector<float>{1.0f});  // an unrelated tensor with the name
  AddOutput(m, "W_fp8");
  ASSERT_TRUE(RewriteModel(m, {}).ok());
  EXPECT_EQ(FindNode(m.graph(), "FP8GEMM")->input(2), "W_fp8_1");
  EXPECT_EQ(FindInit(m.graph(), "W_fp8")->data_type(), 1);
}

TEST(Rewrite, SecondRewriteChangesNothing) {
  auto m = SingleMatMul(300, 130, RandomFloats(300 * 130, 29));
  ASSERT_TRUE(RewriteModel(m, {}).ok());
  const std::string once = testing::Serialize(m);
  auto again = RewriteModel(m, {});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(testing::Serialize(m), once);
  EXPECT_EQ(again->totals.nodes_rewritten, 0);
  EXPECT_EQ(again->totals.nodes_already_fp8, 1);
}

TEST(Rewrite, InspectPredictsWithoutChanging) {
  auto m = SingleMatMul(300, 130, RandomFloats(300 * 130, 30));
  const std::string before = testing::Serialize(m);
  auto inspect = InspectModel(m, {});
  ASSERT_TRUE(inspect.ok()) << inspect.status();
  EXPECT_EQ(testing::Serialize(m), before);
  EXPECT_TRUE(inspect->dry_run);
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(inspect->totals.weight_bytes_after, report->totals.weight_bytes_after);
  EXPECT_EQ(inspect->totals.fp8_bytes_after, report->totals.fp8_bytes_after);
  EXPECT_EQ(inspect->nodes[0].bytes_after, report->nodes[0].bytes_after);
  EXPECT_LT(inspect->nodes[0].weight_rel_rms, 0);  // not computed by inspect
}

TEST(Rewrite, ErrorsNameTheNodeAndLeaveTheModelAsItWas) {
  auto expect_error = [](onnx::ModelProto m, const std::string& want) {
    const std::string before = testing::Serialize(m);
    auto r = RewriteModel(m, {});
    ASSERT_FALSE(r.ok()) << want;
    EXPECT_NE(r.status().message().find(want), std::string::npos) << r.status();
    EXPECT_NE(r.status().message().find("'mm'"), std::string::npos) << r.status();
    EXPECT_EQ(r.status().message().find('\n'), std::string::npos);
    EXPECT_EQ(testing::Serialize(m), before);
  };
  {  // missing initializer
    auto m = BaseModel();
    AddInput(m, "x", 1, {2, 4});
    AddNode(m, "MatMul", {"x", "W"}, {"y"}, {}, "", "mm");
    AddOutput(m, "y");
    expect_error(m, "input 'W' is not defined");
  }
  {  // raw data shorter than the dims
    auto m = SingleMatMul(8, 8, RandomFloats(64, 31));
    m.mutable_graph()->mutable_initializer(0)->mutable_raw_data()->resize(100);
    expect_error(m, "holds 100 bytes of raw data but its dims [8,8] of FLOAT need 256");
  }
  {  // overflowing dims
    auto m = SingleMatMul(8, 8, RandomFloats(64, 32));
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, int64_t{1} << 40);
    m.mutable_graph()->mutable_initializer(0)->set_dims(1, int64_t{1} << 40);
    expect_error(m, "overflows");
  }
  {  // negative dims
    auto m = SingleMatMul(8, 8, RandomFloats(64, 33));
    m.mutable_graph()->mutable_initializer(0)->set_dims(0, -8);
    expect_error(m, "negative dimension");
  }
  {  // a data type ONNX does not define
    auto m = SingleMatMul(8, 8, RandomFloats(64, 34));
    m.mutable_graph()->mutable_initializer(0)->set_data_type(99);
    expect_error(m, "unsupported data type 99");
  }
  {  // external data without a folder to read it from
    auto m = SingleMatMul(8, 8, RandomFloats(64, 35));
    auto* t = m.mutable_graph()->mutable_initializer(0);
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto_DataLocation_EXTERNAL);
    auto* e = t->add_external_data();
    e->set_key("location");
    e->set_value("w.bin");
    expect_error(m, "external data");
  }
}

TEST(Rewrite, OptionValidationAndParsing) {
  RewriteOptions o;
  o.activation_block = 64;  // != block_k 128
  EXPECT_FALSE(ValidateRewriteOptions(o).ok());
  o.recipe = RewriteRecipe::kWeightOnly;  // a_block unused
  EXPECT_TRUE(ValidateRewriteOptions(o).ok());
  o = {};
  o.include_regex = "([";
  EXPECT_FALSE(ValidateRewriteOptions(o).ok());
  auto m = SingleMatMul(8, 8, RandomFloats(64, 36));
  EXPECT_FALSE(RewriteModel(m, o).ok());

  int64_t bn = -1, bk = -1, a = -1;
  ASSERT_TRUE(ParseWeightBlock("tensor", &bn, &bk).ok());
  EXPECT_EQ(std::make_pair(bn, bk), std::make_pair(int64_t{0}, int64_t{0}));
  ASSERT_TRUE(ParseWeightBlock("channel", &bn, &bk).ok());
  EXPECT_EQ(std::make_pair(bn, bk), std::make_pair(int64_t{1}, int64_t{0}));
  ASSERT_TRUE(ParseWeightBlock("1x128", &bn, &bk).ok());
  EXPECT_EQ(std::make_pair(bn, bk), std::make_pair(int64_t{1}, int64_t{128}));
  EXPECT_FALSE(ParseWeightBlock("128", &bn, &bk).ok());
  EXPECT_FALSE(ParseWeightBlock("-1x3", &bn, &bk).ok());
  ASSERT_TRUE(ParseActivationBlock("row", &a).ok());
  EXPECT_EQ(a, 0);
  EXPECT_FALSE(ParseActivationBlock("0", &a).ok());
  Fp8Format f;
  ASSERT_TRUE(ParseFp8FormatName("E5M2", &f).ok());
  EXPECT_EQ(f, Fp8Format::kE5M2);
  EXPECT_FALSE(ParseFp8FormatName("e3m4", &f).ok());
  RewriteRecipe r;
  ASSERT_TRUE(ParseRecipe("weight-only", &r).ok());
  EXPECT_EQ(r, RewriteRecipe::kWeightOnly);
}

TEST(Rewrite, JsonAndTableReports) {
  auto m = SingleMatMul(64, 32, RandomFloats(64 * 32, 37));
  AddNode(m, "MatMul", {"x", "x"}, {"z"}, {}, "", "aa\"quote");
  auto report = RewriteModel(m, {});
  ASSERT_TRUE(report.ok());
  const std::string j = ReportToJson(*report);
  EXPECT_NE(j.find("\"action\": \"rewritten\""), std::string::npos);
  EXPECT_NE(j.find("\"node\": \"aa\\\"quote\""), std::string::npos);
  EXPECT_NE(j.find("\"weight_sqnr_db\": "), std::string::npos);
  EXPECT_NE(j.find("\"fp8_share\": "), std::string::npos);
  const std::string t = ReportToTable(*report);
  EXPECT_NE(t.find("activation x activation"), std::string::npos);
  EXPECT_NE(t.find("rewritten: 1 node(s)"), std::string::npos);
}

}  // namespace
}  // namespace fp8ops
