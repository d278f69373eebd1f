// GPU benchmarks of the fp8ops CUDA kernels, with their peers measured in the same run:
//   ceilings   device-to-device copy (bytes read + written), cuBLAS BF16 8192^3
//   quantize   QuantizeFP8 (bf16/f32 -> E4M3, groups of 128): TB/s vs the copy ceiling
//   gemm       FP8GEMM (the dispatcher: cuBLASLt block-scaled or the streaming kernel, W8A8
//              E4M3 128x128 blocks, bf16 out), the streaming kernel alone (W8A8 and weight-only
//              bf16), raw cuBLASLt block-scaled (scales already in its layout), cuBLAS BF16 and
//              FP16 (cublasGemmEx, same TN layout): TFLOP/s, TB/s of the bytes that must move,
//              ratio to cuBLAS BF16.
// Timing: CUDA events around back-to-back launches after warm-up; median of 7 repetitions; weight
// sets rotated so that the bytes per iteration exceed the L2 cache several times (memory-bound
// shapes would otherwise be timed from L2). Random data everywhere (never zeros).
//
// Google Benchmark is not used here: device work is timed with CUDA events, and the binary must
// run on a GPU machine with nothing but the CUDA libraries installed.
//
// Usage: fp8_cuda_bench [--out FILE.md] [--quick] [--decode] [--interleaved] [--probe]
//                       [--algos] [--weight-only] [--w8a8]
//   --decode: only the main table, on decode shapes (M = 1, 4, 16; Llama widths) and two larger M;
//   --interleaved: only the main table at M >= 1024, with cuBLAS BF16 and FP8GEMM also timed
//   alternately (5 rounds) for ratios in one clock / power state;
//   --weight-only / --w8a8: only the weight-only / the W8A8 wgmma-vs-cuBLASLt section;
//   --probe: only the cuBLASLt scale-mode probe; --algos: only the sweep over cuBLASLt's proposed
//   algorithms for block-scaled FP8 at large M (is the heuristic's first choice the fastest?)
#include <cublasLt.h>
#include <cublas_v2.h>
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "ops/cuda/fp8_gemm_cuda.h"
#include "ops/cuda/launch.h"

namespace {

using namespace fp8ops;

#define CK(call)                                                                            \
  do {                                                                                      \
    cudaError_t _e = (call);                                                                \
    if (_e != cudaSuccess) {                                                                \
      std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(_e)); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)
#define CKB(call)                                                                           \
  do {                                                                                      \
    cublasStatus_t _s = (call);                                                             \
    if (_s != CUBLAS_STATUS_SUCCESS) {                                                      \
      std::fprintf(stderr, "%s:%d %s: cuBLAS status %d\n", __FILE__, __LINE__, #call, int(_s)); \
      std::exit(1);                                                                         \
    }                                                                                       \
  } while (0)

__device__ __forceinline__ uint32_t Hash(uint64_t i, uint32_t seed) {
  uint64_t x = i * 0x9E3779B97F4A7C15ull + seed;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ull;
  x ^= x >> 29;
  return static_cast<uint32_t>(x);
}
__device__ __forceinline__ float Uniform(uint64_t i, uint32_t seed) {  // [-1, 1)
  return static_cast<float>(Hash(i, seed) >> 8) * (2.0f / 16777216.0f) - 1.0f;
}

// Random FP8 E4M3 codes, never NaN.
__global__ void FillFp8(uint8_t* p, int64_t n, uint32_t seed) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    uint32_t c = Hash(i, seed) & 0xFFu;
    if ((c & 0x7Fu) == 0x7Fu) c ^= 1u;
    p[i] = static_cast<uint8_t>(c);
  }
}
template <typename T>
__global__ void FillFloat(T* p, int64_t n, uint32_t seed, float lo, float hi) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float u = 0.5f * (Uniform(i, seed) + 1.0f);
    const float v = lo + (hi - lo) * u;
    if constexpr (sizeof(T) == 4) {
      p[i] = v;
    } else {
      p[i] = static_cast<T>(v);
    }
  }
}
// Signed values for activations.
template <typename T>
__global__ void FillSigned(T* p, int64_t n, uint32_t seed, float amp) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x) {
    const float v = amp * Uniform(i, seed);
    if constexpr (sizeof(T) == 4) {
      p[i] = v;
    } else {
      p[i] = static_cast<T>(v);
    }
  }
}

uint32_t g_seed = 1;
void* DevAlloc(size_t bytes) {
  void* p = nullptr;
  CK(cudaMalloc(&p, std::max<size_t>(bytes, 256)));
  return p;
}
void Fp8Rand(void* p, int64_t n) {
  FillFp8<<<4096, 256>>>(static_cast<uint8_t*>(p), n, g_seed++);
  CK(cudaGetLastError());
}
template <typename T>
void ScaleRand(T* p, int64_t n, float lo, float hi) {
  FillFloat<T><<<1024, 256>>>(p, n, g_seed++, lo, hi);
  CK(cudaGetLastError());
}
template <typename T>
void SignedRand(T* p, int64_t n, float amp) {
  FillSigned<T><<<4096, 256>>>(p, n, g_seed++, amp);
  CK(cudaGetLastError());
}

// Median time (seconds) of one call of fn(i) (i = iteration index, for rotating inputs).
double TimeIt(const std::function<void(int)>& fn, double target_ms = 2.0) {
  cudaEvent_t e0, e1;
  CK(cudaEventCreate(&e0));
  CK(cudaEventCreate(&e1));
  for (int i = 0; i < 3; ++i) fn(i);
  CK(cudaDeviceSynchronize());
  CK(cudaEventRecord(e0));
  for (int i = 0; i < 5; ++i) fn(i);
  CK(cudaEventRecord(e1));
  CK(cudaEventSynchronize(e1));
  float ms = 0;
  CK(cudaEventElapsedTime(&ms, e0, e1));
  const int iters = std::max(5, std::min(2000, static_cast<int>(target_ms / std::max(1e-4f, ms / 5))));
  std::vector<double> times;
  int it = 0;
  for (int rep = 0; rep < 7; ++rep) {
    CK(cudaEventRecord(e0));
    for (int i = 0; i < iters; ++i) fn(it++);
    CK(cudaEventRecord(e1));
    CK(cudaEventSynchronize(e1));
    CK(cudaEventElapsedTime(&ms, e0, e1));
    times.push_back(ms * 1e-3 / iters);
  }
  CK(cudaGetLastError());
  CK(cudaEventDestroy(e0));
  CK(cudaEventDestroy(e1));
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

// Number of input sets so that one pass over them exceeds ~4x the L2 cache.
int RotationSets(size_t bytes_per_iter, size_t l2) {
  const size_t want = 4 * l2;
  return static_cast<int>(std::min<size_t>(16, std::max<size_t>(1, (want + bytes_per_iter - 1) / bytes_per_iter)));
}

std::string g_report;
void Out(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void Out(const char* fmt, ...) {
  char buf[2048];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  std::fputs(buf, stdout);
  std::fflush(stdout);
  g_report += buf;
}

struct Shape {
  int64_t m, k, n;
};

// The operands of one (M, K, N) problem of the FP8GEMM tables: FP8 weights with 128x128 block
// scales and bf16 / fp16 copies of the weights, each rotated over enough sets that the timed loops
// read them from HBM; FP8 activations with 1x128 scales ([M, K/128], and [K/128, M] for raw
// cuBLASLt), bf16 / fp16 activations; an output buffer of 4 M N bytes. Random data; freed on
// destruction.
struct GemmOperands {
  int64_t m, k, n, kb, nb;
  int sets8, sets16;
  std::vector<uint8_t*> wq;
  std::vector<float*> wsc;
  std::vector<__nv_bfloat16*> wb;
  std::vector<__half*> wh;
  uint8_t* aq;
  float *asc, *asc_t;
  __nv_bfloat16* ab;
  __half* ah;
  void* y;

  GemmOperands(const Shape& s, size_t l2, cudaStream_t stream)
      : m(s.m), k(s.k), n(s.n), kb((s.k + 127) / 128), nb((s.n + 127) / 128),
        sets8(RotationSets(s.n * s.k, l2)), sets16(RotationSets(2 * s.n * s.k, l2)) {
    for (int i = 0; i < sets8; ++i) {
      wq.push_back(static_cast<uint8_t*>(DevAlloc(n * k)));
      Fp8Rand(wq[i], n * k);
      wsc.push_back(static_cast<float*>(DevAlloc(sizeof(float) * nb * kb)));
      ScaleRand(wsc[i], nb * kb, 0.5e-3f, 1.5e-3f);
    }
    for (int i = 0; i < sets16; ++i) {
      wb.push_back(static_cast<__nv_bfloat16*>(DevAlloc(2 * n * k)));
      SignedRand(wb[i], n * k, 0.1f);
      wh.push_back(static_cast<__half*>(DevAlloc(2 * n * k)));
      SignedRand(wh[i], n * k, 0.1f);
    }
    aq = static_cast<uint8_t*>(DevAlloc(m * k));
    Fp8Rand(aq, m * k);
    asc = static_cast<float*>(DevAlloc(sizeof(float) * m * kb));
    ScaleRand(asc, m * kb, 0.5e-3f, 1.5e-3f);
    asc_t = static_cast<float*>(DevAlloc(sizeof(float) * m * kb));
    CK(cuda::LaunchTransposeF32(asc, m, kb, asc_t, stream));
    ab = static_cast<__nv_bfloat16*>(DevAlloc(2 * m * k));
    SignedRand(ab, m * k, 1.0f);
    ah = static_cast<__half*>(DevAlloc(2 * m * k));
    SignedRand(ah, m * k, 1.0f);
    y = DevAlloc(4 * m * n);
  }
  GemmOperands(const GemmOperands&) = delete;
  GemmOperands& operator=(const GemmOperands&) = delete;
  ~GemmOperands() {
    for (auto p : wq) CK(cudaFree(p));
    for (auto p : wsc) CK(cudaFree(p));
    for (auto p : wb) CK(cudaFree(p));
    for (auto p : wh) CK(cudaFree(p));
    for (void* p : {static_cast<void*>(aq), static_cast<void*>(asc), static_cast<void*>(asc_t),
                    static_cast<void*>(ab), static_cast<void*>(ah), y}) {
      CK(cudaFree(p));
    }
  }
  // FP8GEMM on weight set i % sets8: W8A8 (FP8 A with its scales) or weight-only (bf16 A).
  cuda::GemmLaunchArgs Args(int i, bool weight_only = false) const {
    cuda::GemmLaunchArgs g;
    g.m = m;
    g.n = n;
    g.k = k;
    g.a = weight_only ? static_cast<const void*>(ab) : aq;
    g.a_type = weight_only ? DType::kBFloat16 : DType::kE4M3FN;
    g.a_scale = weight_only ? nullptr : asc;
    g.b = wq[i % sets8];
    g.b_scale = wsc[i % sets8];
    g.out_type = DType::kBFloat16;
    g.y = y;
    return g;
  }
  // Raw cuBLASLt block-scaled on weight set i % sets8 (A's scales pre-transposed).
  cuda::LtMatmulArgs LtArgs(int i) const {
    cuda::LtMatmulArgs l;
    l.m = m;
    l.n = n;
    l.k = k;
    l.a = aq;
    l.b = wq[i % sets8];
    l.b_scale = wsc[i % sets8];
    l.a_scale = asc_t;
    l.out_type = DType::kBFloat16;
    l.y = y;
    return l;
  }
};


// ---------------------------------------------------------------------------------- probe
// Which cuBLASLt FP8 scale-mode / operand / output-order combinations this library accepts, and
// whether their results match the streaming kernel (the layouts of the scale tensors are the
// documented hypotheses: VEC128 on an operand stored [k, x] (K contiguous) = [K/128, x] with x
// contiguous; BLK128x128 = row-major [x/128, K/128]; OUTER_VEC = one per row of op()).
const char* LtName(cublasStatus_t s) { return cublasLtGetStatusName(s); }

void Probe(cudaStream_t stream) {
  const int64_t m = 256, n = 384, k = 512, kb = k / 128, nb = n / 128;
  cublasLtHandle_t h;
  CKB(cublasLtCreate(&h));
  auto* x = static_cast<uint8_t*>(DevAlloc(m * k));
  auto* w = static_cast<uint8_t*>(DevAlloc(n * k));
  Fp8Rand(x, m * k);
  Fp8Rand(w, n * k);
  auto* xs = static_cast<float*>(DevAlloc(4 * m * kb));   // ours: [M, K/128]
  auto* xs_t = static_cast<float*>(DevAlloc(4 * m * kb)); // [K/128, M]
  auto* ws2 = static_cast<float*>(DevAlloc(4 * nb * kb)); // [N/128, K/128]
  auto* ws1 = static_cast<float*>(DevAlloc(4 * n * kb));  // 1x128: ours [N, K/128]
  auto* ws1_t = static_cast<float*>(DevAlloc(4 * n * kb));
  auto* xo = static_cast<float*>(DevAlloc(4 * m));         // per row of X
  auto* wo = static_cast<float*>(DevAlloc(4 * n));         // per row of W
  ScaleRand(xs, m * kb, 0.5f, 2.0f);
  ScaleRand(ws2, nb * kb, 0.5f, 2.0f);
  ScaleRand(ws1, n * kb, 0.5f, 2.0f);
  ScaleRand(xo, m, 0.5f, 2.0f);
  ScaleRand(wo, n, 0.5f, 2.0f);
  CK(cuda::LaunchTransposeF32(xs, m, kb, xs_t, stream));
  CK(cuda::LaunchTransposeF32(ws1, n, kb, ws1_t, stream));
  auto* bias = static_cast<__nv_bfloat16*>(DevAlloc(2 * std::max(m, n)));
  SignedRand(bias, std::max(m, n), 1.0f);
  void* y = DevAlloc(4 * m * n);
  void* ref = DevAlloc(4 * m * n);
  void* lws = DevAlloc(size_t{32} << 20);
  enum Gran { k2D, k1D, kOuter };
  auto reference = [&](Gran g, DType out, bool with_bias, std::vector<float>* r) {
    cuda::GemmLaunchArgs a;
    a.m = m; a.n = n; a.k = k; a.a = x; a.a_type = DType::kE4M3FN;
    a.a_scale = g == kOuter ? xo : xs; a.a_block = g == kOuter ? 0 : 128;
    a.b = w; a.b_scale = g == k2D ? ws2 : g == k1D ? ws1 : wo;
    a.block_n = g == k2D ? 128 : 1; a.block_k = g == kOuter ? 0 : 128;
    a.bias = with_bias ? bias : nullptr; a.out_type = out; a.y = ref;
    CK(cuda::LaunchFp8Gemv(a, stream, cuda::GemvVariant::kVector));
    CK(cudaDeviceSynchronize());
    const size_t es = out == DType::kFloat ? 4 : 2;
    std::vector<uint8_t> raw(m * n * es);
    CK(cudaMemcpy(raw.data(), ref, raw.size(), cudaMemcpyDeviceToHost));
    r->resize(m * n);
    LoadAsFloat(raw.data(), out, m * n, r->data());
  };
  struct Cfg {
    const char* name;
    bool act_is_a;  // cuBLAS A = activations (op T, [k, m]); else cuBLAS A = weights ([k, n])
    int mode_a, mode_b;
    Gran g;
    bool row_major_d, bias, null_ptrs;
    DType out;
  };
  const int V = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F, B = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F,
            O = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
  const Cfg cfgs[] = {
      {"A=W blk, B=X vec, D col [n,m]", false, B, V, k2D, false, false, false, DType::kBFloat16},
      {"  same, null scale ptrs at heuristic", false, B, V, k2D, false, false, true, DType::kBFloat16},
      {"A=W vec, B=X vec, D col [n,m]", false, V, V, k1D, false, false, false, DType::kBFloat16},
      {"A=X vec, B=W blk, D col [m,n] (Y^T)", true, V, B, k2D, false, false, false, DType::kBFloat16},
      {"A=X vec, B=W blk, D row [m,n]", true, V, B, k2D, true, false, false, DType::kBFloat16},
      {"A=X vec, B=W vec, D row [m,n]", true, V, V, k1D, true, false, false, DType::kBFloat16},
      {"A=W outer, B=X outer, D col [n,m]", false, O, O, kOuter, false, false, false, DType::kBFloat16},
      {"A=X outer, B=W outer, D row [m,n]", true, O, O, kOuter, true, false, false, DType::kBFloat16},
      {"A=W blk, B=X vec, D col, bias", false, B, V, k2D, false, true, false, DType::kBFloat16},
      {"A=X vec, B=W blk, D row, bias", true, V, B, k2D, true, true, false, DType::kBFloat16},
      {"A=X vec, B=W blk, D col (Y^T), f32", true, V, B, k2D, false, false, false, DType::kFloat},
      {"A=X vec, B=W blk, D row, f32", true, V, B, k2D, true, false, false, DType::kFloat},
      {"A=W outer, B=X outer, D col, bias", false, O, O, kOuter, false, true, false, DType::kBFloat16},
  };
  Out("## cuBLASLt FP8 scale-mode probe (M=%lld N=%lld K=%lld, E4M3, cuBLASLt %zu)\n\n", (long long)m, (long long)n,
      (long long)k, cublasLtGetVersion());
  Out("| configuration | heuristic | algos | matmul | rel. L2 vs streaming kernel |\n|---|---|---|---|---|\n");
  for (const Cfg& c : cfgs) {
    cublasLtMatmulDesc_t op;
    CKB(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &c.mode_a, sizeof c.mode_a));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &c.mode_b, sizeof c.mode_b));
    const float* xsc = c.g == kOuter ? xo : xs_t;
    const float* wsc = c.g == k2D ? ws2 : c.g == k1D ? ws1_t : wo;
    const void* sa = c.act_is_a ? xsc : wsc;
    const void* sb = c.act_is_a ? wsc : xsc;
    const void* null = nullptr;
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, c.null_ptrs ? &null : &sa, sizeof sa));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, c.null_ptrs ? &null : &sb, sizeof sb));
    if (c.bias) {
      const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
      CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
      const void* bp = bias;
      CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bp, sizeof bp));
      const int32_t bt = CUDA_R_16BF;
      CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bt, sizeof bt));
    }
    const int64_t rows_a = c.act_is_a ? m : n, rows_b = c.act_is_a ? n : m;  // D is [rows_a, rows_b]
    cublasLtMatrixLayout_t la, lb, ld;
    CKB(cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, k, rows_a, k));
    CKB(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, k, rows_b, k));
    const cudaDataType_t dt = c.out == DType::kFloat ? CUDA_R_32F : CUDA_R_16BF;
    CKB(cublasLtMatrixLayoutCreate(&ld, dt, rows_a, rows_b, c.row_major_d ? rows_b : rows_a));
    if (c.row_major_d) {
      const int32_t order = CUBLASLT_ORDER_ROW;
      CKB(cublasLtMatrixLayoutSetAttribute(ld, CUBLASLT_MATRIX_LAYOUT_ORDER, &order, sizeof order));
    }
    cublasLtMatmulPreference_t pref;
    CKB(cublasLtMatmulPreferenceCreate(&pref));
    size_t mx = size_t{32} << 20;
    CKB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &mx, sizeof mx));
    cublasLtMatmulHeuristicResult_t res{};
    int found = 0;
    const cublasStatus_t hs = cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, ld, ld, pref, 1, &res, &found);
    std::string mm = "-", err = "-";
    if (hs == CUBLAS_STATUS_SUCCESS && found > 0) {
      if (c.null_ptrs) {
        CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa));
        CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb));
      }
      const float alpha = 1, beta = 0;
      CK(cudaMemset(y, 0xFF, 4 * m * n));
      const cublasStatus_t ms = cublasLtMatmul(h, op, &alpha, c.act_is_a ? x : w, la, c.act_is_a ? w : x, lb, &beta, y,
                                               ld, y, ld, &res.algo, lws, mx, stream);
      CK(cudaDeviceSynchronize());
      mm = LtName(ms);
      if (ms == CUBLAS_STATUS_SUCCESS) {
        std::vector<float> want;
        reference(c.g, c.out, c.bias, &want);
        const size_t es = c.out == DType::kFloat ? 4 : 2;
        std::vector<uint8_t> raw(m * n * es);
        CK(cudaMemcpy(raw.data(), y, raw.size(), cudaMemcpyDeviceToHost));
        std::vector<float> got(m * n);
        LoadAsFloat(raw.data(), c.out, m * n, got.data());
        // D element (i, j) of [rows_a, rows_b]: col-major at i + j*rows_a, row-major at i*rows_b + j.
        double num = 0, den = 0;
        for (int64_t i = 0; i < rows_a; ++i) {
          for (int64_t j = 0; j < rows_b; ++j) {
            const float g = got[c.row_major_d ? i * rows_b + j : i + j * rows_a];
            const int64_t mi = c.act_is_a ? i : j, ni = c.act_is_a ? j : i;
            const float r = want[mi * n + ni];
            num += double(g - r) * (g - r);
            den += double(r) * r;
          }
        }
        char b[64];
        std::snprintf(b, sizeof b, "%.2e", std::sqrt(num / std::max(den, 1e-30)));
        err = b;
      }
    }
    Out("| %s | %s | %d | %s | %s |\n", c.name, LtName(hs), found, mm.c_str(), err.c_str());
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(ld);
    cublasLtMatmulDescDestroy(op);
  }
  Out("\n");
  for (void* p : {(void*)x, (void*)w, (void*)xs, (void*)xs_t, (void*)ws2, (void*)ws1, (void*)ws1_t, (void*)xo, (void*)wo,
                  (void*)bias, y, ref, lws}) {
    CK(cudaFree(p));
  }
  cublasLtDestroy(h);
}

// ------------------------------------------------------------------------------ algorithms
// How much the heuristic's first choice leaves on the table for block-scaled FP8 at large M: the
// top `want` algorithms cuBLASLt proposes (same descriptors as ops/cuda/fp8_gemm_cuda.cc: weights
// BLK128x128 as cuBLASLt's A, activations VEC128 as its B, bf16 out), each timed.
void AlgoSweep(cudaStream_t stream, size_t l2, const std::vector<Shape>& shapes, int want) {
  cublasLtHandle_t h;
  CKB(cublasLtCreate(&h));
  Out("## cuBLASLt block-scaled FP8: the heuristic's top %d algorithms, each timed\n\n", want);
  Out("| M | K | N | algorithms | #1 (heuristic) us | best us | best is # | best / #1 "
      "|\n|---|---|---|---|---|---|---|---|\n");
  for (const Shape& s : shapes) {
    const int64_t m = s.m, k = s.k, n = s.n, kb = k / 128, nb = n / 128;
    const int sets = RotationSets(n * k, l2);
    std::vector<uint8_t*> w(sets);
    std::vector<float*> ws(sets);
    for (int i = 0; i < sets; ++i) {
      w[i] = static_cast<uint8_t*>(DevAlloc(n * k));
      Fp8Rand(w[i], n * k);
      ws[i] = static_cast<float*>(DevAlloc(4 * nb * kb));
      ScaleRand(ws[i], nb * kb, 0.5e-3f, 1.5e-3f);
    }
    auto* x = static_cast<uint8_t*>(DevAlloc(m * k));
    Fp8Rand(x, m * k);
    auto* xs = static_cast<float*>(DevAlloc(4 * m * kb));
    ScaleRand(xs, m * kb, 0.5e-3f, 1.5e-3f);
    void* y = DevAlloc(2 * m * n);
    const size_t ws_bytes = size_t{32} << 20;
    void* lws = DevAlloc(ws_bytes);
    cublasLtMatmulDesc_t op;
    CKB(cublasLtMatmulDescCreate(&op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
    const int32_t ma = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F,
                  mb = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &ma, sizeof ma));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mb, sizeof mb));
    const void* sa = ws[0];
    const void* sb = xs;
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa));
    CKB(cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb));
    cublasLtMatrixLayout_t la, lb, lc;
    CKB(cublasLtMatrixLayoutCreate(&la, CUDA_R_8F_E4M3, k, n, k));
    CKB(cublasLtMatrixLayoutCreate(&lb, CUDA_R_8F_E4M3, k, m, k));
    CKB(cublasLtMatrixLayoutCreate(&lc, CUDA_R_16BF, n, m, n));
    cublasLtMatmulPreference_t pref;
    CKB(cublasLtMatmulPreferenceCreate(&pref));
    CKB(cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                             &ws_bytes, sizeof ws_bytes));
    std::vector<cublasLtMatmulHeuristicResult_t> res(want);
    int found = 0;
    CKB(cublasLtMatmulAlgoGetHeuristic(h, op, la, lb, lc, lc, pref, want, res.data(), &found));
    const float alpha = 1, beta = 0;
    double first = 0, best = 1e30;
    int best_i = -1;
    for (int a = 0; a < found; ++a) {
      if (res[a].state != CUBLAS_STATUS_SUCCESS || res[a].workspaceSize > ws_bytes) continue;
      bool failed = false;
      const double tm = TimeIt([&](int i) {
        const void* p = ws[i % sets];
        cublasLtMatmulDescSetAttribute(op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &p, sizeof p);
        if (cublasLtMatmul(h, op, &alpha, w[i % sets], la, x, lb, &beta, y, lc, y, lc, &res[a].algo,
                           lws, res[a].workspaceSize, stream) != CUBLAS_STATUS_SUCCESS) {
          failed = true;
        }
      });
      if (failed) continue;
      if (a == 0) first = tm;
      if (tm < best) {
        best = tm;
        best_i = a;
      }
    }
    Out("| %lld | %lld | %lld | %d | %.1f | %.1f | %d | %.3f |\n", (long long)m, (long long)k,
        (long long)n, found, first * 1e6, best * 1e6, best_i + 1, first > 0 ? best / first : 0.0);
    cublasLtMatmulPreferenceDestroy(pref);
    cublasLtMatrixLayoutDestroy(la);
    cublasLtMatrixLayoutDestroy(lb);
    cublasLtMatrixLayoutDestroy(lc);
    cublasLtMatmulDescDestroy(op);
    for (auto p : w) CK(cudaFree(p));
    for (auto p : ws) CK(cudaFree(p));
    CK(cudaFree(x));
    CK(cudaFree(xs));
    CK(cudaFree(y));
    CK(cudaFree(lws));
  }
  Out("\n");
  cublasLtDestroy(h);
}

}  // namespace

// ------------------------------------------------------------------------- weight-only GEMM
// A float16/bfloat16, B FP8 E4M3 (128x128 blocks unless noted), out = A's type: the tensor-core
// kernel (ops/cuda/fp8_gemm_wo.cu) through the dispatcher and with each tile forced, the
// streaming kernel it replaces (M <= 1024 only: it is slow), against cuBLAS BF16/FP16 GEMMs of
// the same shape (ratios "x FP16" / "x BF16" = cuBLAS time / this time, same input type).
void WeightOnlyBench(cudaStream_t stream, size_t l2, cublasHandle_t blas, bool quick) {
  Out("\n## Weight-only FP8GEMM (A fp16/bf16, B E4M3, out = A type)\n\n");
  Out("TFLOP/s = 2MNK/t. \"x cuBLAS\" = cuBLAS GEMM time (same A type, 16-bit weights) / this "
      "time.\n\n");
  Out("| M | K | N | A | variant | path | time (us) | TFLOP/s | x cuBLAS "
      "|\n|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Shape> shapes;
  for (int64_t m : {32, 64, 128, 512, 1024, 4096}) {
    for (auto kn : {std::pair<int64_t, int64_t>{4096, 4096}, {4096, 14336}, {14336, 4096}}) {
      if (m < 128 && kn.first != 4096) continue;
      shapes.push_back({m, kn.first, kn.second});
    }
  }
  if (quick) shapes = {{128, 4096, 4096}, {4096, 4096, 14336}};
  // FP8OPS_BENCH_WO_M=128,4096: only those M.
  if (const char* env = std::getenv("FP8OPS_BENCH_WO_M")) {
    std::vector<int64_t> keep;
    for (const char* c = env; *c;) {
      keep.push_back(std::strtoll(c, nullptr, 10));
      while (*c && *c != ',') ++c;
      if (*c == ',') ++c;
    }
    std::vector<Shape> sel;
    for (const Shape& s : shapes) {
      if (std::find(keep.begin(), keep.end(), s.m) != keep.end()) sel.push_back(s);
    }
    shapes = sel;
  }
  std::vector<std::string> summary;
  for (const Shape& s : shapes) {
    const int64_t m = s.m, k = s.k, n = s.n;
    const int64_t kb = (k + 127) / 128, nb = (n + 127) / 128;
    const double flops = 2.0 * m * n * k;
    const size_t w8 = n * k, w16 = 2 * n * k;
    const int sets8 = RotationSets(w8, l2), sets16 = RotationSets(w16, l2);
    std::vector<uint8_t*> wq(sets8);
    std::vector<float*> wsc(sets8), wsc_ch(sets8);
    for (int i = 0; i < sets8; ++i) {
      wq[i] = static_cast<uint8_t*>(DevAlloc(w8));
      Fp8Rand(wq[i], w8);
      wsc[i] = static_cast<float*>(DevAlloc(sizeof(float) * nb * kb));
      ScaleRand(wsc[i], nb * kb, 0.5e-3f, 1.5e-3f);
      wsc_ch[i] = static_cast<float*>(DevAlloc(sizeof(float) * n));
      ScaleRand(wsc_ch[i], n, 0.5e-3f, 1.5e-3f);
    }
    std::vector<void*> w16s(sets16);
    for (int i = 0; i < sets16; ++i) {
      w16s[i] = DevAlloc(w16);
      SignedRand(static_cast<__half*>(w16s[i]), n * k, 0.1f);  // bit patterns serve either type
    }
    auto* ab = static_cast<__nv_bfloat16*>(DevAlloc(2 * m * k));
    SignedRand(ab, m * k, 1.0f);
    auto* ah = static_cast<__half*>(DevAlloc(2 * m * k));
    SignedRand(ah, m * k, 1.0f);
    void* y = DevAlloc(4 * m * n);
    const float alpha = 1, beta = 0;
    for (DType at : {DType::kFloat16, DType::kBFloat16}) {
      const bool h = at == DType::kFloat16;
      const cudaDataType_t ct = h ? CUDA_R_16F : CUDA_R_16BF;
      const char* an = h ? "fp16" : "bf16";
      const void* a = h ? static_cast<const void*>(ah) : ab;
      const double t_ref = TimeIt([&](int i) {
        CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, w16s[i % sets16], ct, k,
                         a, ct, k, &beta, y, ct, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      });
      auto row = [&](const char* variant, const char* path, double t) {
        Out("| %lld | %lld | %lld | %s | %s | %s | %.1f | %.1f | %.3f |\n", (long long)m,
            (long long)k, (long long)n, an, variant, path, t * 1e6, flops / t / 1e12, t_ref / t);
      };
      row("cuBLAS GEMM", "cublasGemmEx", t_ref);
      auto args = [&](int i, bool per_channel) {
        cuda::GemmLaunchArgs g;
        g.m = m;
        g.n = n;
        g.k = k;
        g.a = a;
        g.a_type = at;
        g.a_scale = nullptr;
        g.b = wq[i % sets8];
        g.b_scale = per_channel ? wsc_ch[i % sets8] : wsc[i % sets8];
        g.block_n = per_channel ? 1 : 128;
        g.block_k = per_channel ? 0 : 128;
        g.out_type = at;
        g.y = y;
        return g;
      };
      cuda::GemmPlan plan;
      cuda::GpuStatus st = cuda::PlanFp8Gemm(args(0, false), cuda::GemmOptions{}, &plan);
      if (!st.ok()) {
        std::fprintf(stderr, "plan: %s\n", cuda::GpuStatusMessage(st).c_str());
        std::exit(1);
      }
      const double t_disp = TimeIt([&](int i) {
        cuda::GpuStatus r = cuda::RunFp8Gemm(args(i, false), plan, nullptr, 0, stream);
        if (!r.ok()) {
          std::fprintf(stderr, "run: %s\n", cuda::GpuStatusMessage(r).c_str());
          std::exit(1);
        }
      });
      row("FP8GEMM blocks 128x128", cuda::GemmPathName(plan.path), t_disp);
      const double t_ch = TimeIt([&](int i) { CK(cuda::LaunchFp8GemmWo(args(i, true), stream)); });
      row("FP8GEMM per-channel", "wo_mma", t_ch);
      const double t_big = TimeIt([&](int i) {
        CK(cuda::LaunchFp8GemmWo(args(i, false), stream, cuda::WoTile::k128x128));
      });
      row("FP8GEMM blocks, tile forced", "wo_mma 128x128", t_big);
      const double t_small = TimeIt(
          [&](int i) { CK(cuda::LaunchFp8GemmWo(args(i, false), stream, cuda::WoTile::k64x64)); });
      row("FP8GEMM blocks, tile forced", "wo_mma 64x64", t_small);
      std::vector<cuda::WoTile> tiles = {cuda::WoTile::k128x128_k64, cuda::WoTile::k128x128_k128,
                                         cuda::WoTile::k64x64_k128, cuda::WoTile::k64x128_k128};
      if (!std::getenv("FP8OPS_BENCH_NO_WG")) {
        for (cuda::WoTile t : {cuda::WoTile::kWg128x128, cuda::WoTile::kWg64x64}) {
          tiles.push_back(t);
        }
      }
      for (cuda::WoTile tile : tiles) {
        const double t_v =
            TimeIt([&](int i) { CK(cuda::LaunchFp8GemmWo(args(i, false), stream, tile)); });
        char path[64];
        std::snprintf(path, sizeof path, "wo_mma %s", cuda::WoTileName(tile));
        row("FP8GEMM blocks, tile forced", path, t_v);
      }
      double t_old = 0;
      if (m <= 1024) {
        t_old = TimeIt([&](int i) { CK(cuda::LaunchFp8Gemv(args(i, false), stream)); }, 1.0);
        row("old: streaming kernel", "gemv", t_old);
      }
      char line[320];
      std::snprintf(line, sizeof line,
                    "M=%lld K=%lld N=%lld %s: wo_mma %.0f TFLOP/s = %.2fx cuBLAS (%.0f TFLOP/s); "
                    "per-channel %.2fx; "
                    "old streaming kernel %.3fx",
                    (long long)m, (long long)k, (long long)n, an, flops / t_disp / 1e12,
                    t_ref / t_disp, flops / t_ref / 1e12, t_ref / t_ch,
                    t_old > 0 ? t_ref / t_old : 0.0);
      summary.push_back(line);
    }
    // Accuracy spot check at the first shape: wo_mma (bf16 out) vs the streaming kernel.
    if (&s == &shapes.front()) {
      cuda::GemmLaunchArgs g;
      g.m = m;
      g.n = n;
      g.k = k;
      g.a = ab;
      g.a_type = DType::kBFloat16;
      g.b = wq[0];
      g.b_scale = wsc[0];
      g.out_type = DType::kFloat;
      g.y = y;
      std::vector<float> y1(m * n), y2(m * n);
      CK(cuda::LaunchFp8GemmWo(g, stream));
      CK(cudaMemcpy(y1.data(), y, 4 * m * n, cudaMemcpyDeviceToHost));
      CK(cuda::LaunchFp8Gemv(g, stream));
      CK(cudaMemcpy(y2.data(), y, 4 * m * n, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      for (int64_t i = 0; i < m * n; ++i) {
        num += double(y1[i] - y2[i]) * (y1[i] - y2[i]);
        den += double(y2[i]) * y2[i];
      }
      char line[200];
      std::snprintf(line, sizeof line,
                    "cross-check M=%lld K=%lld N=%lld bf16 A, f32 out: wo_mma vs streaming kernel "
                    "rel. L2 diff %.2e",
                    (long long)m, (long long)k, (long long)n,
                    std::sqrt(num / std::max(den, 1e-30)));
      summary.push_back(line);
    }
    for (auto p : wq) CK(cudaFree(p));
    for (auto p : wsc) CK(cudaFree(p));
    for (auto p : wsc_ch) CK(cudaFree(p));
    for (auto p : w16s) CK(cudaFree(p));
    CK(cudaFree(ab));
    CK(cudaFree(ah));
    CK(cudaFree(y));
  }
  Out("\n### Weight-only summary\n\n");
  for (const auto& s : summary) Out("- %s\n", s.c_str());
}

// ---------------------------------------------------------------------- W8A8 wgmma (Hopper)
// E4M3 x E4M3, 128x128 weight blocks, 1x128 activation groups, bf16 out, M >= 128: our TMA +
// wgmma kernel (ops/cuda/fp8_gemm_wgmma.cu) with each tile forced, the dispatcher (what ONNX
// Runtime runs), the cuBLASLt path as the dispatcher ran it before (FP8OPS_CUDA_NO_WGMMA: A's
// scales transposed, then cuBLASLt), raw cuBLASLt (scales already in its layout) and cuBLAS BF16
// (first and last: its spread is the noise of the ratios). "x BF16" = cuBLAS BF16 time (first) /
// this time; "x Lt" = raw cuBLASLt time / this time. Cross-check: wgmma vs raw cuBLASLt output.
void W8A8Bench(cudaStream_t stream, size_t l2, cublasHandle_t blas, bool quick) {
  Out("\n## W8A8 FP8GEMM on Hopper: wgmma kernel vs cuBLASLt (E4M3, 128x128 / 1x128 blocks, bf16 "
      "out)\n\n");
  Out("TFLOP/s = 2MNK/t. \"x BF16\" = cuBLAS BF16 time / this time; \"x Lt\" = raw cuBLASLt "
      "block-scaled time / this time.\n\n");
  Out("| M | K | N | variant | path | time (us) | TFLOP/s | x BF16 | x Lt "
      "|\n|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Shape> shapes;
  for (int64_t m : {128, 256, 512, 1024, 4096}) {
    for (auto kn : {std::pair<int64_t, int64_t>{4096, 4096}, {4096, 14336}, {14336, 4096}}) {
      shapes.push_back({m, kn.first, kn.second});
    }
  }
  shapes.push_back({8192, 8192, 8192});
  if (quick) shapes = {{128, 4096, 4096}, {1024, 4096, 4096}, {4096, 14336, 4096}};
  std::vector<std::string> summary;
  for (const Shape& s : shapes) {
    const int64_t m = s.m, k = s.k, n = s.n;
    const double flops = 2.0 * m * n * k;
    const GemmOperands op(s, l2, stream);
    const int sets8 = op.sets8, sets16 = op.sets16;
    const std::vector<uint8_t*>& wq = op.wq;
    const std::vector<float*>& wsc = op.wsc;
    const std::vector<__nv_bfloat16*>& wb = op.wb;
    __nv_bfloat16* ab = op.ab;
    void* y = op.y;
    auto args = [&](int i) { return op.Args(i); };
    const float alpha = 1, beta = 0;
    auto bf16 = [&](int i) {
      CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, wb[i % sets16], CUDA_R_16BF,
                       k, ab, CUDA_R_16BF, k, &beta, y, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F,
                       CUBLAS_GEMM_DEFAULT));
    };
    const double t_bf16 = TimeIt(bf16);
    // Raw cuBLASLt first too: the "x Lt" column refers to it.
    cuda::LtMatmulArgs l = op.LtArgs(0);
    size_t need = 0;
    double t_lt = 0;
    void* lws = nullptr;
    if (cuda::LtFp8Matmul(l, nullptr, 0, stream, &need).ok()) {
      lws = DevAlloc(std::max<size_t>(need, 256));
      t_lt = TimeIt([&](int i) {
        l.b = wq[i % sets8];
        l.b_scale = wsc[i % sets8];
        cuda::GpuStatus r = cuda::LtFp8Matmul(l, lws, need, stream, nullptr);
        if (!r.ok()) {
          std::fprintf(stderr, "raw lt: %s\n", cuda::GpuStatusMessage(r).c_str());
          std::exit(1);
        }
      });
    }
    auto row = [&](const char* variant, const char* path, double t) {
      Out("| %lld | %lld | %lld | %s | %s | %.1f | %.0f | %.2f | %s |\n", (long long)m,
          (long long)k, (long long)n, variant, path, t * 1e6, flops / t / 1e12, t_bf16 / t,
          t_lt > 0 ? std::to_string(t_lt / t).substr(0, 4).c_str() : "-");
    };
    row("cuBLAS BF16", "cublasGemmEx", t_bf16);
    if (t_lt > 0) row("raw cuBLASLt block-scaled", "cublasLtMatmul", t_lt);
    // The wgmma kernel, each tile forced.
    constexpr int kTiles = 4;
    double t_wg[kTiles] = {0, 0, 0, 0};
    const cuda::W8A8Tile tiles[kTiles] = {cuda::W8A8Tile::k128x128, cuda::W8A8Tile::k128x64,
                                          cuda::W8A8Tile::k128x256, cuda::W8A8Tile::k128x128_db};
    const bool applies = cuda::W8A8WgmmaApplies(args(0));
    // FP8OPS_BENCH_W8A8_TILES=<n>: only the first n tiles of the list.
    const char* nt = std::getenv("FP8OPS_BENCH_W8A8_TILES");
    const int ntiles = nt != nullptr ? std::min(kTiles, std::atoi(nt)) : kTiles;
    for (int ti = 0; ti < ntiles && applies; ++ti) {
      t_wg[ti] = TimeIt([&](int i) { CK(cuda::LaunchFp8GemmWgmma(args(i), stream, tiles[ti])); });
      char name[96];
      std::snprintf(name, sizeof name, "%s (grid %d)", cuda::W8A8TileName(tiles[ti]),
                    cuda::W8A8LastGrid());
      row("W8A8 wgmma", name, t_wg[ti]);
    }
    // The dispatcher, and the dispatcher without the wgmma kernel (the cuBLASLt path).
    double t_path[2] = {0, 0};
    cuda::GemmPath paths[2] = {};
    for (int off = 0; off < 2; ++off) {
      cuda::GemmOptions o;
      o.allow_wgmma = off == 0;
      cuda::GemmPlan plan;
      cuda::GpuStatus st = cuda::PlanFp8Gemm(args(0), o, &plan);
      if (!st.ok()) {
        std::fprintf(stderr, "plan: %s\n", cuda::GpuStatusMessage(st).c_str());
        std::exit(1);
      }
      paths[off] = plan.path;
      void* ws = DevAlloc(std::max<size_t>(plan.workspace_bytes, 256));
      t_path[off] = TimeIt([&](int i) {
        cuda::GpuStatus r = cuda::RunFp8Gemm(args(i), plan, ws, plan.workspace_bytes, stream);
        if (!r.ok()) {
          std::fprintf(stderr, "run: %s\n", cuda::GpuStatusMessage(r).c_str());
          std::exit(1);
        }
      });
      row(off == 0 ? "FP8GEMM (dispatcher)" : "FP8GEMM, FP8OPS_CUDA_NO_WGMMA",
          cuda::GemmPathName(plan.path), t_path[off]);
      CK(cudaFree(ws));
    }
    const double t_bf16_2 = TimeIt(bf16);
    row("cuBLAS BF16 (again, last)", "cublasGemmEx", t_bf16_2);

    // Cross-check: the wgmma kernel against raw cuBLASLt on the same inputs.
    double diff = -1;
    if (applies && t_lt > 0) {
      const size_t cnt = static_cast<size_t>(m * n);
      std::vector<uint16_t> y1(cnt), y2(cnt);
      l.b = wq[0];
      l.b_scale = wsc[0];
      CK(cudaMemset(y, 0xFF, 2 * cnt));
      if (!cuda::LtFp8Matmul(l, lws, need, stream, nullptr).ok()) std::exit(1);
      CK(cudaMemcpy(y1.data(), y, 2 * cnt, cudaMemcpyDeviceToHost));
      CK(cudaMemset(y, 0xFF, 2 * cnt));
      CK(cuda::LaunchFp8GemmWgmma(args(0), stream));
      CK(cudaMemcpy(y2.data(), y, 2 * cnt, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      for (size_t i = 0; i < cnt; ++i) {
        const uint32_t b1 = uint32_t(y1[i]) << 16, b2 = uint32_t(y2[i]) << 16;
        float f1, f2;
        std::memcpy(&f1, &b1, 4);
        std::memcpy(&f2, &b2, 4);
        num += double(f1 - f2) * (f1 - f2);  // NaN (unwritten) propagates
        den += double(f1) * f1;
      }
      diff = std::sqrt(num / std::max(den, 1e-30));
    }
    double t_best = 1e9;
    std::string per_tile;
    for (int ti = 0; ti < kTiles; ++ti) {
      if (t_wg[ti] <= 0) continue;
      t_best = std::min(t_best, t_wg[ti]);
      char b[64];
      std::snprintf(b, sizeof b, "%s%.0f", per_tile.empty() ? "" : "/", flops / t_wg[ti] / 1e12);
      per_tile += b;
    }
    char line[600];
    std::snprintf(line, sizeof line,
                  "M=%lld K=%lld N=%lld: wgmma 128x128/128x64/128x256/128x128db "
                  "%s TFLOP/s (best %.2fx BF16, %.2fx raw cuBLASLt); dispatcher %s %.2fx BF16 "
                  "(was %s %.2fx); BF16 first/last %.1f/%.1f us; wgmma (auto) vs cuBLASLt rel. L2 "
                  "diff %.2e",
                  (long long)m, (long long)k, (long long)n, per_tile.c_str(), t_bf16 / t_best,
                  t_lt > 0 ? t_lt / t_best : 0.0, cuda::GemmPathName(paths[0]), t_bf16 / t_path[0],
                  cuda::GemmPathName(paths[1]), t_bf16 / t_path[1], t_bf16 * 1e6, t_bf16_2 * 1e6,
                  diff);
    summary.push_back(line);

    if (lws != nullptr) CK(cudaFree(lws));
  }
  Out("\n### W8A8 wgmma summary\n\n");
  for (const auto& s : summary) Out("- %s\n", s.c_str());
}

int main(int argc, char** argv) {
  const char* out_path = nullptr;
  bool quick = false, probe_only = false, algos_only = false, wo_only = false, w8a8_only = false;
  bool decode_only = false, interleaved = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--out") == 0 && i + 1 < argc) out_path = argv[++i];
    if (std::strcmp(argv[i], "--quick") == 0) quick = true;
    if (std::strcmp(argv[i], "--probe") == 0) probe_only = true;
    if (std::strcmp(argv[i], "--algos") == 0) algos_only = true;
    if (std::strcmp(argv[i], "--weight-only") == 0) wo_only = true;
    if (std::strcmp(argv[i], "--w8a8") == 0) w8a8_only = true;
    if (std::strcmp(argv[i], "--decode") == 0) decode_only = true;
    if (std::strcmp(argv[i], "--interleaved") == 0) interleaved = true;
  }
  cudaDeviceProp prop{};
  CK(cudaGetDeviceProperties(&prop, 0));
  int driver = 0, runtime = 0;
  CK(cudaDriverGetVersion(&driver));
  CK(cudaRuntimeGetVersion(&runtime));
  const size_t l2 = static_cast<size_t>(prop.l2CacheSize);
  Out("# fp8ops CUDA kernel benchmarks\n\n");
  Out("- GPU: %s, %d SMs, L2 %.0f MB, %.1f GB; driver %d, runtime %d, cuBLASLt %zu\n", prop.name,
      prop.multiProcessorCount, l2 / 1e6, prop.totalGlobalMem / 1e9, driver, runtime, cublasLtGetVersion());
  Out("- timing: CUDA events, back-to-back launches, median of 7 reps after warm-up; inputs rotated over "
      "enough sets to exceed 4x L2; random data\n\n");

  cublasHandle_t blas;
  CKB(cublasCreate(&blas));
  cudaStream_t stream = nullptr;  // legacy default stream for everything here
  if (wo_only || w8a8_only) {     // one section only (bench/results/*/cuda_bench_<section>.md)
    if (wo_only) WeightOnlyBench(stream, l2, blas, quick);
    if (w8a8_only) W8A8Bench(stream, l2, blas, quick);
    if (out_path != nullptr) {
      if (FILE* f = std::fopen(out_path, "w"); f != nullptr) {
        std::fputs(g_report.c_str(), f);
        std::fclose(f);
      }
    }
    return 0;
  }
  Probe(stream);
  if (probe_only) return 0;
  if (algos_only) {
    AlgoSweep(stream, l2,
              {{1024, 4096, 4096},
               {1024, 4096, 14336},
               {1024, 14336, 4096},
               {4096, 4096, 4096},
               {4096, 4096, 14336},
               {4096, 14336, 4096},
               {8192, 8192, 8192},
               {512, 2048, 5632}},
              8);
    if (out_path != nullptr) {
      if (FILE* f = std::fopen(out_path, "w"); f != nullptr) {
        std::fputs(g_report.c_str(), f);
        std::fclose(f);
      }
    }
    return 0;
  }

  // ---------------------------------------------------------------------------- ceilings
  double copy_tbs = 0;
  {
    const size_t bytes = size_t{1} << 30;
    void* a = DevAlloc(bytes);
    void* b = DevAlloc(bytes);
    Fp8Rand(a, bytes);
    const double t = TimeIt([&](int) { CK(cudaMemcpyAsync(b, a, bytes, cudaMemcpyDeviceToDevice, stream)); });
    copy_tbs = 2.0 * bytes / t / 1e12;
    Out("## Ceilings\n\n| what | result |\n|---|---|\n");
    Out("| device-to-device copy, 1 GiB (read + write) | %.2f TB/s |\n", copy_tbs);
    CK(cudaFree(a));
    CK(cudaFree(b));
  }
  {
    const int64_t s = 8192;
    auto* a = static_cast<__nv_bfloat16*>(DevAlloc(s * s * 2));
    auto* b = static_cast<__nv_bfloat16*>(DevAlloc(s * s * 2));
    auto* c = static_cast<__nv_bfloat16*>(DevAlloc(s * s * 2));
    SignedRand(a, s * s, 1.0f);
    SignedRand(b, s * s, 1.0f);
    const float alpha = 1, beta = 0;
    const double t = TimeIt([&](int) {
      CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, s, s, s, &alpha, b, CUDA_R_16BF, s, a, CUDA_R_16BF, s, &beta, c,
                       CUDA_R_16BF, s, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    });
    Out("| cuBLAS BF16 GEMM 8192^3 | %.0f TFLOP/s |\n\n", 2.0 * s * s * s / t / 1e12);
    CK(cudaFree(a));
    CK(cudaFree(b));
    CK(cudaFree(c));
  }

  // ---------------------------------------------------------------------------- quantize
  Out("## QuantizeFP8 (groups of 128 along K, E4M3, dynamic scales)\n\n");
  Out("| X | rows x K | time (us) | TB/s (X read + Y + scales written) | %% of copy | no PDL: time "
      "(us), %% of copy |\n"
      "|---|---|---|---|---|---|\n");
  {
    struct QShape {
      int64_t rows, k;
      DType t;
    };
    std::vector<QShape> qs = {{1, 4096, DType::kBFloat16},     {128, 4096, DType::kBFloat16},
                              {4096, 4096, DType::kBFloat16},  {4096, 14336, DType::kBFloat16},
                              {16384, 8192, DType::kBFloat16}, {4096, 14336, DType::kFloat},
                              {4096, 14336, DType::kFloat16}};
    if (quick) qs.resize(4);
    for (const auto& q : qs) {
      const int64_t n = q.rows * q.k;
      const size_t xb = n * DTypeSize(q.t);
      const size_t bytes = xb + n + sizeof(float) * q.rows * (q.k / 128);
      const int sets = RotationSets(bytes, l2);
      std::vector<void*> xs(sets), ys(sets), ss(sets);
      for (int i = 0; i < sets; ++i) {
        xs[i] = DevAlloc(xb);
        ys[i] = DevAlloc(n);
        ss[i] = DevAlloc(sizeof(float) * q.rows * (q.k / 128));
        if (q.t == DType::kBFloat16) SignedRand(static_cast<__nv_bfloat16*>(xs[i]), n, 3.0f);
        if (q.t == DType::kFloat16) SignedRand(static_cast<__half*>(xs[i]), n, 3.0f);
        if (q.t == DType::kFloat) SignedRand(static_cast<float*>(xs[i]), n, 3.0f);
      }
      auto quantize = [&](int i) {
        cuda::QuantizeLaunchArgs a;
        a.rows = q.rows;
        a.k = q.k;
        a.x = xs[i % sets];
        a.x_type = q.t;
        a.block_size = 128;
        a.y = static_cast<uint8_t*>(ys[i % sets]);
        a.y_scale = static_cast<float*>(ss[i % sets]);
        CK(cuda::LaunchQuantizeFp8(a, stream));
      };
      const double t = TimeIt(quantize);
      // The same with ordinary launches (each waits for the one ahead to finish).
      setenv("FP8OPS_CUDA_PDL", "0", 1);
      const double t_nopdl = TimeIt(quantize);
      unsetenv("FP8OPS_CUDA_PDL");
      const double tbs = bytes / t / 1e12;
      Out("| %s | %lld x %lld | %.1f | %.2f | %.0f%% | %.1f, %.0f%% |\n", DTypeName(q.t),
          (long long)q.rows, (long long)q.k, t * 1e6, tbs, 100.0 * tbs / copy_tbs, t_nopdl * 1e6,
          100.0 * bytes / t_nopdl / 1e12 / copy_tbs);
      for (int i = 0; i < sets; ++i) {
        CK(cudaFree(xs[i]));
        CK(cudaFree(ys[i]));
        CK(cudaFree(ss[i]));
      }
    }
  }

  // -------------------------------------------------------------------------------- gemm
  Out("\n## FP8GEMM (E4M3 x E4M3, 128x128 weight blocks, 1x128 activation groups, bf16 out)\n\n");
  Out("TFLOP/s = 2MNK/t. TB/s = bytes that must move (A, B, scales, Y once) / t. \"x BF16\" = cuBLAS BF16 time / "
      "this time. Weight-only = bf16 activations, FP8 weights.\n\n");
  Out("| M | K | N | variant | path | time (us) | TFLOP/s | TB/s | x BF16 |\n|---|---|---|---|---|---|---|---|---|\n");
  std::vector<Shape> shapes;
  for (int64_t m : {1, 16, 128, 1024, 4096}) {
    for (auto kn : {std::pair<int64_t, int64_t>{4096, 4096}, {4096, 14336}, {14336, 4096}}) {
      shapes.push_back({m, kn.first, kn.second});
    }
  }
  shapes.push_back({8192, 8192, 8192});
  if (quick) shapes = {{1, 4096, 4096}, {16, 4096, 14336}, {1024, 4096, 4096}, {4096, 14336, 4096}};
  if (decode_only) {  // the decode shapes of the main table (Llama-3-8B and hidden-2048 widths)
    shapes.clear();
    for (int64_t m : {1, 4, 16}) {
      for (auto kn : {std::pair<int64_t, int64_t>{4096, 4096},
                      {4096, 14336},
                      {14336, 4096},
                      {2048, 2048},
                      {2048, 5632},
                      {5632, 2048}}) {
        shapes.push_back({m, kn.first, kn.second});
      }
    }
    shapes.push_back({128, 4096, 4096});
    shapes.push_back({1024, 4096, 4096});
  }
  if (interleaved) {  // the large-M shapes of the main table
    shapes.clear();
    for (int64_t m : {1024, 4096}) {
      for (auto kn : {std::pair<int64_t, int64_t>{4096, 4096}, {4096, 14336}, {14336, 4096}}) {
        shapes.push_back({m, kn.first, kn.second});
      }
    }
    shapes.push_back({8192, 8192, 8192});
  }
  std::vector<std::string> summary;
  for (const Shape& s : shapes) {
    const int64_t m = s.m, k = s.k, n = s.n;
    const double flops = 2.0 * m * n * k;
    // Weights (rotated), their scales, activations.
    const GemmOperands op(s, l2, stream);
    const int64_t kb = op.kb, nb = op.nb;
    const size_t w8 = n * k, w16 = 2 * n * k;
    const int sets8 = op.sets8, sets16 = op.sets16;
    const std::vector<uint8_t*>& wq = op.wq;
    const std::vector<float*>& wsc = op.wsc;
    const std::vector<__nv_bfloat16*>& wb = op.wb;
    const std::vector<__half*>& wh = op.wh;
    uint8_t* aq = op.aq;
    float* asc = op.asc;
    __nv_bfloat16* ab = op.ab;
    __half* ah = op.ah;
    void* y = op.y;
    const size_t ybytes = 2 * m * n;

    auto args = [&](int i, bool weight_only) { return op.Args(i, weight_only); };
    const size_t bytes_fp8 = m * k + w8 + 4 * (m * kb + nb * kb) + ybytes;
    const size_t bytes_wo = 2 * m * k + w8 + 4 * nb * kb + ybytes;
    const size_t bytes_16 = 2 * m * k + w16 + ybytes;

    // cuBLAS BF16 / FP16 first: the ratios refer to them.
    const float alpha = 1, beta = 0;
    auto run_bf16 = [&](int i) {
      CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, wb[i % sets16], CUDA_R_16BF, k, ab, CUDA_R_16BF,
                       k, &beta, y, CUDA_R_16BF, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    };
    const double t_bf16 = TimeIt(run_bf16);
    const double t_fp16 = TimeIt([&](int i) {
      CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, wh[i % sets16], CUDA_R_16F, k, ah, CUDA_R_16F,
                       k, &beta, y, CUDA_R_16F, n, CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
    });
    auto row = [&](const char* variant, const char* path, double t, size_t bytes) {
      if (t <= 0) {
        Out("| %lld | %lld | %lld | %s | %s | - | - | - | - |\n", (long long)m, (long long)k, (long long)n, variant, path);
        return;
      }
      Out("| %lld | %lld | %lld | %s | %s | %.1f | %.1f | %.2f | %.2f |\n", (long long)m, (long long)k, (long long)n,
          variant, path, t * 1e6, flops / t / 1e12, bytes / t / 1e12, t_bf16 / t);
    };
    row("cuBLAS BF16", "cublasGemmEx", t_bf16, bytes_16);
    row("cuBLAS FP16", "cublasGemmEx", t_fp16, bytes_16);

    // FP8GEMM through the dispatcher (what the ONNX Runtime kernel runs).
    cuda::GemmPlan plan;
    cuda::GpuStatus st = cuda::PlanFp8Gemm(args(0, false), cuda::GemmOptions{}, &plan);
    if (!st.ok()) {
      std::fprintf(stderr, "plan: %s\n", cuda::GpuStatusMessage(st).c_str());
      return 1;
    }
    void* ws = DevAlloc(plan.workspace_bytes);
    auto run_fp8 = [&](int i) {
      cuda::GpuStatus r = cuda::RunFp8Gemm(args(i, false), plan, ws, plan.workspace_bytes, stream);
      if (!r.ok()) {
        std::fprintf(stderr, "run: %s\n", cuda::GpuStatusMessage(r).c_str());
        std::exit(1);
      }
    };
    const double t_fp8 = TimeIt(run_fp8);
    row("FP8GEMM W8A8", cuda::GemmPathName(plan.path), t_fp8, bytes_fp8);
    char line[384];
    std::snprintf(line, sizeof line, "M=%lld K=%lld N=%lld: FP8GEMM %.2fx BF16 (%s, %.0f TFLOP/s, %.2f TB/s)",
                  (long long)m, (long long)k, (long long)n, t_bf16 / t_fp8, cuda::GemmPathName(plan.path),
                  flops / t_fp8 / 1e12, bytes_fp8 / t_fp8 / 1e12);
    summary.push_back(line);

    // QuantizeFP8 of the bf16 activations into aq / asc, as the node before FP8GEMM runs it.
    auto quantize_activations = [&] {
      cuda::QuantizeLaunchArgs q;
      q.rows = m;
      q.k = k;
      q.x = ab;
      q.x_type = DType::kBFloat16;
      q.block_size = 128;
      q.y = aq;
      q.y_scale = asc;
      CK(cuda::LaunchQuantizeFp8(q, stream));
    };

    // The streaming kernel alone (small M): tensor-core and CUDA-core variants, weight-only.
    if (m <= 16) {
      const double t_mma = TimeIt([&](int i) { CK(cuda::LaunchFp8Gemv(args(i, false), stream, cuda::GemvVariant::kTensorCore)); });
      row("streaming W8A8", "gemv_mma", t_mma, bytes_fp8);
      // The bulk-copy kernel where it applies (Hopper, M <= 8, K <= 6144, one wave of tiles).
      if (cuda::ResolveGemvVariant(args(0, false), cuda::GemvVariant::kTensorCoreBulk) ==
          cuda::GemvVariant::kTensorCoreBulk) {
        const double t_bulk = TimeIt([&](int i) {
          CK(cuda::LaunchFp8Gemv(args(i, false), stream, cuda::GemvVariant::kTensorCoreBulk));
        });
        row("streaming W8A8, bulk copies", "gemv_mma_bulk", t_bulk, bytes_fp8);
      }
      // The same without the programmatic dependent launch (each launch waits for the previous).
      setenv("FP8OPS_CUDA_PDL", "0", 1);
      const double t_mma_nopdl = TimeIt([&](int i) {
        CK(cuda::LaunchFp8Gemv(args(i, false), stream, cuda::GemvVariant::kTensorCore));
      });
      unsetenv("FP8OPS_CUDA_PDL");
      row("streaming W8A8, no PDL", "gemv_mma", t_mma_nopdl, bytes_fp8);
      // A decode step as ONNX Runtime runs it: QuantizeFP8 of the bf16 activations, then FP8GEMM.
      const double t_pipe = TimeIt([&](int i) {
        quantize_activations();
        cuda::GpuStatus r =
            cuda::RunFp8Gemm(args(i, false), plan, ws, plan.workspace_bytes, stream);
        if (!r.ok()) std::exit(1);
      });
      row("QuantizeFP8 + FP8GEMM", cuda::GemmPathName(plan.path), t_pipe, bytes_fp8 + 2 * m * k);
      const double t_gemv = TimeIt([&](int i) { CK(cuda::LaunchFp8Gemv(args(i, false), stream, cuda::GemvVariant::kVector)); });
      row("streaming W8A8", "gemv_ffma16B", t_gemv, bytes_fp8);
      const double t_wo = TimeIt([&](int i) {
        CK(cuda::LaunchFp8Gemv(args(i, true), stream, cuda::GemvVariant::kVector));
      });
      row("streaming weight-only", "gemv_ffma16B", t_wo, bytes_wo);
      // The weight-only bulk-copy kernel where it applies (as the W8A8 one; bf16 A used as it is).
      double t_wo_bulk = 0;
      if (cuda::ResolveGemvVariant(args(0, true), cuda::GemvVariant::kTensorCoreBulk) ==
          cuda::GemvVariant::kTensorCoreBulk) {
        t_wo_bulk = TimeIt([&](int i) {
          CK(cuda::LaunchFp8Gemv(args(i, true), stream, cuda::GemvVariant::kTensorCoreBulk));
        });
        row("streaming weight-only, bulk copies", "gemv_mma_bulk", t_wo_bulk, bytes_wo);
      }
      std::snprintf(line, sizeof line,
                    "M=%lld K=%lld N=%lld: streaming W8A8 mma %.2f TB/s of weights (%.2fx BF16; no "
                    "PDL %.2f TB/s, "
                    "%.2fx), ffma %.2f TB/s (%.2fx); weight-only %.2f TB/s (%.2fx BF16); "
                    "quantize+gemm %.2fx BF16; weight-only bulk %.2f TB/s (%.2fx BF16)",
                    (long long)m, (long long)k, (long long)n, w8 / t_mma / 1e12, t_bf16 / t_mma,
                    w8 / t_mma_nopdl / 1e12, t_bf16 / t_mma_nopdl, w8 / t_gemv / 1e12,
                    t_bf16 / t_gemv, w8 / t_wo / 1e12, t_bf16 / t_wo, t_bf16 / t_pipe,
                    t_wo_bulk > 0 ? w8 / t_wo_bulk / 1e12 : 0.0,
                    t_wo_bulk > 0 ? t_bf16 / t_wo_bulk : 0.0);
      summary.push_back(line);
    }

    // FP8GEMM with a_quant_type (the rewrite's --fuse-activation-quant): the bf16 activations
    // quantized inside the op, against the two nodes QuantizeFP8 -> FP8GEMM, timed one after the
    // other here.
    {
      auto fused_args = [&](int i) {
        cuda::GemmLaunchArgs g = args(i, false);
        g.a = ab;
        g.a_type = DType::kBFloat16;
        g.a_scale = nullptr;
        g.quantize_a = true;
        g.a_quant_format = Fp8Format::kE4M3FN;
        return g;
      };
      cuda::GemmPlan fplan;
      st = cuda::PlanFp8Gemm(fused_args(0), cuda::GemmOptions{}, &fplan);
      if (!st.ok()) {
        std::fprintf(stderr, "plan (fused): %s\n", cuda::GpuStatusMessage(st).c_str());
        return 1;
      }
      void* fws = DevAlloc(fplan.workspace_bytes);
      const double t_two = TimeIt([&](int i) {
        quantize_activations();
        if (!cuda::RunFp8Gemm(args(i, false), plan, ws, plan.workspace_bytes, stream).ok())
          std::exit(1);
      });
      const double t_fused = TimeIt([&](int i) {
        cuda::GpuStatus r =
            cuda::RunFp8Gemm(fused_args(i), fplan, fws, fplan.workspace_bytes, stream);
        if (!r.ok()) {
          std::fprintf(stderr, "run (fused): %s\n", cuda::GpuStatusMessage(r).c_str());
          std::exit(1);
        }
      });
      const std::string fpath =
          std::string(cuda::GemmPathName(fplan.path)) +
          (fplan.quantize_first ? " after a quantization launch" : ", A quantized as loaded");
      row("QuantizeFP8 -> FP8GEMM (two nodes)", cuda::GemmPathName(plan.path), t_two,
          bytes_fp8 + 2 * m * k);
      row("FP8GEMM a_quant_type (fused)", fpath.c_str(), t_fused, bytes_fp8 + 2 * m * k);
      std::snprintf(line, sizeof line,
                    "M=%lld K=%lld N=%lld: fused activation quantization %.1f us vs %.1f us for "
                    "QuantizeFP8 -> FP8GEMM (%.2fx; %.2fx / %.2fx BF16)",
                    (long long)m, (long long)k, (long long)n, t_fused * 1e6, t_two * 1e6,
                    t_two / t_fused, t_bf16 / t_fused, t_bf16 / t_two);
      summary.push_back(line);
      CK(cudaFree(fws));
    }

    // Raw cuBLASLt block-scaled, scales pre-laid-out.
    {
      cuda::LtMatmulArgs l = op.LtArgs(0);
      size_t need = 0;
      st = cuda::LtFp8Matmul(l, nullptr, 0, stream, &need);
      if (!st.ok()) {
        row("raw cuBLASLt block-scaled", st.cublas == CUBLAS_STATUS_NOT_SUPPORTED ? "refused" : "error", 0, 0);
      } else {
        void* lws = DevAlloc(need);
        const double t_lt = TimeIt([&](int i) {
          l.b = wq[i % sets8];
          l.b_scale = wsc[i % sets8];
          cuda::GpuStatus r = cuda::LtFp8Matmul(l, lws, need, stream, nullptr);
          if (!r.ok()) {
            std::fprintf(stderr, "raw lt: %s\n", cuda::GpuStatusMessage(r).c_str());
            std::exit(1);
          }
        });
        row("raw cuBLASLt block-scaled", "cublasLtMatmul", t_lt, bytes_fp8);
        CK(cudaFree(lws));
      }
    }

    // --interleaved: cuBLAS BF16 and FP8GEMM timed alternately, 5 rounds each, so that both see
    // the same clock and power state (from M = 512 the card slows down within a shape, and the
    // first BF16 timing above runs fastest).
    if (interleaved) {
      std::vector<double> tb, tf, ratios;
      for (int r = 0; r < 5; ++r) {
        tb.push_back(TimeIt(run_bf16));
        tf.push_back(TimeIt(run_fp8));
        ratios.push_back(tb.back() / tf.back());
      }
      auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
      };
      const double mb = median(tb), mf = median(tf);
      std::sort(ratios.begin(), ratios.end());
      row("cuBLAS BF16, interleaved (median of 5)", "cublasGemmEx", mb, bytes_16);
      row("FP8GEMM W8A8, interleaved (median of 5)", cuda::GemmPathName(plan.path), mf, bytes_fp8);
      std::snprintf(
          line, sizeof line,
          "M=%lld K=%lld N=%lld: interleaved with cuBLAS BF16: FP8GEMM %.2fx BF16 (rounds "
          "%.2f-%.2fx; %.0f vs %.0f TFLOP/s)",
          (long long)m, (long long)k, (long long)n, mb / mf, ratios.front(), ratios.back(),
          flops / mf / 1e12, flops / mb / 1e12);
      summary.push_back(line);
    }

    // cuBLAS BF16 once more at the end of the shape: its spread is the noise of every ratio above.
    {
      const double t_bf16_2 = TimeIt([&](int i) {
        CKB(cublasGemmEx(blas, CUBLAS_OP_T, CUBLAS_OP_N, n, m, k, &alpha, wb[i % sets16],
                         CUDA_R_16BF, k, ab, CUDA_R_16BF, k, &beta, y, CUDA_R_16BF, n,
                         CUBLAS_COMPUTE_32F, CUBLAS_GEMM_DEFAULT));
      });
      row("cuBLAS BF16 (again, last)", "cublasGemmEx", t_bf16_2, bytes_16);
      std::snprintf(line, sizeof line,
                    "M=%lld K=%lld N=%lld: FP8GEMM %.2fx / %.2fx the first / last BF16 timing",
                    (long long)m, (long long)k, (long long)n, t_bf16 / t_fp8, t_bf16_2 / t_fp8);
      summary.push_back(line);
    }

    // Cross-check at one mid-size shape: the cuBLASLt path against the streaming kernel.
    if (m == 128 && k == 4096 && n == 4096 && cuda::IsCublasLtPath(plan.path)) {
      std::vector<uint16_t> y1(m * n), y2(m * n);
      CK(cudaDeviceSynchronize());
      cuda::GpuStatus r = cuda::RunFp8Gemm(args(0, false), plan, ws, plan.workspace_bytes, stream);
      CK(cudaMemcpy(y1.data(), y, 2 * m * n, cudaMemcpyDeviceToHost));
      CK(cuda::LaunchFp8Gemv(args(0, false), stream, cuda::GemvVariant::kVector));
      CK(cudaMemcpy(y2.data(), y, 2 * m * n, cudaMemcpyDeviceToHost));
      double num = 0, den = 0;
      for (int64_t i = 0; i < m * n; ++i) {
        uint32_t b1 = uint32_t(y1[i]) << 16, b2 = uint32_t(y2[i]) << 16;
        float f1, f2;
        std::memcpy(&f1, &b1, 4);
        std::memcpy(&f2, &b2, 4);
        num += double(f1 - f2) * (f1 - f2);
        den += double(f2) * f2;
      }
      std::snprintf(line, sizeof line, "cross-check M=128 K=N=4096: cuBLASLt vs streaming kernel rel. L2 diff %.2e (%s)",
                    std::sqrt(num / std::max(den, 1e-30)), r.ok() ? "ok" : cuda::GpuStatusMessage(r).c_str());
      summary.push_back(line);
    }

    CK(cudaFree(ws));
  }
  Out("\n## Summary\n\n");
  for (const auto& s : summary) Out("- %s\n", s.c_str());
  if (!decode_only && !interleaved) {
    WeightOnlyBench(stream, l2, blas, quick);
    W8A8Bench(stream, l2, blas, quick);
  }
  CKB(cublasDestroy(blas));
  if (out_path != nullptr) {
    FILE* f = std::fopen(out_path, "w");
    if (f != nullptr) {
      std::fputs(g_report.c_str(), f);
      std::fclose(f);
    }
  }
  return 0;
}
