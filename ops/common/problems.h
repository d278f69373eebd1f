// Problem descriptors of FP8GEMM and DequantizeFP8: one definition for the reference kernels
// (host pointers) and the CUDA launchers (device pointers). Semantics: docs/OPERATORS.md.
#ifndef FP8OPS_OPS_COMMON_PROBLEMS_H_
#define FP8OPS_OPS_COMMON_PROBLEMS_H_

#include <cstdint>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"

namespace fp8ops {

// FP8GEMM: Y[m, n] = sum_k dequant(A)[m, k] * dequant(B)[n, k] (+ bias[n]), float32 accumulation,
// one rounding to out_type.
struct GemmProblem {
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;       // [m, k]: FP8 codes, or float/float16/bfloat16 (weight-only)
  DType a_type = DType::kE4M3FN;
  const float* a_scale = nullptr;  // [m, NumBlocks(k, a_block)] when A is FP8
  int64_t a_block = 128;
  // FP8GEMM's a_quant_type: A (float/float16/bfloat16, a_scale null) is first quantized as
  // QuantizeFP8 would (groups of a_block, saturating, dynamic scales) to a_quant_format.
  bool quantize_a = false;
  Fp8Format a_quant_format = Fp8Format::kE4M3FN;
  const uint8_t* b = nullptr;    // [n, k] FP8 codes
  Fp8Format b_format = Fp8Format::kE4M3FN;
  const float* b_scale = nullptr;  // [NumBlocks(n, block_n), NumBlocks(k, block_k)]
  int64_t block_n = 128, block_k = 128;
  const void* bias = nullptr;    // [n] of out_type, or nullptr
  DType out_type = DType::kFloat;
  void* y = nullptr;             // [m, n] of out_type
};
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

}  // namespace fp8ops

#endif  // FP8OPS_OPS_COMMON_PROBLEMS_H_
