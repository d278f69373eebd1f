// Fast CPU FP8GEMM that reads B (the FP8 weight) in place: ONNX Runtime's own [N, K] buffer,
// passed at every call. The kernel keeps only small metadata prepared once (PreparedB: B's scales
// and one flag bit per 64 codes), so a session holds one copy of the weights.
//
// Y[m, n] = sum_k dequant(A)[m, k] * dequant(B)[n, k] (+ bias[n]) as in
// ops/reference/reference_kernels.h, float32 accumulation (summation order differs from the
// reference: K is summed per block of the scales, then scaled; docs/OPERATORS.md 1.5 bounds it).
//
// Kernel choice per call: small M (<= 8 on AVX-512, <= 4 on AVX2) streams B once, several rows
// at a time, decoding in registers against A prepared in the decoder's lane order (GEMV; its
// decoder is arithmetic for normal codes, and the flagged chunks holding others take table
// lookups). Larger M computes C^T = B * A^T: a tile of B rows is decoded into L1/L2 and a
// register-blocked microkernel broadcasts B and loads A^T vectors (6 rows x 64 columns of M on
// AVX-512, 12 x 32 for narrower panels; 6 x 16 on AVX2); A^T is prepared once per call. On
// avx512_bf16, FP8 and bfloat16 activations use vdpbf16ps (exact products: FP8 values are exact in
// bfloat16; bfloat16 activations only when none is below 2^-100, as the instruction flushes
// subnormals); float and float16 activations use FP32 FMA. On avx512_amx the same, except that the
// larger-M bf16 products run on AMX tiles (TDPBF16PS, 32 B rows x 32 columns).
#ifndef FP8OPS_OPS_CPU_FP8_GEMM_H_
#define FP8OPS_OPS_CPU_FP8_GEMM_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "fp8ops/dtype.h"
#include "ops/cpu/isa.h"
#include "ops/cpu/parallel.h"

namespace fp8ops::cpu {

// What the kernels keep of B between calls (ops/cpu/kernel_abi.h, BView): its scales, how K is
// cut into segments and chunks, and one flag bit per (row, chunk) (chunks holding codes the
// ISA's fast decoder does not handle). The codes themselves are read from the caller's buffer.
struct PreparedB {
  Isa isa = Isa::kScalar;  // kScalar: the reference kernels (no flags)
  int64_t n = 0, k = 0;
  Fp8Format format = Fp8Format::kE4M3FN;
  int64_t block_n = 128, block_k = 128;
  int64_t a_block = 128;  // the one the segments were cut for
  int64_t seg = 1, nseg = 0, cps = 0, chunk = 0;
  int64_t bn = 1, nbk = 1;
  std::vector<int32_t> seg_kb;  // [nseg] B's K block of each segment
  std::vector<float> b_scale;   // as the input
  std::vector<uint8_t> flags;   // [n][flag_stride]
  int64_t flag_stride = 0;
  // The GEMV (small M) takes vdpbf16ps (FP8 or exactly-bf16 activations) at M <= this, FP32 FMA
  // above; 0: never. On CPUs with AVX512_BF16: 1 where vdpbf16ps measured slower than FP32 FMA
  // (MeasureDotRates; a Xeon: half the rate), else every M. M = 1 takes it even there: its loop
  // is bound by the decode and the stream, and the bf16 dots skip the float32 split (Xeon without
  // AMX, K = N = 4096: 0.439 vs 0.471 ms best); at M >= 2 the FMAs' double rate wins (M = 2-8:
  // 10-30%, bench/results/cpu_xeon_2t_2026-12-07_gemv_slab.md). PrepareB sets it at every level
  // (the tile paths' choice is the level's); tests override it to cover both GEMVs.
  int64_t gemv_bf16_max_m = 0;

  // Bytes this object holds.
  size_t MemoryBytes() const;
};

struct BSource {
  const uint8_t* b = nullptr;  // [n, k] FP8 codes (read only to compute the flags)
  int64_t n = 0, k = 0;
  Fp8Format format = Fp8Format::kE4M3FN;
  const float* b_scale = nullptr;  // [NumBlocks(n, block_n), NumBlocks(k, block_k)] or 1 value
  int64_t b_scale_count = 0;
  int64_t block_n = 128, block_k = 128;
  int64_t a_block = 128;  // the node's attribute: segments follow A's groups too
};

// Prepares B for `isa` (lowered to what the CPU supports). Inputs must be valid
// (ops/common/op_validation.h). one_call: B is prepared for a single call (a B computed at run
// time), so flags that only speed decoding up (kernel_abi.h, flags_optional) are not computed:
// a pass over B would cost that call more than it saves.
std::unique_ptr<PreparedB> PrepareB(const BSource& src, Isa isa, ParallelFn parallel = RunSerial,
                                    bool one_call = false);

// The activation side of one call.
struct GemmInput {
  int64_t m = 0;
  const void* a = nullptr;  // [m, k]: FP8 codes or float / float16 / bfloat16
  DType a_type = DType::kE4M3FN;
  const float* a_scale = nullptr;  // [m, NumBlocks(k, a_block)] for FP8 A
  int64_t a_block = 128;
  // FP8GEMM's a_quant_type: A (float/float16/bfloat16, a_scale null) is quantized first, as
  // QuantizeFP8 would (groups of a_block, saturating, dynamic scales), to a_quant_format.
  bool quantize_a = false;
  Fp8Format a_quant_format = Fp8Format::kE4M3FN;
  const void* bias = nullptr;  // [n] of out_type or nullptr
  DType out_type = DType::kFloat;
  void* y = nullptr;  // [m, n] of out_type
};

// Y = A * B^T with B's codes read from `b_codes` ([n, k], the codes `b` was prepared from or any
// buffer whose flags are the same, e.g. a copy).
absl::Status Fp8Gemm(const PreparedB& b, const uint8_t* b_codes, const GemmInput& in,
                     ParallelFn parallel = RunSerial);

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_FP8_GEMM_H_
