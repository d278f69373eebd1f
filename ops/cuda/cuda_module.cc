// libfp8ops_cuda.so's entry point: the table of ops/cuda/cuda_module_api.h over the kernels of
// ops/cuda/cuda_kernels.h. Every function catches everything: no exception leaves the module.
#include <cstdio>
#include <exception>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "ops/cuda/cuda_kernels.h"
#include "ops/cuda/cuda_module_api.h"
#include "ops/plugin/ort_glue.h"

namespace fp8ops::cuda {
namespace {

struct AnyKernel {
  virtual ~AnyKernel() = default;
  virtual absl::Status Compute(OrtKernelContext* ctx) const = 0;
};
template <typename K>
struct KernelHolder final : AnyKernel {
  explicit KernelHolder(std::unique_ptr<K> k) : kernel(std::move(k)) {}
  absl::Status Compute(OrtKernelContext* ctx) const override { return kernel->Compute(ctx); }
  std::unique_ptr<K> kernel;
};

int Report(const absl::Status& s, char* err, size_t err_size) {
  if (err != nullptr && err_size > 0) {
    std::snprintf(err, err_size, "%s", std::string(s.message()).c_str());
  }
  return static_cast<int>(s.code());
}

template <typename K>
absl::Status Make(const OrtKernelInfo* info, void** out) {
  auto k = K::Create(info);
  if (!k.ok()) return k.status();
  *out = static_cast<AnyKernel*>(new KernelHolder<K>(*std::move(k)));
  return absl::OkStatus();
}

int CreateKernel(const OrtApi* api, int32_t op, const OrtKernelInfo* info, void** kernel, char* err,
                 size_t err_size) noexcept {
  try {
    plugin::SetApi(api);
    absl::Status s;
    switch (op) {
      case kFp8opsCudaQuantizeFp8: s = Make<QuantizeFp8CudaKernel>(info, kernel); break;
      case kFp8opsCudaFp8Gemm: s = Make<Fp8GemmCudaKernel>(info, kernel); break;
      case kFp8opsCudaDequantizeFp8: s = Make<DequantizeFp8CudaKernel>(info, kernel); break;
      default: s = absl::InvalidArgumentError("unknown CUDA op id");
    }
    return Report(s, err, err_size);
  } catch (const std::exception& e) {
    return Report(absl::InternalError(e.what()), err, err_size);
  } catch (...) {
    return Report(absl::InternalError("unknown exception"), err, err_size);
  }
}

int Compute(void* kernel, OrtKernelContext* ctx, char* err, size_t err_size) noexcept {
  try {
    return Report(static_cast<const AnyKernel*>(kernel)->Compute(ctx), err, err_size);
  } catch (const std::exception& e) {
    return Report(absl::InternalError(e.what()), err, err_size);
  } catch (...) {
    return Report(absl::InternalError("unknown exception"), err, err_size);
  }
}

void Destroy(void* kernel) noexcept { delete static_cast<AnyKernel*>(kernel); }

}  // namespace
}  // namespace fp8ops::cuda

extern "C" __attribute__((visibility("default"))) const Fp8opsCudaModuleApi* Fp8opsCudaGetModuleApi(
    uint32_t abi_version) {
  static const Fp8opsCudaModuleApi api = {FP8OPS_CUDA_MODULE_ABI_VERSION, fp8ops::cuda::CreateKernel,
                                          fp8ops::cuda::Compute, fp8ops::cuda::Destroy};
  return abi_version == FP8OPS_CUDA_MODULE_ABI_VERSION ? &api : nullptr;
}
