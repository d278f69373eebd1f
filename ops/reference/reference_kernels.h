// Scalar reference kernels: they define QuantizeFP8, FP8GEMM and DequantizeFP8 (docs/OPERATORS.md).
// Fast kernels (ops/cpu, ops/cuda) are tested against these. Inputs are assumed validated
// (ops/common/validate.h); these functions do not check shapes.
#ifndef FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_
#define FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_

#include <cstdint>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "ops/common/problems.h"

namespace fp8ops::reference {

// QuantizeFP8 on X viewed as [rows, k].
struct QuantizeProblem {
  int64_t rows = 0, k = 0;
  const void* x = nullptr;  // [rows, k] of x_type
  DType x_type = DType::kFloat;
  int64_t block_size = 128;  // 0 = whole row
  Fp8QuantParams params;
  // Static scale: nullptr (dynamic), 1 value (per tensor) or rows * NumBlocks(k, block_size).
  const float* static_scale = nullptr;
  int64_t static_scale_count = 0;
  uint8_t* y = nullptr;        // [rows, k]
  float* y_scale = nullptr;    // [rows, NumBlocks(k, block_size)]
};
// Quantizes rows [row_begin, row_end).
void QuantizeFp8(const QuantizeProblem& p, int64_t row_begin, int64_t row_end);

// FP8GEMM's a_quant_type: QuantizeFP8 of A ([rows, k] of a_type) to `format` in groups of
// a_block, saturating, with dynamic scales, into y [rows, k] and y_scale [rows, NumBlocks(k,
// a_block)]. The one definition the reference, the CPU kernels and the tests use.
QuantizeProblem FusedActivationQuantization(const void* a, DType a_type, int64_t rows, int64_t k,
                                            int64_t a_block, Fp8Format format, uint8_t* y,
                                            float* y_scale);

using ::fp8ops::GemmProblem;

// Dequantizes row m of A into a_row[k] (float32).
void DequantizeARow(const GemmProblem& p, int64_t m, float* a_row);
// Dequantizes row n of B into b_row[k] (float32).
void DequantizeBRow(const GemmProblem& p, int64_t n, float* b_row);
// Computes Y[m0:m1, n0:n1].
void Fp8Gemm(const GemmProblem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

using ::fp8ops::DequantizeProblem;
void DequantizeFp8(const DequantizeProblem& p, int64_t row_begin, int64_t row_end);

}  // namespace fp8ops::reference

#endif  // FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_
