// CPU kernels of the fp8ops domain. Each kernel reads and checks its attributes and declared input
// types once, when ONNX Runtime creates it; Compute checks shapes, allocates outputs and runs on
// ONNX Runtime's intra-op thread pool. Kernels are immutable after creation, so Compute may run
// on several threads at once.
#ifndef FP8OPS_OPS_PLUGIN_CPU_KERNELS_H_
#define FP8OPS_OPS_PLUGIN_CPU_KERNELS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "ops/common/op_validation.h"
#include "ops/cpu/fp8_gemm.h"
#include "ops/cpu/isa.h"
#include "ops/plugin/ort_glue.h"

namespace fp8ops::plugin {

class QuantizeFp8CpuKernel {
 public:
  static constexpr const char* kOpName = "QuantizeFP8";
  static absl::StatusOr<std::unique_ptr<QuantizeFp8CpuKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  QuantizeAttrs attrs_;
  cpu::Isa isa_ = cpu::Isa::kScalar;  // ops/cpu kernels' level (ops/cpu/dispatch.h)
};

class Fp8GemmCpuKernel {
 public:
  static constexpr const char* kOpName = "FP8GEMM";
  static absl::StatusOr<std::unique_ptr<Fp8GemmCpuKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  GemmAttrs attrs_;
  cpu::Isa isa_ = cpu::Isa::kScalar;
  // B's metadata (scales, flag bits: about 1/500 of B's bytes) prepared at creation when B and
  // B_scale are constant initializers; the codes are read from ONNX Runtime's buffer at every
  // call, so the session holds one copy of the weight. Otherwise prepared per call.
  std::unique_ptr<const cpu::PreparedB> prepared_b_;
};

class DequantizeFp8CpuKernel {
 public:
  static constexpr const char* kOpName = "DequantizeFP8";
  static absl::StatusOr<std::unique_ptr<DequantizeFp8CpuKernel>> Create(const OrtKernelInfo* info);
  absl::Status Compute(OrtKernelContext* ctx) const;

 private:
  DequantizeAttrs attrs_;
};

}  // namespace fp8ops::plugin

#endif  // FP8OPS_OPS_PLUGIN_CPU_KERNELS_H_
