// Launchers of the fp8ops CUDA kernels (ops/cuda/*.cu). No ONNX Runtime types: plain device
// pointers, sizes and a stream. Every launcher checks its launch and returns the cudaError_t of
// the first failure (cudaSuccess otherwise); nothing is synchronized.
//
// Semantics are those of the reference kernels (ops/reference/reference_kernels.h); inputs are
// assumed validated (ops/common/op_validation.h).
#ifndef FP8OPS_OPS_CUDA_LAUNCH_H_
#define FP8OPS_OPS_CUDA_LAUNCH_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "ops/common/problems.h"

namespace fp8ops::cuda {

// ------------------------------------------------------------------------------- QuantizeFP8

// X viewed as [rows, k] (x_type float/float16/bfloat16), groups of block_size along k (0 = whole
// row). Writes y [rows, k] FP8 codes and y_scale [rows, NumBlocks(k, block_size)].
// Y = EncodeFp8(X / scale), division in float32: bit-exact with reference::QuantizeFp8.
struct QuantizeLaunchArgs {
  int64_t rows = 0, k = 0;
  const void* x = nullptr;
  DType x_type = DType::kFloat;
  int64_t block_size = 128;
  Fp8QuantParams params;
  // Static scales (already checked finite and > 0): either one per-tensor value, or a device
  // array of rows * NumBlocks(k, block_size) values. Neither = dynamic scales.
  bool has_static_scale = false;
  float static_scale_value = 1.0f;          // per tensor, when static_scale is nullptr
  const float* static_scale = nullptr;      // device, per group
  uint8_t* y = nullptr;
  float* y_scale = nullptr;
  // y_scale as [NumBlocks(k, block_size)][rows] (rows contiguous: cuBLASLt's VEC128 layout for
  // FP8GEMM's fused quantization) instead of the op's [rows][groups].
  bool y_scale_k_major = false;
};
// On Hopper a programmatic dependent launch (FP8OPS_CUDA_PDL=0: off): it waits for the kernel
// ahead before touching memory.
cudaError_t LaunchQuantizeFp8(const QuantizeLaunchArgs& a, cudaStream_t stream);

// ----------------------------------------------------------------------------------- FP8GEMM

// FP8GEMM with device pointers (ops/common/problems.h).
using GemmLaunchArgs = ::fp8ops::GemmProblem;

// The streaming kernel ("GEMV") for small M: reads every weight byte once per 16 rows of A with
// 16-byte loads. Any shape and any scale granularity, in these variants:
//   kTensorCoreBulk  Hopper, M <= 8, 128-long K blocks, at most one wave of 16-row tiles (N <=
//                32 x SMs): the kTensorCore products with the weights queued at once on the bulk
//                copy engine into shared memory (K = N = 4096: 7.7 instead of 8.9 us on the H100);
//                elsewhere it runs as kTensorCore;
//   kTensorCore  A FP8, K % 64 == 0, block_k and a_block multiples of 64 (or whole K): FP8
//                mma.sync, products of each 64/128-long K block promoted to float32 accumulators
//                (the cuBLASLt path's accuracy: FP8 tensor-core sums keep fewer bits);
//   kVector      K % 16 == 0, power-of-two (or whole-K) block_k / a_block: CUDA-core float32 FMAs;
//   kScalar      anything else: per-element loads and scales.
enum class GemvVariant { kAuto, kTensorCoreBulk, kTensorCore, kVector, kScalar };
const char* GemvVariantName(GemvVariant v);
// The variant LaunchFp8Gemv runs for `a` when asked for `want`: `want` if it applies, else the
// next one down the list (kAuto = the first that applies).
GemvVariant ResolveGemvVariant(const GemmLaunchArgs& a, GemvVariant want = GemvVariant::kAuto);
// On Hopper the tensor-core variants are programmatic dependent launches: they start reading the
// weights while the kernel ahead of them on `stream` finishes (FP8OPS_CUDA_PDL=0: off).
cudaError_t LaunchFp8Gemv(const GemmLaunchArgs& a, cudaStream_t stream, GemvVariant want = GemvVariant::kAuto);
// FP8GEMM's a_quant_type (a.quantize_a) in the streaming kernel: the bulk-copy variant quantizes
// A (float, float16 or bfloat16) into shared memory while the weights stream in (bit-identical to
// LaunchQuantizeFp8), so a decode step needs no quantization launch. Applies where that variant
// does (Hopper, one wave, K <= 6144) with M = 1 (larger M measured slower than two launches) and
// A's groups of 128 (a_block 128, or one group covering K <= 128). The kernel handles up to 8 rows
// whose codes fit beside the weights in shared memory. LaunchFp8Gemv refuses other quantize_a
// problems (cudaErrorInvalidValue); RunFp8Gemm quantizes those into its workspace first.
bool FusedGemvApplies(const GemmLaunchArgs& a);

// Weight-only FP8GEMM on the tensor cores (ops/cuda/fp8_gemm_wo.cu), the path for M > 16: A
// float16/bfloat16, B's codes decoded unscaled into A's type (exact), wgmma (sm_90) or mma.sync
// m16n8k16 with float32 accumulators, B's block scale applied per K block to a fresh float32 block
// sum.
// Applies to A float16/bfloat16 with block_k a multiple of 64 or covering K (per tensor, per
// channel); any M, N, K (K % 16 != 0 or unaligned pointers: per-element tile loads). float32 A
// is not exact in float16 and stays on the streaming kernel.
// k128x128 / k64x64: the first kernel (64-long K tiles, 3 stages); k*_k*: the second (4 stages
// of 64, or 128-long K tiles; B's scales prefetched a block ahead), named <tile>_k<K tile>;
// kWg*: the wgmma kernel (sm_90). kAuto picks by shape (ChooseWoTile).
enum class WoTile {
  kAuto,
  k128x128,
  k64x64,
  k128x128_k64,
  k128x128_k128,
  k64x64_k128,
  k64x128_k128,
  // Hopper (sm_90) wgmma kernels, M x N per CTA; elsewhere (or with
  // per-element loads) they run as k64x64_k128 / k128x128_k128.
  kWg128x128,
  kWg64x64
};
bool WoMmaApplies(const GemmLaunchArgs& a);
WoTile ChooseWoTile(const GemmLaunchArgs& a);  // 128x128 once those tiles fill half the SMs
// The tile's name in benchmark and test output.
const char* WoTileName(WoTile t);
cudaError_t LaunchFp8GemmWo(const GemmLaunchArgs& a, cudaStream_t stream,
                            WoTile tile = WoTile::kAuto);

// W8A8 FP8GEMM with block scales on Hopper (ops/cuda/fp8_gemm_wgmma.cu): TMA loads, a
// warp-specialized wgmma pipeline, persistent grid; products of each 128-long K block promoted to
// float32 accumulators with a_scale * b_scale (the cuBLASLt path's numerics). Scales as the op
// has them (a_scale [M, K/128], b_scale [ceil(N/128), K/128], row-major): nothing re-laid out.
// Applies to: an sm_90 device (and a driver with cuTensorMapEncodeTiled), A FP8 (E4M3 or E5M2;
// B either), a_block = block_k = block_n = 128, K % 128 == 0, A and B 16-byte aligned, any
// M, N >= 1. kAuto picks the tile by shape (ChooseW8A8Tile). k128x64 and k128x128_db are built
// for E4M3 x E4M3 only (other formats run k128x128).
// k128x128_db: two sets of block sums (the next K block's wgmma run while the last one is
// promoted).
enum class W8A8Tile { kAuto, k128x128, k128x64, k128x256, k128x128_db };
bool W8A8WgmmaApplies(const GemmLaunchArgs& a);
W8A8Tile ChooseW8A8Tile(const GemmLaunchArgs& a);
const char* W8A8TileName(W8A8Tile t);
// Grid size (CTAs) of the last LaunchFp8GemmWgmma in this process: benchmark output.
int W8A8LastGrid();
cudaError_t LaunchFp8GemmWgmma(const GemmLaunchArgs& a, cudaStream_t stream,
                               W8A8Tile tile = W8A8Tile::kAuto);

// dst[c * rows + r] = src[r * cols + c] (float32).
cudaError_t LaunchTransposeF32(const float* src, int64_t rows, int64_t cols, float* dst,
                               cudaStream_t stream);
// dst[i] = src[i / block] for i in [0, n): per-row scale vector from blocks of rows.
cudaError_t LaunchExpandBlocks(const float* src, int64_t n, int64_t block, float* dst,
                               cudaStream_t stream);

// ----------------------------------------------------------------------------- DequantizeFP8

// The descriptor of ops/common/problems.h; x, scale and y are device pointers.
using DequantizeLaunchArgs = ::fp8ops::DequantizeProblem;
cudaError_t LaunchDequantizeFp8(const DequantizeLaunchArgs& a, cudaStream_t stream);

}  // namespace fp8ops::cuda

#endif  // FP8OPS_OPS_CUDA_LAUNCH_H_
