#include "ops/cuda/cuda_loader.h"

#include <dlfcn.h>

#include <cstdlib>
#include <mutex>

#include "absl/strings/str_cat.h"
#include "ops/plugin/ort_glue.h"

namespace fp8ops::plugin {

const OrtApi* CudaProxyApi() { return &Api(); }

absl::Status CudaModuleStatus(int code, const char* message) {
  if (code == 0) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(code), message);
}

namespace {

std::string ModulePath() {
  if (const char* env = std::getenv("FP8OPS_CUDA_MODULE"); env != nullptr && *env != '\0') return env;
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&CudaModuleStatus), &info) != 0 && info.dli_fname != nullptr) {
    std::string self = info.dli_fname;
    const size_t slash = self.rfind('/');
    if (slash != std::string::npos) return self.substr(0, slash + 1) + "libfp8ops_cuda.so";
  }
  return "libfp8ops_cuda.so";
}

}  // namespace

absl::StatusOr<const Fp8opsCudaModuleApi*> LoadCudaModule() {
  static std::mutex mu;
  static const Fp8opsCudaModuleApi* api = nullptr;
  static std::string* error = nullptr;
  std::lock_guard<std::mutex> lock(mu);
  if (api != nullptr) return api;
  if (error != nullptr) return absl::FailedPreconditionError(*error);
  const std::string path = ModulePath();
  // NOTE: never dlclose()d: kernels and cuBLASLt handles live for the life of the process.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    error = new std::string(absl::StrCat("cannot load the CUDA kernels '", path, "': ", why ? why : "?",
                                         " (build with FP8OPS_WITH_CUDA and keep libfp8ops_cuda.so beside "
                                         "libfp8ops.so, or set FP8OPS_CUDA_MODULE)"));
    return absl::FailedPreconditionError(*error);
  }
  auto entry = reinterpret_cast<Fp8opsCudaGetModuleApiFn>(dlsym(handle, FP8OPS_CUDA_MODULE_ENTRY));
  const Fp8opsCudaModuleApi* got = entry != nullptr ? entry(FP8OPS_CUDA_MODULE_ABI_VERSION) : nullptr;
  if (got == nullptr) {
    error = new std::string(absl::StrCat("'", path, "' is not an fp8ops CUDA module of ABI version ",
                                         FP8OPS_CUDA_MODULE_ABI_VERSION));
    return absl::FailedPreconditionError(*error);
  }
  api = got;
  return api;
}

}  // namespace fp8ops::plugin
