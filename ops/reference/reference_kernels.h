// Scalar reference kernels: they define QuantizeFP8, FP8GEMM and DequantizeFP8 (docs/OPERATORS.md).
// Fast kernels (ops/cpu, ops/cuda) are tested against these. Inputs are assumed validated
// (ops/common/validate.h); these functions do not check shapes.
#ifndef FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_
#define FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_

#include <cstdint>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"

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

// FP8GEMM: Y[m, n] = sum_k dequant(A)[m, k] * dequant(B)[n, k] (+ bias[n]), float32 accumulation,
// one rounding to out_type.
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;       // [m, k]: FP8 codes, or float/float16/bfloat16 (weight-only)
  DType a_type = DType::kE4M3FN;
  const float* a_scale = nullptr;  // [m, NumBlocks(k, a_block)] when A is FP8
  int64_t a_block = 128;
  const uint8_t* b = nullptr;    // [n, k] FP8 codes
  Fp8Format b_format = Fp8Format::kE4M3FN;
  const float* b_scale = nullptr;  // [NumBlocks(n, block_n), NumBlocks(k, block_k)]
  int64_t block_n = 128, block_k = 128;
  const void* bias = nullptr;    // [n] of out_type, or nullptr
  DType out_type = DType::kFloat;
  void* y = nullptr;             // [m, n] of out_type
};
// Dequantizes row m of A into a_row[k] (float32).
void DequantizeARow(const GemmProblem& p, int64_t m, float* a_row);
// Dequantizes row n of B into b_row[k] (float32).
void DequantizeBRow(const GemmProblem& p, int64_t n, float* b_row);
// Computes Y[m0:m1, n0:n1].
void Fp8Gemm(const GemmProblem& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1);

// DequantizeFP8: X viewed as [rows, k]. Either 2-D blocks (block_n, block_k; X is the 2-D matrix)
// or last-axis groups (block_size; scale [rows, NumBlocks(k, block_size)]). A scale of one
// element is per tensor in either mode.
struct DequantizeProblem {
  int64_t rows = 0, k = 0;
  const uint8_t* x = nullptr;
  Fp8Format format = Fp8Format::kE4M3FN;
  const float* scale = nullptr;
  int64_t scale_count = 0;
  bool last_axis_groups = false;
  int64_t block_size = 128;             // last-axis mode
  int64_t block_n = 128, block_k = 128;  // 2-D mode
  DType out_type = DType::kFloat;
  void* y = nullptr;
};
void DequantizeFp8(const DequantizeProblem& p, int64_t row_begin, int64_t row_end);

}  // namespace fp8ops::reference

#endif  // FP8OPS_OPS_REFERENCE_REFERENCE_KERNELS_H_
