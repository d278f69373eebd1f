// CUDA kernels of the fp8ops domain for ONNX Runtime's CUDAExecutionProvider: the host side.
// Each kernel reads and checks its attributes and input types once at creation (the same checks
// and words as the CPU kernels: ops/common/op_validation.h); Compute checks shapes, allocates the
// outputs and any workspace through ONNX Runtime's allocator for the kernel's device, and
// enqueues the work on ONNX Runtime's compute stream (KernelContext_GetGPUComputeStream). Nothing
// synchronizes the stream. Kernels are immutable after creation.
//
// Input memory: everything on the device except QuantizeFP8's static `scale`, which is declared
// as a CPU input so its values can be checked (finite, > 0) like the CPU kernel does.
#ifndef FP8OPS_OPS_CUDA_CUDA_KERNELS_H_
#define FP8OPS_OPS_CUDA_CUDA_KERNELS_H_

#include <onnxruntime_c_api.h>

#include <memory>

#include "absl/status/statusor.h"
#include "ops/common/op_validation.h"

namespace fp8ops::cuda {

// The device allocator of a kernel's execution provider (released with the kernel).
class DeviceAllocator {
 public:
  static absl::StatusOr<std::unique_ptr<DeviceAllocator>> ForKernel(const OrtKernelInfo* info);
  ~DeviceAllocator();
  OrtAllocator* get() const { return alloc_; }
  int device() const { return device_; }

 private:
  OrtAllocator* alloc_ = nullptr;
  int device_ = 0;
};

class QuantizeFp8CudaKernel {
 public:
  static absl::StatusOr<std::unique_ptr<QuantizeFp8CudaKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  QuantizeAttrs attrs_;
  std::unique_ptr<DeviceAllocator> alloc_;
};

class Fp8GemmCudaKernel {
 public:
  static absl::StatusOr<std::unique_ptr<Fp8GemmCudaKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  GemmAttrs attrs_;
  std::unique_ptr<DeviceAllocator> alloc_;
};

class DequantizeFp8CudaKernel {
 public:
  static absl::StatusOr<std::unique_ptr<DequantizeFp8CudaKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  DequantizeAttrs attrs_;
};

}  // namespace fp8ops::cuda

#endif  // FP8OPS_OPS_CUDA_CUDA_KERNELS_H_
