// FP8GEMM, weight-only (A float16/bfloat16, B FP8), on the tensor cores: the path for M > 16
// (prefill). The streaming kernel (fp8_gemv.cu) reads the weights once per 16 rows of A with
// CUDA-core FMAs; at M = 512 that was ~5% of cuBLAS FP16 (bench/results/cuda_h100_2026-11-23b).
//
// Why this is exact enough: FP8 codes are exact in float16 (E4M3 and E5M2: every finite value,
// subnormals included, and NaN/Inf stay NaN/Inf) and in bfloat16 (E5M2's smallest subnormal 2^-16
// is a normal bfloat16). B is decoded *unscaled* into A's type, so every product a * code is exact
// in the mma's float32 accumulators. The block scale of B is applied per K block: each block's
// products accumulate in a fresh float32 fragment, then acc += block_sum * b_scale[n][k block]
// (float32 FMA), the rounding that the spec's bound (docs/OPERATORS.md 1.5: (K + 2) 2^-24 sum|ab|,
// doubled) allows for.
//
// Structure: block tile BM x BN x 64 (K), cp.async 16-byte copies of A (2-byte elements) and of
// B's codes into a kStages-deep shared-memory ring; each warp computes a (WM*16) x (WN*8) tile
// with mma.sync m16n8k16 (f16 or bf16 inputs, f32 accumulators).
//
// Fragment layout (PTX ISA, mma.m16n8k16 .f16/.bf16): with g = lane / 4, t = lane % 4,
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
#include <atomic>

#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::kE4M3;
using detail::kE5M2;

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

// Two FP8 codes (low byte first) -> the A type's pair, low element in the low 16 bits. Exact.
template <int BF, bool kBf16>
__device__ __forceinline__ uint32_t DecodePair(uint32_t codes) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(
      static_cast<__nv_fp8x2_storage_t>(codes & 0xFFFFu), detail::Fp8Fmt<BF>::kInterp);
  if constexpr (!kBf16) {
    return static_cast<uint32_t>(h.x) | (static_cast<uint32_t>(h.y) << 16);
  } else {
    // float16 -> float32 -> bfloat16 is exact for FP8 values (3 or 2 mantissa bits).
    const float2 f = __half22float2(__half2(h));
    const __nv_bfloat162 b = __float22bfloat162_rn(f);
    return *reinterpret_cast<const uint32_t*>(&b);
  }
}

template <bool kBf16>
__device__ __forceinline__ void Mma16816(float* c, uint32_t a0, uint32_t a1, uint32_t a2,
                                         uint32_t a3, uint32_t b0, uint32_t b1) {
  if constexpr (kBf16) {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, "
        "{%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  } else {
    asm("mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
        "{%0,%1,%2,%3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
  }
}

__device__ __forceinline__ void StoreWo(const WoParams& p, int m, int n, float v) {
  detail::StoreWithBias(p.y, p.bias, p.out_type, static_cast<int64_t>(m) * p.n + n, n, v);
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

  float acc[WM][WN][4], blk[WM][WN][4];
#pragma unroll
  for (int i = 0; i < WM; ++i) {
#pragma unroll
    for (int j = 0; j < WN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) acc[i][j][e] = blk[i][j][e] = 0.0f;
    }
  }
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
#pragma unroll
    for (int j = 0; j < WN; ++j) {
      const float s0 = __ldg(srow[j][0] + kb), s1 = __ldg(srow[j][1] + kb);
#pragma unroll
      for (int i = 0; i < WM; ++i) {
        acc[i][j][0] = fmaf(blk[i][j][0], s0, acc[i][j][0]);
        acc[i][j][1] = fmaf(blk[i][j][1], s1, acc[i][j][1]);
        acc[i][j][2] = fmaf(blk[i][j][2], s0, acc[i][j][2]);
        acc[i][j][3] = fmaf(blk[i][j][3], s1, acc[i][j][3]);
#pragma unroll
        for (int e = 0; e < 4; ++e) blk[i][j][e] = 0.0f;
      }
    }
  };

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < ktiles) LoadTile<T, kVec>(p, smem + s * T::kStageBytes, m0, n0, s * kBK, tid);
    CpAsyncCommit();
  }
  for (int kt = 0; kt < ktiles; ++kt) {
    CpAsyncWait<kStages - 2>();
    __syncthreads();  // tile kt is in; every thread is done with the stage refilled below
    const int pre = kt + kStages - 1;
    if (pre < ktiles)
      LoadTile<T, kVec>(p, smem + (pre % kStages) * T::kStageBytes, m0, n0, pre * kBK, tid);
    CpAsyncCommit();

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
#pragma unroll
    for (int i = 0; i < WM; ++i) {
      const uint16_t* r0 = sa + i * 16 * kAStride;  // row g
      const uint16_t* r1 = r0 + 8 * kAStride;       // row g + 8
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
          Mma16816<kBf16>(blk[i][j], ra[2 * s], rb[2 * s], ra[2 * s + 1], rb[2 * s + 1],
                          bf[j][2 * s], bf[j][2 * s + 1]);
        }
      }
    }
    if constexpr (!kOneBlock) {
      const int kend = (kt + 1) * kBK;
      if (kend % p.b_blk == 0 || kt == ktiles - 1) promote(kt * kBK / p.b_blk);
    }
  }
  CpAsyncWait<0>();
  if constexpr (kOneBlock) promote(0);

#pragma unroll
  for (int i = 0; i < WM; ++i) {
#pragma unroll
    for (int j = 0; j < WN; ++j) {
#pragma unroll
      for (int e = 0; e < 4; ++e) {
        const int m = m0 + wm * WM * 16 + i * 16 + g + (e >= 2 ? 8 : 0);
        const int n = n0 + wn * WN * 8 + j * 8 + 2 * t + (e & 1);
        if (m < p.m && n < p.n) StoreWo(p, m, n, acc[i][j][e]);
      }
    }
  }
}

int SmCount() {
  static std::atomic<int> cached[64];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0 || dev >= 64) return 132;
  if (cached[dev].load() == 0) {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, dev) != cudaSuccess || n <= 0)
      n = 132;
    cached[dev].store(n);
  }
  return cached[dev].load();
}

template <bool kBf16, int BF, int WARPS_M, int WARPS_N, int WM, int WN, bool kVec, bool kOneBlock>
cudaError_t LaunchTile(const WoParams& p, cudaStream_t s) {
  using T = Tile<WARPS_M, WARPS_N, WM, WN>;
  auto kernel = WoMmaKernel<kBf16, BF, WARPS_M, WARPS_N, WM, WN, kVec, kOneBlock>;
  if (T::kSmem > 48 * 1024) {
    // Per device and instantiation would be exact; the attribute is per function and cheap to
    // set again, so it is set on every launch (a benign race between threads).
    if (cudaError_t e =
            cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, T::kSmem);
        e != cudaSuccess) {
      return e;
    }
  }
  const dim3 grid(static_cast<unsigned>((p.m + T::kBM - 1) / T::kBM),
                  static_cast<unsigned>((p.n + T::kBN - 1) / T::kBN));
  kernel<<<grid, T::kThreads, T::kSmem, s>>>(p);
  return cudaGetLastError();
}

template <bool kBf16, int BF, bool kVec, bool kOneBlock>
cudaError_t LaunchConfig(const WoParams& p, WoTile tile, cudaStream_t s) {
  if (tile == WoTile::k128x128) return LaunchTile<kBf16, BF, 2, 4, 4, 4, kVec, kOneBlock>(p, s);
  return LaunchTile<kBf16, BF, 2, 2, 2, 4, kVec, kOneBlock>(p, s);
}

template <bool kBf16, int BF>
cudaError_t LaunchFormat(const WoParams& p, WoTile tile, bool vec, bool one_block, cudaStream_t s) {
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
  return one_block || a.block_k % kBK == 0;
}

WoTile ChooseWoTile(const GemmLaunchArgs& a) {
  // 128 x 128 tiles once they fill at least half of the SMs (H100, bench/results/
  // cuda_h100_2026-11-23b/cuda_bench_weight_only.md: M = 128, N = 14336: 112 large tiles took
  // 114 us against 147 us for 448 small ones; M = 128, N = 4096: 32 large tiles 123 us against
  // 62 us for 128 small ones); 64 x 64 tiles below that.
  const int64_t big = ((a.m + 127) / 128) * ((a.n + 127) / 128);
  return 2 * big >= SmCount() ? WoTile::k128x128 : WoTile::k64x64;
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
