// QuantizeFP8 on the GPU: per-token groups, one pass over X.
//
// Fast variant (groups of whole 16-byte vectors, K a multiple of the group): a team of kTeam
// lanes owns one group; each lane loads kPer 16-byte vectors once, keeps them in registers, the
// team reduces the finite amax with shuffles, and each lane divides and encodes its own values.
// X is read exactly once, Y written once. Generic variant (any group length, ragged or unaligned
// K): one warp per group, element loads, amax pass then encode pass (the second read of the group
// hits L1/L2).
#include <cuda_runtime.h>

#include <algorithm>

#include "ops/cuda/device_info.h"
#include "ops/cuda/fp8_device.cuh"
#include "ops/cuda/launch.h"

namespace fp8ops::cuda {
namespace {

using detail::kE4M3;
using detail::kE5M2;

constexpr int kThreads = 256;

// Encoder selected at run time (uniform per launch): 0 E4M3 sat, 1 E4M3 nosat, 2 E5M2 sat,
// 3 E5M2 nosat.
__device__ __forceinline__ uint32_t EncodePair(int mode, float a, float b) {
  switch (mode) {
    case 0: return detail::EncodeFp8x2<kE4M3, true>(a, b);
    case 1: return detail::EncodeFp8x2<kE4M3, false>(a, b);
    case 2: return detail::EncodeFp8x2<kE5M2, true>(a, b);
    default: return detail::EncodeFp8x2<kE5M2, false>(a, b);
  }
}
__device__ __forceinline__ uint32_t EncodeOne(int mode, float a) {
  switch (mode) {
    case 0: return detail::EncodeFp8<kE4M3, true>(a);
    case 1: return detail::EncodeFp8<kE4M3, false>(a);
    case 2: return detail::EncodeFp8<kE5M2, true>(a);
    default: return detail::EncodeFp8<kE5M2, false>(a);
  }
}

struct QuantParams {
  int64_t num_groups;    // rows * groups per row
  int64_t group_len;     // elements per group (fast variant: every group is full)
  int64_t k;             // row length (generic variant)
  int64_t groups_per_row;
  int mode;              // encoder, see EncodePair
  float fp8_max;
  bool pow2;
  int static_kind;       // 0 dynamic, 1 per-tensor value, 2 per-group array
  float static_value;
  const float* static_scale;
  uint8_t* y;
  float* y_scale;
  int64_t rows;
  bool k_major;  // y_scale [groups_per_row][rows]
};

// Where group (row r, block b) stores its scale.
__device__ __forceinline__ int64_t ScaleIndex(const QuantParams& p, int64_t group) {
  return p.k_major ? (group % p.groups_per_row) * p.rows + group / p.groups_per_row : group;
}

__device__ __forceinline__ float GroupScale(const QuantParams& p, int64_t group, float amax) {
  if (p.static_kind == 1) return p.static_value;
  if (p.static_kind == 2) return p.static_scale[group];
  return detail::ScaleFromAmax(amax, p.fp8_max, p.pow2);
}

// Fast variant. Each group is kTeam * kPer 16-byte vectors; lanes [t*kTeam, (t+1)*kTeam) of a
// warp form team t. A team owns kG consecutive groups (kG = 2 measured slower than 1 on the H100:
// 66% vs 75% of copy bandwidth at 4096 x 4096), no loop: every lane reaches the shuffles.
template <typename T, int kTeam, int kPer>
__global__ void __launch_bounds__(kThreads) QuantizeVecKernel(const T* __restrict__ x, QuantParams p) {
  constexpr int kVec = detail::Vec16<T>::kN;
  constexpr int kG = 1;
  static_assert(kTeam >= 1 && kTeam <= 32 && (kTeam & (kTeam - 1)) == 0, "team must be a power of 2 <= 32");
  // The FP8GEMM that usually follows is a programmatic dependent launch (fp8_gemv.cu): let it start
  // streaming its weights now; it reads our outputs only after its GridDependencyWait(). We are
  // one too (LaunchTyped): X and our outputs belong to the kernel ahead until the wait returns.
  detail::AllowDependentLaunch();
  detail::GridDependencyWait();
  const int64_t tid = static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x;
  const int64_t first = tid / kTeam * kG;
  const int lane = static_cast<int>(tid % kTeam);

  float v[kG][kPer][kVec];
  float amax[kG];
#pragma unroll
  for (int g = 0; g < kG; ++g) {
    amax[g] = 0.0f;
    if (first + g < p.num_groups) {
      const uint4* src = reinterpret_cast<const uint4*>(x + (first + g) * p.group_len);
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
        const uint4 raw = __ldcs(src + i * kTeam + lane);  // read once: stream through the caches
        detail::Unpack(raw, v[g][i], static_cast<T*>(nullptr));
      }
    }
  }
#pragma unroll
  for (int g = 0; g < kG; ++g) {
    if (p.static_kind == 0 && first + g < p.num_groups) {
#pragma unroll
      for (int i = 0; i < kPer; ++i) {
#pragma unroll
        for (int j = 0; j < kVec; ++j) amax[g] = fmaxf(amax[g], detail::FiniteAbs(v[g][i][j]));
      }
    }
#pragma unroll
    for (int off = kTeam / 2; off > 0; off >>= 1) {
      amax[g] = fmaxf(amax[g], __shfl_xor_sync(0xFFFFFFFFu, amax[g], off));
    }
  }
#pragma unroll
  for (int g = 0; g < kG; ++g) {
    const int64_t group = first + g;
    if (group >= p.num_groups) break;
    const float s = GroupScale(p, group, amax[g]);
    if (lane == 0) p.y_scale[ScaleIndex(p, group)] = s;
    uint8_t* dst = p.y + group * p.group_len;
#pragma unroll
    for (int i = 0; i < kPer; ++i) {
      uint32_t w[kVec / 4];
#pragma unroll
      for (int j = 0; j < kVec / 4; ++j) {
        const uint32_t lo = EncodePair(p.mode, v[g][i][4 * j] / s, v[g][i][4 * j + 1] / s);
        const uint32_t hi = EncodePair(p.mode, v[g][i][4 * j + 2] / s, v[g][i][4 * j + 3] / s);
        w[j] = lo | (hi << 16);
      }
      if constexpr (kVec == 8) {
        reinterpret_cast<uint2*>(dst)[i * kTeam + lane] = make_uint2(w[0], w[1]);
      } else {
        reinterpret_cast<uint32_t*>(dst)[i * kTeam + lane] = w[0];
      }
    }
  }
}

// Generic variant: one warp per group (row r, block b); groups may be partial, empty (K = 0 with
// block_size 0) or unaligned.
template <typename T>
__global__ void __launch_bounds__(kThreads) QuantizeGenericKernel(const T* __restrict__ x, QuantParams p) {
  detail::AllowDependentLaunch();  // as in QuantizeVecKernel
  detail::GridDependencyWait();
  const int64_t group = (static_cast<int64_t>(blockIdx.x) * kThreads + threadIdx.x) / 32;
  if (group >= p.num_groups) return;  // warp-uniform
  const int lane = threadIdx.x & 31;
  const int64_t r = group / p.groups_per_row, b = group % p.groups_per_row;
  const int64_t k0 = b * p.group_len;
  const int64_t len = p.group_len < p.k - k0 ? p.group_len : p.k - k0;
  const T* src = x + r * p.k + k0;
  float amax = 0.0f;
  if (p.static_kind == 0) {
    for (int64_t i = lane; i < len; i += 32) amax = fmaxf(amax, detail::FiniteAbs(detail::ToFloat(src[i])));
#pragma unroll
    for (int off = 16; off > 0; off >>= 1) amax = fmaxf(amax, __shfl_xor_sync(0xFFFFFFFFu, amax, off));
  }
  const float s = GroupScale(p, group, amax);
  if (lane == 0) p.y_scale[ScaleIndex(p, group)] = s;
  uint8_t* dst = p.y + r * p.k + k0;
  for (int64_t i = lane; i < len; i += 32) {
    dst[i] = static_cast<uint8_t>(EncodeOne(p.mode, detail::ToFloat(src[i]) / s));
  }
}

// On Hopper a programmatic dependent launch (PdlEnabled): the launch and the CTAs' start overlap
// the kernel ahead (H100, bench/results/cuda_h100_2026-11-23d: 128 x 4096 bf16 4.0 vs 4.6 us; a
// decode step QuantizeFP8 + FP8GEMM at M = 1, K = N = 4096 9.9 vs 12.1 us).
template <typename T>
cudaError_t LaunchTyped(const QuantizeLaunchArgs& a, QuantParams p, cudaStream_t stream) {
  const bool pdl = PdlEnabled();
  constexpr int kVec = detail::Vec16<T>::kN;
  const T* x = static_cast<const T*>(a.x);
  const int64_t g = p.group_len;
  const bool aligned = (reinterpret_cast<uintptr_t>(a.x) % 16 == 0) && (reinterpret_cast<uintptr_t>(a.y) % 8 == 0);
  const int64_t nvec = g % kVec == 0 ? g / kVec : 0;
  // Fast variant: whole groups of whole vectors, teams of 8 to 32 lanes, two vectors a lane where
  // the group has 16 or more (H100, groups of 128: bf16 4096 x 4096 20.5 vs 21.6 us with one
  // vector a lane, 4096 x 14336 65.1 vs 69.5 us; float32 16.5 vs 17.6 us; four a lane 21.7 /
  // 66.8 / 17.0 us), up to 8 vectors a lane.
  int team = 0, per = 0;
  if (aligned && a.k > 0 && g > 0 && a.k % g == 0 && nvec >= 8 && (nvec & (nvec - 1)) == 0) {
    team = static_cast<int>(nvec >= 16 ? std::min<int64_t>(nvec / 2, 32) : nvec);
    per = static_cast<int>(nvec / team);
    if (per > 8) team = 0;
  }
  if (team != 0) {
    const int64_t groups_per_team = 1;  // kG of QuantizeVecKernel
    const int64_t threads = (p.num_groups + groups_per_team - 1) / groups_per_team * team;
    const int64_t blocks = (threads + kThreads - 1) / kThreads;
    if (blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
    // (team, per) is one of (8, 1), (8, 2), (16, 2), (32, 2), (32, 4), (32, 8).
    void (*kernel)(const T*, QuantParams) = per == 1     ? QuantizeVecKernel<T, 8, 1>
                                            : team == 8  ? QuantizeVecKernel<T, 8, 2>
                                            : team == 16 ? QuantizeVecKernel<T, 16, 2>
                                            : per == 2   ? QuantizeVecKernel<T, 32, 2>
                                            : per == 4   ? QuantizeVecKernel<T, 32, 4>
                                                         : QuantizeVecKernel<T, 32, 8>;
    return detail::LaunchKernel(kernel, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0,
                                stream, pdl, x, p);
  }
  const int64_t blocks = (p.num_groups * 32 + kThreads - 1) / kThreads;
  if (blocks > 0x7FFFFFFF) return cudaErrorInvalidValue;
  return detail::LaunchKernel(QuantizeGenericKernel<T>, dim3(static_cast<unsigned>(blocks)),
                              dim3(kThreads), 0, stream, pdl, x, p);
}

}  // namespace

cudaError_t LaunchQuantizeFp8(const QuantizeLaunchArgs& a, cudaStream_t stream) {
  QuantParams p{};
  p.groups_per_row = NumBlocks(a.k, a.block_size);
  p.num_groups = a.rows * p.groups_per_row;
  if (p.num_groups == 0) return cudaSuccess;
  p.group_len = EffectiveBlock(a.k, a.block_size);
  p.k = a.k;
  const bool e4m3 = a.params.format == Fp8Format::kE4M3FN;
  p.mode = (e4m3 ? 0 : 2) + (a.params.saturate ? 0 : 1);
  p.fp8_max = Fp8Max(a.params.format);
  p.pow2 = a.params.scale_pow2;
  p.static_kind = !a.has_static_scale ? 0 : (a.static_scale == nullptr ? 1 : 2);
  p.static_value = a.static_scale_value;
  p.static_scale = a.static_scale;
  p.y = a.y;
  p.y_scale = a.y_scale;
  p.rows = a.rows;
  p.k_major = a.y_scale_k_major;
  switch (a.x_type) {
    case DType::kFloat: return LaunchTyped<float>(a, p, stream);
    case DType::kFloat16: return LaunchTyped<__half>(a, p, stream);
    case DType::kBFloat16: return LaunchTyped<__nv_bfloat16>(a, p, stream);
    default: return cudaErrorInvalidValue;
  }
}

}  // namespace fp8ops::cuda
