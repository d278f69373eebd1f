// Small elementwise kernels: DequantizeFP8, and the scale re-layouts the cuBLASLt path needs.
#include <cuda_runtime.h>

#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

constexpr int kThreads = 256;

struct DequantParams {
  const uint8_t* x;
  const float* scale;
  void* y;
  int64_t rows, k, total;
  int mode;  // 0 per tensor, 1 last-axis groups, 2 2-D blocks
  int64_t groups_per_row, group_len;  // mode 1
  int64_t bn, bk, nbk;                // mode 2
};

template <int F, typename TOut>
__global__ void __launch_bounds__(kThreads) DequantizeKernel(DequantParams p) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < p.total;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t r = i / p.k, c = i % p.k;
    float s;
    if (p.mode == 0) {
      s = p.scale[0];
    } else if (p.mode == 1) {
      s = p.scale[r * p.groups_per_row + c / p.group_len];
    } else {
      s = p.scale[(r / p.bn) * p.nbk + c / p.bk];
    }
    static_cast<TOut*>(p.y)[i] = detail::FromFloat<TOut>(detail::DecodeFp8<F>(p.x[i]) * s);
  }
}

template <int F>
cudaError_t LaunchDequantOut(DType out, const DequantParams& p, unsigned grid, cudaStream_t s) {
  switch (out) {
    case DType::kFloat: DequantizeKernel<F, float><<<grid, kThreads, 0, s>>>(p); break;
    case DType::kFloat16: DequantizeKernel<F, __half><<<grid, kThreads, 0, s>>>(p); break;
    case DType::kBFloat16: DequantizeKernel<F, __nv_bfloat16><<<grid, kThreads, 0, s>>>(p); break;
    default: return cudaErrorInvalidValue;
  }
  return cudaGetLastError();
}

__global__ void TransposeF32Kernel(const float* __restrict__ src, int64_t rows, int64_t cols,
                                   float* __restrict__ dst) {
  const int64_t total = rows * cols;
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < total;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    const int64_t c = i / rows, r = i % rows;  // i indexes dst: consecutive threads write consecutive r
    dst[i] = src[r * cols + c];
  }
}

__global__ void ExpandBlocksKernel(const float* __restrict__ src, int64_t n, int64_t block,
                                   float* __restrict__ dst) {
  for (int64_t i = blockIdx.x * static_cast<int64_t>(kThreads) + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * kThreads) {
    dst[i] = src[i / block];
  }
}

unsigned GridFor(int64_t total) {
  const int64_t blocks = (total + kThreads - 1) / kThreads;
  return static_cast<unsigned>(blocks < 65536 ? (blocks > 0 ? blocks : 1) : 65536);
}

}  // namespace

cudaError_t LaunchDequantizeFp8(const DequantizeLaunchArgs& a, cudaStream_t stream) {
  DequantParams p{};
  p.x = a.x;
  p.scale = a.scale;
  p.y = a.y;
  p.rows = a.rows;
  p.k = a.k;
  p.total = a.rows * a.k;
  if (p.total == 0) return cudaSuccess;
  if (a.scale_count == 1) {
    p.mode = 0;
  } else if (a.last_axis_groups) {
    p.mode = 1;
    p.groups_per_row = NumBlocks(a.k, a.block_size);
    p.group_len = EffectiveBlock(a.k, a.block_size);
  } else {
    p.mode = 2;
    p.bn = EffectiveBlock(a.rows, a.block_n);
    p.bk = EffectiveBlock(a.k, a.block_k);
    p.nbk = NumBlocks(a.k, a.block_k);
  }
  const unsigned grid = GridFor(p.total);
  return a.format == Fp8Format::kE4M3FN ? LaunchDequantOut<detail::kE4M3>(a.out_type, p, grid, stream)
                                        : LaunchDequantOut<detail::kE5M2>(a.out_type, p, grid, stream);
}

cudaError_t LaunchTransposeF32(const float* src, int64_t rows, int64_t cols, float* dst, cudaStream_t stream) {
  if (rows * cols == 0) return cudaSuccess;
  TransposeF32Kernel<<<GridFor(rows * cols), kThreads, 0, stream>>>(src, rows, cols, dst);
  return cudaGetLastError();
}

cudaError_t LaunchExpandBlocks(const float* src, int64_t n, int64_t block, float* dst, cudaStream_t stream) {
  if (n == 0) return cudaSuccess;
  if (block <= 0) return cudaErrorInvalidValue;
  ExpandBlocksKernel<<<GridFor(n), kThreads, 0, stream>>>(src, n, block, dst);
  return cudaGetLastError();
}

}  // namespace fp8ops::cuda
