// Fast CPU QuantizeFP8: the rows of reference::QuantizeProblem, vectorized per ISA, bit-exact with
// reference::QuantizeFp8 (same scales from fp8ops::ScaleFromAmax, same codes as EncodeFp8).
#ifndef FP8OPS_OPS_CPU_QUANTIZE_FP8_H_
#define FP8OPS_OPS_CPU_QUANTIZE_FP8_H_

#include <cstdint>

#include "absl/status/status.h"
#include "ops/cpu/isa.h"
#include "ops/cpu/parallel.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::cpu {

// Quantizes rows [row_begin, row_end) with the kernels of `isa` (the reference for kScalar or a
// level this CPU lacks).
void QuantizeFp8(const reference::QuantizeProblem& p, int64_t row_begin, int64_t row_end, Isa isa);

// Quantizes all of p's rows, in tasks of about 64 Ki elements on `parallel` (the QuantizeFP8
// kernel, and FP8GEMM's a_quant_type).
absl::Status QuantizeFp8Rows(const reference::QuantizeProblem& p, Isa isa,
                             ParallelFn parallel = RunSerial);

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_QUANTIZE_FP8_H_
