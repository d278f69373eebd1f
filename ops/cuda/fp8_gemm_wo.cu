// FP8GEMM, weight-only (A float16/bfloat16, B FP8), on the tensor cores: the path for M > 16
// (prefill). The streaming kernel (fp8_gemv.cu) reads the weights once per 16 rows of A with
// CUDA-core FMAs; at M = 512 that was ~5% of cuBLAS FP16 (bench/results/cuda_h100_2026-11-23b).
//
// Why this is exact enough: FP8 codes are exact in float16 (E4M3 and E5M2: every finite value,
// subnormals included, and NaN/Inf stay NaN/Inf) and in bfloat16 (E5M2's smallest subnormal 2^-16
// is a normal bfloat16). B is decoded *unscaled* into A's type, so every product a * code is exact
// in the tensor cores' float32 accumulators. The block scale of B is applied per K block: each
// block's products accumulate in a fresh float32 fragment, then acc += block_sum * b_scale[n][k
// block] (float32 FMA), the rounding that the spec's bound (docs/OPERATORS.md 1.5: (K + 2) 2^-24
// sum|ab|, doubled) allows for. All three kernels below keep this contract.
//
// Three kernels (WoTile picks one; ChooseWoTile by shape, H100 numbers in
// bench/results/cuda_h100_2026-11-23c/cuda_bench_weight_only.md):
//  - WoMmaKernel (k128x128, k64x64): mma.sync m16n8k16, 64-long K tiles, 3 cp.async stages. The
//    only one with per-element tile loads (K % 16 != 0 or unaligned A/B): every tile falls back to
//    it there.
//  - WoMma2Kernel (k*_k64 / k*_k128): the same fragments with 64- or 128-long K tiles 3 or 4 deep
//    and B's scales loaded a block ahead; for GPUs without wgmma.
//  - WoWgmmaKernel (kWg*, sm_90 only): wgmma on swizzled shared memory, the weights decoded once
//    per CTA (see its comment). 2-3x the mma.sync kernels from M = 128 up.
//
// mma.sync fragment layout (PTX ISA, mma.m16n8k16 .f16/.bf16): with g = lane / 4, t = lane % 4,
//   a0 = A[g][2t..2t+1], a1 = A[g+8][2t..2t+1], a2 = A[g][2t+8..2t+9], a3 = A[g+8][2t+8..2t+9]
//   b0 = B[k=2t..2t+1][n=g], b1 = B[k=2t+8..2t+9][n=g]      (lower k in the lower 16 bits)
//   c0, c1 = C[g][2t], C[g][2t+1]; c2, c3 = C[g+8][2t], C[g+8][2t+1].
// A dot product does not depend on the order of k, so each thread works on the *physical* k range
// [16t, 16t + 16) of the 64-long tile and maps it onto the logical k of the 4 mma steps s = 0..3:
//   logical 2t + j      <-> physical 16t + 4s + j       (j = 0, 1)
//   logical 2t + 8 + j  <-> physical 16t + 4s + 2 + j
// the same for A and B. So a thread reads 16 contiguous codes of a B row (one 16-byte shared load,
// word s = bytes 4s..4s+3 = {b0, b1} of step s) and 16 contiguous elements of an A row (two
// 16-byte loads, words 2s and 2s + 1 = a0/a2 (row g) or a1/a3 (row g + 8) of step s). Both loads
// are free of bank conflicts: B rows are 64 bytes (a quarter-warp reads 2 rows = 128 contiguous
// bytes); A rows are padded to 144 bytes (rows g, g + 1 land 16 bytes apart modulo 128).
//
// Shapes: any M, N; K a multiple of 16 with 16-byte aligned A and B uses cp.async (the last tile
// of K is zero-filled past K); any other K uses plain per-element loads into the same tiles.
// block_k must be a multiple of 64 or cover K (one block); anything else is the streaming
// kernel's (WoMmaApplies).
#include <cuda_runtime.h>

#include <algorithm>
#include <type_traits>

#include "ops/cuda/device_info.h"
#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::Decode4;
using detail::DecodePair;
using detail::kE4M3;
using detail::kE5M2;
using detail::Mma16816;

constexpr int kBK = 64;            // K per tile
constexpr int kAStride = kBK + 8;  // A row in shared memory, elements (144 bytes: see above)
constexpr int kBStride = kBK;      // B row in shared memory, bytes
constexpr int kStages = 3;

struct WoParams {
  const uint16_t* a;  // [m, k] float16 or bfloat16 bits
  const uint8_t* b;   // [n, k] codes
  const float* b_scale;
  const void* bias;
  void* y;
  int m, n, k;
  int bn, b_nblk, b_blk;  // rows per B scale block; K blocks; K block length (multiple of 64)
  int out_type;
};

__device__ __forceinline__ void CpAsync16(void* smem, const void* gmem, bool pred) {
  const uint32_t s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int bytes = pred ? 16 : 0;  // 0: zero-fill, nothing read
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(s), "l"(gmem), "r"(bytes));
}
__device__ __forceinline__ void CpAsyncCommit() { asm volatile("cp.async.commit_group;\n" ::); }
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N));
}

// The cp.async ring of both mma.sync kernels: RingFill queues tiles 0 .. kStages - 2; RingNext,
// at the top of K tile kt, waits for tile kt, then (after a barrier: every thread is done with
// the stage it refills) queues tile kt + kStages - 1. load(stage, tile) issues one tile's copies.
template <int kStages, typename Load>
__device__ __forceinline__ void RingFill(int ktiles, Load&& load) {
#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) load(s, s);
    CpAsyncCommit();
  }
}
template <int kStages, typename Load>
__device__ __forceinline__ void RingNext(int kt, int ktiles, Load&& load) {
  CpAsyncWait<kStages - 2>();
  __syncthreads();
  const int pre = kt + kStages - 1;
  if (pre < ktiles) load(pre % kStages, pre);
  CpAsyncCommit();
}

__device__ __forceinline__ void StoreWo(const WoParams& p, int m, int n, float v) {
  detail::StoreWithBias(p.y, p.bias, p.out_type, static_cast<int64_t>(m) * p.n + n, n, v);
}

// ---- The warp tile of the two mma.sync kernels: WM x WN fragments of m16n8, 4 floats each.
template <int WM, int WN>
using WarpFrags = float[WM][WN][4];

template <int WM, int WN>
__device__ __forceinline__ void ZeroFrags(WarpFrags<WM, WN>& f) {
#pragma unroll
  for (int i = 0; i < WM; ++i) {
#pragma unroll
    for (int j = 0; j < WN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) f[i][j][e] = 0.0f;
    }
  }
}

// blk += A (the warp's rows g, g + 8 of each 16-row fragment, 16 physical k at sa) times B (its
// decoded fragments bf[j][2s + {0,1}] of step s), over the 4 k16 steps of a 64-long K slice.
template <bool kBf16, int WM, int WN>
__device__ __forceinline__ void WarpMma64(WarpFrags<WM, WN>& blk, const uint16_t* sa, int a_stride,
                                          const uint32_t (&bf)[WN][8]) {
#pragma unroll
  for (int i = 0; i < WM; ++i) {
    const uint16_t* r0 = sa + i * 16 * a_stride;  // row g
    const uint16_t* r1 = r0 + 8 * a_stride;       // row g + 8
    const uint4 x0 = *reinterpret_cast<const uint4*>(r0),
                x1 = *reinterpret_cast<const uint4*>(r0 + 8);
    const uint4 y0 = *reinterpret_cast<const uint4*>(r1),
                y1 = *reinterpret_cast<const uint4*>(r1 + 8);
    const uint32_t ra[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    const uint32_t rb[8] = {y0.x, y0.y, y0.z, y0.w, y1.x, y1.y, y1.z, y1.w};
#pragma unroll
    for (int s = 0; s < 4; ++s) {
#pragma unroll
      for (int j = 0; j < WN; ++j) {
        Mma16816<kBf16>(blk[i][j], ra[2 * s], rb[2 * s], ra[2 * s + 1], rb[2 * s + 1], bf[j][2 * s],
                        bf[j][2 * s + 1]);
      }
    }
  }
}

// acc += blk * B's scales of the block (sc[j][e]: column 2t + e of n fragment j); blk = 0.
template <int WM, int WN>
__device__ __forceinline__ void PromoteFrags(WarpFrags<WM, WN>& acc, WarpFrags<WM, WN>& blk,
                                             const float (&sc)[WN][2]) {
#pragma unroll
  for (int j = 0; j < WN; ++j) {
#pragma unroll
    for (int i = 0; i < WM; ++i) {
      acc[i][j][0] = fmaf(blk[i][j][0], sc[j][0], acc[i][j][0]);
      acc[i][j][1] = fmaf(blk[i][j][1], sc[j][1], acc[i][j][1]);
      acc[i][j][2] = fmaf(blk[i][j][2], sc[j][0], acc[i][j][2]);
      acc[i][j][3] = fmaf(blk[i][j][3], sc[j][1], acc[i][j][3]);
#pragma unroll
      for (int e = 0; e < 4; ++e) blk[i][j][e] = 0.0f;
    }
  }
}

// Y rows m_g + 16i (+ 8), columns n_t + 8j (+ 1): m_g = the warp's first row + g, n_t = its first
// column + 2t.
template <int WM, int WN>
__device__ __forceinline__ void StoreFrags(const WoParams& p, const WarpFrags<WM, WN>& acc, int m_g,
                                           int n_t) {
#pragma unroll
  for (int i = 0; i < WM; ++i) {
#pragma unroll
    for (int j = 0; j < WN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m_g + i * 16 + (e >= 2 ? 8 : 0);
        const int n = n_t + j * 8 + (e & 1);
        if (m < p.m && n < p.n) StoreWo(p, m, n, acc[i][j][e]);
      }
    }
  }
}

template <int WARPS_M, int WARPS_N, int WM, int WN>
struct Tile {
  static constexpr int kThreads = WARPS_M * WARPS_N * 32;
  static constexpr int kBM = WARPS_M * WM * 16;
  static constexpr int kBN = WARPS_N * WN * 8;
  static constexpr int kABytes = kBM * kAStride * 2;
  static constexpr int kStageBytes = kABytes + kBN * kBStride;
  static constexpr int kSmem = kStages * kStageBytes;
};

// Copies K tile [k0, k0 + 64) of A rows [m0, m0 + BM) and B rows [n0, n0 + BN) into one stage,
// zeros outside the matrices. kVec: cp.async (K % 16 == 0, aligned rows); else per element.
template <typename T, bool kVec>
__device__ __forceinline__ void LoadTile(const WoParams& p, uint8_t* stage, int m0, int n0, int k0,
                                         int tid) {
  uint16_t* sa = reinterpret_cast<uint16_t*>(stage);
  uint8_t* sb = stage + T::kABytes;
  if constexpr (kVec) {
    for (int c = tid; c < T::kBM * (kBK / 8); c += T::kThreads) {
      const int r = c / (kBK / 8), kc = (c % (kBK / 8)) * 8;
      const bool ok = m0 + r < p.m && k0 + kc < p.k;
      const uint16_t* src = ok ? p.a + static_cast<int64_t>(m0 + r) * p.k + k0 + kc : p.a;
      CpAsync16(sa + r * kAStride + kc, src, ok);
    }
    for (int c = tid; c < T::kBN * (kBK / 16); c += T::kThreads) {
      const int r = c / (kBK / 16), kc = (c % (kBK / 16)) * 16;
      const bool ok = n0 + r < p.n && k0 + kc < p.k;
      const uint8_t* src = ok ? p.b + static_cast<int64_t>(n0 + r) * p.k + k0 + kc : p.b;
      CpAsync16(sb + r * kBStride + kc, src, ok);
    }
  } else {
    for (int c = tid; c < T::kBM * kBK; c += T::kThreads) {
      const int r = c / kBK, kk = c % kBK;
      const bool ok = m0 + r < p.m && k0 + kk < p.k;
      sa[r * kAStride + kk] = ok ? p.a[static_cast<int64_t>(m0 + r) * p.k + k0 + kk] : uint16_t{0};
    }
    for (int c = tid; c < T::kBN * kBK; c += T::kThreads) {
      const int r = c / kBK, kk = c % kBK;
      const bool ok = n0 + r < p.n && k0 + kk < p.k;
      sb[r * kBStride + kk] = ok ? p.b[static_cast<int64_t>(n0 + r) * p.k + k0 + kk] : uint8_t{0};
    }
  }
}

// kOneBlock: one B scale per output column over all of K (per tensor / per channel), applied once
// at the end; otherwise promoted at the end of every block_k.
template <bool kBf16, int BF, int WARPS_M, int WARPS_N, int WM, int WN, bool kVec, bool kOneBlock>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32) WoMmaKernel(WoParams p) {
  using T = Tile<WARPS_M, WARPS_N, WM, WN>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const int m0 = blockIdx.x * T::kBM, n0 = blockIdx.y * T::kBN;
  const int ktiles = (p.k + kBK - 1) / kBK;

  WarpFrags<WM, WN> acc, blk;
  ZeroFrags<WM, WN>(acc);
  ZeroFrags<WM, WN>(blk);
  // Scale row of this thread's two columns (2t, 2t + 1) in each n tile.
  const float* srow[WN][2];
#pragma unroll
  for (int j = 0; j < WN; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int n = min(n0 + wn * WN * 8 + j * 8 + 2 * t + e, p.n - 1);
      srow[j][e] = p.b_scale + static_cast<int64_t>(n / p.bn) * p.b_nblk;
    }
  }
  auto promote = [&](int kb) {
    float sc[WN][2];
#pragma unroll
    for (int j = 0; j < WN; ++j) {
      sc[j][0] = __ldg(srow[j][0] + kb);
      sc[j][1] = __ldg(srow[j][1] + kb);
    }
    PromoteFrags<WM, WN>(acc, blk, sc);
  };

  auto load = [&](int stage, int tile) {
    LoadTile<T, kVec>(p, smem + stage * T::kStageBytes, m0, n0, tile * kBK, tid);
  };
  RingFill<kStages>(ktiles, load);
  for (int kt = 0; kt < ktiles; ++kt) {
    RingNext<kStages>(kt, ktiles, load);

    const uint8_t* stage = smem + (kt % kStages) * T::kStageBytes;
    const uint16_t* sa =
        reinterpret_cast<const uint16_t*>(stage) + (wm * WM * 16 + g) * kAStride + 16 * t;
    const uint8_t* sb = stage + T::kABytes + (wn * WN * 8 + g) * kBStride + 16 * t;
    uint32_t bf[WN][8];  // [j][2s + {0,1}] = b0, b1 of step s
#pragma unroll
    for (int j = 0; j < WN; ++j) {
      const uint4 q = *reinterpret_cast<const uint4*>(sb + j * 8 * kBStride);
      const uint32_t w[4] = {q.x, q.y, q.z, q.w};
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        bf[j][2 * s] = DecodePair<BF, kBf16>(w[s]);
        bf[j][2 * s + 1] = DecodePair<BF, kBf16>(w[s] >> 16);
      }
    }
    WarpMma64<kBf16, WM, WN>(blk, sa, kAStride, bf);
    if constexpr (!kOneBlock) {
      const int kend = (kt + 1) * kBK;
      if (kend % p.b_blk == 0 || kt == ktiles - 1) promote(kt * kBK / p.b_blk);
    }
  }
  CpAsyncWait<0>();
  if constexpr (kOneBlock) promote(0);

  StoreFrags<WM, WN>(p, acc, m0 + wm * WM * 16 + g, n0 + wn * WN * 8 + 2 * t);
}

// ------------------------------------------------------------------ second kernel (v2)
// The same fragment mapping and numerics as WoMmaKernel, with what bounded the first one at small
// M (one CTA per SM, so the bytes in flight per SM and the waits on B's scales set the pace):
//  - K tiles of BK = 64 or 128 and STAGES deep (3 or 4): 2 to 4 times the bytes in flight;
//  - B's scales for the next K block are loaded right after a block is promoted, so the promotion
//    never waits on a global load;
//  - E5M2 into float16 is one byte permutation (an E5M2 code is the high byte of its float16).
// 128-byte B rows (BK = 128) swap their 64-byte halves on odd rows, so that the 8 lanes of a
// quarter warp (rows g, g + 1, 16 bytes each at 16t) hit distinct banks.
template <int WARPS_M, int WARPS_N, int WM, int WN, int BK, int STAGES>
struct Tile2 {
  static_assert(BK == 64 || BK == 128, "K tile");
  static constexpr int kThreads = WARPS_M * WARPS_N * 32;
  static constexpr int kBM = WARPS_M * WM * 16;
  static constexpr int kBN = WARPS_N * WN * 8;
  static constexpr int kAStride = BK + 8;          // elements: 144 or 272 bytes, 16 mod 128
  static constexpr int kBSwz = BK == 128 ? 4 : 0;  // 16-byte chunk index ^= kBSwz on odd rows
  static constexpr int kABytes = kBM * kAStride * 2;
  static constexpr int kStageBytes = kABytes + kBN * BK;
  static constexpr int kSmem = STAGES * kStageBytes;
};

template <typename T, int BK>
__device__ __forceinline__ void LoadTile2(const WoParams& p, uint8_t* stage, int m0, int n0, int k0,
                                          int tid) {
  uint16_t* sa = reinterpret_cast<uint16_t*>(stage);
  uint8_t* sb = stage + T::kABytes;
#pragma unroll
  for (int c = tid; c < T::kBM * (BK / 8); c += T::kThreads) {
    const int r = c / (BK / 8), kc = (c % (BK / 8)) * 8;
    const bool ok = m0 + r < p.m && k0 + kc < p.k;
    const uint16_t* src = ok ? p.a + static_cast<int64_t>(m0 + r) * p.k + k0 + kc : p.a;
    CpAsync16(sa + r * T::kAStride + kc, src, ok);
  }
#pragma unroll
  for (int c = tid; c < T::kBN * (BK / 16); c += T::kThreads) {
    const int r = c / (BK / 16), ch = c % (BK / 16);
    const bool ok = n0 + r < p.n && k0 + ch * 16 < p.k;
    const uint8_t* src = ok ? p.b + static_cast<int64_t>(n0 + r) * p.k + k0 + ch * 16 : p.b;
    CpAsync16(sb + r * BK + ((ch ^ ((r & 1) * T::kBSwz)) * 16), src, ok);
  }
}

// Vectorized loads only (K % 16 == 0, 16-byte aligned A and B); the first kernel takes the rest.
template <bool kBf16, int BF, int WARPS_M, int WARPS_N, int WM, int WN, int BK, int STAGES,
          bool kOneBlock>
__global__ void __launch_bounds__(WARPS_M* WARPS_N * 32) WoMma2Kernel(WoParams p) {
  using T = Tile2<WARPS_M, WARPS_N, WM, WN, BK, STAGES>;
  extern __shared__ __align__(16) uint8_t smem[];
  const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int wm = warp / WARPS_N, wn = warp % WARPS_N;
  const int m0 = blockIdx.x * T::kBM, n0 = blockIdx.y * T::kBN;
  const int ktiles = (p.k + BK - 1) / BK;

  WarpFrags<WM, WN> acc, blk;
  ZeroFrags<WM, WN>(acc);
  ZeroFrags<WM, WN>(blk);
  // Offsets of the scale rows (32 bits: WoMmaApplies bounds the scale tensor) save registers.
  uint32_t srow[WN][2];
  float sc[WN][2];  // scales of the K block being summed, loaded one block ahead
#pragma unroll
  for (int j = 0; j < WN; ++j) {
#pragma unroll
    for (int e = 0; e < 2; ++e) {
      const int n = min(n0 + wn * WN * 8 + j * 8 + 2 * t + e, p.n - 1);
      srow[j][e] = static_cast<uint32_t>(n / p.bn) * static_cast<uint32_t>(p.b_nblk);
      sc[j][e] = __ldg(p.b_scale + srow[j][e]);
    }
  }
  auto promote = [&](int kb) {
    PromoteFrags<WM, WN>(acc, blk, sc);
    if (kb + 1 < p.b_nblk) {
#pragma unroll
      for (int j = 0; j < WN; ++j) {
        sc[j][0] = __ldg(p.b_scale + (srow[j][0] + kb + 1));
        sc[j][1] = __ldg(p.b_scale + (srow[j][1] + kb + 1));
      }
    }
  };

  auto load = [&](int stage, int tile) {
    LoadTile2<T, BK>(p, smem + stage * T::kStageBytes, m0, n0, tile * BK, tid);
  };
  RingFill<STAGES>(ktiles, load);
  for (int kt = 0; kt < ktiles; ++kt) {
    RingNext<STAGES>(kt, ktiles, load);

    const uint8_t* stage = smem + (kt % STAGES) * T::kStageBytes;
#pragma unroll
    for (int sub = 0; sub < BK / 64; ++sub) {
      const int ks = kt * BK + sub * 64;
      if (BK > 64 && ks >= p.k) break;  // the zero-filled tail of the last tile
      const uint16_t* sa = reinterpret_cast<const uint16_t*>(stage) +
                           (wm * WM * 16 + g) * T::kAStride + sub * 64 + 16 * t;
      // Rows g + 8j share g's parity, so one swizzled chunk offset serves every j.
      const uint8_t* sb = stage + T::kABytes + (wn * WN * 8 + g) * BK +
                          (((sub * 4 + t) ^ ((g & 1) * T::kBSwz)) * 16);
      uint32_t bf[WN][8];  // [j][2s + {0,1}] = b0, b1 of step s
#pragma unroll
      for (int j = 0; j < WN; ++j) {
        const uint4 q = *reinterpret_cast<const uint4*>(sb + j * 8 * BK);
        Decode4<BF, kBf16>(q.x, bf[j][0], bf[j][1]);
        Decode4<BF, kBf16>(q.y, bf[j][2], bf[j][3]);
        Decode4<BF, kBf16>(q.z, bf[j][4], bf[j][5]);
        Decode4<BF, kBf16>(q.w, bf[j][6], bf[j][7]);
      }
      WarpMma64<kBf16, WM, WN>(blk, sa, T::kAStride, bf);
      if constexpr (!kOneBlock) {
        if ((ks + 64) % p.b_blk == 0 || ks + 64 >= p.k) promote(ks / p.b_blk);
      }
    }
  }
  CpAsyncWait<0>();
  if constexpr (kOneBlock) promote(0);

  StoreFrags<WM, WN>(p, acc, m0 + wm * WM * 16 + g, n0 + wn * WN * 8 + 2 * t);
}

// ------------------------------------------------------------------ Hopper kernel (wgmma)
// sm_90a only. The product is computed transposed, Y^T[n][m] = sum_k W[n][k] A[m][k], so that the
// weights are wgmma's A operand (64 rows per warpgroup) and the activations its B operand (BMT
// rows, the instruction's N), both K-major in shared memory with the 128-byte swizzle: row r of a
// tile is 128 bytes (64 K), its 16-byte chunk c stored at chunk c ^ (r % 8), 8-row groups 1024
// bytes apart (the descriptor's stride). Per 64-long K tile: cp.async brings A's tile (swizzled)
// and W's codes (plain rows of 64 bytes) into a STAGES-deep ring; all threads decode the codes of
// the *next* tile into one of two float16/bfloat16 tiles (swizzled) while the tensor cores run
// the current one (4 wgmma k16 steps per warpgroup, left in flight across iterations). Numerics
// as above: the first step of each K block starts from zero (scale-d = 0), the block sum is
// promoted with B's scale (acc += blk * s, float32 FMA) once the block's wgmma groups have
// drained; scales are loaded a block ahead. Each thread holds two weight rows (g and g + 8 of its
// warp's 16), so two scales.
// wgmma exists on sm_90a only; the compute_89 PTX gets a stub kernel.
#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FP8OPS_WO_WGMMA 1
// wgmma m64n64k16 / m64n128k16 on f16 or bf16 operands (not transposed: both K-major).
FP8OPS_DEFINE_WGMMA_N64(Wgmma64F16, "m64n64k16.f32.f16.f16", "1, 1, 0, 0")
FP8OPS_DEFINE_WGMMA_N64(Wgmma64Bf16, "m64n64k16.f32.bf16.bf16", "1, 1, 0, 0")
FP8OPS_DEFINE_WGMMA_N128(Wgmma128F16, "m64n128k16.f32.f16.f16", "1, 1, 0, 0")
FP8OPS_DEFINE_WGMMA_N128(Wgmma128Bf16, "m64n128k16.f32.bf16.bf16", "1, 1, 0, 0")

template <bool kBf16>
__device__ __forceinline__ void WgmmaTile(float* d, uint64_t da, uint64_t db, int scale_d,
                                          std::integral_constant<int, 64>) {
  if constexpr (kBf16) {
    Wgmma64Bf16(d, da, db, scale_d);
  } else {
    Wgmma64F16(d, da, db, scale_d);
  }
}
template <bool kBf16>
__device__ __forceinline__ void WgmmaTile(float* d, uint64_t da, uint64_t db, int scale_d,
                                          std::integral_constant<int, 128>) {
  if constexpr (kBf16) {
    Wgmma128Bf16(d, da, db, scale_d);
  } else {
    Wgmma128F16(d, da, db, scale_d);
  }
}

#endif  // FP8OPS_WO_WGMMA

template <int WGS, int BMT, int STAGES>
struct WgTile {
  static constexpr int kThreads = WGS * 128;
  static constexpr int kBN = WGS * 64;  // weight rows (outputs n) per CTA
  static constexpr int kActBytes = BMT * 128;
  static constexpr int kDecBytes = kBN * 128;
  static constexpr int kRawBytes = kBN * 64;
  // [act stages][2 decoded tiles][raw stages], every act / decoded tile 1024-byte aligned.
  static constexpr int kDecOff = STAGES * kActBytes;
  static constexpr int kRawOff = kDecOff + 2 * kDecBytes;
  static constexpr int kSmem = kRawOff + STAGES * kRawBytes + 1024;  // + alignment slack
};

template <bool kBf16, int BF, int WGS, int BMT, int STAGES>
__global__ void __launch_bounds__(WGS * 128, 1) WoWgmmaKernel(WoParams p) {
#if defined(FP8OPS_WO_WGMMA)
  using T = WgTile<WGS, BMT, STAGES>;
  extern __shared__ __align__(16) uint8_t smem_raw[];
  const uint32_t base_s = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  uint8_t* smem = smem_raw + ((1024 - (base_s & 1023)) & 1023);
  const uint32_t smem_s = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
  const int tid = threadIdx.x, wg = tid >> 7, warp = (tid >> 5) & 3, lane = tid & 31;
  const int g = lane >> 2, t = lane & 3;
  const int n0 = blockIdx.x * T::kBN, m0 = blockIdx.y * BMT;
  const int ktiles = (p.k + 63) / 64;

  // Each thread copies the same 16-byte chunk column of fixed rows every tile: A rows
  // tid / 8 + i * (threads / 8), chunk tid % 8; code rows tid / 4 + i * (threads / 4), chunk
  // tid % 4. Row offsets and bounds are computed once.
  constexpr int kActIt = BMT * 8 / T::kThreads, kRawIt = T::kBN * 4 / T::kThreads;
  const int ach = tid & 7, rch = tid & 3;
  const uint16_t* asrc[kActIt];
  const uint8_t* rsrc[kRawIt];
  uint32_t adst[kActIt];
  bool aok[kActIt], rok[kRawIt];
#pragma unroll
  for (int i = 0; i < kActIt; ++i) {
    const int r = (tid >> 3) + i * (T::kThreads / 8);
    aok[i] = m0 + r < p.m;
    asrc[i] = p.a + (aok[i] ? static_cast<int64_t>(m0 + r) * p.k + ach * 8 : 0);
    adst[i] = r * 128 + ((ach ^ (r & 7)) << 4);
  }
#pragma unroll
  for (int i = 0; i < kRawIt; ++i) {
    const int r = (tid >> 2) + i * (T::kThreads / 4);
    rok[i] = n0 + r < p.n;
    rsrc[i] = p.b + (rok[i] ? static_cast<int64_t>(n0 + r) * p.k + rch * 16 : 0);
  }
  auto load_tile = [&](int kt) {
    const int st = kt % STAGES, k0 = kt * 64;
    uint8_t* act = smem + st * T::kActBytes;
    const bool kin_a = k0 + ach * 8 < p.k, kin_r = k0 + rch * 16 < p.k;
#pragma unroll
    for (int i = 0; i < kActIt; ++i) {
      const bool ok = aok[i] && kin_a;
      CpAsync16(act + adst[i], ok ? asrc[i] + k0 : p.a, ok);
    }
    uint8_t* raw = smem + T::kRawOff + st * T::kRawBytes + tid * 16;
#pragma unroll
    for (int i = 0; i < kRawIt; ++i) {
      const bool ok = rok[i] && kin_r;
      CpAsync16(raw + i * T::kThreads * 16, ok ? rsrc[i] + k0 : p.b, ok);
    }
  };
  // Codes of tile kt -> decoded tile (kt & 1), swizzled; then made visible to the tensor cores.
  auto decode_tile = [&](int kt) {
    const uint8_t* raw = smem + T::kRawOff + (kt % STAGES) * T::kRawBytes + tid * 16;
    uint8_t* dec = smem + T::kDecOff + (kt & 1) * T::kDecBytes;
#pragma unroll
    for (int i = 0; i < kRawIt; ++i) {
      const int r = (tid >> 2) + i * (T::kThreads / 4);
      const uint4 q = *reinterpret_cast<const uint4*>(raw + i * T::kThreads * 16);
      uint4 lo, hi;
      Decode4<BF, kBf16>(q.x, lo.x, lo.y);
      Decode4<BF, kBf16>(q.y, lo.z, lo.w);
      Decode4<BF, kBf16>(q.z, hi.x, hi.y);
      Decode4<BF, kBf16>(q.w, hi.z, hi.w);
      *reinterpret_cast<uint4*>(dec + r * 128 + (((2 * rch) ^ (r & 7)) << 4)) = lo;
      *reinterpret_cast<uint4*>(dec + r * 128 + (((2 * rch + 1) ^ (r & 7)) << 4)) = hi;
    }
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  };

  constexpr int kAcc = BMT / 2;
  float acc[kAcc], blk[kAcc];
#pragma unroll
  for (int i = 0; i < kAcc; ++i) acc[i] = blk[i] = 0.0f;
  // This thread's weight rows: n0 + 64 wg + 16 warp + g (+ 8).
  const int nr = n0 + wg * 64 + warp * 16 + g;
  uint32_t srow[2];
  float sc[2];
#pragma unroll
  for (int e = 0; e < 2; ++e) {
    const int n = min(nr + 8 * e, p.n - 1);
    srow[e] = static_cast<uint32_t>(n / p.bn) * static_cast<uint32_t>(p.b_nblk);
    sc[e] = __ldg(p.b_scale + srow[e]);
  }

  // Tiles 0 .. STAGES - 2 in flight, tile 0 decoded.
#pragma unroll
  for (int s = 0; s < STAGES - 1; ++s) {
    if (s < ktiles) load_tile(s);
    CpAsyncCommit();
  }
  CpAsyncWait<STAGES - 2>();
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
  __syncthreads();
  decode_tile(0);
  __syncthreads();

  // Iteration kt: the tensor cores take tile kt (its group stays in flight) while the threads
  // decode tile kt + 1 and start the copy of tile kt + STAGES - 1. Two wgmma groups at most are in
  // flight: waiting for all but the newest frees tile kt - 1's stage and decoded tile.
  const uint32_t dec_s = smem_s + T::kDecOff + wg * 64 * 128;
  for (int kt = 0; kt < ktiles; ++kt) {
    const int ks = kt * 64;
    const bool fresh = ks % p.b_blk == 0;
    {
      const uint32_t a_s = dec_s + (kt & 1) * T::kDecBytes;
      const uint32_t b_s = smem_s + (kt % STAGES) * T::kActBytes;
      asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
      for (int s = 0; s < 4; ++s) {
        WgmmaTile<kBf16>(blk, detail::SwizzledKMajorDesc(a_s + 32 * s),
                         detail::SwizzledKMajorDesc(b_s + 32 * s), (fresh && s == 0) ? 0 : 1,
                         std::integral_constant<int, BMT>());
      }
      asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
    }
    asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");  // tile kt - 1 done
    // Committed copy groups: tiles 0 .. kt + STAGES - 2; tile kt + 1 must be in.
    CpAsyncWait<STAGES - 3>();
    asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
    __syncthreads();  // every warpgroup is past tile kt - 1; tile kt + 1 is visible
    if (kt + 1 < ktiles) decode_tile(kt + 1);
    if (kt + STAGES - 1 < ktiles) load_tile(kt + STAGES - 1);  // into tile kt - 1's stage
    CpAsyncCommit();
    if ((ks + 64) % p.b_blk == 0 || ks + 64 >= p.k) {
      asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#pragma unroll
      for (int i = 0; i < kAcc; ++i) asm volatile("" : "+f"(blk[i])::"memory");
#pragma unroll
      for (int j = 0; j < kAcc / 4; ++j) {
        acc[4 * j + 0] = fmaf(blk[4 * j + 0], sc[0], acc[4 * j + 0]);
        acc[4 * j + 1] = fmaf(blk[4 * j + 1], sc[0], acc[4 * j + 1]);
        acc[4 * j + 2] = fmaf(blk[4 * j + 2], sc[1], acc[4 * j + 2]);
        acc[4 * j + 3] = fmaf(blk[4 * j + 3], sc[1], acc[4 * j + 3]);
      }
      const int kb = ks / p.b_blk;
      if (kb + 1 < p.b_nblk) {
        sc[0] = __ldg(p.b_scale + (srow[0] + kb + 1));
        sc[1] = __ldg(p.b_scale + (srow[1] + kb + 1));
      }
    }
    __syncthreads();  // decoded tile kt + 1 complete
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
  CpAsyncWait<0>();

  // d[4j + e]: weight row g (e < 2) or g + 8, token 8j + 2t + (e & 1).
#pragma unroll
  for (int j = 0; j < kAcc / 4; ++j) {
#pragma unroll
    for (int e = 0; e < 4; ++e) {
      const int n = nr + (e >= 2 ? 8 : 0);
      const int m = m0 + 8 * j + 2 * t + (e & 1);
      if (m < p.m && n < p.n) StoreWo(p, m, n, acc[4 * j + e]);
    }
  }
#else
  __trap();  // launched only on sm_90 (CurrentDeviceIsSm90a)
#endif
}

template <bool kBf16, int BF, int WARPS_M, int WARPS_N, int WM, int WN, bool kVec, bool kOneBlock>
cudaError_t LaunchTile(const WoParams& p, cudaStream_t s) {
  using T = Tile<WARPS_M, WARPS_N, WM, WN>;
  constexpr auto kernel = WoMmaKernel<kBf16, BF, WARPS_M, WARPS_N, WM, WN, kVec, kOneBlock>;
  if (T::kSmem > 48 * 1024) {
    if (cudaError_t e = detail::AllowDynamicSmem<kernel>(T::kSmem); e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>((p.m + T::kBM - 1) / T::kBM),
                  static_cast<unsigned>((p.n + T::kBN - 1) / T::kBN));
  kernel<<<grid, T::kThreads, T::kSmem, s>>>(p);
  return cudaGetLastError();
}

template <bool kBf16, int BF, int WARPS_M, int WARPS_N, int WM, int WN, int BK, int STAGES,
          bool kOneBlock>
cudaError_t LaunchTile2(const WoParams& p, cudaStream_t s) {
  using T = Tile2<WARPS_M, WARPS_N, WM, WN, BK, STAGES>;
  constexpr auto kernel = WoMma2Kernel<kBf16, BF, WARPS_M, WARPS_N, WM, WN, BK, STAGES, kOneBlock>;
  if (T::kSmem > 48 * 1024) {
    if (cudaError_t e = detail::AllowDynamicSmem<kernel>(T::kSmem); e != cudaSuccess) return e;
  }
  const dim3 grid(static_cast<unsigned>((p.m + T::kBM - 1) / T::kBM),
                  static_cast<unsigned>((p.n + T::kBN - 1) / T::kBN));
  kernel<<<grid, T::kThreads, T::kSmem, s>>>(p);
  return cudaGetLastError();
}

template <bool kBf16, int BF, bool kVec, bool kOneBlock>
cudaError_t LaunchConfig(const WoParams& p, WoTile tile, cudaStream_t s) {
  if constexpr (kVec) {
    switch (tile) {
      case WoTile::k128x128_k64:
        return LaunchTile2<kBf16, BF, 2, 4, 4, 4, 64, 4, kOneBlock>(p, s);
      case WoTile::k128x128_k128:
        return LaunchTile2<kBf16, BF, 2, 4, 4, 4, 128, 3, kOneBlock>(p, s);
      case WoTile::k64x64_k128:
        return LaunchTile2<kBf16, BF, 2, 2, 2, 4, 128, 4, kOneBlock>(p, s);
      case WoTile::k64x128_k128:
        return LaunchTile2<kBf16, BF, 1, 4, 4, 4, 128, 3, kOneBlock>(p, s);
      default:
        break;
    }
  }
  if (tile == WoTile::k128x128 || tile == WoTile::k128x128_k64 || tile == WoTile::k128x128_k128)
    return LaunchTile<kBf16, BF, 2, 4, 4, 4, kVec, kOneBlock>(p, s);
  return LaunchTile<kBf16, BF, 2, 2, 2, 4, kVec, kOneBlock>(p, s);
}

template <bool kBf16, int BF, int WGS, int BMT, int STAGES>
cudaError_t LaunchWg(const WoParams& p, cudaStream_t s) {
  using T = WgTile<WGS, BMT, STAGES>;
  constexpr auto kernel = WoWgmmaKernel<kBf16, BF, WGS, BMT, STAGES>;
  if (cudaError_t e = detail::AllowDynamicSmem<kernel>(T::kSmem); e != cudaSuccess) return e;
  const dim3 grid(static_cast<unsigned>((p.n + T::kBN - 1) / T::kBN),
                  static_cast<unsigned>((p.m + BMT - 1) / BMT));
  kernel<<<grid, T::kThreads, T::kSmem, s>>>(p);
  return cudaGetLastError();
}

template <bool kBf16, int BF>
cudaError_t LaunchFormat(const WoParams& p, WoTile tile, bool vec, bool one_block, cudaStream_t s) {
  if (tile == WoTile::kWg128x128 || tile == WoTile::kWg64x64) {
    if (vec && CurrentDeviceIsSm90a() && (p.m + 63) / 64 <= 65535) {
      if (tile == WoTile::kWg128x128) return LaunchWg<kBf16, BF, 2, 128, 4>(p, s);
      return LaunchWg<kBf16, BF, 1, 64, 8>(p, s);
    }
    tile = tile == WoTile::kWg64x64 ? WoTile::k64x64_k128 : WoTile::k128x128_k128;
  }
  if (vec) {
    return one_block ? LaunchConfig<kBf16, BF, true, true>(p, tile, s)
                     : LaunchConfig<kBf16, BF, true, false>(p, tile, s);
  }
  return one_block ? LaunchConfig<kBf16, BF, false, true>(p, tile, s)
                   : LaunchConfig<kBf16, BF, false, false>(p, tile, s);
}

}  // namespace

bool WoMmaApplies(const GemmLaunchArgs& a) {
  if (a.a_type != DType::kFloat16 && a.a_type != DType::kBFloat16) return false;
  if (a.m <= 0 || a.n <= 0 || a.k <= 0) return false;
  constexpr int64_t kMaxInt = 0x7FFFFFFF;
  if (a.m > kMaxInt || a.n > kMaxInt || a.k > kMaxInt / 2 || (a.n + 63) / 64 > 65535) return false;
  const bool one_block = a.block_k <= 0 || a.block_k >= a.k;
  // The second kernel addresses B's scales with 32-bit offsets.
  const int64_t bn = std::max<int64_t>(1, EffectiveBlock(a.n, a.block_n));
  if (((a.n + bn - 1) / bn) * NumBlocks(a.k, a.block_k) > 0xFFFFFFFFll) return false;
  return one_block || a.block_k % kBK == 0;
}

const char* WoTileName(WoTile t) {
  switch (t) {
    case WoTile::kAuto:
      return "auto";
    case WoTile::k128x128:
      return "128x128";
    case WoTile::k64x64:
      return "64x64";
    case WoTile::k128x128_k64:
      return "v2 128x128 k64x4";
    case WoTile::k128x128_k128:
      return "v2 128x128 k128x3";
    case WoTile::k64x64_k128:
      return "v2 64x64 k128x4";
    case WoTile::k64x128_k128:
      return "v2 64x128 k128x3";
    case WoTile::kWg128x128:
      return "wgmma 128x128";
    case WoTile::kWg64x64:
      return "wgmma 64x64";
  }
  return "?";
}

WoTile ChooseWoTile(const GemmLaunchArgs& a) {
  // H100, bench/results/cuda_h100_2026-11-23c/cuda_bench_weight_only.md: while 128x128 tiles
  // fill fewer than half of the SMs (or M <= 64, where they are half empty), 64x64 tiles (M = 128,
  // K = N = 4096: wgmma 64x64 38 us, the second mma.sync kernel 47 us, the first 60 us); above
  // that 128x128 tiles (M = 4096, K = N = 4096: wgmma 437 us, mma.sync 770 us, the first 905 us).
  const int64_t big = ((a.m + 127) / 128) * ((a.n + 127) / 128);
  const bool small = a.m <= 64 || 2 * big < CurrentSmCountOrDefault();
  if (CurrentDeviceIsSm90a()) return small ? WoTile::kWg64x64 : WoTile::kWg128x128;
  return small ? WoTile::k64x64_k128 : WoTile::k128x128_k128;
}

cudaError_t LaunchFp8GemmWo(const GemmLaunchArgs& a, cudaStream_t stream, WoTile tile) {
  if (!WoMmaApplies(a)) return cudaErrorInvalidValue;
  if (tile == WoTile::kAuto) tile = ChooseWoTile(a);
  WoParams p{};
  p.a = static_cast<const uint16_t*>(a.a);
  p.b = a.b;
  p.b_scale = a.b_scale;
  p.bias = a.bias;
  p.y = a.y;
  p.m = static_cast<int>(a.m);
  p.n = static_cast<int>(a.n);
  p.k = static_cast<int>(a.k);
  p.bn = static_cast<int>(std::max<int64_t>(1, EffectiveBlock(a.n, a.block_n)));
  const bool one_block = a.block_k <= 0 || a.block_k >= a.k;
  p.b_nblk = static_cast<int>(NumBlocks(a.k, a.block_k));
  p.b_blk = one_block ? p.k : static_cast<int>(a.block_k);
  p.out_type = static_cast<int>(a.out_type);
  const bool vec = a.k % 16 == 0 && reinterpret_cast<uintptr_t>(a.a) % 16 == 0 &&
                   reinterpret_cast<uintptr_t>(a.b) % 16 == 0;
  const bool bf16 = a.a_type == DType::kBFloat16;
  if (a.b_format == Fp8Format::kE4M3FN) {
    return bf16 ? LaunchFormat<true, kE4M3>(p, tile, vec, one_block, stream)
                : LaunchFormat<false, kE4M3>(p, tile, vec, one_block, stream);
  }
  return bf16 ? LaunchFormat<true, kE5M2>(p, tile, vec, one_block, stream)
              : LaunchFormat<false, kE5M2>(p, tile, vec, one_block, stream);
}

}  // namespace fp8ops::cuda
