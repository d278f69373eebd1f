// The C ABI between libfp8ops.so (the plugin ONNX Runtime loads) and libfp8ops_cuda.so (the CUDA
// kernels, which need libcudart and libcublasLt).
//
// Why two libraries: libfp8ops.so must load and run its CPU ops on machines with no GPU, no driver
// and no CUDA libraries. It therefore has no CUDA link dependency at all; it registers the CUDA
// variants of its ops for CUDAExecutionProvider (pure metadata) and dlopen()s libfp8ops_cuda.so
// the first time ONNX Runtime creates one of those kernels, which only happens in a session that
// uses the CUDA execution provider. libfp8ops_cuda.so links libcudart.so and libcublasLt.so
// dynamically (the same libraries ONNX Runtime's CUDA provider uses, so both share one CUDA
// runtime) and never links libcuda.so.
#ifndef FP8OPS_OPS_CUDA_CUDA_MODULE_API_H_
#define FP8OPS_OPS_CUDA_CUDA_MODULE_API_H_

#include <onnxruntime_c_api.h>

#include <cstddef>
#include <cstdint>

extern "C" {

// Bumped whenever the table below changes.
#define FP8OPS_CUDA_MODULE_ABI_VERSION 1u

// Ops the module implements.
enum Fp8opsCudaOp : int32_t {
  kFp8opsCudaQuantizeFp8 = 0,
  kFp8opsCudaFp8Gemm = 1,
  kFp8opsCudaDequantizeFp8 = 2,
};

// Errors come back as an absl::StatusCode value (0 = OK) plus a message written into the caller's
// buffer (always NUL-terminated, truncated to err_size). The message names the problem only; the
// caller adds "fp8ops <Op> node '<name>': ". No function lets an exception escape.
struct Fp8opsCudaModuleApi {
  uint32_t abi_version;
  // Creates the kernel of `op` for the node described by `info`; *kernel receives an opaque
  // pointer to pass to compute and destroy.
  int (*create_kernel)(const OrtApi* api, int32_t op, const OrtKernelInfo* info, void** kernel,
                       char* err, size_t err_size);
  // Runs one call on ONNX Runtime's compute stream.
  int (*compute)(void* kernel, OrtKernelContext* ctx, char* err, size_t err_size);
  void (*destroy)(void* kernel);
};

// The module's only exported symbol. Returns nullptr when the caller's ABI version differs.
typedef const Fp8opsCudaModuleApi* (*Fp8opsCudaGetModuleApiFn)(uint32_t abi_version);
#define FP8OPS_CUDA_MODULE_ENTRY "Fp8opsCudaGetModuleApi"

}  // extern "C"

#endif  // FP8OPS_OPS_CUDA_CUDA_MODULE_API_H_
