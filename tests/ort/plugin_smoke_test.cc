// The plugin loads into a real ONNX Runtime session and its output types follow out_type.
#include <gtest/gtest.h>

#include <random>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "host/ort_session.h"
#include "ops/reference/reference_kernels.h"
#include "tests/common/model_builder.h"

namespace fp8ops {
namespace {

using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

TEST(PluginSmoke, QuantizeThenGemmInferOutputTypeFromOutType) {
  const int64_t M = 3, K = 300, N = 130;
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> w(N * K), x(M * K);
  for (auto& v : w) v = dist(rng);
  for (auto& v : x) v = dist(rng);
  std::vector<uint8_t> wq(N * K);
  std::vector<float> ws(NumBlocks(N, 128) * NumBlocks(K, 128));
  QuantizeBlocks2D(w.data(), N, K, 128, 128, {}, wq.data(), ws.data());

  auto m = testing::NewModel();
  AddInput(m, "x", 1, {-1, K});
  AddInitializer(m, "w", 17, {N, K}, wq);
  AddInitializer(m, "ws", 1, {NumBlocks(N, 128), NumBlocks(K, 128)}, ws);
  AddNode(m, "QuantizeFP8", {"x"}, {"xq", "xs"}, {}, "fp8ops", "quant");
  AddNode(m, "FP8GEMM", {"xq", "xs", "w", "ws"}, {"y"}, {Attr::Int("out_type", 10)}, "fp8ops", "gemm");
  AddOutput(m, "y");  // no declared type: ONNX Runtime must infer float16 from out_type

  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  auto session = host::Session::FromBytes(testing::Serialize(m), so);
  ASSERT_TRUE(session.ok()) << session.status();
  auto out = (*session)->Run({{"x", host::HostTensor::From(1, {M, K}, x)}});
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].elem_type, 10);
  EXPECT_EQ((*out)[0].shape, (std::vector<int64_t>{M, N}));

  // Same result as the reference kernels.
  std::vector<uint8_t> xq(M * K);
  std::vector<float> xs(M * NumBlocks(K, 128));
  QuantizeRowGroups(x.data(), M, K, 128, {}, xq.data(), xs.data());
  reference::GemmProblem p;
  p.m = M; p.n = N; p.k = K;
  p.a = xq.data(); p.a_type = DType::kE4M3FN; p.a_scale = xs.data();
  p.b = wq.data(); p.b_scale = ws.data();
  p.out_type = DType::kFloat16;
  std::vector<uint16_t> want(M * N);
  p.y = want.data();
  reference::Fp8Gemm(p, 0, M, 0, N);
  const auto* got = (*out)[0].data<uint16_t>();
  for (int64_t i = 0; i < M * N; ++i) ASSERT_EQ(got[i], want[i]) << i;
}

TEST(PluginSmoke, BadAttributeNamesNodeAndProblem) {
  auto m = testing::NewModel();
  AddInput(m, "x", 1, {2, 8});
  AddNode(m, "QuantizeFP8", {"x"}, {"y", "s"}, {Attr::Int("fp8_type", 5)}, "fp8ops", "my_quant");
  AddOutput(m, "y");
  AddOutput(m, "s");
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  auto session = host::Session::FromBytes(testing::Serialize(m), so);
  ASSERT_FALSE(session.ok());
  EXPECT_NE(session.status().message().find("my_quant"), std::string::npos) << session.status();
  EXPECT_NE(session.status().message().find("fp8_type=5"), std::string::npos) << session.status();
}

}  // namespace
}  // namespace fp8ops
