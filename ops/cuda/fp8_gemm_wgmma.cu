// FP8GEMM W8A8 with block scales on Hopper (sm_90a): TMA + mbarrier pipeline, warp-specialized
// wgmma, persistent grid. For E4M3/E5M2 activations in 1x128 groups times weights in 128x128
// blocks, K % 128 == 0, with the scales as the op has them (cuBLASLt needs A's transposed: one
// more launch). The dispatcher runs it where it measured faster than cuBLASLt (GemmOptions).
//
// Y[m, n] = sum_kb (A[m, kb] . B[n, kb]^T) * a_scale[m, kb] * b_scale[n / 128, kb] (+ bias[n])
// A [M, K] and B [N, K] both K-major (K contiguous): wgmma's A and B operands as they are.
//
// CTA: 3 warpgroups. Warpgroup 0 is the producer (setmaxnreg down to 48 registers; the CTA's
// 384 x 168 registers then leave the consumers 224, not 232 as with 40): one thread
// issues the TMA loads (cp.async.bulk.tensor.2d, 128-byte swizzle, tensor maps encoded on the
// host) of A's 128 x 128 and B's BN x 128 tiles of each K block into a STAGES-deep ring (192 KB),
// each stage completing on its "full" mbarrier; its second warp puts the stage's scales (A's 128
// rows, B's block) into a slot beside the ring and arrives on the same barrier. Warpgroups 1 and 2
// are the consumers (setmaxnreg up to 224): each owns 64 rows of the 128-row tile. Per K block: 4
// wgmma m64nNk32 into a fresh float32 block sum (scale-d = 0 on the first), wait, release the stage
// (one arrival per warp on its "empty" mbarrier), then promote: acc += blk * (a_scale[row, kb] *
// b_scale[n blk, kb]), float32 FMA. That is the numerics contract of the cuBLASLt path and of the
// spec's bound for FP8 tensor-core paths (docs/OPERATORS.md, FP8GEMM): the tensor cores' FP8 sums
// inside one 128-long K block keep fewer bits than float32, so they never run across blocks. (On
// the benchmark's shapes the output is bit-identical to cuBLASLt's.) The consumers read the scales
// from the stage's slot. (Removing the scale loads from the consumers' chain was worth 5-15% at
// M >= 1024, bench/results/cuda_2026-12-07_wgmma_probe; the slot as built, with its producer warp
// and 224 / 48 registers, measured 0.90-1.02x alone in a later one-run A/B, where the TMA store
// was the gain: bench/results/h100_2026-12-07_call3. Worth undoing where the kernel runs.)
//
// Tiles (W8A8Tile; H100 numbers in bench/results/cuda_h100_2026-11-23d):
//  - 128x64 / 128x128: one wgmma m64n64 / m64n128 group per K block.
//  - 128x256: two N parts of 128 one after the other through the same 64 block-sum registers
//    (128 accumulators + 64 do not leave room for two sets).
//  - 128x128 with two block-sum sets ("_db"): block kb's wgmma run while block kb - 1 is promoted,
//    so each warpgroup always has a group queued (64 + 2 x 64 registers). The wait-promote chain
//    is what limits the kernel: this variant is 10-30% faster than the single set at M >= 512.
// Tried and dropped: clusters of 2 CTAs on vertically adjacent tiles, each loading half of B's
// tile and multicasting it to both: halving B's L2 traffic gained nothing measurable (854 vs 859
// TFLOP/s at 4096^3), so L2 bandwidth is not the limit.
// Best measured: 1000-1120 TFLOP/s at K = 14336, 860-940 at K = 4096 (M >= 1024), 0.75-0.88x
// cuBLASLt's block-scaled matmul there; faster than cuBLASLt only while its tiles leave SMs idle
// (M = 128 / 256, K = N = 4096). Not done: pingpong consumers (epilogue of one tile under the
// other's main loop), stream-K / split-K for few tiles.
//
// Persistent grid (one CTA per SM): tiles handed out round-robin in a
// grouped raster (8 tile rows of M per group, so the CTAs running together share A and B tiles in
// L2); the producer runs ahead into the next tile while the consumers store the last one (bias
// added, one rounding to the output type). The double-buffered tile with a 16-bit output stores
// through shared memory and TMA (one stage fewer: 5), the warpgroup going on while the copy engine
// writes (stores straight from registers, both warpgroups at once with the tensor cores idle,
// took 21-29% of a loop without promotion: probe above); the other tiles store from registers. Rows
// >= M and columns >= N are skipped (clipped by TMA). Partial tiles: TMA zero-fills rows past M /
// N; scales are read for rows clamped to M - 1 and weight-scale rows clamped to the last.
//
// Shared-memory tiles: K-major, 128-byte swizzle (row r of a tile is 128 bytes = one K block of
// FP8, its 16-byte chunk c at chunk c ^ (r % 8), 8-row groups 1024 bytes apart): what TMA's
// CU_TENSOR_MAP_SWIZZLE_128B writes and what detail::SwizzledKMajorDesc describes; k32 step s
// starts 32 s bytes into the row.
//
// wgmma, setmaxnreg and the TMA tensor copies exist on sm_90a only: the compute_89 PTX gets a
// stub (W8A8WgmmaApplies is false off Hopper, so it never runs).
#include <cuda.h>  // CUtensorMap and its enums (header only: the driver is reached through the runtime)
#include <cudaTypedefs.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <atomic>
#include <cstdint>

#include "ops/cuda/device_info.h"
#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::kE4M3;
using detail::kE5M2;
using detail::MbarArrive;
using detail::MbarExpectTx;
using detail::MbarInit;
using detail::MbarWait;

constexpr int kBM = 128;  // rows of A per tile (2 consumer warpgroups x 64)
constexpr int kBK = 128;  // one K block of the scales = one 128-byte swizzled row
constexpr int kThreads = 384;

// Shared memory: STAGES x (A tile, B tile), the full / empty barriers, STAGES scale slots (A's
// 128 row scales and B's kParts scales of the stage's K block), and with kOutBytes the output
// tile the TMA store reads (1024-aligned for its 128-byte swizzle).
template <int BN, int STAGES, int kOutBytes = 0>
struct W8A8Cfg {
  static constexpr int kABytes = kBM * kBK;
  static constexpr int kBBytes = BN * kBK;
  static constexpr int kStageBytes = kABytes + kBBytes;
  static constexpr int kBarOff = STAGES * kStageBytes;
  static constexpr int kScaleOff = kBarOff + 2 * STAGES * 8;
  static constexpr int kScaleFloats = kBM + 4;  // per stage: A's rows, then B's parts
  static constexpr int kOutOff = (kScaleOff + STAGES * kScaleFloats * 4 + 1023) / 1024 * 1024;
  static constexpr int kSmem = kOutOff + kOutBytes + 1024;  // + slack for 1024 alignment
};

struct W8A8Params {
  const float* a_scale;        // [m, kblocks]
  const float* b_scale;        // [ceil(n / 128), kblocks]
  const void* bias;            // [n] of the output type, or null
  void* y;                     // [m, n]
  int m, n, kblocks, nblocks;  // nblocks = ceil(n / 128): rows of b_scale
  int tiles_m, tiles_n, num_tiles;
  int vec_store;  // n even and y aligned: two outputs per store
};

#if !defined(__CUDA_ARCH__) || defined(__CUDA_ARCH_FEAT_SM90_ALL)
#define FP8OPS_W8A8_WGMMA 1
constexpr int kGroupM = 8;  // tile rows per raster group

// Tile t of the grouped raster: kGroupM tile rows at a time, down the rows first, then across.
__device__ __forceinline__ void TileCoords(int t, const W8A8Params& p, int* tm, int* tn) {
  const int per_group = kGroupM * p.tiles_n;
  const int group = t / per_group;
  const int first_m = group * kGroupM;
  const int rows = min(p.tiles_m - first_m, kGroupM);
  const int r = t - group * per_group;
  *tm = first_m + r % rows;
  *tn = r / rows;
}

// Two outputs of a 16-bit type in one 32-bit word, the first in the low half.
template <typename T>
__device__ __forceinline__ uint32_t Pack2(float v0, float v1);
template <>
__device__ __forceinline__ uint32_t Pack2<__half>(float v0, float v1) {
  const __half2 h = __floats2half2_rn(v0, v1);
  return *reinterpret_cast<const uint32_t*>(&h);
}
template <>
__device__ __forceinline__ uint32_t Pack2<__nv_bfloat16>(float v0, float v1) {
  const __nv_bfloat162 h = __floats2bfloat162_rn(v0, v1);
  return *reinterpret_cast<const uint32_t*>(&h);
}

template <typename T>
__device__ __forceinline__ void Store2(T* dst, float v0, float v1) {
  if constexpr (sizeof(T) == 4) {
    *reinterpret_cast<float2*>(dst) = make_float2(v0, v1);
  } else {
    *reinterpret_cast<uint32_t*>(dst) = Pack2<T>(v0, v1);
  }
}

// wgmma m64n128k32 / m64n64k32 on FP8 operands (both K-major, the only layout FP8 wgmma takes).
FP8OPS_DEFINE_WGMMA_N128(Wgmma128E4E4, "m64n128k32.f32.e4m3.e4m3", "1, 1")
FP8OPS_DEFINE_WGMMA_N128(Wgmma128E4E5, "m64n128k32.f32.e4m3.e5m2", "1, 1")
FP8OPS_DEFINE_WGMMA_N128(Wgmma128E5E4, "m64n128k32.f32.e5m2.e4m3", "1, 1")
FP8OPS_DEFINE_WGMMA_N128(Wgmma128E5E5, "m64n128k32.f32.e5m2.e5m2", "1, 1")
FP8OPS_DEFINE_WGMMA_N64(Wgmma64E4E4, "m64n64k32.f32.e4m3.e4m3", "1, 1")

template <int FA, int FB, int N>
__device__ __forceinline__ void WgmmaK32(float* d, uint64_t da, uint64_t db, int scale_d) {
  if constexpr (N == 64) {
    static_assert(FA == kE4M3 && FB == kE4M3, "m64n64 is instantiated for E4M3 x E4M3 only");
    Wgmma64E4E4(d, da, db, scale_d);
  } else if constexpr (FA == kE4M3 && FB == kE4M3) {
    Wgmma128E4E4(d, da, db, scale_d);
  } else if constexpr (FA == kE4M3) {
    Wgmma128E4E5(d, da, db, scale_d);
  } else if constexpr (FB == kE4M3) {
    Wgmma128E5E4(d, da, db, scale_d);
  } else {
    Wgmma128E5E5(d, da, db, scale_d);
  }
}

// 2-D tile (c0 along the contiguous dimension, c1 rows) -> shared memory, completing on `bar`.
// Promotion of one K block's sums: acc[i] += blk[i] * (a_scale(row) * b_scale), with the
// accumulator layout of wgmma m64nN (4 per 8 columns: rows r0, r0 and r0 + 8, r0 + 8).
template <int kN>
__device__ __forceinline__ void PromoteBlock(float* acc, const float* blk, float sc0, float sc1) {
#pragma unroll
  for (int j = 0; j < kN / 4; ++j) {
    acc[4 * j + 0] = fmaf(blk[4 * j + 0], sc0, acc[4 * j + 0]);
    acc[4 * j + 1] = fmaf(blk[4 * j + 1], sc0, acc[4 * j + 1]);
    acc[4 * j + 2] = fmaf(blk[4 * j + 2], sc1, acc[4 * j + 2]);
    acc[4 * j + 3] = fmaf(blk[4 * j + 3], sc1, acc[4 * j + 3]);
  }
}

__device__ __forceinline__ void TmaLoad2d(uint32_t dst, const CUtensorMap* map, int c0, int c1,
                                          uint32_t bar) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1, {%2, "
      "%3}], [%4];\n" ::"r"(dst),
      "l"(reinterpret_cast<uint64_t>(map)), "r"(c0), "r"(c1), "r"(bar)
      : "memory");
}
#endif  // FP8OPS_W8A8_WGMMA

template <int FA, int FB, typename OutT, int BN, int STAGES, bool kDB, bool kTmaStore>
__global__ void __launch_bounds__(kThreads, 1)
    W8A8WgmmaKernel(const __grid_constant__ CUtensorMap map_a,
                    const __grid_constant__ CUtensorMap map_b,
                    const __grid_constant__ CUtensorMap map_y, const W8A8Params p) {
#if defined(FP8OPS_W8A8_WGMMA)
  using C = W8A8Cfg<BN, STAGES, kTmaStore ? kBM * BN * 2 : 0>;
  constexpr int kAcc = BN / 2;  // float32 accumulators per thread (64 rows x BN per warpgroup)
  constexpr int kPart = BN < 128 ? BN : 128;  // columns per wgmma (m64nkPartk32)
  constexpr int kParts = BN / kPart;
  constexpr int kPartAcc = kPart / 2;
  static_assert(!kTmaStore || (BN == 128 && sizeof(OutT) == 2), "TMA store: 128x128, 16-bit out");
  extern __shared__ __align__(16) uint8_t smem_raw[];
  const uint32_t raw_s = static_cast<uint32_t>(__cvta_generic_to_shared(smem_raw));
  const uint32_t pad = (1024 - (raw_s & 1023)) & 1023;  // 128B swizzle: 1024-aligned
  const uint32_t smem = raw_s + pad;
  float* const scales = reinterpret_cast<float*>(smem_raw + pad + C::kScaleOff);
  const uint32_t full0 = smem + C::kBarOff, empty0 = full0 + 8 * STAGES;
  const int wg = threadIdx.x >> 7;

  if (threadIdx.x == 0) {
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_a)) : "memory");
    asm volatile("prefetch.tensormap [%0];\n" ::"l"(reinterpret_cast<uint64_t>(&map_b)) : "memory");
#pragma unroll
    for (int s = 0; s < STAGES; ++s) {
      MbarInit(full0 + 8 * s, 1 + 32);  // the TMA thread's arrive + bytes, the scale warp's 32
      MbarInit(empty0 + 8 * s, 8);      // one arrival per consumer warp
    }
    detail::FenceMbarInit();
  }
  __syncthreads();

  if (wg == 0) {
    // ------------------------------------------------------------------------- producer
    asm volatile("setmaxnreg.dec.sync.aligned.u32 48;\n" ::: "memory");
    const int pwarp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    if (threadIdx.x == 0) {
      int stage = 0;
      uint32_t phase = 0;
      for (int tile = blockIdx.x; tile < p.num_tiles; tile += gridDim.x) {
        int tm, tn;
        TileCoords(tile, p, &tm, &tn);
        for (int kb = 0; kb < p.kblocks; ++kb) {
          MbarWait(empty0 + 8 * stage, phase ^ 1);  // a fresh barrier passes parity 1 at once
          const uint32_t full = full0 + 8 * stage;
          const uint32_t a_s = smem + stage * C::kStageBytes;
          MbarExpectTx(full, C::kStageBytes);  // out-of-bounds parts count too (zero-filled)
          TmaLoad2d(a_s, &map_a, kb * kBK, tm * kBM, full);
          TmaLoad2d(a_s + C::kABytes, &map_b, kb * kBK, tn * BN, full);
          if (++stage == STAGES) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
    } else if (pwarp == 1) {
      // The scale warp: the stage's scales into its slot (A's 128 rows, 4 a lane, rows clamped
      // to M - 1; B's parts, rows past the last read the last), then one arrival a lane on the
      // stage's full barrier. The consumers read them from shared memory after that barrier,
      // with no global-load latency on their chain (it cost 5-15%: probe in
      // bench/results/cuda_2026-12-07_wgmma_probe).
      int stage = 0;
      uint32_t phase = 0;
      for (int tile = blockIdx.x; tile < p.num_tiles; tile += gridDim.x) {
        int tm, tn;
        TileCoords(tile, p, &tm, &tn);
        // 48 registers here (setmaxnreg): row offsets, not pointers.
        const float* sa = p.a_scale + static_cast<int64_t>(tm * kBM + lane) * p.kblocks;
        const int last = (p.m - 1 - tm * kBM - lane) * p.kblocks;  // clamp: row M - 1
        const int nblk = min((tn * BN + min(lane, kParts - 1) * kPart) / 128, p.nblocks - 1);
        const float* sb = p.b_scale + static_cast<int64_t>(nblk) * p.kblocks;
        for (int kb = 0; kb < p.kblocks; ++kb) {
          float v[4];
#pragma unroll
          for (int q = 0; q < 4; ++q) v[q] = __ldg(sa + min(32 * q * p.kblocks, last) + kb);
          const float vb = lane < kParts ? __ldg(sb + kb) : 0.0f;
          MbarWait(empty0 + 8 * stage, phase ^ 1);
          float* slot = scales + stage * C::kScaleFloats;
#pragma unroll
          for (int q = 0; q < 4; ++q) slot[32 * q + lane] = v[q];
          if (lane < kParts) slot[kBM + lane] = vb;
          MbarArrive(full0 + 8 * stage);  // release: the slot's stores are seen after the wait
          if (++stage == STAGES) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
    }
  } else {
    // ------------------------------------------------------------------------- consumers
    asm volatile("setmaxnreg.inc.sync.aligned.u32 224;\n" ::: "memory");
    const int cw = wg - 1, warp = (threadIdx.x >> 5) & 3, lane = threadIdx.x & 31;
    const int g = lane >> 2, t = lane & 3;
    const int row_in_tile = cw * 64 + warp * 16 + g;  // and row_in_tile + 8
    const bool has_bias = p.bias != nullptr;
    const OutT* bias = static_cast<const OutT*>(p.bias);
    // bias[n], bias[n + 1] as float; 0 past N or without a bias (whose sums get no addition: a
    // -0 sum stays -0).
    auto bias_pair = [&](int n) {
      float2 b = make_float2(0.0f, 0.0f);
      if (has_bias && n < p.n) b.x = detail::ToFloat(bias[n]);
      if (has_bias && n + 1 < p.n) b.y = detail::ToFloat(bias[n + 1]);
      return b;
    };
    OutT* y = static_cast<OutT*>(p.y);
    int stage = 0;
    uint32_t phase = 0;
    // The block sums of one N part: the first wgmma of each block ignores their old values
    // (scale-d = 0); zeroed once so that no value is read before it is set.
    float blk[kPartAcc];
#pragma unroll
    for (int i = 0; i < kPartAcc; ++i) blk[i] = 0.0f;
    for (int tile = blockIdx.x; tile < p.num_tiles; tile += gridDim.x) {
      int tm, tn;
      TileCoords(tile, p, &tm, &tn);
      // This thread's rows: r0 (accumulators 4j, 4j + 1) and r0 + 8 (4j + 2, 4j + 3).
      const int r0 = tm * kBM + row_in_tile;
      float acc[kAcc];
#pragma unroll
      for (int i = 0; i < kAcc; ++i) acc[i] = 0.0f;
      if constexpr (kDB) {
        static_assert(kParts == 1, "double-buffered block sums: 128-wide tiles only");
        // Two block-sum sets: block kb runs on the tensor cores while block kb - 1 (the other
        // set) is promoted, so each warpgroup always has a wgmma group queued (registers: 64
        // accumulators + 2 x 64 block sums).
        float blk2[kPartAcc];
#pragma unroll
        for (int i = 0; i < kPartAcc; ++i) blk2[i] = 0.0f;
        float p_a0 = 0.0f, p_a1 = 0.0f, p_b = 0.0f;  // scales of the block in flight
        int p_stage = 0;
        auto retire = [&](float(&b)[kPartAcc]) {
#pragma unroll
          for (int i = 0; i < kPartAcc; ++i) asm volatile("" : "+f"(b[i])::"memory");
          if (lane == 0) MbarArrive(empty0 + 8 * p_stage);
          PromoteBlock<kPartAcc>(acc, b, p_a0 * p_b, p_a1 * p_b);
        };
        // Issues the stage's block into `cur` and returns its scales. Every issue but the first
        // is followed by the wait for the block before it (in the other set) and its promotion;
        // the first block is peeled off so that this happens unconditionally (ptxas serializes
        // the wgmma otherwise, C7514).
        auto issue = [&](float(&cur)[kPartAcc]) {
          MbarWait(full0 + 8 * stage, phase);
          const uint32_t a_s = smem + stage * C::kStageBytes + cw * 64 * kBK;
          const uint32_t b_s = smem + stage * C::kStageBytes + C::kABytes;
          asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
          for (int s = 0; s < 4; ++s) {
            WgmmaK32<FA, FB, kPart>(cur, detail::SwizzledKMajorDesc(a_s + 32 * s),
                                    detail::SwizzledKMajorDesc(b_s + 32 * s), s == 0 ? 0 : 1);
          }
          asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
          const float* slot = scales + stage * C::kScaleFloats;
          return make_float4(slot[row_in_tile], slot[row_in_tile + 8], slot[kBM], 0.0f);
        };
        auto next = [&](float4 c) {
          p_a0 = c.x;
          p_a1 = c.y;
          p_b = c.z;
          p_stage = stage;
          if (++stage == STAGES) {
            stage = 0;
            phase ^= 1;
          }
        };
        next(issue(blk));
        int kb = 1;
        for (; kb + 1 < p.kblocks; kb += 2) {
          float4 c = issue(blk2);
          asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");  // kb - 1 done
          retire(blk);
          next(c);
          c = issue(blk);
          asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
          retire(blk2);
          next(c);
        }
        if (kb < p.kblocks) {
          const float4 c = issue(blk2);
          asm volatile("wgmma.wait_group.sync.aligned 1;\n" ::: "memory");
          retire(blk);
          next(c);
          asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
          retire(blk2);
        } else {
          asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
          retire(blk);
        }
      } else {
        for (int kb = 0; kb < p.kblocks; ++kb) {
          MbarWait(full0 + 8 * stage, phase);
          const uint32_t a_s = smem + stage * C::kStageBytes + cw * 64 * kBK;
          const uint32_t b_s = smem + stage * C::kStageBytes + C::kABytes;
          const float* slot = scales + stage * C::kScaleFloats;
          const float s_a0 = slot[row_in_tile], s_a1 = slot[row_in_tile + 8];
          float s_b[kParts];
#pragma unroll
          for (int q = 0; q < kParts; ++q) s_b[q] = slot[kBM + q];
            // N parts one after the other through the same block sums (registers: 128 accumulators
            // + 64 block sums at BN = 256).
#pragma unroll
          for (int h = 0; h < kParts; ++h) {
            asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#pragma unroll
            for (int s = 0; s < 4; ++s) {
              WgmmaK32<FA, FB, kPart>(blk, detail::SwizzledKMajorDesc(a_s + 32 * s),
                                      detail::SwizzledKMajorDesc(b_s + h * kPart * kBK + 32 * s),
                                      s == 0 ? 0 : 1);
            }
            asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
            asm volatile("wgmma.wait_group.sync.aligned 0;\n" ::: "memory");
#pragma unroll
            for (int i = 0; i < kPartAcc; ++i) asm volatile("" : "+f"(blk[i])::"memory");
            if (h == kParts - 1 && lane == 0) {  // this warp is done with the stage
              MbarArrive(empty0 + 8 * stage);
            }
            PromoteBlock<kPartAcc>(acc + h * kPartAcc, blk, s_a0 * s_b[h], s_a1 * s_b[h]);
          }
          if (++stage == STAGES) {
            stage = 0;
            phase ^= 1;
          }
        }
      }
      // Epilogue: accumulator 4j + 2h + e is row r0 + 8h, column tn * BN + 8j + 2t + e.
      if constexpr (kTmaStore) {
        // Through shared memory and two TMA stores (64 columns each, 128-byte swizzle: the
        // 8 rows of a warp's store land in 8 different 16-byte chunks, no bank conflicts); the
        // warpgroup goes on to its next tile while the copy engine writes. Rows >= M and
        // columns >= N are clipped by TMA. Each warpgroup owns its 64 rows of the tile.
        const int wt = threadIdx.x & 127;
        const uint32_t out_s = smem + C::kOutOff + cw * (64 * 128);
        if (wt == 0) asm volatile("cp.async.bulk.wait_group.read 0;\n" ::: "memory");
        asm volatile("bar.sync %0, 128;\n" ::"r"(1 + cw) : "memory");  // its last store has read
#pragma unroll
        for (int j = 0; j < kAcc / 4; ++j) {
          const int n = tn * BN + 8 * j + 2 * t;
          const float2 b = bias_pair(n);
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int r = warp * 16 + g + 8 * h;  // row in the warpgroup's 64
            const uint32_t addr =
                out_s + (j / 8) * (kBM * 128) + r * 128 + (((j % 8) ^ (r % 8)) << 4) + 4 * t;
            const float v0 = has_bias ? acc[4 * j + 2 * h] + b.x : acc[4 * j + 2 * h];
            const float v1 = has_bias ? acc[4 * j + 2 * h + 1] + b.y : acc[4 * j + 2 * h + 1];
            asm volatile("st.shared.b32 [%0], %1;\n" ::"r"(addr), "r"(Pack2<OutT>(v0, v1))
                         : "memory");
          }
        }
        asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
        asm volatile("bar.sync %0, 128;\n" ::"r"(1 + cw) : "memory");
        if (wt == 0) {
#pragma unroll
          for (int half = 0; half < 2; ++half) {
            asm volatile(
                "cp.async.bulk.tensor.2d.global.shared::cta.bulk_group [%0, {%1, %2}], [%3];\n" ::
                    "l"(reinterpret_cast<uint64_t>(&map_y)),
                "r"(tn * BN + 64 * half), "r"(tm * kBM + cw * 64), "r"(out_s + half * (kBM * 128))
                : "memory");
          }
          asm volatile("cp.async.bulk.commit_group;\n" ::: "memory");
        }
      } else {
#pragma unroll
        for (int j = 0; j < kAcc / 4; ++j) {
          const int n = tn * BN + 8 * j + 2 * t;
          if (n >= p.n) continue;
          const bool two = n + 1 < p.n;
          const float2 b = bias_pair(n);
#pragma unroll
          for (int h = 0; h < 2; ++h) {
            const int m = r0 + 8 * h;
            if (m >= p.m) continue;
            const float v0 = has_bias ? acc[4 * j + 2 * h] + b.x : acc[4 * j + 2 * h];
            const float v1 = has_bias ? acc[4 * j + 2 * h + 1] + b.y : acc[4 * j + 2 * h + 1];
            OutT* dst = y + static_cast<int64_t>(m) * p.n + n;
            if (p.vec_store) {
              Store2<OutT>(dst, v0, v1);
            } else {
              dst[0] = detail::FromFloat<OutT>(v0);
              if (two) dst[1] = detail::FromFloat<OutT>(v1);
            }
          }
        }
      }
    }
    if constexpr (kTmaStore) {
      // The output must be written before the kernel ends.
      if ((threadIdx.x & 127) == 0) asm volatile("cp.async.bulk.wait_group 0;\n" ::: "memory");
    }
  }
#else
  __trap();  // launched only on sm_90 (W8A8WgmmaApplies)
#endif
}

// cuTensorMapEncodeTiled through the runtime's driver entry point (fp8ops does not link libcuda);
// null when the driver lacks it.
PFN_cuTensorMapEncodeTiled_v12000 EncodeTiled() {
  static const PFN_cuTensorMapEncodeTiled_v12000 fn = [] {
    void* f = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &f, 12000, cudaEnableDefault,
                                         &q) != cudaSuccess ||
        q != cudaDriverEntryPointSuccess) {
      cudaGetLastError();  // not sticky; keep it out of the caller's next check
      return static_cast<PFN_cuTensorMapEncodeTiled_v12000>(nullptr);
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(f);
  }();
  return fn;
}

bool HopperDevice() { return CurrentDeviceIsSm90a() && EncodeTiled() != nullptr; }

// Row-major [rows, k] FP8 codes as a 2-D tensor map of box_rows x 128 tiles, 128-byte swizzle;
// rows past `rows` read as zeros.
bool EncodeMap(CUtensorMap* map, const void* base, int64_t rows, int64_t k, int box_rows) {
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(k), static_cast<cuuint64_t>(rows)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(k)};  // bytes, dimension 1
  const cuuint32_t box[2] = {static_cast<cuuint32_t>(kBK), static_cast<cuuint32_t>(box_rows)};
  const cuuint32_t elem[2] = {1, 1};
  return EncodeTiled()(map, CU_TENSOR_MAP_DATA_TYPE_UINT8, 2, const_cast<void*>(base), dims,
                       strides, box, elem, CU_TENSOR_MAP_INTERLEAVE_NONE,
                       CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                       CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

std::atomic<int> g_last_grid{0};

// Row-major [m, n] 16-bit output as a 2-D tensor map of 64 x 64 boxes (128 bytes of a row:
// the 128-byte swizzle's limit), for the TMA-store epilogue; elements past m / n are not written.
bool EncodeOutMap(CUtensorMap* map, void* base, int64_t m, int64_t n) {
  const cuuint64_t dims[2] = {static_cast<cuuint64_t>(n), static_cast<cuuint64_t>(m)};
  const cuuint64_t strides[1] = {static_cast<cuuint64_t>(n) * 2};
  const cuuint32_t box[2] = {64, 64};
  const cuuint32_t elem[2] = {1, 1};
  return EncodeTiled()(map, CU_TENSOR_MAP_DATA_TYPE_UINT16, 2, base, dims, strides, box, elem,
                       CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B,
                       CU_TENSOR_MAP_L2_PROMOTION_NONE,
                       CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

template <int FA, int FB, typename OutT, int BN, bool kDB, bool kTmaStore>
cudaError_t LaunchW8A8(const GemmLaunchArgs& a, cudaStream_t stream) {
  // ~192 KB of stages each; the TMA-store tile (32 KB) takes one stage's room.
  constexpr int kStages = kTmaStore ? 5 : BN == 256 ? 4 : BN == 128 ? 6 : 8;
  using C = W8A8Cfg<BN, kStages, kTmaStore ? kBM * BN * 2 : 0>;
  static_assert(C::kSmem <= 227 * 1024, "more shared memory than an sm_90 CTA may have");
  CUtensorMap map_a, map_b, map_y{};
  if (!EncodeMap(&map_a, a.a, a.m, a.k, kBM) || !EncodeMap(&map_b, a.b, a.n, a.k, BN) ||
      (kTmaStore && !EncodeOutMap(&map_y, a.y, a.m, a.n))) {
    return cudaErrorInvalidValue;
  }
  W8A8Params p{};
  p.a_scale = a.a_scale;
  p.b_scale = a.b_scale;
  p.bias = a.bias;
  p.y = a.y;
  p.m = static_cast<int>(a.m);
  p.n = static_cast<int>(a.n);
  p.kblocks = static_cast<int>(a.k / kBK);
  p.nblocks = static_cast<int>((a.n + 127) / 128);
  p.tiles_m = static_cast<int>((a.m + kBM - 1) / kBM);
  p.tiles_n = static_cast<int>((a.n + BN - 1) / BN);
  p.num_tiles = p.tiles_m * p.tiles_n;
  p.vec_store = a.n % 2 == 0 && reinterpret_cast<uintptr_t>(a.y) % (2 * sizeof(OutT)) == 0;
  constexpr auto kernel = W8A8WgmmaKernel<FA, FB, OutT, BN, kStages, kDB, kTmaStore>;
  if (cudaError_t e = detail::AllowDynamicSmem<kernel>(C::kSmem); e != cudaSuccess) return e;
  const int grid = std::min(p.num_tiles, CurrentSmCountOrDefault());
  g_last_grid.store(grid);
  kernel<<<grid, kThreads, C::kSmem, stream>>>(map_a, map_b, map_y, p);
  return cudaGetLastError();
}

// The TMA-store epilogue where it is built (the double-buffered 128x128 tile, 16-bit output) and
// Y's rows are whole 16-byte units (TMA: 16-byte aligned base and row stride).
template <int FA, int FB, typename OutT, int BN, bool kDB>
cudaError_t LaunchW8A8(const GemmLaunchArgs& a, cudaStream_t stream) {
  if constexpr (kDB && BN == 128 && sizeof(OutT) == 2) {
    if (a.n % 8 == 0 && reinterpret_cast<uintptr_t>(a.y) % 16 == 0) {
      return LaunchW8A8<FA, FB, OutT, BN, kDB, true>(a, stream);
    }
  }
  return LaunchW8A8<FA, FB, OutT, BN, kDB, false>(a, stream);
}

template <int FA, int FB, int BN, bool kDB = false>
cudaError_t LaunchOut(const GemmLaunchArgs& a, cudaStream_t stream) {
  switch (a.out_type) {
    case DType::kFloat:
      return LaunchW8A8<FA, FB, float, BN, kDB>(a, stream);
    case DType::kFloat16:
      return LaunchW8A8<FA, FB, __half, BN, kDB>(a, stream);
    default:
      return LaunchW8A8<FA, FB, __nv_bfloat16, BN, kDB>(a, stream);
  }
}

int64_t Tiles(const GemmLaunchArgs& a, int bn) {
  return ((a.m + kBM - 1) / kBM) * ((a.n + bn - 1) / bn);
}

}  // namespace

bool W8A8WgmmaApplies(const GemmLaunchArgs& a) {
  if (!IsFp8DType(a.a_type) || a.a_scale == nullptr || a.b_scale == nullptr) return false;
  if (a.m <= 0 || a.n <= 0 || a.k <= 0 || a.k % kBK != 0) return false;
  if (a.a_block != 128 || a.block_k != 128 || a.block_n != 128) return false;
  if (a.out_type != DType::kFloat && a.out_type != DType::kFloat16 &&
      a.out_type != DType::kBFloat16) {
    return false;
  }
  // TMA: 16-byte aligned bases (the row strides, K bytes, are multiples of 128); int indices.
  if (reinterpret_cast<uintptr_t>(a.a) % 16 != 0 || reinterpret_cast<uintptr_t>(a.b) % 16 != 0) {
    return false;
  }
  constexpr int64_t kMaxInt = 0x7FFFFFFF;
  if (a.m > kMaxInt || a.n > kMaxInt || a.k > kMaxInt || Tiles(a, 64) > kMaxInt) return false;
  return HopperDevice();
}

int W8A8LastGrid() { return g_last_grid.load(); }

const char* W8A8TileName(W8A8Tile t) {
  switch (t) {
    case W8A8Tile::kAuto:
      return "auto";
    case W8A8Tile::k128x128:
      return "wgmma 128x128";
    case W8A8Tile::k128x64:
      return "wgmma 128x64";
    case W8A8Tile::k128x256:
      return "wgmma 128x256";
    case W8A8Tile::k128x128_db:
      return "wgmma 128x128 2 block sums";
  }
  return "?";
}

W8A8Tile ChooseW8A8Tile(const GemmLaunchArgs& a) {
  // H100, bench/results/cuda_h100_2026-11-23d (TFLOP/s, E4M3): while 128x128 tiles would fill at
  // most half of the SMs, 128x64 tiles (M = 128 / 256, K = N = 4096: 291 / 563 against 234 / 456
  // for the next best); beyond, the double-buffered 128x128 kernel (M = 512 / 4096, K = N = 4096:
  // 806 / 906; 128x256: 472 / 859). Other formats (no 128x64 / double-buffered build): 128x128
  // while few tiles, else 128x256 (E4M3: M = 128 / 4096, K = N = 4096: 191 / 805 and 129 / 859).
  const bool e4m3 = a.a_type == DType::kE4M3FN && a.b_format == Fp8Format::kE4M3FN;
  const bool few = 2 * Tiles(a, 128) <= CurrentSmCountOrDefault();
  if (!e4m3) return few ? W8A8Tile::k128x128 : W8A8Tile::k128x256;
  return few ? W8A8Tile::k128x64 : W8A8Tile::k128x128_db;
}

cudaError_t LaunchFp8GemmWgmma(const GemmLaunchArgs& a, cudaStream_t stream, W8A8Tile tile) {
  if (!W8A8WgmmaApplies(a)) return cudaErrorInvalidValue;
  if (tile == W8A8Tile::kAuto) tile = ChooseW8A8Tile(a);
  const bool a_e4 = a.a_type == DType::kE4M3FN, b_e4 = a.b_format == Fp8Format::kE4M3FN;
  if (a_e4 && b_e4 && tile == W8A8Tile::k128x128_db) {
    return LaunchOut<kE4M3, kE4M3, 128, true>(a, stream);
  }
  if (tile == W8A8Tile::k128x256) {
    if (a_e4 && b_e4) return LaunchOut<kE4M3, kE4M3, 256>(a, stream);
    if (a_e4) return LaunchOut<kE4M3, kE5M2, 256>(a, stream);
    if (b_e4) return LaunchOut<kE5M2, kE4M3, 256>(a, stream);
    return LaunchOut<kE5M2, kE5M2, 256>(a, stream);
  }
  if (a_e4 && b_e4) {
    return tile == W8A8Tile::k128x64 ? LaunchOut<kE4M3, kE4M3, 64>(a, stream)
                                     : LaunchOut<kE4M3, kE4M3, 128>(a, stream);
  }
  if (a_e4) return LaunchOut<kE4M3, kE5M2, 128>(a, stream);
  if (b_e4) return LaunchOut<kE5M2, kE4M3, 128>(a, stream);
  return LaunchOut<kE5M2, kE5M2, 128>(a, stream);
}

}  // namespace fp8ops::cuda
