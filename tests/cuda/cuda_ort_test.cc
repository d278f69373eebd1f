// The plugin's CUDA kernels inside ONNX Runtime's CUDAExecutionProvider: the same models run in a
// CPU session and in a CUDA session with CPU fallback disabled (so every node must have been
// placed on the CUDA EP), and the outputs and error messages agree. Skips, with a message, when
// there is no GPU or ONNX Runtime's CUDA provider library cannot be loaded.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>
#include <onnxruntime_cxx_api.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "tests/common/model_builder.h"

namespace fp8ops {
namespace {

using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

Ort::Env& Env() {
  static Ort::Env env(ORT_LOGGING_LEVEL_WARNING, "fp8ops_cuda_ort_test");
  return env;
}

std::string NoGpuReason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess || prop.major * 10 + prop.minor < 89) {
    return "GPU older than sm_89 (no FP8)";
  }
  return "";
}

// Why a CUDA session cannot be made here (no GPU, no CUDA provider library); empty if it can.
std::string NoCudaEpReason() {
  static const std::string why = [] {
    std::string r = NoGpuReason();
    if (!r.empty()) return r;
    Env();  // the provider's loader logs through the environment's logger
    try {
      Ort::SessionOptions so;
      OrtCUDAProviderOptions cuda{};
      so.AppendExecutionProvider_CUDA(cuda);
    } catch (const Ort::Exception& e) {
      return std::string("ONNX Runtime's CUDA execution provider is not available: ") + e.what();
    }
    return std::string();
  }();
  return why;
}

struct Tensor {
  ONNXTensorElementDataType type;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

// Runs `model` in a CPU or CUDA session; returns the outputs, or the error message in *error.
std::vector<Tensor> RunModel(const std::string& model, bool cuda, const std::vector<std::pair<std::string, Tensor>>& in,
                             std::string* error) {
  std::vector<Tensor> out;
  try {
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(1);
    // FP8OPS_TEST_PLUGIN: the plugin when the binary runs away from its build tree.
    const char* plugin = std::getenv("FP8OPS_TEST_PLUGIN");
    so.RegisterCustomOpsLibrary(plugin != nullptr && *plugin != '\0' ? plugin : FP8OPS_PLUGIN_PATH);
    if (cuda) {
      OrtCUDAProviderOptions opts{};
      so.AppendExecutionProvider_CUDA(opts);
      so.AddConfigEntry("session.disable_cpu_ep_fallback", "1");  // every node on the CUDA EP
    }
    Ort::Session session(Env(), model.data(), model.size(), so);
    Ort::MemoryInfo mem = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
    std::vector<Ort::Value> values;
    std::vector<const char*> names;
    for (const auto& [name, t] : in) {
      names.push_back(name.c_str());
      values.push_back(Ort::Value::CreateTensor(mem, const_cast<uint8_t*>(t.bytes.data()), t.bytes.size(),
                                                t.shape.data(), t.shape.size(), t.type));
    }
    Ort::AllocatorWithDefaultOptions alloc;
    std::vector<std::string> out_names;
    for (size_t i = 0; i < session.GetOutputCount(); ++i) out_names.push_back(session.GetOutputNameAllocated(i, alloc).get());
    std::vector<const char*> out_ptrs;
    for (const auto& n : out_names) out_ptrs.push_back(n.c_str());
    auto results = session.Run(Ort::RunOptions{nullptr}, names.data(), values.data(), values.size(), out_ptrs.data(),
                               out_ptrs.size());
    for (auto& v : results) {
      auto info = v.GetTensorTypeAndShapeInfo();
      Tensor t;
      t.type = info.GetElementType();
      t.shape = info.GetShape();
      size_t esize = t.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT ? 4
                     : (t.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 || t.type == ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16)
                         ? 2
                         : 1;
      t.bytes.resize(info.GetElementCount() * esize);
      if (!t.bytes.empty()) std::memcpy(t.bytes.data(), v.GetTensorRawData(), t.bytes.size());
      out.push_back(std::move(t));
    }
  } catch (const Ort::Exception& e) {
    *error = e.what();
    out.clear();
  }
  return out;
}

Tensor FloatTensor(std::vector<int64_t> shape, DType t, std::mt19937& rng, float scale) {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  std::normal_distribution<float> nd(0.0f, scale);
  std::vector<float> f(static_cast<size_t>(n));
  for (auto& v : f) v = nd(rng);
  Tensor out{static_cast<ONNXTensorElementDataType>(t), std::move(shape), {}};
  out.bytes.resize(f.size() * DTypeSize(t));
  StoreFromFloat(f.data(), n, t, out.bytes.data());
  return out;
}

std::vector<float> AsFloat(const Tensor& t) {
  std::vector<float> f(t.bytes.size() / DTypeSize(static_cast<DType>(t.type)));
  LoadAsFloat(t.bytes.data(), static_cast<DType>(t.type), static_cast<int64_t>(f.size()), f.data());
  return f;
}

// A weight quantized offline as the rewrite does (2-D blocks), added as initializers w, ws.
void AddWeight(onnx::ModelProto& m, int64_t n, int64_t k, int64_t bn, int64_t bk, std::mt19937& rng) {
  std::normal_distribution<float> nd(0.0f, 0.05f);
  std::vector<float> w(static_cast<size_t>(n * k));
  for (auto& v : w) v = nd(rng);
  std::vector<uint8_t> q(w.size());
  std::vector<float> s(static_cast<size_t>(NumBlocks(n, bn) * NumBlocks(k, bk)));
  QuantizeBlocks2D(w.data(), n, k, bn, bk, {}, q.data(), s.data());
  AddInitializer(m, "w", 17, {n, k}, q);
  AddInitializer(m, "ws", 1, {NumBlocks(n, bn), NumBlocks(k, bk)}, s);
}

#define SKIP_WITHOUT_CUDA_EP()                                  \
  do {                                                          \
    const std::string why = NoCudaEpReason();                   \
    if (!why.empty()) GTEST_SKIP() << why;                      \
  } while (0)

// Quantize bit-exact, GEMM within the float32-accumulation bound of the CPU result.
void ExpectSameOutputs(const std::vector<Tensor>& cpu, const std::vector<Tensor>& gpu, size_t gemm_output,
                       double rel_tol) {
  ASSERT_EQ(cpu.size(), gpu.size());
  for (size_t i = 0; i < cpu.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    ASSERT_EQ(cpu[i].type, gpu[i].type);
    ASSERT_EQ(cpu[i].shape, gpu[i].shape);
    if (i != gemm_output) {
      EXPECT_EQ(cpu[i].bytes, gpu[i].bytes);
      continue;
    }
    const auto c = AsFloat(cpu[i]), g = AsFloat(gpu[i]);
    double num = 0, den = 0;
    for (size_t j = 0; j < c.size(); ++j) {
      ASSERT_TRUE(std::isfinite(g[j])) << j;
      num += (c[j] - g[j]) * double(c[j] - g[j]);
      den += double(c[j]) * c[j];
    }
    EXPECT_LE(std::sqrt(num / std::max(den, 1e-30)), rel_tol);
  }
}

TEST(CudaOrt, QuantizeThenGemmMatchesCpuSession) {
  SKIP_WITHOUT_CUDA_EP();
  std::mt19937 rng(1);
  for (auto [m0, k, n] : {std::tuple<int64_t, int64_t, int64_t>{3, 300, 130}, {64, 512, 256}}) {
    SCOPED_TRACE("M=" + std::to_string(2 * m0) + " K=" + std::to_string(k) + " N=" + std::to_string(n));
    auto model = testing::NewModel();
    AddInput(model, "x", 1, {2, -1, k});
    AddWeight(model, n, k, 128, 128, rng);
    Tensor bias = FloatTensor({n}, DType::kBFloat16, rng, 1.0f);
    AddInitializer(model, "bias", 16, {n}, bias.bytes);
    AddNode(model, "QuantizeFP8", {"x"}, {"xq", "xs"}, {}, "fp8ops", "quant");
    AddNode(model, "FP8GEMM", {"xq", "xs", "w", "ws", "bias"}, {"y"}, {Attr::Int("out_type", 16)}, "fp8ops", "gemm");
    AddOutput(model, "xq");
    AddOutput(model, "xs");
    AddOutput(model, "y");
    const std::string bytes = testing::Serialize(model);
    const std::vector<std::pair<std::string, Tensor>> in = {{"x", FloatTensor({2, m0, k}, DType::kFloat, rng, 2.0f)}};
    std::string err;
    const auto cpu = RunModel(bytes, false, in, &err);
    ASSERT_FALSE(cpu.empty()) << err;
    const auto gpu = RunModel(bytes, true, in, &err);
    ASSERT_FALSE(gpu.empty()) << err;
    ExpectSameOutputs(cpu, gpu, 2, 1e-2);
  }
}

TEST(CudaOrt, WeightOnlyGemmAndDequantizeMatchCpuSession) {
  SKIP_WITHOUT_CUDA_EP();
  std::mt19937 rng(2);
  const int64_t k = 256, n = 96;
  auto model = testing::NewModel();
  AddInput(model, "x", 10, {-1, k});
  AddWeight(model, n, k, 128, 128, rng);
  AddNode(model, "FP8GEMM", {"x", "", "w", "ws"}, {"y"}, {Attr::Int("out_type", 10)}, "fp8ops", "gemm");
  AddNode(model, "DequantizeFP8", {"w", "ws"}, {"wd"}, {}, "fp8ops", "deq");
  AddOutput(model, "y");
  AddOutput(model, "wd");
  const std::string bytes = testing::Serialize(model);
  const std::vector<std::pair<std::string, Tensor>> in = {{"x", FloatTensor({5, k}, DType::kFloat16, rng, 1.0f)}};
  std::string err;
  const auto cpu = RunModel(bytes, false, in, &err);
  ASSERT_FALSE(cpu.empty()) << err;
  const auto gpu = RunModel(bytes, true, in, &err);
  ASSERT_FALSE(gpu.empty()) << err;
  ExpectSameOutputs(cpu, gpu, 0, 2e-3);
}

TEST(CudaOrt, BadInputsRejectedWithTheCpuWords) {
  SKIP_WITHOUT_CUDA_EP();
  std::mt19937 rng(3);
  // A static scale that is not > 0 (read on the host by both backends).
  {
    auto model = testing::NewModel();
    AddInput(model, "x", 1, {2, 64});
    AddInput(model, "s", 1, {1});
    AddNode(model, "QuantizeFP8", {"x", "s"}, {"xq", "xs"}, {}, "fp8ops", "quant");
    AddOutput(model, "xq");
    AddOutput(model, "xs");
    const std::string bytes = testing::Serialize(model);
    Tensor s{ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, {1}, std::vector<uint8_t>(4)};
    const float bad = -1.0f;
    std::memcpy(s.bytes.data(), &bad, 4);
    const std::vector<std::pair<std::string, Tensor>> in = {{"x", FloatTensor({2, 64}, DType::kFloat, rng, 1.0f)},
                                                            {"s", s}};
    std::string cpu_err, gpu_err;
    EXPECT_TRUE(RunModel(bytes, false, in, &cpu_err).empty());
    EXPECT_TRUE(RunModel(bytes, true, in, &gpu_err).empty());
    EXPECT_NE(cpu_err.find("fp8ops QuantizeFP8 node 'quant': input scale[0]=-1 must be finite and > 0"),
              std::string::npos)
        << cpu_err;
    EXPECT_NE(gpu_err.find("fp8ops QuantizeFP8 node 'quant': input scale[0]=-1 must be finite and > 0"),
              std::string::npos)
        << gpu_err;
  }
  // A_scale of the wrong shape (a graph input, so the check happens at Run).
  {
    const int64_t k = 256, n = 128;
    auto model = testing::NewModel();
    AddInput(model, "a", 17, {4, k});
    AddInput(model, "as", 1, {4, 3});
    AddWeight(model, n, k, 128, 128, rng);
    AddNode(model, "FP8GEMM", {"a", "as", "w", "ws"}, {"y"}, {}, "fp8ops", "gemm");
    AddOutput(model, "y");
    const std::string bytes = testing::Serialize(model);
    Tensor a{ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN, {4, k}, std::vector<uint8_t>(4 * k, 0x38)};
    Tensor as{ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, {4, 3}, std::vector<uint8_t>(4 * 3 * 4, 0)};
    std::string cpu_err, gpu_err;
    EXPECT_TRUE(RunModel(bytes, false, {{"a", a}, {"as", as}}, &cpu_err).empty());
    EXPECT_TRUE(RunModel(bytes, true, {{"a", a}, {"as", as}}, &gpu_err).empty());
    const std::string want = "fp8ops FP8GEMM node 'gemm': input A_scale has shape [4,3]; expected [4,2]";
    EXPECT_NE(cpu_err.find(want), std::string::npos) << cpu_err;
    EXPECT_NE(gpu_err.find(want), std::string::npos) << gpu_err;
  }
}

}  // namespace
}  // namespace fp8ops
