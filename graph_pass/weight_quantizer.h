// Quantizes one weight matrix to FP8 blocks, panel by panel: a panel of rows of the [N, K] result
// (a transposed copy of a [K, N] source, in the source's element type; rows of an [N, K] source are
// used in place) gets its block scales, its codes, and its error against the original. Memory
// beyond the source and the FP8 result is one panel per thread. Panels run on a few std::threads.
#ifndef FP8OPS_GRAPH_PASS_WEIGHT_QUANTIZER_H_
#define FP8OPS_GRAPH_PASS_WEIGHT_QUANTIZER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"

namespace fp8ops::graph_pass {

struct WeightMatrix {
  DType dtype = DType::kFloat;  // float, float16 or bfloat16
  int64_t n = 0, k = 0;         // the result is [n, k]
  bool transposed = false;      // source stored [k, n] (MatMul's B) instead of [n, k]
  const void* data = nullptr;   // source elements, little-endian
};

struct QuantizedWeight {
  std::string codes;          // FP8 [n, k], row-major
  std::vector<float> scales;  // [NumBlocks(n, block_n), NumBlocks(k, block_k)], row-major
  // Over finite elements: sum of w^2 and of (w - dequant(q))^2.
  double signal_sq = 0;
  double error_sq = 0;
};

// Quantizes `w` with blocks (block_n, block_k) (0 = whole dimension). `threads` <= 0 means one.
// The codes and scales are exactly QuantizeBlocks2D's on the whole [n, k] float32 matrix: scales
// from fp8ops::ScaleFromAmax, codes from QuantizeFP8's CPU kernels with those scales (ops/cpu,
// bit-exact with fp8ops::QuantizeWithScale). The error statistics cover every
// `measure_row_step`-th row of the result (1 = all rows).
void QuantizeWeight(const WeightMatrix& w, int64_t block_n, int64_t block_k,
                    const Fp8QuantParams& p, int threads, QuantizedWeight* out,
                    int64_t measure_row_step = 1);

}  // namespace fp8ops::graph_pass

#endif  // FP8OPS_GRAPH_PASS_WEIGHT_QUANTIZER_H_
