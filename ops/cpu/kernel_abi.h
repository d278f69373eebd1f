// The interface between the ISA-independent drivers (ops/cpu/fp8_gemm.cc, quantize_fp8.cc) and
// the per-ISA kernel files (ops/cpu/*_avx2.cc, *_avx512.cc), which each export one const table
// of function pointers below.
//
// NOTE: the per-ISA files are compiled with ISA flags (-mavx512f ...). They must not use the
// standard library's templates or call any inline function of a shared header: the linker keeps
// one copy of such a function, and it could be the AVX-512 one, then called on a CPU without
// AVX-512. So this header is plain data and function-pointer types, and the kernels take raw
// pointers and sizes. Calling non-inline functions (e.g. fp8ops::ScaleFromAmax) is fine.
#ifndef FP8OPS_OPS_CPU_KERNEL_ABI_H_
#define FP8OPS_OPS_CPU_KERNEL_ABI_H_

#include <cstddef>
#include <cstdint>

namespace fp8ops {
struct Fp8QuantParams;
}

namespace fp8ops::cpu {

// ------------------------------------------------------------------------------------- FP8GEMM
//
// Packed B: the N columns are cut into panels of `nr` columns (the last one zero-padded); each
// panel holds all of K (padded with zero codes to `kpad`, a multiple of `kgroup`) in the order
// the ISA's decoder wants, `kpad * nr` bytes per panel. Next to the codes, each panel keeps one
// float32 scale per (K block of B, column): colscale[seg][nr]. The kernels accumulate one
// "segment" of K at a time (a K block of B or of A's scales) from the FP8 values *without*
// scales, then add acc * colscale * ascale to the total, so B's scale layout (per tensor,
// per channel, 1-D or 2-D blocks, ragged) is all the same to them.
//
// An ISA may also keep one flag byte per K group of a panel (uses_flags): set when the group
// holds a code its fast decoder does not handle (e.g. zero, subnormals, NaN), so it takes the
// exact slow decoder there.

struct PackPanelArgs {
  const uint8_t* b;  // [n, k] row-major FP8 codes
  int64_t n, k, kpad;
  int32_t format;  // 17 (E4M3FN) or 19 (E5M2)
  int64_t panel;   // columns [panel * nr, panel * nr + nr)
  uint8_t* codes;  // out: kpad * nr bytes
  uint8_t* flags;  // out: kpad / kgroup bytes (nullptr unless uses_flags)
  // in/out: [nseg_b][nr] scales of B for this panel (0 for padding columns), filled by the
  // driver; the ISA may fold a decode factor into them (and marks NaN weights, see avx2).
  float* colscale;
  int64_t nseg_b, kseg_b;  // number and length of B's K blocks
};

// Small M: B streamed once, decoded in registers, for m <= gemv_max_m rows.
struct GemvArgs {
  int64_t m;            // 1..gemv_max_m
  const void* a;        // prepared A: float [m][lda], or bf16 pairs uint32 [m][lda / 2]
  int64_t lda;          // elements (K units) between rows, >= kpad
  const float* ascale;  // [m][ldas]: A's scale per segment (1 for weight-only)
  int64_t ldas;
  const uint8_t* codes;   // one panel
  const uint8_t* flags;   // that panel's flags (uses_flags)
  const float* colscale;  // that panel's [nseg_b][nr]
  int64_t kpad;
  int64_t seg;     // segment length (multiple of kgroup, or >= kpad)
  int64_t kseg_b;  // B's K block length (colscale row = k0 / kseg_b)
  int32_t format;
  float* y;  // out: [m][nr] float32 (overwritten)
};

struct Fp8GemmKernels {
  int nr;           // columns per panel
  int kgroup;       // K granularity of the packed layout
  int gemv_max_m;   // largest m gemv takes
  int mr;           // rows per call of gemm_f32 / gemm_bf16
  bool uses_flags;  // keeps a flag byte per K group of each panel
  // Packs one panel (codes and colscale fix-ups).
  void (*pack_panel)(const PackPanelArgs* args);
  // float A (weight-only, or FP8 codes decoded to float).
  void (*gemv_f32)(const GemvArgs* args);
  // bfloat16-pair A (FP8 codes or bf16 activations); nullptr if the ISA has no bf16 path.
  void (*gemv_bf16)(const GemvArgs* args);
  // Decodes packed rows [k0, k1) of one panel (k0, k1 multiples of kgroup) to float32
  // tile[k1 - k0][nr] *scaled*: row k times colscale[k / kseg_b][:] (the panel's [nseg_b][nr]).
  void (*decode_f32)(const uint8_t* panel_codes, const uint8_t* panel_flags, int32_t format,
                     int64_t k0, int64_t k1, const float* colscale, int64_t kseg_b, float* tile);
  // Decodes to unscaled bf16 pairs tile[(k1 - k0) / 2][nr] (uint32 each).
  void (*decode_bf16)(const uint8_t* panel_codes, const uint8_t* panel_flags, int32_t format,
                      int64_t k0, int64_t k1, uint32_t* tile);
  // c[i][0:nr] += sum_{kk < kc} A[i][kk] * tile[kk][0:nr] for rows i < m (m <= mr), with A and
  // tile already dequantized (scales applied). A is packed by K: A[i][kk] = a[kk * lda + i]
  // (the driver packs mr rows together so the broadcasts read one contiguous stream).
  void (*gemm_f32)(int64_t m, int64_t kc, const float* a, int64_t lda, const float* tile, float* c,
                   int64_t ldc);
  // bf16 pairs, unscaled, one K block ("segment") of B and A per call: kc counts K (even),
  // A[i][pair p] = a[p * lda + i], and
  // c[i][0:nr] += (sum_k A[i][k] * tile[k][0:nr]) * colscale[0:nr] * ascale[i * ldas].
  void (*gemm_bf16)(int64_t m, int64_t kc, const uint32_t* a, int64_t lda, const uint32_t* tile,
                    const float* colscale, const float* ascale, int64_t ldas, float* c,
                    int64_t ldc);
  // Two loops for dispatch's calibration: `iters` rounds of 24 independent FP32 FMAs / bf16
  // dot products on full vectors (nullptr where not applicable). Return a value to keep.
  float (*calib_fma)(int64_t iters);
  float (*calib_bf16)(int64_t iters);
};

// ------------------------------------------------------------------------------- QuantizeFP8

struct QuantizeRowsArgs {
  int64_t k;
  const void* x;    // [rows, k]
  int32_t x_type;   // 1, 10, 16
  int64_t group;    // effective group length (> 0)
  int64_t ngroups;  // groups per row
  const Fp8QuantParams* params;
  const float* static_scale;  // nullptr, or 1 value, or [rows][ngroups]
  int64_t static_scale_count;
  uint8_t* y;      // [rows, k]
  float* y_scale;  // [rows, ngroups]
};

struct QuantizeFp8Kernels {
  // Quantizes rows [r0, r1): bit-exact with reference::QuantizeFp8.
  void (*quantize_rows)(const QuantizeRowsArgs* args, int64_t r0, int64_t r1);
};

// The tables each ISA file exports.
extern const Fp8GemmKernels kFp8GemmAvx2;
extern const Fp8GemmKernels kFp8GemmAvx512;
extern const QuantizeFp8Kernels kQuantizeFp8Avx2;
extern const QuantizeFp8Kernels kQuantizeFp8Avx512;

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_KERNEL_ABI_H_
