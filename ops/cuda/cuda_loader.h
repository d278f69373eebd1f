// The CUDA side as libfp8ops.so sees it: proxies that forward kernel creation and Compute to
// libfp8ops_cuda.so, loaded with dlopen() the first time ONNX Runtime creates a CUDA kernel (i.e.
// only in sessions that use CUDAExecutionProvider). Nothing here needs CUDA to build or to load.
#ifndef FP8OPS_OPS_CUDA_CUDA_LOADER_H_
#define FP8OPS_OPS_CUDA_CUDA_LOADER_H_

#include <onnxruntime_c_api.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/cuda/cuda_module_api.h"

namespace fp8ops::plugin {

// Loads the module once per process: $FP8OPS_CUDA_MODULE if set, else libfp8ops_cuda.so in the
// directory of libfp8ops.so. The error says why it could not be loaded.
absl::StatusOr<const Fp8opsCudaModuleApi*> LoadCudaModule();

// Converts a module error (code + message) to a Status.
absl::Status CudaModuleStatus(int code, const char* message);

// The shape ops/plugin/register.cc's OpAdapter expects of a kernel class.
template <int32_t kOp>
class CudaProxyKernel {
 public:
  static constexpr const char* kOpName = kOp == kFp8opsCudaQuantizeFp8 ? "QuantizeFP8"
                                         : kOp == kFp8opsCudaFp8Gemm   ? "FP8GEMM"
                                                                       : "DequantizeFP8";
  static absl::StatusOr<std::unique_ptr<CudaProxyKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const {
    char err[1024] = {0};
    return CudaModuleStatus(module_->compute(kernel_, ctx, err, sizeof err), err);
  }
  ~CudaProxyKernel() {
    if (kernel_ != nullptr) module_->destroy(kernel_);
  }

 private:
  const Fp8opsCudaModuleApi* module_ = nullptr;
  void* kernel_ = nullptr;
};

const OrtApi* CudaProxyApi();  // the API table handed to RegisterCustomOps

template <int32_t kOp>
absl::StatusOr<std::unique_ptr<CudaProxyKernel<kOp>>> CudaProxyKernel<kOp>::Create(const OrtKernelInfo* info) {
  auto module = LoadCudaModule();
  if (!module.ok()) return module.status();
  auto k = std::make_unique<CudaProxyKernel>();
  k->module_ = *module;
  char err[1024] = {0};
  const int code = k->module_->create_kernel(CudaProxyApi(), kOp, info, &k->kernel_, err, sizeof err);
  if (code != 0) {
    k->kernel_ = nullptr;
    return CudaModuleStatus(code, err);
  }
  return k;
}

}  // namespace fp8ops::plugin

#endif  // FP8OPS_OPS_CUDA_CUDA_LOADER_H_
