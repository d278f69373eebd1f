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
#include <atomic>

#include "ops/cuda/device_info.h"
#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::Decode4;
using detail::kE4M3;
using detail::kE5M2;
using detail::Mma16816;

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kRows = 2;  // weight rows per warp

// Kinds of A.
enum AKindId : int { kAE4M3 = 0, kAE5M2 = 1, kAF32 = 2, kAF16 = 3, kABF16 = 4 };
// A given as FP8 codes with A_scale (the bulk-copy kernel's AQ; else the float kind it quantizes).
constexpr int kCodes = -1;
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

// kN elements of A starting at `p` (kN * kBytes bytes, 16-byte aligned) as float32; FP8 codes
// 16 at a time.
template <int AK, int kN = 16>
__device__ __forceinline__ void LoadAChunk(const uint8_t* p, float* af) {
  const uint4* q = reinterpret_cast<const uint4*>(p);
  if constexpr (AKind<AK>::kFp8) {
    static_assert(kN == 16, "FP8 codes are loaded 16 at a time");
    const uint4 v = __ldg(q);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.x, af);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.y, af + 4);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.z, af + 8);
    detail::DecodeFp8x4<AKind<AK>::kFmt>(v.w, af + 12);
  } else {
    using T = typename AKind<AK>::T;
    constexpr int kPer = detail::Vec16<T>::kN;
#pragma unroll
    for (int i = 0; i < kN / kPer; ++i)
      detail::Unpack(__ldg(q + i), af + i * kPer, static_cast<T*>(nullptr));
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
  detail::StoreWithBias(p.y, p.bias, p.out_type, static_cast<int64_t>(m) * p.n + n, n, v);
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


// ---- Tensor-core variant (A FP8, "W8A8"): no decoding at all --------------------------------
//
// mma.sync m16n8k32 (sm_89+) with the weights as the 16-row operand and up to 8 tokens as the
// 8-column operand (kNt = 2 tiles for 9..16 tokens). Each thread loads 16 contiguous bytes of two
// weight rows (g, g+8) and of one token row per 64-long K tile. The dot product does not depend
// on the order of k, so instead of the fragment's logical k order each thread uses a fixed
// permutation of the physical k (bytes [8s, 8s+8) of its 16 for mma step s), the same for both
// operands. Products of one kP-long K block (64 or 128: it divides every non-whole scale block)
// accumulate in the tensor core, then are scaled (A's group scale x B's block scale) into float32
// accumulators: the promotion DeepGEMM uses, since FP8 tensor-core sums keep fewer bits. The 8
// warps of a block split K (block b of K goes to warp b % 8) and meet in shared memory.
template <int AF, int BF>
__device__ __forceinline__ void MmaFp8(float* c, uint32_t a0, uint32_t a1, uint32_t a2, uint32_t a3, uint32_t b0,
                                       uint32_t b1) {
  if constexpr (AF == kE4M3 && BF == kE4M3) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else if constexpr (AF == kE5M2 && BF == kE4M3) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e5m2.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else if constexpr (AF == kE4M3 && BF == kE5M2) {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e4m3.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm volatile("mma.sync.aligned.m16n8k32.row.col.f32.e5m2.e5m2.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
                 : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
}

// AF: format of A (the tokens); BF: of B (the weights). kTiles = kP / 64. kNt token tiles of 8.
//
// Launched as a programmatic dependent launch (Hopper), the kernel starts while the kernel ahead of
// it (the activation quantization, the previous layer, the previous FP8GEMM) finishes; A, A_scale
// and Y are touched only after GridDependencyWait(). At M = 1 this took K = N = 4096 from 10.2 to
// 9.2 us on the H100 (bench/results/cuda_h100_2026-11-23b). Tried there and dropped: L2 bulk
// prefetches of the weights (cp.async.bulk.prefetch, two rounds ahead: 2.5 us slower at
// N = 14336) and a persistent grid walking the tiles (no gain). The bound of 2 blocks an SM (the
// occupancy it had anyway, <= 128 registers) lets the compiler schedule the loads differently:
// 8.8 instead of 9.8 us at M = 1, K = N = 4096 (same run, alternating binaries).
template <int AF, int BF, int kTiles, int kNt>
__global__ void __launch_bounds__(kThreads, 2) GemvMmaKernel(GemvParams p) {
  constexpr int kP = 64 * kTiles;
  constexpr int kU = 2;  // K blocks per warp in flight (4 measured slower at M = 1 on the H100)
  __shared__ float red[kWarps][kNt][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int m0 = blockIdx.y * (8 * kNt);
  detail::AllowDependentLaunch();
  detail::GridDependencyWait();  // A, A_scale and Y belong to the kernels ahead: untouched before
  const int ra = min(n0 + g, p.n - 1), rb = min(n0 + g + 8, p.n - 1);
  const uint8_t* wa = p.b + static_cast<int64_t>(ra) * p.k + 16 * t;
  const uint8_t* wb = p.b + static_cast<int64_t>(rb) * p.k + 16 * t;
  const float* wsa = p.b_scale + (ra / p.bn) * p.b_nblk;
  const float* wsb = p.b_scale + (rb / p.bn) * p.b_nblk;
  const uint8_t* xr[kNt];
  const float* xs0[kNt];
  const float* xs1[kNt];
#pragma unroll
  for (int j = 0; j < kNt; ++j) {
    const int mr = min(m0 + j * 8 + g, p.m - 1);
    xr[j] = p.a + static_cast<int64_t>(mr) * p.k + 16 * t;
    xs0[j] = p.a_scale + static_cast<int64_t>(min(m0 + j * 8 + 2 * t, p.m - 1)) * p.a_nblk;
    xs1[j] = p.a_scale + static_cast<int64_t>(min(m0 + j * 8 + 2 * t + 1, p.m - 1)) * p.a_nblk;
  }
  float acc[kNt][4];
#pragma unroll
  for (int j = 0; j < kNt; ++j) acc[j][0] = acc[j][1] = acc[j][2] = acc[j][3] = 0.0f;

  const int nblocks = p.k / kP + (p.k % kP != 0);
  for (int b0 = warp; b0 < nblocks; b0 += kWarps * kU) {
    uint4 qa[kU][kTiles], qb[kU][kTiles], qx[kU][kTiles][kNt];
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int kb = (b0 + u * kWarps) * kP;
#pragma unroll
      for (int tt = 0; tt < kTiles; ++tt) {
        const int k0 = kb + tt * 64;
        if (k0 < p.k) {
          qa[u][tt] = __ldcs(reinterpret_cast<const uint4*>(wa + k0));
          qb[u][tt] = __ldcs(reinterpret_cast<const uint4*>(wb + k0));
#pragma unroll
          for (int j = 0; j < kNt; ++j) qx[u][tt][j] = __ldg(reinterpret_cast<const uint4*>(xr[j] + k0));
        }
      }
    }
#pragma unroll
    for (int u = 0; u < kU; ++u) {
      const int kb = (b0 + u * kWarps) * kP;
      if (kb >= p.k) break;
      float c[kNt][4];
#pragma unroll
      for (int j = 0; j < kNt; ++j) c[j][0] = c[j][1] = c[j][2] = c[j][3] = 0.0f;
#pragma unroll
      for (int tt = 0; tt < kTiles; ++tt) {
        if (kb + tt * 64 < p.k) {
#pragma unroll
          for (int j = 0; j < kNt; ++j) {
            MmaFp8<AF, BF>(c[j], qa[u][tt].x, qb[u][tt].x, qa[u][tt].y, qb[u][tt].y, qx[u][tt][j].x, qx[u][tt][j].y);
            MmaFp8<AF, BF>(c[j], qa[u][tt].z, qb[u][tt].z, qa[u][tt].w, qb[u][tt].w, qx[u][tt][j].z, qx[u][tt][j].w);
          }
        }
      }
      const float sba = __ldg(wsa + kb / p.b_blk), sbb = __ldg(wsb + kb / p.b_blk);
#pragma unroll
      for (int j = 0; j < kNt; ++j) {
        const float sa0 = __ldg(xs0[j] + kb / p.a_blk), sa1 = __ldg(xs1[j] + kb / p.a_blk);
        acc[j][0] = fmaf(c[j][0], sba * sa0, acc[j][0]);  // row g, token 2t
        acc[j][1] = fmaf(c[j][1], sba * sa1, acc[j][1]);  // row g, token 2t+1
        acc[j][2] = fmaf(c[j][2], sbb * sa0, acc[j][2]);  // row g+8, token 2t
        acc[j][3] = fmaf(c[j][3], sbb * sa1, acc[j][3]);  // row g+8, token 2t+1
      }
    }
  }
#pragma unroll
  for (int j = 0; j < kNt; ++j) {
    red[warp][j][g][2 * t] = acc[j][0];
    red[warp][j][g][2 * t + 1] = acc[j][1];
    red[warp][j][g + 8][2 * t] = acc[j][2];
    red[warp][j][g + 8][2 * t + 1] = acc[j][3];
  }
  __syncthreads();
  for (int idx = threadIdx.x; idx < kNt * 128; idx += kThreads) {
    const int j = idx / 128, r = (idx / 8) % 16, col = idx % 8;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += red[w][j][r][col];
    const int n = n0 + r, m = m0 + j * 8 + col;
    if (n < p.n && m < p.m) StoreOut(p, m, n, v);
  }
}

// The same products with the weights brought in by the bulk copy engine (sm_90): at kernel start
// one thread queues every 16-row x kBulkKc-byte chunk of the CTA's weight rows, before
// GridDependencyWait(): the weights stream while the kernel ahead finishes, and each CTA has its
// whole share in flight at once instead of GemvMmaKernel's register-limited loads. Measured on the
// H100 (bench/results/cuda_h100_2026-11-23d/gemv_*.txt), M = 1: K = N = 4096 7.7-8.2 vs 8.9 us,
// K = 5632 N = 2048 7.6 vs 8.5 us. Only for grids of one wave (2 CTAs an SM) and K of at most
// kBulkChunks chunks: with more tiles a CTA of the second wave starts its copies only when one of
// the first exits, and refilling chunks within a CTA stalls on the slowest warp; there
// GemvMmaKernel was faster (K = 4096 N = 14336 26-28 vs 23.4 us, also as a persistent grid with a
// ring of stages across tiles; M = 8 K = 14336 N = 4096 28.0 vs 24.7 us). Copies issued by one
// thread after the barriers' __syncthreads ran faster than one row per lane of a warp (7.7 vs
// 8.2 us) or than issuing them before that __syncthreads (7.9-8.3 us). Each warp takes one 128-long
// K block per turn, so kP = 128.
constexpr int kBulkKc = 2048;                 // bytes of K per row and chunk
constexpr int kBulkChunks = 3;                // at most, all in flight: K <= 6144
constexpr int kBulkRowStride = kBulkKc + 64;  // rows g and g + 1 in different halves of the banks
constexpr int kBulkSmem = kBulkChunks * 16 * kBulkRowStride;
// With a_quant_type the dynamic shared memory is sized to K: the weight chunks K needs, then
// A's codes and scales (8 rows at most). It must leave room for 2 CTAs an SM (BulkApplies).
__host__ __device__ constexpr int BulkWeightBytes(int k) {
  return (k + kBulkKc - 1) / kBulkKc * 16 * kBulkRowStride;
}
__host__ __device__ constexpr int BulkCodeBytes(int rows, int k) {
  return (rows * k + 15) / 16 * 16;
}
__host__ __device__ constexpr int BulkFusedSmem(int rows, int k) {
  return BulkWeightBytes(k) + BulkCodeBytes(rows, k) + rows * ((k + 127) / 128) * 4;
}
constexpr int kBulkFusedSmemMax = 108 * 1024;  // 2 x (this + the static 4.2 KiB) <= 227 KiB

// The bulk-copy kernels' prologue: one thread queues every 16-row x kBulkKc-byte chunk of the
// CTA's weight rows (from row n0, rows past N clamped to the last) into `smem`, chunk c completing
// on full[c]. Returns the number of chunks. Touches only the weights (constant: safe before
// GridDependencyWait()).
[[maybe_unused]] __device__ __forceinline__ int BulkStageWeights(const GemvParams& p, int n0,
                                                                 uint8_t* smem, uint64_t* full) {
  const int nchunks = (p.k + kBulkKc - 1) / kBulkKc;
  if (threadIdx.x == 0) {
    for (int s = 0; s < kBulkChunks; ++s) detail::MbarInit(detail::SharedAddr(&full[s]), 1);
    detail::FenceMbarInit();
  }
  __syncthreads();
  if (threadIdx.x == 0) {
#pragma unroll 1
    for (int c = 0; c < nchunks; ++c) {
      const int k0 = c * kBulkKc, bytes = min(kBulkKc, p.k - k0);
      const uint32_t bar = detail::SharedAddr(&full[c]);
      detail::MbarExpectTx(bar, 16 * bytes);
#pragma unroll 1
      for (int r = 0; r < 16; ++r) {
        const int row = min(n0 + r, p.n - 1);
        detail::BulkCopyG2S(detail::SharedAddr(smem + (c * 16 + r) * kBulkRowStride),
                            p.b + static_cast<int64_t>(row) * p.k + k0, bytes, bar);
      }
    }
  }
  return nchunks;
}

// The per-warp sums of the 16 x 8 output tile (red) added across warps and stored.
[[maybe_unused]] __device__ __forceinline__ void BulkReduceStore(const GemvParams& p,
                                                                 float (*red)[16][8],
                                                                 const float* acc, int n0, int m0) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  red[warp][g][2 * t] = acc[0];
  red[warp][g][2 * t + 1] = acc[1];
  red[warp][g + 8][2 * t] = acc[2];
  red[warp][g + 8][2 * t + 1] = acc[3];
  __syncthreads();
  if (threadIdx.x < 128) {
    const int r = threadIdx.x / 8, col = threadIdx.x % 8;
    float v = 0.0f;
#pragma unroll
    for (int w = 0; w < kWarps; ++w) v += red[w][r][col];
    const int n = n0 + r, m = m0 + col;
    if (n < p.n && m < p.m) StoreOut(p, m, n, v);
  }
}

//
// AQ != kCodes (FP8GEMM's a_quant_type): A is float / float16 / bfloat16 (kind AQ) and the CTA
// quantizes its rows of A into shared memory after GridDependencyWait(), while the weights stream
// in: 16 lanes a 128-long group, 8 elements a lane, the group's finite amax by shuffles, the
// division and saturating encode of QuantizeFP8 (bit-identical to LaunchQuantizeFp8, tested).
// The products then read A's codes and scales from shared memory (BulkSmemBytes).
template <int AF, int BF, int AQ = kCodes>
__global__ void __launch_bounds__(kThreads, 2) GemvMmaBulkKernel(GemvParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900  // else a stub: launched on sm_90 only
  constexpr bool kQuant = AQ != kCodes;
  extern __shared__ __align__(128) uint8_t smem[];
  __shared__ __align__(8) uint64_t full[kBulkChunks];
  __shared__ float red[kWarps][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int m0 = blockIdx.y * 8;
  const int nchunks = BulkStageWeights(p, n0, smem, full);
  detail::AllowDependentLaunch();
  detail::GridDependencyWait();  // A, A_scale and Y belong to the kernels ahead
  const int ra = min(n0 + g, p.n - 1), rb = min(n0 + g + 8, p.n - 1);
  const float* wsa = p.b_scale + (ra / p.bn) * p.b_nblk;
  const float* wsb = p.b_scale + (rb / p.bn) * p.b_nblk;
  const uint8_t* xr;
  const float *xs0, *xs1;
  if constexpr (kQuant) {
    // Shared memory after the weights: codes [rows][k], then scales [rows][ngroups].
    const int rows = min(8, p.m - m0), ngroups = (p.k + 127) / 128;
    uint8_t* codes = smem + BulkWeightBytes(p.k);
    float* scales = reinterpret_cast<float*>(codes + BulkCodeBytes(min(8, p.m), p.k));  // as sized
    const int hl = threadIdx.x & 15;  // a half-warp a group
    // kQU groups a half-warp per pass, all loads issued before the first use (the loads wait
    // behind the weight stream). Warp-uniform trip count (the shuffles need every lane): groups
    // warp * 2 + (lane >> 4) + 16 u + 16 kQU i.
    constexpr int kQU = 4;
    const int total = rows * ngroups;
#pragma unroll 1
    for (int base = warp * 2; base < total; base += kQU * kThreads / 16) {
      float v[kQU][8], amax[kQU];
      int off[kQU];  // element offset of the lane's 8 in [rows][k]; -1: none
#pragma unroll
      for (int u = 0; u < kQU; ++u) {
        const int grp = base + u * (kThreads / 16) + (lane >> 4);
        const int k0 = (grp % ngroups) * 128 + 8 * hl;
        off[u] = grp < total && k0 < p.k ? (grp / ngroups) * p.k + k0 : -1;  // K % 64 == 0
        amax[u] = 0.0f;
        if (off[u] >= 0)
          LoadAChunk<AQ, 8>(p.a + (static_cast<int64_t>(m0) * p.k + off[u]) * AKind<AQ>::kBytes,
                            v[u]);
      }
#pragma unroll
      for (int u = 0; u < kQU; ++u) {
        if (off[u] >= 0) {
#pragma unroll
          for (int j = 0; j < 8; ++j) amax[u] = fmaxf(amax[u], detail::FiniteAbs(v[u][j]));
        }
#pragma unroll
        for (int o = 8; o > 0; o >>= 1)
          amax[u] = fmaxf(amax[u], __shfl_xor_sync(0xFFFFFFFFu, amax[u], o));
      }
#pragma unroll
      for (int u = 0; u < kQU; ++u) {
        const int grp = base + u * (kThreads / 16) + (lane >> 4);
        const float sc = detail::ScaleFromAmax(amax[u], detail::Fp8Fmt<AF>::kMax, false);
        if (grp < total && hl == 0) scales[grp] = sc;
        if (off[u] >= 0) {
          uint32_t w[2];
#pragma unroll
          for (int j = 0; j < 2; ++j) {
            const uint32_t lo =
                detail::EncodeFp8x2<AF, true>(v[u][4 * j] / sc, v[u][4 * j + 1] / sc);
            const uint32_t hi =
                detail::EncodeFp8x2<AF, true>(v[u][4 * j + 2] / sc, v[u][4 * j + 3] / sc);
            w[j] = lo | (hi << 16);
          }
          *reinterpret_cast<uint2*>(codes + off[u]) = make_uint2(w[0], w[1]);
        }
      }
    }
    __syncthreads();
    xr = codes + (min(m0 + g, p.m - 1) - m0) * p.k + 16 * t;
    xs0 = scales + (min(m0 + 2 * t, p.m - 1) - m0) * ngroups;
    xs1 = scales + (min(m0 + 2 * t + 1, p.m - 1) - m0) * ngroups;
  } else {
    xr = p.a + static_cast<int64_t>(min(m0 + g, p.m - 1)) * p.k + 16 * t;
    xs0 = p.a_scale + static_cast<int64_t>(min(m0 + 2 * t, p.m - 1)) * p.a_nblk;
    xs1 = p.a_scale + static_cast<int64_t>(min(m0 + 2 * t + 1, p.m - 1)) * p.a_nblk;
  }
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int c = 0; c < nchunks; ++c) {
    const int kend = min(p.k, (c + 1) * kBulkKc);
    for (int kb = c * kBulkKc + warp * 128; kb < kend; kb += kWarps * 128) {
      uint4 qx[2];  // A first: its latency overlaps the wait
#pragma unroll
      for (int tt = 0; tt < 2; ++tt) {
        if (kb + tt * 64 < p.k) {
          if constexpr (kQuant) {
            qx[tt] = *reinterpret_cast<const uint4*>(xr + kb + tt * 64);  // shared memory
          } else {
            qx[tt] = __ldg(reinterpret_cast<const uint4*>(xr + kb + tt * 64));
          }
        }
      }
      detail::MbarWait(detail::SharedAddr(&full[c]), 0);
      const uint8_t* wa = smem + (c * 16 + g) * kBulkRowStride + (kb - c * kBulkKc) + 16 * t;
      const uint8_t* wb = wa + 8 * kBulkRowStride;
      float cc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int tt = 0; tt < 2; ++tt) {
        if (kb + tt * 64 < p.k) {
          const uint4 qa = *reinterpret_cast<const uint4*>(wa + tt * 64);
          const uint4 qb = *reinterpret_cast<const uint4*>(wb + tt * 64);
          MmaFp8<AF, BF>(cc, qa.x, qb.x, qa.y, qb.y, qx[tt].x, qx[tt].y);
          MmaFp8<AF, BF>(cc, qa.z, qb.z, qa.w, qb.w, qx[tt].z, qx[tt].w);
        }
      }
      const float sba = __ldg(wsa + kb / p.b_blk), sbb = __ldg(wsb + kb / p.b_blk);
      float sa0, sa1;
      if constexpr (kQuant) {
        sa0 = xs0[kb / 128];  // shared memory
        sa1 = xs1[kb / 128];
      } else {
        sa0 = __ldg(xs0 + kb / p.a_blk);
        sa1 = __ldg(xs1 + kb / p.a_blk);
      }
      acc[0] = fmaf(cc[0], sba * sa0, acc[0]);  // row g, token 2t
      acc[1] = fmaf(cc[1], sba * sa1, acc[1]);  // row g, token 2t+1
      acc[2] = fmaf(cc[2], sbb * sa0, acc[2]);  // row g+8, token 2t
      acc[3] = fmaf(cc[3], sbb * sa1, acc[3]);  // row g+8, token 2t+1
    }
  }
  BulkReduceStore(p, red, acc, n0, m0);
#endif
}

// Weight-only (A float16 / bfloat16, used as it is): the same bulk-copied weight rows, each code
// pair decoded exactly into A's type (Decode4, as the weight-only tile kernels) and multiplied by
// mma.sync m16n8k16 with float32 sums, weights as the 16-row operand and up to 8 tokens as the
// 8-column one. Each thread's 16 codes of a 64-long K tile (bytes 16t..16t+15 of rows g, g + 8)
// and A's 16 elements at the same k feed the tile's 4 mma steps, step s taking k 16t + 4s + 0..3:
// the same permutation of k for both operands, so the dot products are unchanged. One 128-long
// K block's sums are scaled by B's block scale into the float32 accumulators. Like the W8A8
// kernel it streams the weights while the kernel ahead finishes, and it needs no quantization
// launch ahead of it. H100, M = 1, bf16 A (bench/results/h100_2026-12-07_call3/wo_bulk): 2048^2
// 3.7 us, 4096^2 8.4 us, K = 5632 N = 2048 7.4 us, against 5.2 / 10.3 / 9.4 us for the CUDA-core
// kernel (GemvVecKernel) and 3.6 / 7.7 / 7.7 us for the W8A8 bulk-copy kernel.
template <int AK, int BF>
__global__ void __launch_bounds__(kThreads, 2) GemvWoBulkKernel(GemvParams p) {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900  // else a stub: launched on sm_90 only
  static_assert(AK == kAF16 || AK == kABF16, "16-bit A only");
  constexpr bool kBf16 = AK == kABF16;
  extern __shared__ __align__(128) uint8_t smem[];
  __shared__ __align__(8) uint64_t full[kBulkChunks];
  __shared__ float red[kWarps][16][8];
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * 16;
  const int m0 = blockIdx.y * 8;
  const int nchunks = BulkStageWeights(p, n0, smem, full);
  detail::AllowDependentLaunch();
  detail::GridDependencyWait();  // A and Y belong to the kernels ahead
  const int ra = min(n0 + g, p.n - 1), rb = min(n0 + g + 8, p.n - 1);
  const float* wsa = p.b_scale + (ra / p.bn) * p.b_nblk;
  const float* wsb = p.b_scale + (rb / p.bn) * p.b_nblk;
  const uint8_t* xr = p.a + (static_cast<int64_t>(min(m0 + g, p.m - 1)) * p.k + 16 * t) * 2;
  float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
  for (int c = 0; c < nchunks; ++c) {
    const int kend = min(p.k, (c + 1) * kBulkKc);
    for (int kb = c * kBulkKc + warp * 128; kb < kend; kb += kWarps * 128) {
      uint4 qx[2][2];  // A first: its latency overlaps the wait
#pragma unroll
      for (int tt = 0; tt < 2; ++tt) {
        if (kb + tt * 64 < p.k) {
          const uint4* q = reinterpret_cast<const uint4*>(xr + (kb + tt * 64) * 2);
          qx[tt][0] = __ldg(q);
          qx[tt][1] = __ldg(q + 1);
        }
      }
      detail::MbarWait(detail::SharedAddr(&full[c]), 0);
      const uint8_t* wa = smem + (c * 16 + g) * kBulkRowStride + (kb - c * kBulkKc) + 16 * t;
      const uint8_t* wb = wa + 8 * kBulkRowStride;
      float cc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
      for (int tt = 0; tt < 2; ++tt) {
        if (kb + tt * 64 < p.k) {
          const uint4 qa = *reinterpret_cast<const uint4*>(wa + tt * 64);
          const uint4 qb = *reinterpret_cast<const uint4*>(wb + tt * 64);
          const uint32_t ca[4] = {qa.x, qa.y, qa.z, qa.w}, cb[4] = {qb.x, qb.y, qb.z, qb.w};
          const uint32_t xa[8] = {qx[tt][0].x, qx[tt][0].y, qx[tt][0].z, qx[tt][0].w,
                                  qx[tt][1].x, qx[tt][1].y, qx[tt][1].z, qx[tt][1].w};
#pragma unroll
          for (int s = 0; s < 4; ++s) {
            uint32_t a0, a1, a2, a3;  // rows g / g + 8, k 16t + 4s + {0, 1} / {2, 3}
            Decode4<BF, kBf16>(ca[s], a0, a2);
            Decode4<BF, kBf16>(cb[s], a1, a3);
            Mma16816<kBf16>(cc, a0, a1, a2, a3, xa[2 * s], xa[2 * s + 1]);
          }
        }
      }
      const float sba = __ldg(wsa + kb / p.b_blk), sbb = __ldg(wsb + kb / p.b_blk);
      acc[0] = fmaf(cc[0], sba, acc[0]);  // row g, token 2t
      acc[1] = fmaf(cc[1], sba, acc[1]);  // row g, token 2t+1
      acc[2] = fmaf(cc[2], sbb, acc[2]);  // row g+8, token 2t
      acc[3] = fmaf(cc[3], sbb, acc[3]);  // row g+8, token 2t+1
    }
  }
  BulkReduceStore(p, red, acc, n0, m0);
#endif
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

template <typename Kernel>
cudaError_t LaunchWithPdl(Kernel kernel, const GemvParams& p, dim3 grid, bool pdl, cudaStream_t s,
                          int smem_bytes = 0) {
  return detail::LaunchKernel(kernel, grid, dim3(kThreads), smem_bytes, s, pdl, p);
}

template <int AF, int BF>
cudaError_t LaunchMma(const GemvParams& p, int tiles, int nt, dim3 grid, bool pdl, cudaStream_t s) {
  if (tiles == 2) {
    return nt == 1 ? LaunchWithPdl(GemvMmaKernel<AF, BF, 2, 1>, p, grid, pdl, s)
                   : LaunchWithPdl(GemvMmaKernel<AF, BF, 2, 2>, p, grid, pdl, s);
  }
  return nt == 1 ? LaunchWithPdl(GemvMmaKernel<AF, BF, 1, 1>, p, grid, pdl, s)
                 : LaunchWithPdl(GemvMmaKernel<AF, BF, 1, 2>, p, grid, pdl, s);
}

cudaError_t LaunchMmaFormats(const GemvParams& p, DType a, Fp8Format b, int tiles, int nt,
                             dim3 grid, bool pdl, cudaStream_t s) {
  const bool ae4 = a == DType::kE4M3FN, be4 = b == Fp8Format::kE4M3FN;
  if (ae4 && be4) return LaunchMma<kE4M3, kE4M3>(p, tiles, nt, grid, pdl, s);
  if (ae4) return LaunchMma<kE4M3, kE5M2>(p, tiles, nt, grid, pdl, s);
  if (be4) return LaunchMma<kE5M2, kE4M3>(p, tiles, nt, grid, pdl, s);
  return LaunchMma<kE5M2, kE5M2>(p, tiles, nt, grid, pdl, s);
}

template <int AF, int BF, int AQ>
cudaError_t LaunchMmaBulk(const GemvParams& p, dim3 grid, bool pdl, cudaStream_t s) {
  const int smem = AQ == kCodes ? kBulkSmem : BulkFusedSmem(std::min(p.m, 8), p.k);
  const int max_smem = AQ == kCodes ? kBulkSmem : kBulkFusedSmemMax;
  if (cudaError_t e = detail::AllowDynamicSmem<GemvMmaBulkKernel<AF, BF, AQ>>(max_smem);
      e != cudaSuccess) {
    return e;
  }
  return LaunchWithPdl(GemvMmaBulkKernel<AF, BF, AQ>, p, grid, pdl, s, smem);
}

// af: the format of A's codes (given, or what A is quantized to); aq: A's storage (kCodes or
// the float kind quantized in the kernel).
template <int AQ>
cudaError_t LaunchMmaBulkStorage(const GemvParams& p, Fp8Format af, Fp8Format b, dim3 grid,
                                 bool pdl, cudaStream_t s) {
  const bool ae4 = af == Fp8Format::kE4M3FN, be4 = b == Fp8Format::kE4M3FN;
  if (ae4 && be4) return LaunchMmaBulk<kE4M3, kE4M3, AQ>(p, grid, pdl, s);
  if (ae4) return LaunchMmaBulk<kE4M3, kE5M2, AQ>(p, grid, pdl, s);
  if (be4) return LaunchMmaBulk<kE5M2, kE4M3, AQ>(p, grid, pdl, s);
  return LaunchMmaBulk<kE5M2, kE5M2, AQ>(p, grid, pdl, s);
}

template <int AK, int BF>
cudaError_t LaunchWoBulk(const GemvParams& p, dim3 grid, bool pdl, cudaStream_t s) {
  if (cudaError_t e = detail::AllowDynamicSmem<GemvWoBulkKernel<AK, BF>>(kBulkSmem);
      e != cudaSuccess) {
    return e;
  }
  return LaunchWithPdl(GemvWoBulkKernel<AK, BF>, p, grid, pdl, s, kBulkSmem);
}

cudaError_t LaunchMmaBulkFormats(const GemvParams& p, const GemmLaunchArgs& a, dim3 grid, bool pdl,
                                 cudaStream_t s) {
  if (!a.quantize_a && !IsFp8DType(a.a_type)) {  // weight-only: float16 / bfloat16 A
    const bool be4 = a.b_format == Fp8Format::kE4M3FN;
    if (a.a_type == DType::kFloat16) {
      return be4 ? LaunchWoBulk<kAF16, kE4M3>(p, grid, pdl, s)
                 : LaunchWoBulk<kAF16, kE5M2>(p, grid, pdl, s);
    }
    return be4 ? LaunchWoBulk<kABF16, kE4M3>(p, grid, pdl, s)
               : LaunchWoBulk<kABF16, kE5M2>(p, grid, pdl, s);
  }
  if (!a.quantize_a)
    return LaunchMmaBulkStorage<kCodes>(p, ToFp8Format(a.a_type), a.b_format, grid, pdl, s);
  switch (a.a_type) {
    case DType::kFloat:
      return LaunchMmaBulkStorage<kAF32>(p, a.a_quant_format, a.b_format, grid, pdl, s);
    case DType::kFloat16:
      return LaunchMmaBulkStorage<kAF16>(p, a.a_quant_format, a.b_format, grid, pdl, s);
    default:
      return LaunchMmaBulkStorage<kABF16>(p, a.a_quant_format, a.b_format, grid, pdl, s);
  }
}

// A and B at 16-byte boundaries: the vector loads and bulk copies of every variant but the scalar.
bool OperandsAligned16(const GemmLaunchArgs& a) {
  return reinterpret_cast<uintptr_t>(a.a) % 16 == 0 && reinterpret_cast<uintptr_t>(a.b) % 16 == 0;
}

// K-block length the tensor-core variant promotes at (128 or 64), 0 if it does not apply.
int MmaBlock(const GemmLaunchArgs& a) {
  if (!IsFp8DType(a.a_type) || a.k <= 0 || a.k % 64 != 0) return 0;
  if (!OperandsAligned16(a)) return 0;
  auto fits = [&](int64_t block, int64_t p) { return block <= 0 || block >= a.k || block % p == 0; };
  if (fits(a.block_k, 128) && fits(a.a_block, 128)) return 128;
  if (fits(a.block_k, 64) && fits(a.a_block, 64)) return 64;
  return 0;
}

// Weight-only A for GemvWoBulkKernel: float16 / bfloat16, K % 64 == 0 (whole 64-long tiles of
// the staged rows), 16-byte aligned A and B, B's blocks whole multiples of the 128-long K block.
bool WoBulkShapeApplies(const GemmLaunchArgs& a) {
  if (a.a_type != DType::kFloat16 && a.a_type != DType::kBFloat16) return false;
  if (a.k <= 0 || a.k % 64 != 0) return false;
  if (!OperandsAligned16(a)) return false;
  return a.block_k <= 0 || a.block_k >= a.k || a.block_k % 128 == 0;
}

// The bulk-copy kernels: Hopper (the sm_90a build), 128-long K blocks, M <= 8, K <= 6144 and one
// wave of 16-row tiles at 2 CTAs an SM (see GemvMmaBulkKernel); FP8 A (GemvMmaBulkKernel, also
// with a_quant_type) or weight-only float16 / bfloat16 A (GemvWoBulkKernel).
//
// With a_quant_type (A float / float16 / bfloat16): A's groups must be the 128-long K blocks
// (a_block 128, or one group covering K <= 128), K % 64 == 0, block_k fitting 128 as for FP8 A,
// and A's codes must fit in shared memory beside the weights (BulkFusedSmem).
//
// The fused form only for M = 1: measured on an H200 (bench/results/cuda_2026-11-23e_fused), M = 1
// K = 5632 N = 2048 7.9 vs 9.1 us for QuantizeFP8 -> FP8GEMM, K = N = 4096 9.0 vs 8.9 us, but M = 4
// K = N = 4096 12.9 vs 9.1 us (the CTA's quantization pass does not hide behind the weight
// stream when two CTAs fill every SM).
bool BulkApplies(const GemmLaunchArgs& a) {
  if (a.m > 8 || a.k > kBulkChunks * kBulkKc || !GemvBulkEnabled()) return false;
  if (a.quantize_a) {
    if (!IsFloatDType(a.a_type) || a.m != 1) return false;
    GemmLaunchArgs codes = a;  // the FP8 problem's conditions on K, block_k and alignment
    codes.quantize_a = false;
    codes.a_type = ToDType(a.a_quant_format);
    const bool groups_of_128 =
        a.a_block == 128 || (a.k <= 128 && (a.a_block <= 0 || a.a_block >= a.k));
    const int64_t rows = std::min<int64_t>(a.m, 8);
    if (!groups_of_128 || MmaBlock(codes) != 128 || (a.a_type == DType::kFloat && a.k % 64 != 0) ||
        BulkFusedSmem(static_cast<int>(rows), static_cast<int>(a.k)) > kBulkFusedSmemMax) {
      return false;
    }
  } else if (IsFp8DType(a.a_type)) {
    if (MmaBlock(a) != 128) return false;
  } else if (!WoBulkShapeApplies(a)) {
    return false;
  }
  return (a.n + 15) / 16 <= 2 * static_cast<int64_t>(CurrentSmCount());
}

bool VectorApplies(const GemmLaunchArgs& a) {
  if (a.k % 16 != 0) return false;
  if (!OperandsAligned16(a)) return false;
  if (BlockShift(a.block_k, a.k) < 0) return false;
  if (IsFp8DType(a.a_type) && BlockShift(a.a_block, a.k) < 0) return false;
  return true;
}

}  // namespace

const char* GemvVariantName(GemvVariant v) {
  switch (v) {
    case GemvVariant::kTensorCore: return "gemv_mma";
    case GemvVariant::kTensorCoreBulk: return "gemv_mma_bulk";
    case GemvVariant::kVector: return "gemv_ffma16B";
    case GemvVariant::kScalar: return "gemv_scalar";
    default: return "gemv_auto";
  }
}

bool FusedGemvApplies(const GemmLaunchArgs& a) { return a.quantize_a && BulkApplies(a); }

GemvVariant ResolveGemvVariant(const GemmLaunchArgs& a, GemvVariant want) {
  if (a.quantize_a)
    return GemvVariant::kTensorCoreBulk;  // the only one; LaunchFp8Gemv checks it applies
  if ((want == GemvVariant::kAuto || want == GemvVariant::kTensorCoreBulk) && BulkApplies(a)) {
    return GemvVariant::kTensorCoreBulk;
  }
  if ((want == GemvVariant::kAuto || want == GemvVariant::kTensorCore ||
       want == GemvVariant::kTensorCoreBulk) &&
      MmaBlock(a) != 0) {
    return GemvVariant::kTensorCore;
  }
  if (want != GemvVariant::kScalar && VectorApplies(a)) return GemvVariant::kVector;
  return GemvVariant::kScalar;
}

cudaError_t LaunchFp8Gemv(const GemmLaunchArgs& a, cudaStream_t stream, GemvVariant want) {
  if (a.m == 0 || a.n == 0) return cudaSuccess;
  constexpr int64_t kMaxInt = 0x7FFFFFFF;
  if (a.m > kMaxInt || a.n > kMaxInt || a.k > kMaxInt / 4) return cudaErrorInvalidValue;
  if (a.quantize_a && !FusedGemvApplies(a)) return cudaErrorInvalidValue;  // the caller's plan
  const GemvVariant variant = ResolveGemvVariant(a, want);
  const bool vec = variant == GemvVariant::kVector;
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

  const bool bulk = variant == GemvVariant::kTensorCoreBulk;
  int mt, rows_per_block;
  if (bulk) {
    mt = 8;
    rows_per_block = 16;
  } else if (variant == GemvVariant::kTensorCore) {
    mt = a.m <= 8 ? 8 : 16;
    rows_per_block = 16;
  } else if (vec) {
    mt = a.m == 1 ? 1 : a.m <= 4 ? 4 : a.m <= 8 ? 8 : 16;
    rows_per_block = kWarps * kRows;
  } else {
    mt = 4;
    rows_per_block = kWarps;
  }
  const dim3 grid_base(static_cast<unsigned>((a.n + rows_per_block - 1) / rows_per_block));
  // grid.y is limited to 65535 tiles of A rows: larger M runs in several launches.
  const int64_t max_rows = int64_t{65535} * mt;
  const int ak = AKindOf(a.a_type);
  const int a_bytes = DTypeSize(a.a_type);
  const int o_bytes = DTypeSize(a.out_type);
  const int mma_tiles = variant == GemvVariant::kTensorCore ? MmaBlock(a) / 64 : 0;
  const bool pdl = (bulk || variant == GemvVariant::kTensorCore) && PdlEnabled();
  for (int64_t m_off = 0; m_off < a.m; m_off += max_rows) {
    const int64_t rows = std::min(max_rows, a.m - m_off);
    GemvParams q = p;
    q.m = static_cast<int>(rows);
    q.a = p.a + m_off * a.k * a_bytes;
    q.a_scale = fp8a ? p.a_scale + m_off * p.a_nblk : nullptr;
    q.y = static_cast<uint8_t*>(a.y) + m_off * a.n * o_bytes;
    dim3 grid = grid_base;
    grid.y = static_cast<unsigned>((rows + mt - 1) / mt);
    cudaError_t e;
    if (bulk) {
      e = LaunchMmaBulkFormats(q, a, grid, pdl, stream);
    } else if (variant == GemvVariant::kTensorCore) {
      e = LaunchMmaFormats(q, a.a_type, a.b_format, mma_tiles, mt / 8, grid, pdl, stream);
    } else {
      e = a.b_format == Fp8Format::kE4M3FN ? LaunchB<kE4M3>(q, ak, vec, mt, grid, stream)
                                           : LaunchB<kE5M2>(q, ak, vec, mt, grid, stream);
    }
    if (e != cudaSuccess) return e;
  }
  return cudaSuccess;
}

}  // namespace fp8ops::cuda
