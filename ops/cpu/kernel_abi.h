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

constexpr int kMaxTileRowsBf16 = 384;  // the largest Fp8GemmKernels::tile_rows_bf16
//
// B is read in place: ONNX Runtime's [n, k] row-major FP8 codes (no packed copy). The driver
// cuts K into "segments" of `seg` codes (one K block of B's scales and of A's groups; the last
// one may be shorter) and every segment into "chunks" of the ISA's `chunk` codes (the last chunk
// of a segment may be shorter: the kernels load it masked and never read past it). K' =
// nseg * cps * chunk is K with every segment padded to whole chunks. The kernels accumulate one
// segment from the FP8 values *without* scales, then add acc * b_scale * a_scale to the total,
// so B's scale layout (per tensor, per channel, 1-D or 2-D blocks, ragged) is all the same to
// them.
//
// Decoders put the codes of a chunk into vector lanes in their own order; the driver prepares A
// in that order (once per call): element j of a prepared chunk is A at chunk offset
// a_order_f32[j] (float kernels) or a_order_bf16[j] (bf16-pair kernels), zero beyond the
// segment. Masked-off codes of a chunk decode to finite values (they meet A's zeros).
//
// Flags: one bit per (row, chunk) of metadata, set at preparation when the chunk holds a code the
// ISA's decoder does not handle (AVX2, E4M3: NaN -> the segment's result is NaN; AVX-512: zero,
// subnormal, Inf or NaN -> the GEMV decodes that chunk by table lookups instead of arithmetic).
// An ISA without flag_rows keeps no flags.

// A view of B and its scales for the kernels.
struct BView {
  const uint8_t* b;  // [n][k] FP8 codes (the B input's buffer)
  int64_t n, k;
  int32_t format;          // 17 (E4M3FN) or 19 (E5M2)
  int64_t seg, nseg, cps;  // segment length, count, chunks per segment
  const uint8_t* flags;    // bits: row r at flags + r * flag_stride, bit s * cps + c
  int64_t flag_stride;     // bytes
  const float* b_scale;    // scale of (row r, segment s): b_scale[(r / bn) * nbk + seg_kb[s]]
  int64_t bn, nbk;
  const int32_t* seg_kb;  // [nseg]
};

// Small M: B streamed once, decoded in registers.
struct GemvArgs {
  const BView* b;
  int64_t r0, r1;  // B rows (output columns) [r0, r1)
  int64_t m;       // 1..gemv_max_m
  const void* a;   // prepared A: float or bf16 (uint16) [m][lda], lda = K'
  int64_t lda;
  const float* ascale;  // [m][nseg] (1 for weight-only)
  float* y;             // out: [m][ldy] float32, y[i * ldy + r - r0] (overwritten)
  int64_t ldy;
  float* scratch;  // gemv_scratch * m * nseg floats
  // Segments per pass over the rows [r0, r1) (>= 1): the kernels take K in slabs of this many
  // segments and every row per slab, so that A's m rows of a slab stay in L1 while B streams.
  int64_t slab;
};

// The GEMVs' scale products for one row slot whose row lies in block `blk` of B's scales:
// prod[m * nseg + s] = b_scale(blk, seg_kb[s]) * ascale[m * nseg + s] * factor for m < m_rows and
// the segments [s0, s1) of one slab (factor: the decoder's power of two). Both GEMVs call it when
// a slot's row enters another block; not inline (the note above), and not on the per-chunk path.
void GemvScaleProducts(const BView& b, const float* ascale, int64_t m_rows, int64_t blk,
                       int64_t s0, int64_t s1, float factor, float* prod);

// The float tile path's A^T for up to 16 rows of FP8 A: row i < rows of codes at a + i * lda
// (format 17 / 19), chunks [g0, g1) of B's segmentation decoded in a_order_f32 and times
// scale[i * b->nseg + s]; element j of chunk g of row i goes to dst[(g * chunk + j) * w + i], rows
// [rows, 16) are zero (the panel's padding columns).
struct PrepAArgs {
  const BView* b;
  const uint8_t* a;
  int64_t lda;
  int64_t rows;
  int32_t format;
  const float* scale;
  float* dst;
  int64_t w;
};

struct Fp8GemmKernels {
  int chunk;         // codes per chunk (a multiple of 2 * vec)
  int vec;           // float32 lanes per vector: M columns per vector of the tile kernels
  int gemv_max_m;    // largest m gemv takes
  int gemv_scratch;  // GemvArgs::scratch floats per (A row, segment)
  int max_nv;        // vectors of M columns per call of gemm_f32 (at most 4)
  // B rows per call of gemm_f32 for a task whose widest panel has nv vectors: mr[nv - 1], not
  // increasing with nv (a task's narrower last panel takes its first panel's row count).
  int mr[4];
  int mr_bf16;  // B rows and vectors per call of gemm_bf16
  int max_nv_bf16;
  // B rows per task of the bf16 tile path (a multiple of mr_bf16, at most kMaxTileRowsBf16): every
  // task streams its M columns' A^T once per pass, so faster microkernels want more rows to share
  // it.
  int tile_rows_bf16;
  // K' per pass of the float tile path: 0: from the driver's L2 budgets; > 0 (a multiple of
  // chunk): that budget rounded down to kc_f32, 2 * kc_f32 or 4 * kc_f32 (the last only for tasks
  // of at most 2 * vec M columns), and gemm_f32 is called with ldt = kc + 16 (one cache line more
  // than the codes), so that the kernels may take ldt and ldat (= nv * vec) as constants.
  int kc_f32;
  const uint8_t* a_order_f32;   // [chunk]
  const uint8_t* a_order_bf16;  // [chunk] (nullptr if the ISA has no bf16 path)
  // A's order for gemv_f32 / gemv_bf16 where their decoder differs from the tile path's (B
  // prepared with flags; without them the GEMV takes a_order_*).
  const uint8_t* gemv_order_f32;
  const uint8_t* gemv_order_bf16;
  // gemv_* may scale the decoded weights by a power of two (taken back in the block scale) where
  // B has flags: activations of at least this magnitude (0: no limit) then take the tile path,
  // whose products cannot overflow where the reference's do not.
  float gemv_max_abs_a;
  // Writes the flag bytes of rows [r0, r1) (flag_stride bytes each); nullptr: no flags.
  void (*flag_rows)(const BView* b, int64_t r0, int64_t r1, uint8_t* flags);
  // The flags only speed decoding up: without them (BView::flags null) every chunk is decoded
  // by the exact lookups of the tile paths, and the GEMV's A is in a_order_* (not gemv_order_*).
  bool flags_optional;
  // float A (weight-only, or FP8 codes decoded to float).
  void (*gemv_f32)(const GemvArgs* args);
  // bfloat16-pair A (FP8 codes or bf16 activations); nullptr if the ISA has no bf16 path.
  void (*gemv_bf16)(const GemvArgs* args);
  // Decodes B rows [r0, r0 + rows) x global chunks [g0, g1) (g = s * cps + c) to
  // tile[i][(g - g0) * chunk + j] (row i at tile + i * ldt) in a_order_f32, times the row's
  // scale of the chunk's segment.
  void (*decode_f32)(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, float* tile,
                     int64_t ldt);
  // PrepAArgs for chunks [g0, g1); nullptr: the driver prepares A^T itself.
  void (*prep_a_f32)(const PrepAArgs* args, int64_t g0, int64_t g1);
  // The same, unscaled bf16 in a_order_bf16 (uint16 elements; ldt counts them).
  void (*decode_bf16)(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1,
                      uint16_t* tile, int64_t ldt);
  // c[i][0:nv * vec] += sum_{kk < kc} tile[i * ldt + kk] * at[kk * ldat + 0:nv * vec] for rows
  // i < r (r <= mr[nv - 1], nv <= max_nv); tile and at already scaled. The driver passes A^T packed
  // in panels of max_nv * vec columns (ldat = nv * vec).
  void (*gemm_f32)(int64_t r, int64_t nv, int64_t kc, const float* tile, int64_t ldt,
                   const float* at, int64_t ldat, float* c, int64_t ldc);
  // bf16 pairs (r <= mr_bf16, nv <= max_nv_bf16), unscaled, one segment per call: kp pairs, tile
  // row i = uint32 pairs at tile + i * ldt, at[p * ldat + j] the pair of A column j (the driver
  // packs A^T in panels of max_nv_bf16 * vec columns: ldat = the panel's width), and c[i][j] +=
  // (sum_p tile[i][p] . at[p][j]) * bscale[i] * ascale[j].
  void (*gemm_bf16)(int64_t r, int64_t nv, int64_t kp, const uint32_t* tile, int64_t ldt,
                    const uint32_t* at, int64_t ldat, const float* bscale, const float* ascale,
                    float* c, int64_t ldc);
  // Two loops for dispatch's calibration: `iters` rounds of 24 independent FP32 FMAs / bf16
  // dot products on full vectors (nullptr where not applicable). Return a value to keep.
  float (*calib_fma)(int64_t iters);
  float (*calib_bf16)(int64_t iters);
  // `iters` rounds of the GEMV's decode of 16 chunks in L1: arithmetic (calib_decode_arith) and by
  // the exact lookups it takes without flags (calib_decode_lookup); nullptr where the ISA has one
  // decoder. The dispatch keeps the
  // optional flags (and so the arithmetic decode) only where it measures faster.
  float (*calib_decode_arith)(int64_t iters);
  float (*calib_decode_lookup)(int64_t iters);
  // Called by a thread before / after a tile-path task that calls gemm_bf16; nullptr: nothing to
  // do. AMX: tile_begin saves the thread's tile configuration into `saved` (64 bytes, 64-byte
  // aligned) and loads the kernel's, tile_end restores the saved one (or releases the tiles if
  // there was none), so that other AMX users of the thread (ONNX Runtime's MLAS configures a
  // thread's tiles once and keeps them) find their state as they left it.
  void (*tile_begin)(uint8_t* saved);
  void (*tile_end)(const uint8_t* saved);
  // `iters` rounds of 4 independent AMX TDPBF16PS (16 x 16 x 32 each); nullptr without AMX.
  float (*calib_amx)(int64_t iters);
};

// The AMX microkernel (ops/cpu/fp8_gemm_amx.cc) that the avx512_amx table puts in place of the
// AVX-512 gemm_bf16; every other entry of that table is the AVX-512 one.
namespace amx {
constexpr int kMr = 32;    // B rows per gemm_bf16 call: two tiles of 16
constexpr int kMaxNv = 2;  // vectors of 16 M columns per call: two tiles of 16
// B rows per task: 96-192 measured 1.1-1.4x faster than 48 at M = 512 on a Xeon (Emerald Rapids),
// 384 no better (bench/results/cpu_xeon_spr_2t_2026-11-23_amx.md).
constexpr int kTileRows = 192;
// gemm_bf16 of kernel_abi's contract with r <= kMr, nv <= kMaxNv and kp a multiple of 16 pairs.
// Reads whole tiles: 16 tile rows (at tile + i * ldt for i < 16 * ceil(r / 16)) and 16 * nv
// columns, so rows past r must be readable (their results are dropped).
void GemmBf16(int64_t r, int64_t nv, int64_t kp, const uint32_t* tile, int64_t ldt,
              const uint32_t* at, int64_t ldat, const float* bscale, const float* ascale, float* c,
              int64_t ldc);
constexpr int kTileConfigBytes = 64;
void TileBegin(uint8_t* saved);
void TileEnd(const uint8_t* saved);
// The thread's tile configuration (STTILECFG: all zero when the tiles are not configured) and
// LDTILECFG, for tests.
void ReadTileConfig(uint8_t* out);
void LoadTileConfig(const uint8_t* config);
// `iters` rounds of 4 independent TDPBF16PS (16 x 16 x 32 each) on tiles in L1.
float CalibTdp(int64_t iters);
}  // namespace amx

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
extern const Fp8GemmKernels kFp8GemmAvx512Amx;
extern const QuantizeFp8Kernels kQuantizeFp8Avx2;
extern const QuantizeFp8Kernels kQuantizeFp8Avx512;

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_KERNEL_ABI_H_
