// FP8GEMM's own kernel: the small-M (decode) path and the fallback for anything cuBLASLt refuses.
//
// The cost of a small-M FP8GEMM is reading the FP8 weights once; this kernel streams them:
// each warp owns kRows weight rows (n), each lane walks K in 16-byte chunks (16 codes) strided by
// the warp, kUnroll chunks of every row in flight before the first use, weights loaded with the
// streaming cache hint (read once). A block of 8 warps shares the rows of A through L1. The
// dequantized products are accumulated in float32: per chunk, the 16 code products are summed
// and multiplied by the chunk's scales (A's group scale times B's block scale; a chunk never
// straddles a block because blocks are powers of two >= 16 in this variant). The warp then
// reduces across lanes and adds the bias before the one rounding to out_type.
//
// The per-element variant (ragged K, odd block sizes) is the same structure with one element per
// lane step and exact per-element scales; slower, but any shape.
#include <cuda_runtime.h>

#include <algorithm>

#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::kE4M3;
using detail::kE5M2;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 2;  // weight rows per warp

// Kinds of A.
enum AKindId : int { kAE4M3 = 0, kAE5M2 = 1, kAF32 = 2, kAF16 = 3, kABF16 = 4 };
template <int AK>
struct AKind;
template <>
struct AKind<kAE4M3> {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = true;
  static constexpr int kFmt = kE4M3;
};
template <>
struct AKind<kAE5M2> {
  static constexpr int kBytes = 1;
  static constexpr bool kFp8 = true;
  static constexpr int kFmt = kE5M2;
};
template <>
struct AKind<kAF32> {
  using T = float;
  static constexpr int kBytes = 4;
  static constexpr bool kFp8 = false;
};
template <>
struct AKind<kAF16> {
  using T = __half;
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
};
template <>
struct AKind<kABF16> {
  using T = __nv_bfloat16;
  static constexpr int kBytes = 2;
  static constexpr bool kFp8 = false;
};

struct GemvParams {
  const uint8_t* a;  // [m, k] elements of A's kind
  const float* a_scale;
  const uint8_t* b;
  const float* b_scale;
  const void* bias;
  void* y;
  int m, n, k;
  int a_nblk, a_shift, a_blk;  // A scale columns; log2 of its group (31: whole row); group length
  int bn, b_nblk, b_shift, b_blk;
  int out_type;
};

// 16 elements of A starting at `p` (16 * kBytes bytes, 16-byte aligned) as float32.
template <int AK>
__device__ __forceinline__ void LoadAChunk(const uint8_t* p, float* af) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
  if constexpr (AKind<AK>::kFp8) {
    const uint4 v = __ldg(q);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.x, af);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.y, af + 4);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.z, af + 8);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.w, af + 12);
  } else {
    using T = typename AKind<AK>::T;
    constexpr int kPer = detail::Vec16<T>::kN;
#pragma unroll
    for (int i = 0; i < 16 / kPer; ++i) detail::Unpack(__ldg(q + i), af + i * kPer, static_cast<T*>(nullptr));
  }
}

// One element of A as float32 (not scaled).
template <int AK>
__device__ __forceinline__ float LoadAElem(const uint8_t* row, int k) {
  if constexpr (AKind<AK>::kFp8) {
    return detail::DecodeFp8<AKind<AK>::kFmt>(row[k]);
  } else {
    using T = typename AKind<AK>::T;
    return detail::ToFloat(reinterpret_cast<const T*>(row)[k]);
  }
}

__device__ __forceinline__ void StoreOut(const GemvParams& p, int m, int n, float v) {
  const int64_t idx = static_cast<int64_t>(m) * p.n + n;
  if (p.out_type == 1) {
    if (p.bias != nullptr) v += static_cast<const float*>(p.bias)[n];
    static_cast<float*>(p.y)[idx] = v;
  } else if (p.out_type == 10) {
    if (p.bias != nullptr) v += __half2float(static_cast<const __half*>(p.bias)[n]);
    static_cast<__half*>(p.y)[idx] = __float2half_rn(v);
  } else {
    if (p.bias != nullptr) v += __bfloat162float(static_cast<const __nv_bfloat16*>(p.bias)[n]);
    static_cast<__nv_bfloat16*>(p.y)[idx] = __float2bfloat16_rn(v);
  }
}

__device__ __forceinline__ float WarpSum(float v) {
#pragma unroll
  for (int off = 16; off > 0; off >>= 1) v += __shfl_xor_sync(0xFFFFFFFFu, v, off);
  return v;
}

template <int AK, int BF, int MT, int kUnroll>
__global__ void __launch_bounds__(kThreads) GemvVecKernel(GemvParams p) {
  constexpr bool kFp8A = AKind<AK>::kFp8;
  constexpr int kAB = AKind<AK>::kBytes;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n0 = (blockIdx.x * kWarps + warp) * kRows;
  if (n0 >= p.n) return;  // warp-uniform; no block barriers below
  const int m0 = blockIdx.y * MT;

  const uint4* brow[kRows];
  const float* bsrow[kRows];
#pragma unroll
  for (int r = 0; r < kRows; ++r) {
    const int nn = min(n0 + r, p.n - 1);
    brow[r] = reinterpret_cast<const uint4*>(p.b + static_cast<int64_t>(nn) * p.k);
    bsrow[r] = p.b_scale + (nn / p.bn) * p.b_nblk;
  }
  const uint8_t* arow[MT];
  const float* asrow[MT];
#pragma unroll
  for (int i = 0; i < MT; ++i) {
    const int mr = min(m0 + i, p.m - 1);
    arow[i] = p.a + static_cast<int64_t>(mr) * p.k * kAB;
    asrow[i] = kFp8A ? p.a_scale + static_cast<int64_t>(mr) * p.a_nblk : nullptr;
  }

  float acc[MT][kRows];
#pragma unroll
  for (int i = 0; i < MT; ++i) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[i][r] = 0.0f;
  }

  const int nchunks = p.k >> 4;
  for (int c0 = 0; c0 < nchunks; c0 += 32 * kUnroll) {
    uint4 bq[kUnroll][kRows];
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * 32 + lane;
      if (c < nchunks) {
#pragma unroll
        for (int r = 0; r < kRows; ++r) bq[u][r] = __ldcs(brow[r] + c);
      }
    }
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int c = c0 + u * 32 + lane;
      if (c < nchunks) {
        const int k0 = c << 4;
        float bf[kRows][16];
        float sb[kRows];
#pragma unroll
        for (int r = 0; r < kRows; ++r) {
          detail::DecodeFp8x4<BF>(bq[u][r].x, bf[r]);
          detail::DecodeFp8x4<BF>(bq[u][r].y, bf[r] + 4);
          detail::DecodeFp8x4<BF>(bq[u][r].z, bf[r] + 8);
          detail::DecodeFp8x4<BF>(bq[u][r].w, bf[r] + 12);
          sb[r] = __ldg(bsrow[r] + (k0 >> p.b_shift));
        }
#pragma unroll
        for (int i = 0; i < MT; ++i) {
          float af[16];
          LoadAChunk<AK>(arow[i] + static_cast<int64_t>(k0) * kAB, af);
          const float sa = kFp8A ? __ldg(asrow[i] + (k0 >> p.a_shift)) : 1.0f;
#pragma unroll
          for (int r = 0; r < kRows; ++r) {
            float d = 0.0f;
#pragma unroll
            for (int j = 0; j < 16; ++j) d = fmaf(af[j], bf[r][j], d);
            acc[i][r] = fmaf(d, kFp8A ? sa * sb[r] : sb[r], acc[i][r]);
          }
        }
      }
    }
  }

#pragma unroll
  for (int i = 0; i < MT; ++i) {
#pragma unroll
    for (int r = 0; r < kRows; ++r) acc[i][r] = WarpSum(acc[i][r]);
  }
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < MT; ++i) {
#pragma unroll
      for (int r = 0; r < kRows; ++r) {
        if (m0 + i < p.m && n0 + r < p.n) StoreOut(p, m0 + i, n0 + r, acc[i][r]);
      }
    }
  }
}

// Per-element variant: one warp per weight row, 4 rows of A per block row of the grid.
template <int AK, int BF>
__global__ void __launch_bounds__(kThreads) GemvScalarKernel(GemvParams p) {
  constexpr int MT = 4;
  constexpr bool kFp8A = AKind<AK>::kFp8;
  constexpr int kAB = AKind<AK>::kBytes;
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int n = blockIdx.x * kWarps + warp;
  if (n >= p.n) return;
  const int m0 = blockIdx.y * MT;
  const uint8_t* brow = p.b + static_cast<int64_t>(n) * p.k;
  const float* bs = p.b_scale + (n / p.bn) * p.b_nblk;
  const uint8_t* arow[MT];
  const float* asrow[MT];
#pragma unroll
  for (int i = 0; i < MT; ++i) {
    const int mr = min(m0 + i, p.m - 1);
    arow[i] = p.a + static_cast<int64_t>(mr) * p.k * kAB;
    asrow[i] = kFp8A ? p.a_scale + static_cast<int64_t>(mr) * p.a_nblk : nullptr;
  }
  float acc[MT] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int kk = lane; kk < p.k; kk += 32) {
    const float bv = detail::DecodeFp8<BF>(brow[kk]) * bs[kk / p.b_blk];
#pragma unroll
    for (int i = 0; i < MT; ++i) {
      float av = LoadAElem<AK>(arow[i], kk);
      if constexpr (kFp8A) av *= asrow[i][kk / p.a_blk];
      acc[i] = fmaf(av, bv, acc[i]);
    }
  }
#pragma unroll
  for (int i = 0; i < MT; ++i) acc[i] = WarpSum(acc[i]);
  if (lane == 0) {
#pragma unroll
    for (int i = 0; i < MT; ++i) {
      if (m0 + i < p.m) StoreOut(p, m0 + i, n, acc[i]);
    }
  }
}

// log2(block) for a power-of-two block >= 16; 31 for a block covering all of K; -1 otherwise.
int BlockShift(int64_t block, int64_t k) {
  if (block <= 0 || block >= k) return 31;
  if (block < 16 || (block & (block - 1)) != 0) return -1;
  int s = 0;
  while ((int64_t{1} << s) < block) ++s;
  return s;
}

int AKindOf(DType t) {
  switch (t) {
    case DType::kE4M3FN: return kAE4M3;
    case DType::kE5M2: return kAE5M2;
    case DType::kFloat: return kAF32;
    case DType::kFloat16: return kAF16;
    default: return kABF16;
  }
}

template <int AK, int BF>
cudaError_t LaunchVec(const GemvParams& p, int mt, dim3 grid, cudaStream_t s) {
  switch (mt) {
    case 1: GemvVecKernel<AK, BF, 1, 4><<<grid, kThreads, 0, s>>>(p); break;
    case 4: GemvVecKernel<AK, BF, 4, 4><<<grid, kThreads, 0, s>>>(p); break;
    case 8: GemvVecKernel<AK, BF, 8, 2><<<grid, kThreads, 0, s>>>(p); break;
    default: GemvVecKernel<AK, BF, 16, 2><<<grid, kThreads, 0, s>>>(p); break;
  }
  return cudaGetLastError();
}

template <int AK, int BF>
cudaError_t LaunchKind(const GemvParams& p, bool vec, int mt, dim3 grid, cudaStream_t s) {
  if (vec) return LaunchVec<AK, BF>(p, mt, grid, s);
  GemvScalarKernel<AK, BF><<<grid, kThreads, 0, s>>>(p);
  return cudaGetLastError();
}

template <int BF>
cudaError_t LaunchB(const GemvParams& p, int ak, bool vec, int mt, dim3 grid, cudaStream_t s) {
  switch (ak) {
    case kAE4M3: return LaunchKind<kAE4M3, BF>(p, vec, mt, grid, s);
    case kAE5M2: return LaunchKind<kAE5M2, BF>(p, vec, mt, grid, s);
    case kAF32: return LaunchKind<kAF32, BF>(p, vec, mt, grid, s);
    case kAF16: return LaunchKind<kAF16, BF>(p, vec, mt, grid, s);
    default: return LaunchKind<kABF16, BF>(p, vec, mt, grid, s);
  }
}

}  // namespace

bool Fp8GemvIsVectorized(const GemmLaunchArgs& a) {
  if (a.k % 16 != 0) return false;
  if (reinterpret_cast<uintptr_t>(a.a) % 16 != 0 || reinterpret_cast<uintptr_t>(a.b) % 16 != 0) return false;
  if (BlockShift(a.block_k, a.k) < 0) return false;
  if (IsFp8DType(a.a_type) && BlockShift(a.a_block, a.k) < 0) return false;
  return true;
}

cudaError_t LaunchFp8Gemv(const GemmLaunchArgs& a, cudaStream_t stream) {
  if (a.m == 0 || a.n == 0) return cudaSuccess;
  constexpr int64_t kMaxInt = 0x7FFFFFFF;
  if (a.m > kMaxInt || a.n > kMaxInt || a.k > kMaxInt / 4) return cudaErrorInvalidValue;
  const bool vec = Fp8GemvIsVectorized(a);
  GemvParams p{};
  p.a = static_cast<const uint8_t*>(a.a);
  p.a_scale = a.a_scale;
  p.b = a.b;
  p.b_scale = a.b_scale;
  p.bias = a.bias;
  p.n = static_cast<int>(a.n);
  p.k = static_cast<int>(a.k);
  p.out_type = static_cast<int>(a.out_type);
  const bool fp8a = IsFp8DType(a.a_type);
  p.a_nblk = fp8a ? static_cast<int>(NumBlocks(a.k, a.a_block)) : 0;
  p.a_shift = fp8a && vec ? BlockShift(a.a_block, a.k) : 31;
  p.a_blk = static_cast<int>(std::max<int64_t>(1, EffectiveBlock(a.k, a.a_block)));
  p.bn = static_cast<int>(std::max<int64_t>(1, EffectiveBlock(a.n, a.block_n)));
  p.b_nblk = static_cast<int>(NumBlocks(a.k, a.block_k));
  p.b_shift = vec ? BlockShift(a.block_k, a.k) : 31;
  p.b_blk = static_cast<int>(std::max<int64_t>(1, EffectiveBlock(a.k, a.block_k)));

  const int mt = !vec ? 4 : a.m == 1 ? 1 : a.m <= 4 ? 4 : a.m <= 8 ? 8 : 16;
  const int rows_per_block = vec ? kWarps * kRows : kWarps;
  const dim3 grid_base(static_cast<unsigned>((a.n + rows_per_block - 1) / rows_per_block));
  // grid.y is limited to 65535 tiles of A rows: larger M runs in several launches.
  const int64_t max_rows = int64_t{65535} * mt;
  const int ak = AKindOf(a.a_type);
  const int a_bytes = DTypeSize(a.a_type);
  const int o_bytes = DTypeSize(a.out_type);
  for (int64_t m_off = 0; m_off < a.m; m_off += max_rows) {
    const int64_t rows = std::min(max_rows, a.m - m_off);
    GemvParams q = p;
    q.m = static_cast<int>(rows);
    q.a = p.a + m_off * a.k * a_bytes;
    q.a_scale = fp8a ? p.a_scale + m_off * p.a_nblk : nullptr;
    q.y = static_cast<uint8_t*>(a.y) + m_off * a.n * o_bytes;
    dim3 grid = grid_base;
    grid.y = static_cast<unsigned>((rows + mt - 1) / mt);
    const cudaError_t e = a.b_format == Fp8Format::kE4M3FN ? LaunchB<kE4M3>(q, ak, vec, mt, grid, stream)
                                                           : LaunchB<kE5M2>(q, ak, vec, mt, grid, stream);
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace fp8ops::cuda
