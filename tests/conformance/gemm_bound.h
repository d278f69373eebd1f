// The FP8GEMM conformance bound (tests/conformance/README.md, "Tolerances"; docs/OPERATORS.md 1.5).
//
// For each output element, from the case's own operands:
//   a_k, b_k   the dequantized operands as the spec defines them (float32: decode(code) * scale, or
//              the float A of weight-only mode), taken from ops/reference (DequantizeARow/BRow);
//   r          = sum_k a_k * b_k + bias, in float64 (the exact value up to 2^-53 relative);
//   T          = sum_k |a_k * b_k| + |bias|, in float64;
//   E          = (K + 2) * 2^-24 * T   (worst-case error of any float32 evaluation order).
// The output y (of out_type) passes when
//   r is NaN:     y is NaN;
//   r is +-Inf:   y == r;
//   otherwise:    |y - r| <= 2 * E + ulp_out(r) / 2,
//                 or y is +-Inf with r's sign and |r| + 2 * E reaches out_type's overflow
//                 threshold.
// ulp_out(r) is the spacing of out_type at |r| (float32, float16 or bfloat16, subnormals included).
#ifndef FP8OPS_TESTS_CONFORMANCE_GEMM_BOUND_H_
#define FP8OPS_TESTS_CONFORMANCE_GEMM_BOUND_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "fp8ops/dtype.h"
#include "host/ort_session.h"
#include "ops/common/op_validation.h"

namespace fp8ops::conformance {

// Spacing of the floating type `t` (float, float16, bfloat16) at |r|.
double OutputUlp(double r, DType t);
// Smallest magnitude that rounds to Inf in type `t` (max + ulp/2).
double OverflowThreshold(DType t);

// Checks one element. `ratio` (may be null) receives |y - r| / allowed for finite cases (0 when
// exact, +inf when not allowed at all).
bool WithinGemmBound(double y, double r, double sum_abs, int64_t k, DType out_type, double* ratio);

// Operands of one FP8GEMM node, as fed to it. a_scale and bias may be null (absent).
struct GemmOperands {
  GemmAttrs attrs;
  const host::HostTensor* a = nullptr;
  const host::HostTensor* a_scale = nullptr;
  const host::HostTensor* b = nullptr;
  const host::HostTensor* b_scale = nullptr;
  const host::HostTensor* bias = nullptr;
};

struct GemmBoundResult {
  int64_t elements = 0;
  int64_t failures = 0;
  double worst_ratio = 0;     // max |y - r| / allowed over the finite elements
  std::string first_failure;  // "Y[i] (m=.., n=..): got .., r=.., allowed |y-r| <= .."
};

// Checks a whole output against the bound. Fails (status) when the operands are not a valid
// FP8GEMM call or `y` has the wrong type or shape.
absl::StatusOr<GemmBoundResult> CheckGemmBound(const GemmOperands& ops, const host::HostTensor& y);

}  // namespace fp8ops::conformance

#endif  // FP8OPS_TESTS_CONFORMANCE_GEMM_BOUND_H_
