// Reading and checking a kernel's attributes and declared input types when ONNX Runtime creates
// it: one implementation for the CPU and CUDA kernels, so both reject the same nodes with the
// same words.
#ifndef FP8OPS_OPS_PLUGIN_KERNEL_SETUP_H_
#define FP8OPS_OPS_PLUGIN_KERNEL_SETUP_H_

#include <onnxruntime_c_api.h>

#include "absl/status/statusor.h"
#include "ops/common/op_validation.h"

namespace fp8ops::plugin {

absl::StatusOr<QuantizeAttrs> ReadQuantizeKernel(const OrtKernelInfo* info);

struct GemmKernelSetup {
  GemmAttrs attrs;
  DType b_type = DType::kUndefined;  // FP8 format of the weight
};
absl::StatusOr<GemmKernelSetup> ReadGemmKernel(const OrtKernelInfo* info);

absl::StatusOr<DequantizeAttrs> ReadDequantizeKernel(const OrtKernelInfo* info);

}  // namespace fp8ops::plugin

#endif  // FP8OPS_OPS_PLUGIN_KERNEL_SETUP_H_
