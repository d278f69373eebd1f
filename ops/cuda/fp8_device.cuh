// Device-side FP8 / float16 / bfloat16 helpers shared by the .cu files.
//
// NOTE: encoding must stay bit-exact with include/fp8ops/fp8.h (RNE; saturate: |x| > max and
// +-Inf -> +-max; no saturate: overflow -> NaN 0x7F (E4M3FN) or +-Inf (E5M2); NaN -> 0x7F).
// CUDA's __nv_cvt_float_to_fp8 has these semantics; NaN is mapped explicitly so the result does
// not depend on which NaN code the hardware conversion produces. These files must not be built
// with --use_fast_math or -ftz=true: the division x / scale and the scale computation must be
// IEEE float32, subnormals included.
#ifndef FP8OPS_OPS_CUDA_FP8_DEVICE_CUH_
#define FP8OPS_OPS_CUDA_FP8_DEVICE_CUH_

#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_fp8.h>
#include <cuda_runtime.h>

#include <atomic>
#include <cstdint>

#include "fp8ops/quantize.h"

namespace fp8ops::cuda::detail {

// Programmatic dependent launch (sm_90+; no-ops on older targets). A kernel launched with
// cudaLaunchAttributeProgrammaticStreamSerialization may start before the kernel ahead of it on
// the stream has finished: until GridDependencyWait() returns it may only read memory that kernel
// does not write (FP8GEMM: constant weights). AllowDependentLaunch() lets the next such kernel
// start its prologue while this one runs; without the attribute both are no-ops in effect.
__device__ __forceinline__ void GridDependencyWait() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;" ::: "memory");
#endif
}
__device__ __forceinline__ void AllowDependentLaunch() {
#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;" ::: "memory");
#endif
}

// wgmma shared-memory matrix descriptor (sm_90) of a K-major tile with the 128-byte swizzle: row
// r is 128 bytes, its 16-byte chunk c stored at chunk c ^ (r % 8), 8-row groups 1024 bytes apart
// (the stride byte offset; the leading byte offset is unused with this swizzle). saddr: the
// tile's shared-memory address (1024-byte aligned) plus the byte offset of the K step in the row.
// Used by the weight-only kernel (fp8_gemm_wo.cu) and the W8A8 kernel (fp8_gemm_wgmma.cu).
__device__ __forceinline__ uint64_t SwizzledKMajorDesc(uint32_t saddr) {
  return static_cast<uint64_t>((saddr & 0x3FFFF) >> 4) | (static_cast<uint64_t>(1) << 16) |
         (static_cast<uint64_t>(1024 >> 4) << 32) | (static_cast<uint64_t>(1) << 62);
}

// Launches kernel<<<grid, block, smem, stream>>>(args...); with `dependent`, as a programmatic
// dependent launch: its CTAs may start while the kernel ahead on the stream finishes, and it must
// call GridDependencyWait() before touching anything that kernel writes (or reads: our outputs
// may reuse its buffers). Host code.
template <typename... KernelArgs, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem,
                         cudaStream_t stream, bool dependent, Args&&... args) {
  cudaLaunchConfig_t cfg{};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[1];
  attr[0].id = cudaLaunchAttributeProgrammaticStreamSerialization;
  attr[0].val.programmaticStreamSerializationAllowed = 1;
  cfg.attrs = attr;
  cfg.numAttrs = dependent ? 1 : 0;
  return cudaLaunchKernelEx(&cfg, kernel, static_cast<Args&&>(args)...);
}

// Lets kKernel use `bytes` of dynamic shared memory (the default limit is 48 KB): the attribute
// is per function and device, set once per device (the first 64; others at every call) rather
// than by a runtime call at every launch. `bytes` is the same at every call for one kernel. Host.
template <auto kKernel>
cudaError_t AllowDynamicSmem(int bytes) {
  static std::atomic<bool> done[64];
  int dev = 0;
  if (cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return e;
  const bool cached = dev >= 0 && dev < 64;
  if (cached && done[dev].load(std::memory_order_acquire)) return cudaSuccess;
  const cudaError_t e =
      cudaFuncSetAttribute(kKernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes);
  if (e == cudaSuccess && cached) done[dev].store(true, std::memory_order_release);
  return e;
}

// mbarriers and the bulk copy engine (sm_90; callers guard with __CUDA_ARCH__ >= 900). Barrier and
// destination are shared-memory addresses (__cvta_generic_to_shared).
__device__ __forceinline__ uint32_t SharedAddr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}
__device__ __forceinline__ void MbarInit(uint32_t bar, uint32_t count) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;\n" ::"r"(bar), "r"(count) : "memory");
}
// After the inits, before the barriers are used by other threads or the copy engine.
__device__ __forceinline__ void FenceMbarInit() {
  asm volatile("fence.mbarrier_init.release.cluster;\n" ::: "memory");
}
// Waits until the phase of parity `parity` of the barrier has completed.
__device__ __forceinline__ void MbarWait(uint32_t bar, uint32_t parity) {
  asm volatile(
      "{\n.reg .pred done;\nWAIT:\n"
      "mbarrier.try_wait.parity.shared::cta.b64 done, [%0], %1;\n"
      "@!done bra WAIT;\n}\n" ::"r"(bar),
      "r"(parity)
      : "memory");
}
__device__ __forceinline__ void MbarArrive(uint32_t bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];\n" ::"r"(bar) : "memory");
}
// Arrives and adds `bytes` to the transfers the current phase waits for.
__device__ __forceinline__ void MbarExpectTx(uint32_t bar, uint32_t bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\n" ::"r"(bar), "r"(bytes)
               : "memory");
}
// `bytes` (a multiple of 16; both addresses 16-byte aligned) global -> shared, completing on `bar`.
__device__ __forceinline__ void BulkCopyG2S(uint32_t dst, const void* src, uint32_t bytes,
                                            uint32_t bar) {
  asm volatile(
      "cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\n" ::
          "r"(dst),
      "l"(src), "r"(bytes), "r"(bar)
      : "memory");
}

// Defines NAME(float* d, uint64_t da, uint64_t db, int scale_d): one wgmma (sm_90a) with 64 x N
// float32 accumulators d (N = 64 or 128: 32 or 64 per thread), both operands from shared memory
// (matrix descriptors da, db); scale_d = 0: D = A.B (the old values of d are ignored).
// SHAPE_TYPES: the instruction's shape and types, e.g. "m64n128k32.f32.e4m3.e4m3"; IMM: the
// immediates after scale-d (scale-a and scale-b, and for 16-bit types the two transpose flags).
// Used by the weight-only kernel (fp8_gemm_wo.cu) and the W8A8 kernel (fp8_gemm_wgmma.cu), under
// their sm_90a guards.
#define FP8OPS_DEFINE_WGMMA_N64(NAME, SHAPE_TYPES, IMM)                                            \
  __device__ __forceinline__ void NAME(float* d, uint64_t da, uint64_t db, int scale_d) {          \
    asm volatile(                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"                                               \
        "wgmma.mma_async.sync.aligned." SHAPE_TYPES " {"                                           \
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%2" \
        "4,%25,%26,%27,%28,%29,%30,%31"                                                            \
        "}, %32, %33, p, " IMM ";\n}\n"                                                            \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),      \
          "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),               \
          "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),            \
          "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),            \
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),            \
          "+f"(d[31])                                                                              \
        : "l"(da), "l"(db), "r"(scale_d));                                                         \
  }
#define FP8OPS_DEFINE_WGMMA_N128(NAME, SHAPE_TYPES, IMM)                                           \
  __device__ __forceinline__ void NAME(float* d, uint64_t da, uint64_t db, int scale_d) {          \
    asm volatile(                                                                                  \
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"                                               \
        "wgmma.mma_async.sync.aligned." SHAPE_TYPES " {"                                           \
        "%0,%1,%2,%3,%4,%5,%6,%7,%8,%9,%10,%11,%12,%13,%14,%15,%16,%17,%18,%19,%20,%21,%22,%23,%2" \
        "4,%25,%26,%27,%28,%29,%30,%31,%32,%33,%34,%35,%36,%37,%38,%39,%40,%41,%42,%43,%44,%45,%4" \
        "6,%47,%48,%49,%50,%51,%52,%53,%54,%55,%56,%57,%58,%59,%60,%61,%62,%63"                    \
        "}, %64, %65, p, " IMM ";\n}\n"                                                            \
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]),      \
          "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]),               \
          "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]),            \
          "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]),            \
          "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]),            \
          "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]),            \
          "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]),            \
          "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]),            \
          "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]),            \
          "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]),            \
          "+f"(d[61]), "+f"(d[62]), "+f"(d[63])                                                    \
        : "l"(da), "l"(db), "r"(scale_d));                                                         \
  }

// ONNX element types (fp8.h's Fp8Format values), usable as template arguments.
constexpr int kE4M3 = 17;
constexpr int kE5M2 = 19;

template <int F>
struct Fp8Fmt;
template <>
struct Fp8Fmt<kE4M3> {
  static constexpr __nv_fp8_interpretation_t kInterp = __NV_E4M3;
  static constexpr float kMax = 448.0f;
};
template <>
struct Fp8Fmt<kE5M2> {
  static constexpr __nv_fp8_interpretation_t kInterp = __NV_E5M2;
  static constexpr float kMax = 57344.0f;
};

template <int F, bool kSat>
__device__ __forceinline__ uint32_t EncodeFp8(float x) {
  if (x != x) return 0x7Fu;
  return __nv_cvt_float_to_fp8(x, kSat ? __NV_SATFINITE : __NV_NOSAT, Fp8Fmt<F>::kInterp);
}

// Two values -> two codes, first value in the low byte (one instruction on sm_89+ when
// saturating).
template <int F, bool kSat>
__device__ __forceinline__ uint32_t EncodeFp8x2(float a, float b) {
  if (kSat && a == a && b == b) {
    return __nv_cvt_float2_to_fp8x2(make_float2(a, b), __NV_SATFINITE, Fp8Fmt<F>::kInterp);
  }
  return EncodeFp8<F, kSat>(a) | (EncodeFp8<F, kSat>(b) << 8);
}

// Exact decode of one code.
template <int F>
__device__ __forceinline__ float DecodeFp8(uint32_t code) {
  const __half h(__nv_cvt_fp8_to_halfraw(static_cast<__nv_fp8_storage_t>(code), Fp8Fmt<F>::kInterp));
  return __half2float(h);
}

// Exact decode of the 4 codes of a 32-bit word (byte 0 first).
template <int F>
__device__ __forceinline__ void DecodeFp8x4(uint32_t w, float* out) {
  const __half2 lo(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w & 0xFFFFu),
                                              Fp8Fmt<F>::kInterp));
  const __half2 hi(__nv_cvt_fp8x2_to_halfraw2(static_cast<__nv_fp8x2_storage_t>(w >> 16),
                                              Fp8Fmt<F>::kInterp));
  const float2 a = __half22float2(lo), b = __half22float2(hi);
  out[0] = a.x;
  out[1] = a.y;
  out[2] = b.x;
  out[3] = b.y;
}

// Two FP8 codes (low byte first) -> the A type's pair, low element in the low 16 bits. Exact.
template <int BF, bool kBf16>
__device__ __forceinline__ uint32_t DecodePair(uint32_t codes) {
  const __half2_raw h = __nv_cvt_fp8x2_to_halfraw2(
      static_cast<__nv_fp8x2_storage_t>(codes & 0xFFFFu), Fp8Fmt<BF>::kInterp);
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

// Four codes (bytes of w, low first) -> two pairs of the A type: lo = codes 0, 1; hi = 2, 3.
template <int BF, bool kBf16>
__device__ __forceinline__ void Decode4(uint32_t w, uint32_t& lo, uint32_t& hi) {
  if constexpr (!kBf16 && BF == kE5M2) {
    lo = __byte_perm(w, 0u, 0x1404);  // bytes {0, c0, 0, c1}: c0 << 8 | c1 << 24
    hi = __byte_perm(w, 0u, 0x3424);
  } else {
    lo = DecodePair<BF, kBf16>(w);
    hi = DecodePair<BF, kBf16>(w >> 16);
  }
}

// Element loads and stores as float32 (exact for the three input types; stores round once, RNE).
__device__ __forceinline__ float ToFloat(float v) { return v; }
__device__ __forceinline__ float ToFloat(__half v) { return __half2float(v); }
__device__ __forceinline__ float ToFloat(__nv_bfloat16 v) { return __bfloat162float(v); }

// y[idx] = v + bias[n] (bias may be null), rounded once to out_type (1 float, 10 float16,
// 16 bfloat16): the last step of every FP8GEMM kernel.
__device__ __forceinline__ void StoreWithBias(void* y, const void* bias, int out_type, int64_t idx,
                                              int n, float v) {
  if (out_type == 1) {
    if (bias != nullptr) v += static_cast<const float*>(bias)[n];
    static_cast<float*>(y)[idx] = v;
  } else if (out_type == 10) {
    if (bias != nullptr) v += __half2float(static_cast<const __half*>(bias)[n]);
    static_cast<__half*>(y)[idx] = __float2half_rn(v);
  } else {
    if (bias != nullptr) v += __bfloat162float(static_cast<const __nv_bfloat16*>(bias)[n]);
    static_cast<__nv_bfloat16*>(y)[idx] = __float2bfloat16_rn(v);
  }
}

template <typename T>
__device__ __forceinline__ T FromFloat(float v);
template <>
__device__ __forceinline__ float FromFloat<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half FromFloat<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 FromFloat<__nv_bfloat16>(float v) {
  return __float2bfloat16_rn(v);
}

// A 16-byte vector of T unpacked to float32: 4 floats or 8 halves/bfloat16s.
template <typename T>
struct Vec16 {
  static constexpr int kN = 16 / sizeof(T);
};
__device__ __forceinline__ void Unpack(const uint4& v, float* out, float*) {
  out[0] = __uint_as_float(v.x);
  out[1] = __uint_as_float(v.y);
  out[2] = __uint_as_float(v.z);
  out[3] = __uint_as_float(v.w);
}
__device__ __forceinline__ void Unpack(const uint4& v, float* out, __nv_bfloat16*) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    out[2 * i] = __uint_as_float(w[i] << 16);
    out[2 * i + 1] = __uint_as_float(w[i] & 0xFFFF0000u);
  }
}
__device__ __forceinline__ void Unpack(const uint4& v, float* out, __half*) {
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int i = 0; i < 4; ++i) {
    const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
    out[2 * i] = f.x;
    out[2 * i + 1] = f.y;
  }
}

// Dynamic scale of a group from its finite amax: the one definition in include/fp8ops/quantize.h.
__device__ __forceinline__ float ScaleFromAmax(float amax, float fp8_max, bool pow2) {
  return ::fp8ops::ScaleFromAmax(amax, fp8_max, pow2);
}

// |x| if finite, else 0: amax ignores NaN and +-Inf.
__device__ __forceinline__ float FiniteAbs(float x) {
  const float a = fabsf(x);
  return a <= 3.40282347e+38f ? a : 0.0f;
}

}  // namespace fp8ops::cuda::detail

#endif  // FP8OPS_OPS_CUDA_FP8_DEVICE_CUH_
