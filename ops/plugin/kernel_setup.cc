#include "ops/plugin/kernel_setup.h"

#include "ops/plugin/ort_glue.h"
#include "ops/plugin/status_macros.h"

namespace fp8ops::plugin {

absl::StatusOr<QuantizeAttrs> ReadQuantizeKernel(const OrtKernelInfo* info) {
  QuantizeAttrs a;
  FP8OPS_ASSIGN_OR_RETURN(block_size, IntAttr(info, "block_size", a.block_size));
  FP8OPS_ASSIGN_OR_RETURN(fp8_type, IntAttr(info, "fp8_type", a.fp8_type));
  FP8OPS_ASSIGN_OR_RETURN(saturate, IntAttr(info, "saturate", a.saturate));
  FP8OPS_ASSIGN_OR_RETURN(scale_pow2, IntAttr(info, "scale_pow2", a.scale_pow2));
  a = {block_size, fp8_type, saturate, scale_pow2};
  FP8OPS_RETURN_IF_ERROR(ValidateQuantizeAttrs(a));
  FP8OPS_ASSIGN_OR_RETURN(x_type, KernelInputType(info, quantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale_type, KernelInputType(info, quantize_io::kScale));
  if (!x_type) return absl::InvalidArgumentError("input X is missing");
  FP8OPS_RETURN_IF_ERROR(ValidateQuantizeTypes(*x_type, scale_type));
  return a;
}

absl::StatusOr<GemmKernelSetup> ReadGemmKernel(const OrtKernelInfo* info) {
  GemmKernelSetup s;
  FP8OPS_ASSIGN_OR_RETURN(block_n, IntAttr(info, "block_n", s.attrs.block_n));
  FP8OPS_ASSIGN_OR_RETURN(block_k, IntAttr(info, "block_k", s.attrs.block_k));
  FP8OPS_ASSIGN_OR_RETURN(a_block, IntAttr(info, "a_block", s.attrs.a_block));
  FP8OPS_ASSIGN_OR_RETURN(out_type, IntAttr(info, "out_type", s.attrs.out_type));
  FP8OPS_ASSIGN_OR_RETURN(a_quant_type, IntAttr(info, "a_quant_type", s.attrs.a_quant_type));
  s.attrs = {block_n, block_k, a_block, out_type, a_quant_type};
  FP8OPS_RETURN_IF_ERROR(ValidateGemmAttrs(s.attrs));
  FP8OPS_ASSIGN_OR_RETURN(a_type, KernelInputType(info, gemm_io::kA));
  FP8OPS_ASSIGN_OR_RETURN(a_scale_type, KernelInputType(info, gemm_io::kAScale));
  FP8OPS_ASSIGN_OR_RETURN(b_type, KernelInputType(info, gemm_io::kB));
  FP8OPS_ASSIGN_OR_RETURN(b_scale_type, KernelInputType(info, gemm_io::kBScale));
  FP8OPS_ASSIGN_OR_RETURN(bias_type, KernelInputType(info, gemm_io::kBias));
  if (!a_type) return absl::InvalidArgumentError("input A is missing");
  if (!b_type) return absl::InvalidArgumentError("input B is missing");
  if (!b_scale_type) return absl::InvalidArgumentError("input B_scale is missing");
  FP8OPS_RETURN_IF_ERROR(
      ValidateGemmTypes(s.attrs, *a_type, a_scale_type, *b_type, *b_scale_type, bias_type));
  s.b_type = *b_type;
  return s;
}

absl::StatusOr<DequantizeAttrs> ReadDequantizeKernel(const OrtKernelInfo* info) {
  DequantizeAttrs a;
  FP8OPS_ASSIGN_OR_RETURN(block_size, OptionalIntAttr(info, "block_size"));
  FP8OPS_ASSIGN_OR_RETURN(block_n, IntAttr(info, "block_n", a.block_n));
  FP8OPS_ASSIGN_OR_RETURN(block_k, IntAttr(info, "block_k", a.block_k));
  FP8OPS_ASSIGN_OR_RETURN(out_type, IntAttr(info, "out_type", a.out_type));
  a = {block_size, block_n, block_k, out_type};
  FP8OPS_RETURN_IF_ERROR(ValidateDequantizeAttrs(a));
  FP8OPS_ASSIGN_OR_RETURN(x_type, KernelInputType(info, dequantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale_type, KernelInputType(info, dequantize_io::kScale));
  if (!x_type || !scale_type) return absl::InvalidArgumentError("inputs X and scale are required");
  FP8OPS_RETURN_IF_ERROR(ValidateDequantizeTypes(*x_type, *scale_type));
  return a;
}

}  // namespace fp8ops::plugin
