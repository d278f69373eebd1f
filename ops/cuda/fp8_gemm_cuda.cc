#include "ops/cuda/fp8_gemm_cuda.h"

#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

namespace fp8ops::cuda {
namespace {

constexpr size_t kLtMaxWorkspace = size_t{32} << 20;  // cuBLAS' recommendation for Hopper
constexpr size_t kAlign = 256;

size_t AlignUp(size_t v) { return (v + kAlign - 1) / kAlign * kAlign; }

cudaDataType_t CudaType(DType t) {
  switch (t) {
    case DType::kFloat: return CUDA_R_32F;
    case DType::kFloat16: return CUDA_R_16F;
    case DType::kBFloat16: return CUDA_R_16BF;
    case DType::kE4M3FN: return CUDA_R_8F_E4M3;
    default: return CUDA_R_8F_E5M2;
  }
}

// One cuBLASLt handle per device, created on first use and kept for the life of the process
// (destroying handles at exit can run after the driver has shut down).
GpuStatus LtHandle(cublasLtHandle_t* out) {
  int dev = 0;
  if (cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return CudaStatus(e, "cudaGetDevice");
  static std::mutex mu;
  static auto* handles = new std::unordered_map<int, cublasLtHandle_t>();
  std::lock_guard<std::mutex> lock(mu);
  auto it = handles->find(dev);
  if (it == handles->end()) {
    cublasLtHandle_t h = nullptr;
    if (cublasStatus_t s = cublasLtCreate(&h); s != CUBLAS_STATUS_SUCCESS) {
      GpuStatus st;
      st.cublas = s;
      st.where = "cublasLtCreate";
      return st;
    }
    it = handles->emplace(dev, h).first;
  }
  *out = it->second;
  return {};
}

struct AlgoKey {
  int dev;
  int64_t m, n, k;
  int a_type, b_type, out_type, a_mode, b_mode;
  bool bias;
  bool operator==(const AlgoKey& o) const { return std::memcmp(this, &o, sizeof *this) == 0; }
};
struct AlgoKeyHash {
  size_t operator()(const AlgoKey& k) const {
    size_t h = 1469598103934665603ull;
    const auto* p = reinterpret_cast<const unsigned char*>(&k);
    for (size_t i = 0; i < sizeof k; ++i) h = (h ^ p[i]) * 1099511628211ull;
    return h;
  }
};
struct AlgoEntry {
  bool ok = false;
  cublasLtMatmulAlgo_t algo{};
  size_t workspace = 0;
};

// Descriptors of one matmul, destroyed at scope exit.
struct LtDescs {
  cublasLtMatmulDesc_t op = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
  ~LtDescs() {
    if (c) cublasLtMatrixLayoutDestroy(c);
    if (b) cublasLtMatrixLayoutDestroy(b);
    if (a) cublasLtMatrixLayoutDestroy(a);
    if (op) cublasLtMatmulDescDestroy(op);
  }
};

#define FP8OPS_LT_CHECK(call)                       \
  do {                                              \
    if (cublasStatus_t _s = (call); _s != CUBLAS_STATUS_SUCCESS) { \
      GpuStatus _st;                                \
      _st.cublas = _s;                              \
      _st.where = #call;                            \
      return _st;                                   \
    }                                               \
  } while (0)

GpuStatus MakeDescs(const LtMatmulArgs& a, LtDescs* d) {
  FP8OPS_LT_CHECK(cublasLtMatmulDescCreate(&d->op, CUBLAS_COMPUTE_32F, CUDA_R_32F));
  const cublasOperation_t t = CUBLAS_OP_T, nt = CUBLAS_OP_N;
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_TRANSA, &t, sizeof t));
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_TRANSB, &nt, sizeof nt));
  const int32_t mode_a = a.b_scale_mode, mode_b = a.a_scale_mode;
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_A_SCALE_MODE, &mode_a, sizeof mode_a));
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_B_SCALE_MODE, &mode_b, sizeof mode_b));
  const void* sa = a.b_scale;
  const void* sb = a.a_scale;
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa));
  FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb));
  if (a.bias != nullptr) {
    const cublasLtEpilogue_t epi = CUBLASLT_EPILOGUE_BIAS;
    FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi));
    FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &a.bias, sizeof a.bias));
    const int32_t bias_type = CudaType(a.out_type);
    FP8OPS_LT_CHECK(
        cublasLtMatmulDescSetAttribute(d->op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type));
  }
  const auto b_type = CudaType(ToDType(a.b_format));
  FP8OPS_LT_CHECK(cublasLtMatrixLayoutCreate(&d->a, b_type, a.k, a.n, a.k));
  FP8OPS_LT_CHECK(cublasLtMatrixLayoutCreate(&d->b, CudaType(a.a_type), a.k, a.m, a.k));
  FP8OPS_LT_CHECK(cublasLtMatrixLayoutCreate(&d->c, CudaType(a.out_type), a.n, a.m, a.n));
  return {};
}

AlgoKey KeyOf(int dev, const LtMatmulArgs& a) {
  AlgoKey key{};  // zeroed: padding takes part in hashing and comparison
  std::memset(&key, 0, sizeof key);
  key.dev = dev;
  key.m = a.m;
  key.n = a.n;
  key.k = a.k;
  key.a_type = static_cast<int>(a.a_type);
  key.b_type = static_cast<int>(a.b_format);
  key.out_type = static_cast<int>(a.out_type);
  key.a_mode = a.a_scale_mode;
  key.b_mode = a.b_scale_mode;
  key.bias = a.bias != nullptr;
  return key;
}

GpuStatus FindAlgo(cublasLtHandle_t h, const AlgoKey& key, const LtDescs& d, AlgoEntry* out) {
  static std::mutex mu;
  static auto* cache = new std::unordered_map<AlgoKey, AlgoEntry, AlgoKeyHash>();
  {
    std::lock_guard<std::mutex> lock(mu);
    if (auto it = cache->find(key); it != cache->end()) {
      *out = it->second;
      return {};
    }
  }
  cublasLtMatmulPreference_t pref = nullptr;
  FP8OPS_LT_CHECK(cublasLtMatmulPreferenceCreate(&pref));
  size_t max_ws = kLtMaxWorkspace;
  cublasStatus_t s = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &max_ws,
                                                          sizeof max_ws);
  cublasLtMatmulHeuristicResult_t res{};
  int found = 0;
  if (s == CUBLAS_STATUS_SUCCESS) {
    s = cublasLtMatmulAlgoGetHeuristic(h, d.op, d.a, d.b, d.c, d.c, pref, 1, &res, &found);
  }
  cublasLtMatmulPreferenceDestroy(pref);
  AlgoEntry e;
  // An unsupported combination shows up as NOT_SUPPORTED / INVALID_VALUE or as zero results.
  if (s == CUBLAS_STATUS_SUCCESS && found > 0 && res.state == CUBLAS_STATUS_SUCCESS) {
    e.ok = true;
    e.algo = res.algo;
    e.workspace = res.workspaceSize;
  } else if (s != CUBLAS_STATUS_SUCCESS && s != CUBLAS_STATUS_NOT_SUPPORTED && s != CUBLAS_STATUS_INVALID_VALUE) {
    GpuStatus st;
    st.cublas = s;
    st.where = "cublasLtMatmulAlgoGetHeuristic";
    return st;
  }
  std::lock_guard<std::mutex> lock(mu);
  if (cache->size() > 4096) cache->clear();  // dynamic shapes: keep the cache bounded
  (*cache)[key] = e;
  *out = e;
  return {};
}

enum class LtMode { kNone, kBlock128x128, k1x128, kOuterVector };

// cuBLASLt's BLK128x128_32F weight scales gave wrong products from the second 128-row block of
// N on when K / 128 is not a multiple of 4 (K = 256, M = 200 and 1100, N = 1000 to 9000; on an
// H200 with cuBLASLt 13.1, test CublasLtLargerRaggedM; M = 33 was right): as if it read the
// [N/128, K/128] scales with rows padded to 4 floats. Those problems take our wgmma kernel (sm_90)
// or the streaming kernel, which read the scales as the op has them.
bool LtBlockScalesOk(const GemmLaunchArgs& a) { return NumBlocks(a.k, 128) % 4 == 0; }

LtMode ChooseLtMode(const GemmLaunchArgs& a, const GemmOptions& o) {
  if (!o.allow_cublaslt || !IsFp8DType(a.a_type)) return LtMode::kNone;
  if (a.m < o.min_m_for_cublaslt || a.m == 0 || a.n == 0 || a.k == 0) return LtMode::kNone;
  if (a.a_type == DType::kE5M2 && a.b_format == Fp8Format::kE5M2) return LtMode::kNone;  // no E5M2 x E5M2
  if (a.k % 16 != 0) return LtMode::kNone;  // 16-byte leading dimensions
  const bool a_whole = a.a_block == 0 || a.a_block >= a.k;
  const bool b_whole_k = a.block_k == 0 || a.block_k >= a.k;
  if (a_whole && b_whole_k) return LtMode::kOuterVector;
  // NOTE: block modes only for K a multiple of 128: a partial last K block is exactly the case
  // block-FP8 kernels have got wrong; the streaming kernel handles it.
  if (a.k % 128 != 0 || a.a_block != 128 || a.block_k != 128) return LtMode::kNone;
  if (a.block_n == 128) return LtBlockScalesOk(a) ? LtMode::kBlock128x128 : LtMode::kNone;
  if (a.block_n == 1) return LtMode::k1x128;
  return LtMode::kNone;
}

GemmPath PathOf(LtMode m) {
  switch (m) {
    case LtMode::kBlock128x128: return GemmPath::kLtBlock128x128;
    case LtMode::k1x128: return GemmPath::kLt1x128;
    default: return GemmPath::kLtOuterVector;
  }
}

// Bytes of the re-laid-out scales: [A's, B's].
void ScaleBytes(const GemmLaunchArgs& a, LtMode mode, size_t* a_bytes, size_t* b_bytes) {
  const int64_t kb = NumBlocks(a.k, 128);
  *a_bytes = mode == LtMode::kOuterVector ? 0 : AlignUp(sizeof(float) * a.m * kb);
  *b_bytes = mode == LtMode::kBlock128x128 ? 0
             : mode == LtMode::k1x128      ? AlignUp(sizeof(float) * a.n * kb)
                                           : AlignUp(sizeof(float) * a.n);
}

LtMatmulArgs ToLt(const GemmLaunchArgs& a, LtMode mode, const float* a_scale, const float* b_scale) {
  LtMatmulArgs l;
  l.m = a.m;
  l.n = a.n;
  l.k = a.k;
  l.a = a.a;
  l.a_type = a.a_type;
  l.b = a.b;
  l.b_format = a.b_format;
  l.bias = a.bias;
  l.out_type = a.out_type;
  l.y = a.y;
  l.a_scale = a_scale;
  l.b_scale = b_scale;
  switch (mode) {
    case LtMode::kBlock128x128:
      l.b_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_BLK128x128_32F;
      l.a_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      break;
    case LtMode::k1x128:
      l.b_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      l.a_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_VEC128_32F;
      break;
    default:
      l.b_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      l.a_scale_mode = CUBLASLT_MATMUL_MATRIX_SCALE_OUTER_VEC_32F;
      break;
  }
  return l;
}

LtMode ModeOf(GemmPath p) {
  switch (p) {
    case GemmPath::kLtBlock128x128: return LtMode::kBlock128x128;
    case GemmPath::kLt1x128: return LtMode::k1x128;
    case GemmPath::kLtOuterVector: return LtMode::kOuterVector;
    default: return LtMode::kNone;
  }
}

}  // namespace

const char* GemmPathName(GemmPath p) {
  switch (p) {
    case GemmPath::kGemvTensorCoreBulk:
      return GemvVariantName(GemvVariant::kTensorCoreBulk);
    case GemmPath::kGemvTensorCore: return GemvVariantName(GemvVariant::kTensorCore);
    case GemmPath::kGemvVector: return GemvVariantName(GemvVariant::kVector);
    case GemmPath::kGemvScalar: return GemvVariantName(GemvVariant::kScalar);
    case GemmPath::kLtBlock128x128: return "cublaslt_blk128x128";
    case GemmPath::kLt1x128: return "cublaslt_vec128";
    case GemmPath::kLtOuterVector: return "cublaslt_outer_vec";
    case GemmPath::kWeightOnlyMma:
      return "wo_mma";
    case GemmPath::kW8A8Wgmma:
      return "wgmma_blk128";
  }
  return "?";
}

GpuStatus CudaStatus(cudaError_t e, const char* where) {
  GpuStatus s;
  s.cuda = e;
  s.where = e == cudaSuccess ? "" : where;
  return s;
}

std::string GpuStatusMessage(const GpuStatus& s) {
  if (s.cuda != cudaSuccess) {
    return std::string("CUDA error in ") + s.where + ": " + cudaGetErrorName(s.cuda) + " (" +
           cudaGetErrorString(s.cuda) + ")";
  }
  if (s.cublas != CUBLAS_STATUS_SUCCESS) {
    return std::string("cuBLASLt error in ") + s.where + ": " + cublasLtGetStatusName(s.cublas) + " (" +
           cublasLtGetStatusString(s.cublas) + ")";
  }
  return "OK";
}

GemmOptions GemmOptions::FromEnv() {
  GemmOptions o;
  if (const char* v = std::getenv("FP8OPS_CUDA_NO_CUBLASLT"); v != nullptr && std::strcmp(v, "1") == 0) {
    o.allow_cublaslt = false;
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_MIN_M_CUBLASLT"); v != nullptr && *v != '\0') {
    o.min_m_for_cublaslt = std::strtoll(v, nullptr, 10);
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_MIN_M_WO"); v != nullptr && *v != '\0') {
    o.min_m_for_wo = std::strtoll(v, nullptr, 10);
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_NO_WGMMA");
      v != nullptr && std::strcmp(v, "1") == 0) {
    o.allow_wgmma = false;
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_MIN_M_WGMMA"); v != nullptr && *v != '\0') {
    o.min_m_for_wgmma = std::strtoll(v, nullptr, 10);
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_WGMMA_MAX_TILES"); v != nullptr && *v != '\0') {
    o.max_tiles_for_wgmma = std::strtoll(v, nullptr, 10);
  }
  if (const char* v = std::getenv("FP8OPS_CUDA_WGMMA_MAX_K"); v != nullptr && *v != '\0') {
    o.max_k_for_wgmma = std::strtoll(v, nullptr, 10);
  }
  return o;
}

GpuStatus LtFp8Matmul(const LtMatmulArgs& a, void* workspace, size_t workspace_bytes, cudaStream_t stream,
                      size_t* workspace_needed) {
  cublasLtHandle_t h = nullptr;
  if (GpuStatus s = LtHandle(&h); !s.ok()) return s;
  int dev = 0;
  if (cudaError_t e = cudaGetDevice(&dev); e != cudaSuccess) return CudaStatus(e, "cudaGetDevice");
  const AlgoKey key = KeyOf(dev, a);
  // Descriptors and algorithm per problem, kept per thread: a call for a known problem only points
  // the descriptor at this call's scales and bias (the per-call cost was two rounds of ~12
  // descriptor calls plus a heuristic lookup). Per thread because the pointers are set on the
  // cached descriptor; never freed (see LtHandle).
  struct Cached {
    LtDescs d;
    AlgoEntry e;
  };
  thread_local auto* descs =
      new std::unordered_map<AlgoKey, std::unique_ptr<Cached>, AlgoKeyHash>();
  auto it = descs->find(key);
  if (it == descs->end()) {
    auto c = std::make_unique<Cached>();
    if (GpuStatus s = MakeDescs(a, &c->d); !s.ok()) {
      // Attributes this cuBLASLt does not know (older library) mean: not supported here.
      if (s.cublas == CUBLAS_STATUS_INVALID_VALUE) s.cublas = CUBLAS_STATUS_NOT_SUPPORTED;
      return s;
    }
    if (GpuStatus s = FindAlgo(h, key, c->d, &c->e); !s.ok()) return s;
    if (descs->size() > 1024) descs->clear();  // dynamic shapes: keep the cache bounded
    it = descs->emplace(key, std::move(c)).first;
  } else {
    const LtDescs& d = it->second->d;
    const void* sa = a.b_scale;
    const void* sb = a.a_scale;
    FP8OPS_LT_CHECK(
        cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_A_SCALE_POINTER, &sa, sizeof sa));
    FP8OPS_LT_CHECK(
        cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_B_SCALE_POINTER, &sb, sizeof sb));
    if (a.bias != nullptr) {
      FP8OPS_LT_CHECK(cublasLtMatmulDescSetAttribute(d.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER,
                                                     &a.bias, sizeof a.bias));
    }
  }
  const LtDescs& d = it->second->d;
  const AlgoEntry e = it->second->e;
  if (!e.ok) {
    GpuStatus s;
    s.cublas = CUBLAS_STATUS_NOT_SUPPORTED;
    s.where = "cublasLtMatmulAlgoGetHeuristic (no algorithm)";
    return s;
  }
  if (workspace_needed != nullptr) {  // query only
    *workspace_needed = e.workspace;
    return {};
  }
  if (workspace_bytes < e.workspace) return CudaStatus(cudaErrorInvalidValue, "LtFp8Matmul (workspace too small)");
  const float alpha = 1.0f, beta = 0.0f;
  // cuBLASLt's A = our B (weights), its B = our A; C = D (beta = 0).
  FP8OPS_LT_CHECK(cublasLtMatmul(h, d.op, &alpha, a.b, d.a, a.a, d.b, &beta, a.y, d.c, a.y, d.c, &e.algo, workspace,
                                 e.workspace, stream));
  return {};
}

static GemmPath GemvPath(const GemmLaunchArgs& a) {
  switch (ResolveGemvVariant(a)) {
    case GemvVariant::kTensorCoreBulk:
      return GemmPath::kGemvTensorCoreBulk;
    case GemvVariant::kTensorCore: return GemmPath::kGemvTensorCore;
    case GemvVariant::kVector: return GemmPath::kGemvVector;
    default: return GemmPath::kGemvScalar;
  }
}

// a.quantize_a: the FP8 problem after LaunchQuantizeFp8 into `codes` and `scales`.
static GemmLaunchArgs QuantizedA(const GemmLaunchArgs& a, const uint8_t* codes,
                                 const float* scales) {
  GemmLaunchArgs q = a;
  q.quantize_a = false;
  q.a = codes;
  q.a_type = ToDType(a.a_quant_format);
  q.a_scale = scales;
  return q;
}

// Bytes of A's codes and scales in the workspace.
static size_t QuantBytes(const GemmLaunchArgs& a) {
  return AlignUp(static_cast<size_t>(a.m * a.k)) +
         AlignUp(sizeof(float) * static_cast<size_t>(a.m * NumBlocks(a.k, a.a_block)));
}

static bool UseFusedGemv(const GemmLaunchArgs& a, const GemmOptions& o) {
  return a.m < o.min_m_for_cublaslt && FusedGemvApplies(a);
}

GpuStatus PlanFp8Gemm(const GemmLaunchArgs& a, const GemmOptions& o, GemmPlan* plan) {
  plan->quantize_first = false;
  plan->quant_bytes = 0;
  plan->path = GemvPath(a);
  plan->workspace_bytes = 0;
  if (a.quantize_a) {
    if (UseFusedGemv(a, o)) return {};
    // Plan the FP8 problem with stand-in operands of the same alignment (A's own buffer; B's
    // scales, as the cuBLASLt heuristic rejects null scale pointers).
    if (GpuStatus s =
            PlanFp8Gemm(QuantizedA(a, static_cast<const uint8_t*>(a.a), a.b_scale), o, plan);
        !s.ok()) {
      return s;
    }
    plan->quantize_first = true;
    plan->quant_bytes = QuantBytes(a);
    plan->workspace_bytes += plan->quant_bytes;
    return {};
  }
  if (o.min_m_for_wo > 0 && a.m >= o.min_m_for_wo && WoMmaApplies(a)) {
    plan->path = GemmPath::kWeightOnlyMma;
    return {};
  }
  const int64_t tiles = ((a.m + 127) / 128) * ((a.n + 127) / 128);
  const bool wgmma_faster = (o.max_tiles_for_wgmma <= 0 || tiles <= o.max_tiles_for_wgmma) &&
                            (o.max_k_for_wgmma <= 0 || a.k <= o.max_k_for_wgmma);
  const LtMode mode = ChooseLtMode(a, o);
  // Where cuBLASLt does not take the problem, our wgmma kernel beats the streaming one.
  if (o.allow_wgmma && a.m >= o.min_m_for_wgmma && (wgmma_faster || mode == LtMode::kNone) &&
      W8A8WgmmaApplies(a)) {
    plan->path = GemmPath::kW8A8Wgmma;
    return {};
  }
  if (mode == LtMode::kNone) return {};
  size_t need = 0;
  // NOTE: the heuristic rejects null scale pointers (CUBLAS_STATUS_INVALID_VALUE, seen on the
  // H100 with cuBLASLt 13.1): pass the inputs' own (valid, not yet re-laid-out) scale pointers.
  GpuStatus s = LtFp8Matmul(ToLt(a, mode, a.a_scale, a.b_scale), nullptr, 0, nullptr, &need);
  if (s.cublas == CUBLAS_STATUS_NOT_SUPPORTED) return {};  // the streaming kernel runs
  if (!s.ok()) return s;
  size_t a_bytes = 0, b_bytes = 0;
  ScaleBytes(a, mode, &a_bytes, &b_bytes);
  plan->path = PathOf(mode);
  plan->workspace_bytes = AlignUp(need) + a_bytes + b_bytes;
  return {};
}

// The cuBLASLt paths: A's (and for 1x128 B's) scales re-laid out into the end of the workspace,
// then cuBLASLt. a_scale_k_major: A's scales already in cuBLASLt's [K/128, M] layout (written so
// by the fused quantization), or null. CUBLAS_STATUS_NOT_SUPPORTED: cuBLASLt refused at run time.
static GpuStatus RunLt(const GemmLaunchArgs& a, LtMode mode, const float* a_scale_k_major,
                       void* workspace, size_t workspace_bytes, cudaStream_t stream) {
  size_t a_bytes = 0, b_bytes = 0;
  ScaleBytes(a, mode, &a_bytes, &b_bytes);
  if (workspace_bytes < a_bytes + b_bytes)
    return CudaStatus(cudaErrorInvalidValue, "RunFp8Gemm (workspace)");
  const size_t lt_bytes = workspace_bytes - a_bytes - b_bytes;
  char* base = static_cast<char*>(workspace);
  float* a_scale = reinterpret_cast<float*>(base + lt_bytes);
  float* b_scale = reinterpret_cast<float*>(base + lt_bytes + a_bytes);
  const int64_t kb = NumBlocks(a.k, 128);
  cudaError_t e = cudaSuccess;
  const float* lt_a_scale = a.a_scale;
  const float* lt_b_scale = a.b_scale;
  if (mode == LtMode::kBlock128x128 || mode == LtMode::k1x128) {
    if (a_scale_k_major != nullptr) {
      lt_a_scale = a_scale_k_major;
    } else {
      e = LaunchTransposeF32(a.a_scale, a.m, kb, a_scale, stream);  // [M, K/128] -> [K/128, M]
      lt_a_scale = a_scale;
    }
    if (e == cudaSuccess && mode == LtMode::k1x128) {
      e = LaunchTransposeF32(a.b_scale, a.n, kb, b_scale, stream);  // [N, K/128] -> [K/128, N]
      lt_b_scale = b_scale;
    }
  } else {
    e = LaunchExpandBlocks(a.b_scale, a.n, EffectiveBlock(a.n, a.block_n), b_scale, stream);
    lt_b_scale = b_scale;
  }
  if (e != cudaSuccess) return CudaStatus(e, "scale re-layout kernel");
  return LtFp8Matmul(ToLt(a, mode, lt_a_scale, lt_b_scale), lt_bytes > 0 ? workspace : nullptr,
                     lt_bytes, stream, nullptr);
}

GpuStatus RunFp8Gemm(const GemmLaunchArgs& a, const GemmPlan& plan, void* workspace, size_t workspace_bytes,
                     cudaStream_t stream, GemmPath* used) {
  if (a.quantize_a && plan.quantize_first) {
    if (workspace_bytes < plan.workspace_bytes)
      return CudaStatus(cudaErrorInvalidValue, "RunFp8Gemm (workspace)");
    auto* codes = static_cast<uint8_t*>(workspace);
    auto* scales = reinterpret_cast<float*>(codes + AlignUp(static_cast<size_t>(a.m * a.k)));
    GemmPlan rest = plan;
    rest.quantize_first = false;
    rest.quant_bytes = 0;
    rest.workspace_bytes -= plan.quant_bytes;
    uint8_t* rest_ws = plan.workspace_bytes > plan.quant_bytes ? codes + plan.quant_bytes : nullptr;
    const size_t rest_bytes = workspace_bytes - plan.quant_bytes;
    const GemmLaunchArgs w8a8 = QuantizedA(a, codes, scales);
    QuantizeLaunchArgs qa;
    qa.rows = a.m;
    qa.k = a.k;
    qa.x = a.a;
    qa.x_type = a.a_type;
    qa.block_size = a.a_block;
    qa.params = {a.a_quant_format, /*saturate=*/true, /*scale_pow2=*/false};
    qa.y = codes;
    qa.y_scale = scales;
    // For cuBLASLt's VEC128 activation scales the quantization writes them in its [K/128, M]
    // layout directly: no transpose launch (that the two-node form cannot avoid).
    const LtMode mode = ModeOf(plan.path);
    qa.y_scale_k_major = mode == LtMode::kBlock128x128 || mode == LtMode::k1x128;
    if (cudaError_t e = LaunchQuantizeFp8(qa, stream); e != cudaSuccess) {
      return CudaStatus(e, "LaunchQuantizeFp8 (a_quant_type)");
    }
    if (qa.y_scale_k_major) {
      GpuStatus s = RunLt(w8a8, mode, scales, rest_ws, rest_bytes, stream);
      if (s.ok()) {
        if (used != nullptr) *used = plan.path;
        return s;
      }
      if (s.cublas != CUBLAS_STATUS_NOT_SUPPORTED) return s;
      // cuBLASLt refused at run time: the streaming kernel reads the op's [M, K/128] scales.
      qa.y_scale_k_major = false;
      if (cudaError_t e = LaunchQuantizeFp8(qa, stream); e != cudaSuccess) {
        return CudaStatus(e, "LaunchQuantizeFp8 (a_quant_type)");
      }
      if (used != nullptr) *used = GemvPath(w8a8);
      return CudaStatus(LaunchFp8Gemv(w8a8, stream), "LaunchFp8Gemv");
    }
    return RunFp8Gemm(w8a8, rest, rest_ws, rest_bytes, stream, used);
  }
  if (plan.path == GemmPath::kWeightOnlyMma && WoMmaApplies(a)) {
    if (used != nullptr) *used = plan.path;
    return CudaStatus(LaunchFp8GemmWo(a, stream), "LaunchFp8GemmWo");
  }
  if (plan.path == GemmPath::kW8A8Wgmma && W8A8WgmmaApplies(a)) {
    if (used != nullptr) *used = plan.path;
    return CudaStatus(LaunchFp8GemmWgmma(a, stream), "LaunchFp8GemmWgmma");
  }
  const LtMode mode = ModeOf(plan.path);
  if (mode != LtMode::kNone) {
    GpuStatus s = RunLt(a, mode, nullptr, workspace, workspace_bytes, stream);
    if (s.ok()) {
      if (used != nullptr) *used = plan.path;
      return s;
    }
    if (s.cublas != CUBLAS_STATUS_NOT_SUPPORTED) return s;
  }
  if (used != nullptr) *used = GemvPath(a);
  return CudaStatus(LaunchFp8Gemv(a, stream), "LaunchFp8Gemv");
}

}  // namespace fp8ops::cuda
