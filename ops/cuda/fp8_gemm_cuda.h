// FP8GEMM on the GPU: picks cuBLASLt's block-scaled FP8 matmul where cuBLASLt accepts the problem
// and the streaming kernel (LaunchFp8Gemv) otherwise. No ONNX Runtime types; device pointers, a
// caller-provided device workspace and the caller's stream.
//
// Paths:
//   kLtBlock128x128  A FP8 with a_block 128, B blocks 128x128, K % 128 == 0: cuBLASLt with weight
//                    scales CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F (B_scale as it is,
//                    row-major [N/128, K/128]) and activation scales VEC128_32F ([K/128, M], M
//                    contiguous: A_scale transposed into the workspace). Only for K/128 a
//                    multiple of 4 (LtBlockScalesOk: cuBLASLt 13.1 computed wrong products
//                    otherwise, from the second N block on).
//   kLt1x128         A FP8 with a_block 128, B in 1x128 groups: both VEC128_32F (both transposed).
//   kLtOuterVector   one scale per row of A and per row of B (per-tensor and per-channel
//                    weights, whole-K groups): OUTER_VEC_32F for both (B's scales expanded to N).
//   kW8A8Wgmma       sm_90, A FP8 with a_block 128, B blocks 128x128, K % 128 == 0, M >=
//                    min_m_for_wgmma, at most max_tiles_for_wgmma 128x128 output tiles and K <=
//                    max_k_for_wgmma: our TMA + wgmma kernel (LaunchFp8GemmWgmma,
//                    fp8_gemm_wgmma.cu) with the scales as they are (no re-layout launch), where
//                    it measured faster than the cuBLASLt path
//                    (bench/results/cuda_h100_2026-11-23d), and at any size where cuBLASLt does
//                    not take the problem (e.g. K/128 not a multiple of 4).
//   kWeightOnlyMma   A float16/bfloat16 (weight-only), M >= min_m_for_wo, block_k a multiple of
//                    64 or whole K: the tensor-core kernel of fp8_gemm_wo.cu (LaunchFp8GemmWo).
//   a_quant_type     (quantize_a) where FusedGemvApplies (Hopper, M = 1, one wave of tiles):
//                    the bulk-copy streaming kernel quantizes A into shared memory (no extra
//                    launch); otherwise LaunchQuantizeFp8 into the workspace, then the path of the
//                    FP8 problem (for the cuBLASLt VEC128 paths with A's scales written in
//                    cuBLASLt's [K/128, M] layout: no transpose launch).
//   kGemv*           the streaming kernel (launch.h, four variants): M < min_m_for_cublaslt
//                    (decode), weight-only A below min_m_for_wo or float32 A or block_k not a
//                    multiple of 64, ragged K (FP8 A), or anything cuBLASLt refuses.
#ifndef FP8OPS_OPS_CUDA_FP8_GEMM_CUDA_H_
#define FP8OPS_OPS_CUDA_FP8_GEMM_CUDA_H_

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "ops/cuda/launch.h"

namespace fp8ops::cuda {

enum class GemmPath {
  kGemvTensorCoreBulk,
  kGemvTensorCore,
  kGemvVector,
  kGemvScalar,
  kLtBlock128x128,
  kLt1x128,
  kLtOuterVector,
  kWeightOnlyMma,
  kW8A8Wgmma,
};
const char* GemmPathName(GemmPath p);
inline bool IsCublasLtPath(GemmPath p) {
  return p == GemmPath::kLtBlock128x128 || p == GemmPath::kLt1x128 || p == GemmPath::kLtOuterVector;
}

// Result of a chain of CUDA runtime / cuBLASLt calls: the first failure and where it happened.
struct GpuStatus {
  cudaError_t cuda = cudaSuccess;
  cublasStatus_t cublas = CUBLAS_STATUS_SUCCESS;
  const char* where = "";
  bool ok() const { return cuda == cudaSuccess && cublas == CUBLAS_STATUS_SUCCESS; }
};
GpuStatus CudaStatus(cudaError_t e, const char* where);
std::string GpuStatusMessage(const GpuStatus& s);

struct GemmOptions {
  bool allow_cublaslt = true;
  // Below this M the streaming kernel runs: cuBLASLt's block-scaled FP8 refuses M = 1, and at
  // M = 16 the tensor-core streaming kernel took 11.5 us against cuBLASLt's 17.6 us (K = N = 4096,
  // H100, bench/results/).
  int64_t min_m_for_cublaslt = 17;
  // Weight-only A (float16/bfloat16): from this M on the tensor-core kernel runs (below it the
  // streaming kernel, whose tiles are 16 rows of A). 0 or less: never.
  int64_t min_m_for_wo = 17;
  // W8A8 with 128x128 weight blocks on sm_90: our wgmma kernel instead of cuBLASLt (where it
  // applies, W8A8WgmmaApplies) for M >= min_m_for_wgmma, ceil(M/128) * ceil(N/128) <=
  // max_tiles_for_wgmma (0: any) and K <= max_k_for_wgmma (0: any). H100: it beat the cuBLASLt
  // path (A's scales transposed + cuBLASLt) while cuBLASLt's tiles leave the GPU half empty (M =
  // 128 / 256, K = N = 4096, 32 / 64 tiles: 1.11x / 1.21x BF16 against 0.87x / 0.99x) and at 112
  // tiles (M = 128, N = 14336: 1.60x against 1.55x in bench/results/cuda_h100_2026-11-23d; with
  // the 2026-12-07 kernel 1.72x against 1.55x, cuda_2026-12-07_wgmma_probe/h100_call2_product),
  // tied at 128 (M = 512, K = N = 4096: 1.43x against 1.44x), lost beyond (M = 256, N = 14336:
  // 1.30x against 1.36x; M = 4096: 1.27x against 1.42x) and at K = 14336 (M = 128, N = 4096:
  // 1.35x against 1.45x). allow_wgmma = false: never.
  bool allow_wgmma = true;
  int64_t min_m_for_wgmma = 128;
  int64_t max_tiles_for_wgmma = 112;
  int64_t max_k_for_wgmma = 8192;
  // Environment overrides: FP8OPS_CUDA_NO_CUBLASLT=1, FP8OPS_CUDA_MIN_M_CUBLASLT=<m>,
  // FP8OPS_CUDA_MIN_M_WO=<m>, FP8OPS_CUDA_NO_WGMMA=1, FP8OPS_CUDA_MIN_M_WGMMA=<m>,
  // FP8OPS_CUDA_WGMMA_MAX_TILES=<t>, FP8OPS_CUDA_WGMMA_MAX_K=<k>.
  static GemmOptions FromEnv();
};

struct GemmPlan {
  GemmPath path = GemmPath::kGemvScalar;
  size_t workspace_bytes = 0;  // device bytes RunFp8Gemm needs
  // a.quantize_a outside the streaming kernels' fused range: the first quant_bytes of the
  // workspace hold A's codes and scales (LaunchQuantizeFp8), then `path` runs on them.
  bool quantize_first = false;
  size_t quant_bytes = 0;
};

// Chooses the path (runs cuBLASLt's heuristic once per problem; cached per device).
GpuStatus PlanFp8Gemm(const GemmLaunchArgs& a, const GemmOptions& o, GemmPlan* plan);
// Runs the plan on `stream`. `workspace` holds plan.workspace_bytes device bytes (may be null
// when that is 0). If cuBLASLt refuses at run time, falls back to the streaming kernel;
// *used (optional) receives the path that ran.
GpuStatus RunFp8Gemm(const GemmLaunchArgs& a, const GemmPlan& plan, void* workspace,
                     size_t workspace_bytes, cudaStream_t stream, GemmPath* used = nullptr);

// ---- raw cuBLASLt FP8 matmul (also used by the benchmark as the "raw cuBLASLt" peer) ----------

// Y[m, n] (row-major, out_type) = A[m, k] . B[n, k]^T with the scales already in cuBLASLt's
// layouts. cuBLASLt is column-major: it computes D[n, m] = op(B)[n, k] . A^T, so cuBLASLt's "A"
// operand is our weight B (transposed, the TN layout FP8 needs) and its "B" operand our A.
struct LtMatmulArgs {
  int64_t m = 0, n = 0, k = 0;
  const void* a = nullptr;
  DType a_type = DType::kE4M3FN;
  const uint8_t* b = nullptr;
  Fp8Format b_format = Fp8Format::kE4M3FN;
  cublasLtMatmulMatrixScale_t b_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
  cublasLtMatmulMatrixScale_t a_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
  const float* b_scale = nullptr;  // cuBLASLt A-operand scales
  const float* a_scale = nullptr;  // cuBLASLt B-operand scales
  const void* bias = nullptr;      // [n] of out_type (epilogue BIAS)
  DType out_type = DType::kBFloat16;
  void* y = nullptr;
};
// With workspace_needed != nullptr it only looks up the algorithm (cached per device and problem)
// and reports its workspace size; otherwise it runs. CUBLAS_STATUS_NOT_SUPPORTED: cuBLASLt has no
// algorithm for the problem.
GpuStatus LtFp8Matmul(const LtMatmulArgs& a, void* workspace, size_t workspace_bytes,
                      cudaStream_t stream, size_t* workspace_needed);

}  // namespace fp8ops::cuda

#endif  // FP8OPS_OPS_CUDA_FP8_GEMM_CUDA_H_
