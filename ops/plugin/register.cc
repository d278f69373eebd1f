// The plugin's only exported symbol: RegisterCustomOps. It adds the `fp8ops` domain (version 1)
// with QuantizeFP8, FP8GEMM and DequantizeFP8 to the session options.
//
// Every callback ONNX Runtime calls is noexcept and turns failures into an OrtStatus naming the
// op and node: no exception crosses the C ABI.
//
// Types: each op declares exactly one input of undefined type (X or A) and its float32 inputs
// concretely; the FP8 and bias inputs of FP8GEMM are covered by one registration per type
// (B: 2 FP8 formats x bias: 3 float types). Output types are set by InferOutputShapeFn from the
// `fp8_type` / `out_type` attributes so ONNX Runtime sees them at load time.
#include <onnxruntime_c_api.h>

#include <exception>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fp8ops/quantize.h"
#include "ops/plugin/cpu_kernels.h"
#include "ops/plugin/ort_glue.h"
#ifdef FP8OPS_WITH_CUDA
#include "ops/cuda/cuda_loader.h"
#endif

namespace fp8ops::plugin {
namespace {

constexpr const char* kDomain = "fp8ops";
constexpr int kMinOrtApiVersion = 17;  // ShapeInferContext, KernelContext_ParallelFor

using IoChar = OrtCustomOpInputOutputCharacteristic;

struct IoSpec {
  ONNXTensorElementDataType type;
  IoChar characteristic;
};

// ---------------------------------------------------------------------------- shape inference

struct ShapeInfo {
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
  std::vector<int64_t> dims;  // -1 where unknown
  std::vector<std::string> symbols;
  bool has_shape = false;
};

absl::StatusOr<ShapeInfo> InferInput(OrtShapeInferContext* ctx, size_t i) {
  const OrtApi& api = Api();
  OrtTensorTypeAndShapeInfo* info = nullptr;  // owned by ctx
  if (auto s = FromOrt(api.ShapeInferContext_GetInputTypeShape(ctx, i, &info)); !s.ok()) return s;
  ShapeInfo out;
  absl::Status st = FromOrt(api.GetTensorElementType(info, &out.type));
  size_t rank = 0;
  if (st.ok()) st = FromOrt(api.GetDimensionsCount(info, &rank));
  if (st.ok()) {
    out.dims.resize(rank);
    st = FromOrt(api.GetDimensions(info, out.dims.data(), rank));
  }
  if (st.ok()) {
    std::vector<const char*> sym(rank, nullptr);
    st = FromOrt(api.GetSymbolicDimensions(info, sym.data(), rank));
    for (const char* s : sym) out.symbols.emplace_back(s ? s : "");
  }
  // NOTE: `info` belongs to the inference context; releasing it is a double free.
  out.has_shape = true;
  if (!st.ok()) return st;
  return out;
}

int64_t InferIntAttr(OrtShapeInferContext* ctx, const char* name, int64_t fallback) {
  const OrtApi& api = Api();
  const OrtOpAttr* attr = nullptr;
  if (OrtStatus* s = api.ShapeInferContext_GetAttribute(ctx, name, &attr)) {
    api.ReleaseStatus(s);
    return fallback;
  }
  if (attr == nullptr) return fallback;
  int64_t v = fallback;
  size_t out = 0;
  if (OrtStatus* s = api.ReadOpAttr(attr, ORT_OP_ATTR_INT, &v, sizeof v, &out)) {
    api.ReleaseStatus(s);
    return fallback;
  }
  return v;
}

absl::Status SetOutput(OrtShapeInferContext* ctx, size_t i, const ShapeInfo& shape) {
  const OrtApi& api = Api();
  OrtTensorTypeAndShapeInfo* info = nullptr;
  if (auto s = FromOrt(api.CreateTensorTypeAndShapeInfo(&info)); !s.ok()) return s;
  absl::Status st = FromOrt(api.SetTensorElementType(info, shape.type));
  if (st.ok() && shape.has_shape) {
    st = FromOrt(api.SetDimensions(info, shape.dims.data(), shape.dims.size()));
    if (st.ok() && shape.symbols.size() == shape.dims.size()) {
      std::vector<const char*> sym;
      for (const auto& s : shape.symbols) sym.push_back(s.c_str());
      st = FromOrt(api.SetSymbolicDimensions(info, sym.data(), sym.size()));
    }
  }
  if (st.ok()) st = FromOrt(api.ShapeInferContext_SetOutputTypeShape(ctx, i, info));  // copies
  api.ReleaseTensorTypeAndShapeInfo(info);
  return st;
}

absl::Status InferQuantize(OrtShapeInferContext* ctx) {
  auto x = InferInput(ctx, 0);
  if (!x.ok()) return x.status();
  ShapeInfo y = *x;
  y.type = static_cast<ONNXTensorElementDataType>(InferIntAttr(ctx, "fp8_type", 17));
  ShapeInfo ys = *x;
  ys.type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  if (!ys.dims.empty()) {
    const int64_t k = ys.dims.back();
    ys.dims.back() = k < 0 ? -1 : NumBlocks(k, InferIntAttr(ctx, "block_size", 128));
    if (!ys.symbols.empty()) ys.symbols.back() = "";
  }
  if (auto s = SetOutput(ctx, 0, y); !s.ok()) return s;
  return SetOutput(ctx, 1, ys);
}

absl::Status InferGemm(OrtShapeInferContext* ctx) {
  auto a = InferInput(ctx, gemm_io::kA);
  if (!a.ok()) return a.status();
  auto b = InferInput(ctx, gemm_io::kB);
  if (!b.ok()) return b.status();
  ShapeInfo y = *a;
  y.type = static_cast<ONNXTensorElementDataType>(InferIntAttr(ctx, "out_type", 1));
  if (!y.dims.empty()) {
    y.dims.back() = b->dims.size() == 2 ? b->dims[0] : -1;
    if (!y.symbols.empty()) y.symbols.back() = b->symbols.size() == 2 ? b->symbols[0] : "";
  }
  return SetOutput(ctx, 0, y);
}

absl::Status InferDequantize(OrtShapeInferContext* ctx) {
  auto x = InferInput(ctx, 0);
  if (!x.ok()) return x.status();
  ShapeInfo y = *x;
  y.type = static_cast<ONNXTensorElementDataType>(InferIntAttr(ctx, "out_type", 1));
  return SetOutput(ctx, 0, y);
}

// --------------------------------------------------------------------------------- op adapter

// One OrtCustomOp per (op, type variant). Kernel is one of the classes in cpu_kernels.h.
template <typename Kernel>
struct OpAdapter : OrtCustomOp {
  std::vector<IoSpec> inputs, outputs;
  absl::Status (*infer)(OrtShapeInferContext*);
  const char* ep = nullptr;             // execution provider; nullptr = CPU
  std::vector<OrtMemType> input_mem;    // per input; missing = OrtMemTypeDefault

  struct Instance {
    std::unique_ptr<Kernel> kernel;
    std::string node;
  };

  OpAdapter(std::vector<IoSpec> in, std::vector<IoSpec> out, absl::Status (*infer_fn)(OrtShapeInferContext*))
      : OrtCustomOp{}, inputs(std::move(in)), outputs(std::move(out)), infer(infer_fn) {
    version = ORT_API_VERSION;
    CreateKernel = nullptr;
    KernelCompute = nullptr;
    GetName = [](const OrtCustomOp*) noexcept { return Kernel::kOpName; };
    GetExecutionProviderType = [](const OrtCustomOp* op) noexcept -> const char* { return Self(op)->ep; };
    GetInputTypeCount = [](const OrtCustomOp* op) noexcept { return Self(op)->inputs.size(); };
    GetInputType = [](const OrtCustomOp* op, size_t i) noexcept { return Self(op)->inputs[i].type; };
    GetInputCharacteristic = [](const OrtCustomOp* op, size_t i) noexcept {
      return Self(op)->inputs[i].characteristic;
    };
    GetOutputTypeCount = [](const OrtCustomOp* op) noexcept { return Self(op)->outputs.size(); };
    GetOutputType = [](const OrtCustomOp* op, size_t i) noexcept { return Self(op)->outputs[i].type; };
    GetOutputCharacteristic = [](const OrtCustomOp* op, size_t i) noexcept {
      return Self(op)->outputs[i].characteristic;
    };
    GetInputMemoryType = [](const OrtCustomOp* op, size_t i) noexcept {
      return i < Self(op)->input_mem.size() ? Self(op)->input_mem[i] : OrtMemTypeDefault;
    };
    GetVariadicInputMinArity = [](const OrtCustomOp*) noexcept { return 1; };
    GetVariadicInputHomogeneity = [](const OrtCustomOp*) noexcept { return 1; };
    GetVariadicOutputMinArity = [](const OrtCustomOp*) noexcept { return 1; };
    GetVariadicOutputHomogeneity = [](const OrtCustomOp*) noexcept { return 1; };
    GetStartVersion = [](const OrtCustomOp*) noexcept { return 1; };
    GetEndVersion = [](const OrtCustomOp*) noexcept { return 1; };
    KernelDestroy = [](void* k) noexcept { delete static_cast<Instance*>(k); };
    CreateKernelV2 = [](const OrtCustomOp*, const OrtApi*, const OrtKernelInfo* info,
                        void** out) noexcept -> OrtStatus* {
      std::string node = "?";
      try {
        node = KernelNodeName(info);
        auto kernel = Kernel::Create(info);
        if (!kernel.ok()) return ToOrt(kernel.status(), Kernel::kOpName, node);
        *out = new Instance{*std::move(kernel), node};
        return nullptr;
      } catch (const std::exception& e) {
        return ToOrt(absl::InternalError(e.what()), Kernel::kOpName, node);
      } catch (...) {
        return ToOrt(absl::InternalError("unknown exception"), Kernel::kOpName, node);
      }
    };
    KernelComputeV2 = [](void* k, OrtKernelContext* ctx) noexcept -> OrtStatus* {
      auto* inst = static_cast<Instance*>(k);
      try {
        return ToOrt(inst->kernel->Compute(ctx), Kernel::kOpName, inst->node);
      } catch (const std::exception& e) {
        return ToOrt(absl::InternalError(e.what()), Kernel::kOpName, inst->node);
      } catch (...) {
        return ToOrt(absl::InternalError("unknown exception"), Kernel::kOpName, inst->node);
      }
    };
    InferOutputShapeFn = [](const OrtCustomOp* op, OrtShapeInferContext* ctx) noexcept -> OrtStatus* {
      try {
        return ToOrt(Self(op)->infer(ctx), Kernel::kOpName, "(shape inference)");
      } catch (...) {
        return ToOrt(absl::InternalError("exception in shape inference"), Kernel::kOpName, "?");
      }
    };
  }

  static const OpAdapter* Self(const OrtCustomOp* op) { return static_cast<const OpAdapter*>(op); }
};

constexpr IoChar kRequired = INPUT_OUTPUT_REQUIRED;
constexpr IoChar kOptional = INPUT_OUTPUT_OPTIONAL;
constexpr auto kAny = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
constexpr auto kF32 = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;

// All op definitions live for the life of the process: ORT keeps pointers to them.
const std::vector<std::unique_ptr<OrtCustomOp>>& CpuOps() {
  static const auto* ops = [] {
    auto* v = new std::vector<std::unique_ptr<OrtCustomOp>>();
    v->push_back(std::make_unique<OpAdapter<QuantizeFp8CpuKernel>>(
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kOptional}},
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kRequired}}, InferQuantize));
    for (auto b : {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2}) {
      for (auto bias : {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
                        ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16}) {
        v->push_back(std::make_unique<OpAdapter<Fp8GemmCpuKernel>>(
            std::vector<IoSpec>{{kAny, kRequired}, {kF32, kOptional}, {b, kRequired}, {kF32, kRequired},
                                {bias, kOptional}},
            std::vector<IoSpec>{{kAny, kRequired}}, InferGemm));
      }
    }
    v->push_back(std::make_unique<OpAdapter<DequantizeFp8CpuKernel>>(
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kRequired}}, std::vector<IoSpec>{{kAny, kRequired}},
        InferDequantize));
    return v;
  }();
  return *ops;
}

#ifdef FP8OPS_WITH_CUDA
// The same ops for CUDAExecutionProvider. Registering them needs no GPU: their kernels live in
// libfp8ops_cuda.so, loaded on the first CUDA kernel creation (ops/cuda/cuda_loader.h).
// QuantizeFP8's static `scale` is read on the host (its values are checked), so it is a CPU input.
const std::vector<std::unique_ptr<OrtCustomOp>>& CudaOps() {
  static const auto* ops = [] {
    constexpr const char* kCuda = "CUDAExecutionProvider";
    auto* v = new std::vector<std::unique_ptr<OrtCustomOp>>();
    auto quant = std::make_unique<OpAdapter<CudaProxyKernel<kFp8opsCudaQuantizeFp8>>>(
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kOptional}},
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kRequired}}, InferQuantize);
    quant->ep = kCuda;
    quant->input_mem = {OrtMemTypeDefault, OrtMemTypeCPUInput};
    v->push_back(std::move(quant));
    for (auto b : {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2}) {
      for (auto bias : {ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16,
                        ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16}) {
        auto gemm = std::make_unique<OpAdapter<CudaProxyKernel<kFp8opsCudaFp8Gemm>>>(
            std::vector<IoSpec>{{kAny, kRequired}, {kF32, kOptional}, {b, kRequired}, {kF32, kRequired},
                                {bias, kOptional}},
            std::vector<IoSpec>{{kAny, kRequired}}, InferGemm);
        gemm->ep = kCuda;
        v->push_back(std::move(gemm));
      }
    }
    auto deq = std::make_unique<OpAdapter<CudaProxyKernel<kFp8opsCudaDequantizeFp8>>>(
        std::vector<IoSpec>{{kAny, kRequired}, {kF32, kRequired}}, std::vector<IoSpec>{{kAny, kRequired}},
        InferDequantize);
    deq->ep = kCuda;
    v->push_back(std::move(deq));
    return v;
  }();
  return *ops;
}
#endif  // FP8OPS_WITH_CUDA

}  // namespace
}  // namespace fp8ops::plugin

extern "C" __attribute__((visibility("default"))) OrtStatus* ORT_API_CALL
RegisterCustomOps(OrtSessionOptions* options, const OrtApiBase* api_base) noexcept {
  using namespace fp8ops::plugin;
  if (api_base == nullptr) return nullptr;  // cannot even report an error without the API
  const OrtApi* api = nullptr;
  for (int v = ORT_API_VERSION; v >= kMinOrtApiVersion && api == nullptr; --v) api = api_base->GetApi(v);
  if (api == nullptr) {
    const OrtApi* v1 = api_base->GetApi(1);
    return v1 == nullptr ? nullptr
                         : v1->CreateStatus(ORT_FAIL, "fp8ops needs ONNX Runtime 1.17 or newer (C API >= 17)");
  }
  SetApi(api);
  try {
    OrtCustomOpDomain* domain = nullptr;
    if (OrtStatus* s = api->CreateCustomOpDomain(kDomain, &domain)) return s;
    std::vector<OrtCustomOp*> all;
    for (const auto& op : CpuOps()) all.push_back(op.get());
#ifdef FP8OPS_WITH_CUDA
    for (const auto& op : CudaOps()) all.push_back(op.get());
#endif
    for (OrtCustomOp* op : all) {
      if (OrtStatus* s = api->CustomOpDomain_Add(domain, op)) {
        api->ReleaseCustomOpDomain(domain);
        return s;
      }
    }
    // The domain must outlive every session made from these options; ORT does not take
    // ownership, so it is deliberately kept for the life of the process.
    return api->AddCustomOpDomain(options, domain);
  } catch (const std::exception& e) {
    return api->CreateStatus(ORT_FAIL, (std::string("fp8ops RegisterCustomOps: ") + e.what()).c_str());
  } catch (...) {
    return api->CreateStatus(ORT_FAIL, "fp8ops RegisterCustomOps: unknown exception");
  }
}
