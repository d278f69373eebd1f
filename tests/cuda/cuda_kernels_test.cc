// The CUDA kernels against the reference kernels (ops/reference), on random shapes and data.
// QuantizeFP8 and DequantizeFP8 must match bit for bit; FP8GEMM within the numeric policy's
// bound (float32 accumulation in another order, plus one rounding to out_type; looser on the
// cuBLASLt path, whose FP8 tensor-core products are summed at reduced precision inside each
// 128-long K block before the float32 promotion). Every test skips, with a message, when no
// usable GPU is present, so the binary lives in ctest on CPU-only CI.
#include <cuda_runtime_api.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "ops/cuda/fp8_gemm_cuda.h"
#include "ops/cuda/launch.h"
#include "ops/reference/reference_kernels.h"
#include "tests/common/gemm_test_data.h"

namespace fp8ops {
namespace {

using cuda::GemmPath;

// Why the GPU tests cannot run here; empty when they can.
std::string NoGpuReason() {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) return std::string("no usable CUDA device: ") + cudaGetErrorString(e);
  if (n == 0) return "no CUDA device";
  cudaDeviceProp prop{};
  if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) return "cudaGetDeviceProperties failed";
  if (prop.major * 10 + prop.minor < 89) {
    return "GPU " + std::string(prop.name) +
           " is older than sm_89 (no FP8): kernels are built for sm_89+";
  }
  return "";
}

#define SKIP_WITHOUT_GPU()                        \
  do {                                            \
    static const std::string why = NoGpuReason(); \
    if (!why.empty()) GTEST_SKIP() << why;        \
  } while (0)

#define CUDA_OK(call)                                                      \
  do {                                                                     \
    const cudaError_t _e = (call);                                         \
    ASSERT_EQ(_e, cudaSuccess) << #call << ": " << cudaGetErrorString(_e); \
  } while (0)

// A device buffer (freed at scope exit).
struct DevBuf {
  void* p = nullptr;
  size_t bytes = 0;
  explicit DevBuf(size_t n) : bytes(n) {
    if (n > 0 && cudaMalloc(&p, n) != cudaSuccess) p = nullptr;
  }
  template <typename T>
  static DevBuf From(const std::vector<T>& v) {
    DevBuf b(v.size() * sizeof(T));
    if (b.p != nullptr) cudaMemcpy(b.p, v.data(), b.bytes, cudaMemcpyHostToDevice);
    return b;
  }
  DevBuf(DevBuf&& o) noexcept : p(o.p), bytes(o.bytes) { o.p = nullptr; }
  DevBuf(const DevBuf&) = delete;
  ~DevBuf() {
    if (p != nullptr) cudaFree(p);
  }
  template <typename T>
  T* as() const {
    return static_cast<T*>(p);
  }
  std::vector<uint8_t> Download() const {
    std::vector<uint8_t> v(bytes);
    if (bytes > 0) cudaMemcpy(v.data(), p, bytes, cudaMemcpyDeviceToHost);
    return v;
  }
};

// ------------------------------------------------------------------------------- QuantizeFP8

struct QuantCase {
  int64_t rows, k, block;
  DType x_type;
  Fp8Format format;
  bool saturate, pow2;
  int static_kind;  // 0 dynamic, 1 per tensor, 2 per group
};

std::string Describe(const QuantCase& c) {
  return "rows=" + std::to_string(c.rows) + " k=" + std::to_string(c.k) +
         " block=" + std::to_string(c.block) + " x=" + DTypeName(c.x_type) +
         " fmt=" + Fp8FormatName(c.format) + " sat=" + std::to_string(c.saturate) +
         " pow2=" + std::to_string(c.pow2) + " static=" + std::to_string(c.static_kind);
}

// Random activations with outliers, all-zero groups, tiny (subnormal) values and specials.
std::vector<float> RandomActivations(int64_t rows, int64_t k, std::mt19937& rng, bool specials) {
  std::normal_distribution<float> nd(0.0f, 1.0f);
  std::uniform_real_distribution<float> ud(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (int64_t r = 0; r < rows; ++r) {
    // Rows of very different magnitudes (narrower without specials: float16 A must stay finite).
    const float row_scale =
        specials ? std::pow(10.0f, ud(rng) * 8.0f - 4.0f) : std::pow(10.0f, ud(rng) * 4.0f - 2.0f);
    const bool zero_row = rows > 2 && r == 1;
    for (int64_t i = 0; i < k; ++i) {
      float v = zero_row ? 0.0f : nd(rng) * row_scale;
      const float u = ud(rng);
      if (specials && !zero_row) {
        if (u < 0.002f)
          v = std::numeric_limits<float>::quiet_NaN();
        else if (u < 0.004f)
          v = std::numeric_limits<float>::infinity();
        else if (u < 0.006f)
          v = -std::numeric_limits<float>::infinity();
        else if (u < 0.010f)
          v = 1e-40f * nd(rng);  // float32 subnormal
        else if (u < 0.012f)
          v = -3e4f * row_scale;  // outlier
      }
      x[r * k + i] = v;
    }
  }
  return x;
}

void RunQuantCase(const QuantCase& c, std::mt19937& rng) {
  SCOPED_TRACE(Describe(c));
  const std::vector<float> xf = RandomActivations(c.rows, c.k, rng, /*specials=*/true);
  const std::vector<uint8_t> x = testing::FloatsAs(xf, c.x_type);
  const int64_t ng = NumBlocks(c.k, c.block);
  std::vector<float> static_scale;
  std::uniform_real_distribution<float> sd(1e-4f, 1.0f);
  if (c.static_kind == 1) static_scale = {sd(rng)};
  if (c.static_kind == 2) {
    static_scale.resize(static_cast<size_t>(c.rows * ng));
    for (auto& s : static_scale) s = sd(rng);
  }

  reference::QuantizeProblem p;
  p.rows = c.rows;
  p.k = c.k;
  p.x = x.data();
  p.x_type = c.x_type;
  p.block_size = c.block;
  p.params = {c.format, c.saturate, c.pow2};
  p.static_scale = static_scale.empty() ? nullptr : static_scale.data();
  p.static_scale_count = static_cast<int64_t>(static_scale.size());
  std::vector<uint8_t> want_y(static_cast<size_t>(c.rows * c.k));
  std::vector<float> want_s(static_cast<size_t>(c.rows * ng));
  p.y = want_y.data();
  p.y_scale = want_s.data();
  reference::QuantizeFp8(p, 0, c.rows);

  DevBuf dx = DevBuf::From(x);
  DevBuf dss = DevBuf::From(static_scale);
  DevBuf dy(want_y.size()), ds(want_s.size() * sizeof(float));
  if (dy.bytes) {
    CUDA_OK(cudaMemset(dy.p, 0xA5, dy.bytes));  // poison: every code must be written
  }
  if (ds.bytes) {
    CUDA_OK(cudaMemset(ds.p, 0xFF, ds.bytes));
  }
  cuda::QuantizeLaunchArgs a;
  a.rows = c.rows;
  a.k = c.k;
  a.x = dx.p;
  a.x_type = c.x_type;
  a.block_size = c.block;
  a.params = p.params;
  a.has_static_scale = c.static_kind != 0;
  if (c.static_kind == 1) a.static_scale_value = static_scale[0];
  if (c.static_kind == 2) a.static_scale = dss.as<float>();
  a.y = dy.as<uint8_t>();
  a.y_scale = ds.as<float>();
  CUDA_OK(cuda::LaunchQuantizeFp8(a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  const std::vector<uint8_t> got_y = dy.Download(), got_s_bytes = ds.Download();
  std::vector<float> got_s(want_s.size());
  if (!got_s.empty()) std::memcpy(got_s.data(), got_s_bytes.data(), got_s_bytes.size());

  int bad = 0;
  for (size_t i = 0; i < want_s.size() && bad < 5; ++i) {
    uint32_t w, g;
    std::memcpy(&w, &want_s[i], 4);
    std::memcpy(&g, &got_s[i], 4);
    if (w != g) {
      ADD_FAILURE() << "Y_scale[" << i << "]: got " << got_s[i] << " want " << want_s[i];
      ++bad;
    }
  }
  for (size_t i = 0; i < want_y.size() && bad < 10; ++i) {
    if (want_y[i] != got_y[i]) {
      ADD_FAILURE() << "Y[" << i << "] (x=" << xf[i] << "): got 0x" << std::hex << int(got_y[i])
                    << " want 0x" << int(want_y[i]) << std::dec;
      ++bad;
    }
  }
  if (c.static_kind != 0 || bad > 0) return;
  // The same with Y_scale written [groups][rows] (FP8GEMM's fused quantization for cuBLASLt).
  if (ds.bytes) CUDA_OK(cudaMemset(ds.p, 0xFF, ds.bytes));
  a.y_scale_k_major = true;
  CUDA_OK(cuda::LaunchQuantizeFp8(a, nullptr));
  CUDA_OK(cudaDeviceSynchronize());
  EXPECT_TRUE(dy.Download() == got_y) << "codes differ with k-major scales";
  const std::vector<uint8_t> k_major = ds.Download();
  for (int64_t i = 0; i < c.rows * ng; ++i) {
    float g;
    std::memcpy(&g, k_major.data() + 4 * ((i % ng) * c.rows + i / ng), 4);
    if (std::memcmp(&g, &want_s[i], 4) != 0) {
      ADD_FAILURE() << "k-major Y_scale of row " << i / ng << " group " << i % ng << ": got " << g
                    << " want " << want_s[i];
      return;
    }
  }
}

TEST(CudaQuantizeFp8, FastVariantShapesBitExact) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(1);
  // Groups of whole 16-byte vectors: teams of 8, 16 and 32 lanes, 1 to 8 vectors a lane.
  for (DType t : {DType::kFloat, DType::kFloat16, DType::kBFloat16}) {
    for (int64_t block : {int64_t{128}, int64_t{32}, int64_t{64}, int64_t{256}, int64_t{1024}}) {
      for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
        for (bool sat : {true, false}) {
          RunQuantCase({7, 2048, block, t, f, sat, false, 0}, rng);
        }
      }
    }
    RunQuantCase({3, 4096, 0, t, Fp8Format::kE4M3FN, true, false, 0}, rng);   // whole row of 4096
    RunQuantCase({33, 256, 128, t, Fp8Format::kE4M3FN, true, true, 0}, rng);  // pow2 scales
  }
}

TEST(CudaQuantizeFp8, GenericVariantRaggedAndOddBitExact) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(2);
  const int64_t ks[] = {1, 7, 100, 129, 300, 1000, 4001};
  const int64_t blocks[] = {128, 0, 100, 3, 16};
  for (int64_t k : ks) {
    for (int64_t block : blocks) {
      const DType t = (k + block) % 3 == 0   ? DType::kFloat
                      : (k + block) % 3 == 1 ? DType::kFloat16
                                             : DType::kBFloat16;
      const Fp8Format f = k % 2 ? Fp8Format::kE4M3FN : Fp8Format::kE5M2;
      RunQuantCase({5, k, block, t, f, block % 2 == 0, k % 3 == 0, 0}, rng);
    }
  }
}

TEST(CudaQuantizeFp8, StaticScalesAndEmptyInputs) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(3);
  for (int kind : {1, 2}) {
    for (bool sat : {true, false}) {
      RunQuantCase({4, 512, 128, DType::kBFloat16, Fp8Format::kE4M3FN, sat, false, kind}, rng);
      RunQuantCase({4, 300, 128, DType::kFloat, Fp8Format::kE5M2, sat, false, kind}, rng);
    }
  }
  RunQuantCase({0, 256, 128, DType::kFloat, Fp8Format::kE4M3FN, true, false, 0}, rng);  // no rows
  RunQuantCase({3, 0, 0, DType::kFloat, Fp8Format::kE4M3FN, true, false, 0},
               rng);  // K = 0: scale 1
  RunQuantCase({3, 0, 128, DType::kFloat, Fp8Format::kE4M3FN, true, false, 0},
               rng);  // K = 0: no groups
}

TEST(CudaQuantizeFp8, RandomCasesBitExact) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(4);
  std::uniform_int_distribution<int> pick(0, 1 << 20);
  const int64_t ks[] = {1, 16, 64, 128, 200, 256, 384, 512, 1000, 1024};
  const int64_t blocks[] = {128, 0, 32, 64, 256, 100};
  const DType types[] = {DType::kFloat, DType::kFloat16, DType::kBFloat16};
  for (int i = 0; i < 120; ++i) {
    QuantCase c{1 + pick(rng) % 40,
                ks[pick(rng) % 10],
                blocks[pick(rng) % 6],
                types[pick(rng) % 3],
                pick(rng) % 2 ? Fp8Format::kE4M3FN : Fp8Format::kE5M2,
                pick(rng) % 4 != 0,
                pick(rng) % 4 == 0,
                pick(rng) % 5 == 0 ? 2 : 0};
    RunQuantCase(c, rng);
    if (HasFailure()) return;
  }
}

// -------------------------------------------------------------------------------- FP8GEMM

using testing::GemmCase;

std::string Describe(const GemmCase& c) {
  return "m=" + std::to_string(c.m) + " n=" + std::to_string(c.n) + " k=" + std::to_string(c.k) +
         " A=" + DTypeName(c.a_type) + " B=" + Fp8FormatName(c.b_format) + " blocks=(" +
         std::to_string(c.block_n) + "," + std::to_string(c.block_k) + ",a" +
         std::to_string(c.a_block) + ") out=" + DTypeName(c.out_type) + (c.bias ? " bias" : "");
}

double OutEps(DType t) {
  return t == DType::kFloat ? 0x1p-24 : t == DType::kFloat16 ? 0x1p-11 : 0x1p-8;
}

// The inputs, the reference problem over them and its result.
struct GemmData : testing::GemmInputs {
  reference::GemmProblem p;
  std::vector<float> want;    // reference output, as float
  std::vector<float> absdot;  // sum_k |a| |b| per output
};

GemmData GemmDataOf(const GemmCase& c, const testing::GemmInputs& inputs);

GemmData MakeGemm(const GemmCase& c, std::mt19937& rng) {
  const std::vector<float> x = RandomActivations(c.m, c.k, rng, /*specials=*/false);
  return GemmDataOf(c, testing::MakeGemmInputs(c, x, rng));
}

GemmData GemmDataOf(const GemmCase& c, const testing::GemmInputs& inputs) {
  GemmData d;
  static_cast<testing::GemmInputs&>(d) = inputs;
  reference::GemmProblem& p = d.p;
  p = testing::ReferenceProblem(c, d);
  std::vector<uint8_t> y(static_cast<size_t>(c.m * c.n * DTypeSize(c.out_type)));
  p.y = y.data();
  reference::Fp8Gemm(p, 0, c.m, 0, c.n);
  d.want.resize(static_cast<size_t>(c.m * c.n));
  LoadAsFloat(y.data(), c.out_type, c.m * c.n, d.want.data());
  // |a| . |b| per output: the scale of the accumulation error.
  std::vector<float> arows(static_cast<size_t>(c.m * c.k)), brow(static_cast<size_t>(c.k));
  for (int64_t i = 0; i < c.m; ++i) reference::DequantizeARow(p, i, arows.data() + i * c.k);
  d.absdot.assign(static_cast<size_t>(c.m * c.n), 0.0f);
  for (int64_t j = 0; j < c.n; ++j) {
    reference::DequantizeBRow(p, j, brow.data());
    for (int64_t i = 0; i < c.m; ++i) {
      double s = 0;
      for (int64_t kk = 0; kk < c.k; ++kk) s += std::fabs(double(arows[i * c.k + kk]) * brow[kk]);
      d.absdot[i * c.n + j] = static_cast<float>(s);
    }
  }
  return d;
}

// Compares a device result with the reference; acc_eps is the accumulation error allowed per
// unit of |a|.|b|.
void CheckGemm(const GemmCase& c, const GemmData& d, const std::vector<uint8_t>& got_bytes,
               double acc_eps, const char* what) {
  std::vector<float> got(d.want.size());
  LoadAsFloat(got_bytes.data(), c.out_type, c.m * c.n, got.data());
  const double eps = OutEps(c.out_type);
  double num = 0, den = 0;
  int bad = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    const double want = d.want[i], g = got[i];
    const double tol = 2 * eps * std::fabs(want) + acc_eps * d.absdot[i] + 1e-30;
    if (!(std::fabs(g - want) <= tol) && bad < 5) {  // NaN (unwritten poison) fails too
      ADD_FAILURE() << what << ": Y[" << i / c.n << "," << i % c.n << "] = " << g << ", reference "
                    << want << " (tolerance " << tol << ")";
      ++bad;
    }
    num += (g - want) * (g - want);
    den += want * want;
  }
  if (den > 0) {
    EXPECT_LE(std::sqrt(num / den), 2 * eps + 100 * acc_eps) << what << ": relative L2 error";
  }
}

// Launches of the W8A8 wgmma kernel checked by RunGemmCase (so that tests can tell it ran), and
// the tiles it runs with.
int g_wgmma_runs = 0;
constexpr cuda::W8A8Tile kW8A8Tiles[] = {cuda::W8A8Tile::k128x128, cuda::W8A8Tile::k128x64,
                                         cuda::W8A8Tile::k128x256, cuda::W8A8Tile::k128x128_db};
// The same for the bulk-copy streaming kernel (Hopper).
int g_gemv_bulk_runs = 0;
int g_gemv_wo_bulk_runs = 0;  // the same kernel family with float16 / bfloat16 A

// Runs the dispatcher (cuBLASLt where it applies) and the streaming kernel on one case.
// Returns the path the dispatcher took.
// A case's inputs on the device and its launch arguments (a_scale absent when empty).
struct DeviceGemm {
  DevBuf a, a_scale, b, b_scale, bias, y;
  cuda::GemmLaunchArgs g;
  DeviceGemm(const GemmCase& c, const testing::GemmInputs& d)
      : a(DevBuf::From(d.a)),
        a_scale(DevBuf::From(d.a_scale)),
        b(DevBuf::From(d.b)),
        b_scale(DevBuf::From(d.b_scale)),
        bias(DevBuf::From(d.bias)),
        y(static_cast<size_t>(c.m * c.n * DTypeSize(c.out_type))) {
    g.m = c.m;
    g.n = c.n;
    g.k = c.k;
    g.a = a.p;
    g.a_type = c.a_type;
    g.a_scale = a_scale.as<float>();
    g.a_block = c.a_block;
    g.b = b.as<uint8_t>();
    g.b_format = c.b_format;
    g.b_scale = b_scale.as<float>();
    g.block_n = c.block_n;
    g.block_k = c.block_k;
    g.bias = c.bias ? bias.p : nullptr;
    g.out_type = c.out_type;
    g.y = y.p;
  }
};

GemmPath RunGemmCase(const GemmCase& c, std::mt19937& rng) {
  SCOPED_TRACE(Describe(c));
  const GemmData d = MakeGemm(c, rng);
  DeviceGemm dev(c, d);
  DevBuf& dy = dev.y;
  const cuda::GemmLaunchArgs& g = dev.g;

  // 1. The dispatcher.
  cuda::GemmPlan plan;
  cuda::GpuStatus st = cuda::PlanFp8Gemm(g, cuda::GemmOptions{}, &plan);
  EXPECT_TRUE(st.ok()) << cuda::GpuStatusMessage(st);
  DevBuf ws(plan.workspace_bytes);
  GemmPath used = plan.path;
  if (dy.bytes) {
    EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);  // NaN poison
  }
  st = cuda::RunFp8Gemm(g, plan, ws.p, plan.workspace_bytes, nullptr, &used);
  EXPECT_TRUE(st.ok()) << cuda::GpuStatusMessage(st);
  EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
  // FP8 tensor-core paths (cuBLASLt, the mma variant) sum products at reduced precision inside
  // each K block; the CUDA-core variants are float32 throughout.
  auto acc_eps = [](bool tensor_core) { return tensor_core ? 1e-3 : 1e-5; };
  // The weight-only tensor-core kernel: exact products, float32 tensor-core sums (Hopper's may
  // truncate), so it is held to the spec's bound (docs/OPERATORS.md 1.5): 2 (K + 2) 2^-24.
  const double wo_eps = 2.0 * static_cast<double>(c.k + 2) * 0x1p-24;
  // The weight-only bulk-copy streaming kernel (float16 / bfloat16 A): the same bound.
  const bool fp8_a = IsFp8DType(c.a_type);
  CheckGemm(c, d, dy.Download(),
            used == GemmPath::kWeightOnlyMma || (used == GemmPath::kGemvTensorCoreBulk && !fp8_a)
                ? wo_eps
                : acc_eps(cuda::IsCublasLtPath(used) || used == GemmPath::kGemvTensorCore ||
                          used == GemmPath::kGemvTensorCoreBulk || used == GemmPath::kW8A8Wgmma),
            cuda::GemmPathName(used));

  // 1c. The W8A8 wgmma kernel (sm_90) with every tile shape, wherever it applies (any M).
  if (cuda::W8A8WgmmaApplies(g)) {
    for (cuda::W8A8Tile tile : kW8A8Tiles) {
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
      EXPECT_EQ(cuda::LaunchFp8GemmWgmma(g, nullptr, tile), cudaSuccess);
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const std::string what = std::string("wgmma_blk128 ") + cuda::W8A8TileName(tile);
      CheckGemm(c, d, dy.Download(), acc_eps(true), what.c_str());
      ++g_wgmma_runs;
    }
  }

  // 1b. The weight-only kernel with every tile shape, wherever it applies (any M).
  if (cuda::WoMmaApplies(g)) {
    // FP8OPS_TEST_WO_TILES=old,v2,wg: the kernel families to run (default all).
    const char* fam_env = std::getenv("FP8OPS_TEST_WO_TILES");
    const std::string fam = fam_env ? fam_env : "old,v2,wg";
    std::vector<cuda::WoTile> tiles;
    const struct {
      const char* family;
      cuda::WoTile tile;
    } kAll[] = {{"old", cuda::WoTile::k128x128},    {"old", cuda::WoTile::k64x64},
                {"v2", cuda::WoTile::k128x128_k64}, {"v2", cuda::WoTile::k128x128_k128},
                {"v2", cuda::WoTile::k64x64_k128},  {"v2", cuda::WoTile::k64x128_k128},
                {"wg", cuda::WoTile::kWg128x128},   {"wg", cuda::WoTile::kWg64x64}};
    for (const auto& e : kAll) {
      if (fam.find(e.family) != std::string::npos) tiles.push_back(e.tile);
    }
    for (cuda::WoTile tile : tiles) {
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
      EXPECT_EQ(cuda::LaunchFp8GemmWo(g, nullptr, tile), cudaSuccess);
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const std::string what = std::string("wo_mma ") + cuda::WoTileName(tile);
      CheckGemm(c, d, dy.Download(), wo_eps, what.c_str());
    }
  }

  // 2. Every variant of the streaming kernel that applies (it is also the fallback for any shape).
  std::vector<cuda::GemvVariant> ran;
  for (cuda::GemvVariant want : {cuda::GemvVariant::kTensorCoreBulk, cuda::GemvVariant::kTensorCore,
                                 cuda::GemvVariant::kVector, cuda::GemvVariant::kScalar}) {
    const cuda::GemvVariant v = cuda::ResolveGemvVariant(g, want);
    if (std::find(ran.begin(), ran.end(), v) != ran.end()) continue;
    ran.push_back(v);
    if (dy.bytes) {
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
    }
    EXPECT_EQ(cuda::LaunchFp8Gemv(g, nullptr, v), cudaSuccess);
    EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
    CheckGemm(c, d, dy.Download(),
              v == cuda::GemvVariant::kTensorCoreBulk && !fp8_a
                  ? wo_eps
                  : acc_eps(v == cuda::GemvVariant::kTensorCore ||
                            v == cuda::GemvVariant::kTensorCoreBulk),
              cuda::GemvVariantName(v));
    if (v == cuda::GemvVariant::kTensorCoreBulk) ++(fp8_a ? g_gemv_bulk_runs : g_gemv_wo_bulk_runs);
  }
  return used;
}

TEST(CudaFp8Gemm, DecodeShapesAllGranularities) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(10);
  const int64_t ms[] = {1, 2, 3, 5, 8, 15};
  struct KN {
    int64_t k, n;
  };
  const KN kns[] = {{128, 128}, {256, 200}, {4096, 64}, {400, 48},
                    {401, 43},  {16, 1},    {1, 1},     {0, 5}};
  struct Gran {
    int64_t bn, bk, ab;
  };
  const Gran grans[] = {{128, 128, 128}, {0, 0, 0},     {1, 0, 0},    {1, 128, 128},
                        {64, 32, 32},    {100, 48, 48}, {0, 128, 128}};
  const DType a_types[] = {DType::kE4M3FN, DType::kBFloat16, DType::kFloat16, DType::kFloat,
                           DType::kE5M2};
  const DType outs[] = {DType::kBFloat16, DType::kFloat16, DType::kFloat};
  int i = 0;
  for (int64_t m : ms) {
    for (const KN& kn : kns) {
      for (const Gran& gr : grans) {
        ++i;
        const DType at = a_types[i % 5];
        const Fp8Format bf = i % 7 == 3 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
        RunGemmCase({m, kn.n, kn.k, gr.bn, gr.bk, gr.ab, at, bf, outs[i % 3], i % 4 == 1}, rng);
        if (HasFailure()) return;
      }
    }
  }
}

bool IsHopper();

struct BulkShape {
  int64_t m, n, k;
};

// Every shape with each output type (bfloat16, float16, float); make(shape, out, i) gives case i
// (counted from 1). Stops at the first failure.
template <typename Make>
void RunBulkShapes(const std::vector<BulkShape>& shapes, std::mt19937& rng, Make make) {
  int i = 0;
  for (const BulkShape& sh : shapes) {
    for (DType out : {DType::kBFloat16, DType::kFloat16, DType::kFloat}) {
      RunGemmCase(make(sh, out, ++i), rng);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

// Arguments at the bulk-copy kernels' limits: M = 1, K = 4096, 128x128 blocks and the most 16-row
// tiles of one wave (2 CTAs an SM); A and B 16-byte aligned (never read).
struct BulkLimitArgs {
  DevBuf a{16}, b{16};
  cuda::GemmLaunchArgs g;
  explicit BulkLimitArgs(DType a_type) {
    cudaDeviceProp prop{};
    EXPECT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
    g.m = 1;
    g.k = 4096;
    g.n = 32 * prop.multiProcessorCount;
    g.a_type = a_type;
    g.a_block = IsFp8DType(a_type) ? 128 : 0;
    g.block_n = 128;
    g.block_k = 128;
    g.a = a.p;
    g.b = static_cast<const uint8_t*>(b.p);
  }
};

// The bulk-copy kernel applies at those limits and not past them (a second wave of tiles, M = 9,
// K over three chunks), where `fallback` runs. Leaves l.g at M = 8, N = 64, K = 6272.
void ExpectBulkLimits(BulkLimitArgs& l, cuda::GemvVariant fallback) {
  cuda::GemmLaunchArgs& g = l.g;
  EXPECT_EQ(cuda::ResolveGemvVariant(g), cuda::GemvVariant::kTensorCoreBulk);
  g.n += 1;
  EXPECT_EQ(cuda::ResolveGemvVariant(g), fallback);
  g.n = 64;
  g.m = 9;
  EXPECT_EQ(cuda::ResolveGemvVariant(g), fallback);
  g.m = 8;
  g.k = 6144 + 128;
  EXPECT_EQ(cuda::ResolveGemvVariant(g), fallback);
}

// The bulk-copy streaming kernel (Hopper, M <= 8, 128-long K blocks, K <= 3 chunks of 2048): one
// to three chunks, a last chunk shorter than the others, N not a multiple of the 16-row tile,
// every format pair and output type, with and without bias; and the limits of where it applies.
TEST(CudaFp8Gemm, BulkCopyStreamingKernel) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(12);
  const int before = g_gemv_bulk_runs;
  const std::vector<BulkShape> shapes = {
      {1, 37, 6144}, {3, 200, 4224}, {8, 1000, 2048}, {5, 16, 128}, {2, 130, 2176}};
  RunBulkShapes(shapes, rng, [](const BulkShape& sh, DType out, int i) {
    return GemmCase{sh.m,
                    sh.n,
                    sh.k,
                    128,
                    i % 2 == 0 ? 128 : 0,  // 128x128 blocks or per channel
                    128,
                    i % 4 == 1 ? DType::kE5M2 : DType::kE4M3FN,
                    i % 3 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                    out,
                    i % 2 == 1};
  });
  if (HasFailure() || !IsHopper()) return;
  EXPECT_EQ(g_gemv_bulk_runs - before, 3 * static_cast<int>(shapes.size()));
  BulkLimitArgs l(DType::kE4M3FN);
  ExpectBulkLimits(l, cuda::GemvVariant::kTensorCore);
}

// The weight-only bulk-copy streaming kernel (Hopper; float16 / bfloat16 A used as it is, M <= 8,
// K % 64 == 0, K <= 3 chunks of 2048, B's blocks multiples of 128 in K): one to three chunks, a
// last chunk shorter than the others, N not a multiple of the 16-row tile, M = 1 and partial
// token tiles, 128x128 / per-channel / per-tensor weight scales, both weight formats, every
// output type, with and without bias; held to the float32 bound of the weight-only kernels. And
// the limits of where it applies.
TEST(CudaFp8Gemm, BulkCopyWeightOnly) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(21);
  const int before = g_gemv_wo_bulk_runs;
  const std::vector<BulkShape> shapes = {{1, 37, 6144}, {3, 200, 4224}, {8, 1000, 2048},
                                         {5, 16, 128},  {2, 130, 2176}, {1, 64, 192}};
  RunBulkShapes(shapes, rng, [](const BulkShape& sh, DType out, int i) {
    const int64_t grans[3][2] = {{128, 128}, {1, 0}, {0, 0}};  // block_n, block_k
    return GemmCase{sh.m,
                    sh.n,
                    sh.k,
                    grans[i % 3][0],
                    grans[i % 3][1],
                    0,
                    i % 2 == 0 ? DType::kBFloat16 : DType::kFloat16,
                    i % 5 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                    out,
                    i % 4 == 1};
  });
  if (HasFailure() || !IsHopper()) return;
  EXPECT_EQ(g_gemv_wo_bulk_runs - before, 3 * static_cast<int>(shapes.size()));
  {
    BulkLimitArgs l(DType::kBFloat16);
    EXPECT_EQ(cuda::ResolveGemvVariant(l.g), cuda::GemvVariant::kTensorCoreBulk);
    l.g.a_type = DType::kFloat;  // no 32-bit tensor-core form
    EXPECT_EQ(cuda::ResolveGemvVariant(l.g), cuda::GemvVariant::kVector);
  }
  BulkLimitArgs l(DType::kFloat16);
  ExpectBulkLimits(l, cuda::GemvVariant::kVector);
  cuda::GemmLaunchArgs& g = l.g;
  g.k = 4096 + 32;  // K % 64 != 0
  EXPECT_EQ(cuda::ResolveGemvVariant(g), cuda::GemvVariant::kVector);
  g.k = 4096;
  g.block_k = 64;  // B's blocks shorter than the 128-long K block
  EXPECT_EQ(cuda::ResolveGemvVariant(g), cuda::GemvVariant::kVector);
}

// FP8GEMM's a_quant_type: the dispatcher (on Hopper, A quantized by the bulk-copy streaming kernel
// where FusedGemvApplies, else LaunchQuantizeFp8 into the workspace first) gives exactly the Y of
// QuantizeFP8 -> FP8GEMM on the same path, within the FP8 tensor-core bound of the reference.
// Shapes: fused (M = 1) with a partial last group (K % 128 = 64), one whole-row group, the largest
// K; not fused: M > 1 (the bulk-copy or streaming kernels on the codes), M > 8, K % 64 != 0,
// whole-row groups of long K, M past the streaming range (wgmma, or cuBLASLt with A's scales
// written in its [K/128, M] layout by the quantization launch).
TEST(CudaFp8Gemm, FusedActivationQuantization) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(77);
  struct Shape {
    int64_t m, n, k, block_k, a_block;
    bool fused;  // FusedGemvApplies on Hopper
    int64_t block_n = 128;
  };
  const Shape shapes[] = {{1, 72, 128, 128, 128, true},       {1, 1000, 4096, 128, 128, true},
                          {1, 257, 192, 128, 128, true},      {8, 130, 4096, 0, 128, false},
                          {1, 40, 6144, 128, 128, true},      {1, 96, 128, 128, 0, true},
                          {3, 200, 2048, 128, 128, false},    {8, 300, 6144, 0, 128, false},
                          {9, 130, 2048, 128, 128, false},    {16, 64, 6400, 128, 128, false},
                          {1, 50, 100, 128, 128, false},      {4, 80, 4096, 0, 0, false},
                          {17, 200, 512, 128, 128, false},    {300, 256, 4096, 128, 128, false},
                          {1100, 1024, 512, 128, 128, false},  // cuBLASLt 128x128: k-major scales
                          {40, 96, 512, 128, 128, false, 1}};  // cuBLASLt 1x128
  const DType a_types[] = {DType::kBFloat16, DType::kFloat16, DType::kFloat};
  cuda::GemmOptions options;
  int i = 0;
  for (const Shape& sh : shapes) {
    ++i;
    const GemmCase c{sh.m,
                     sh.n,
                     sh.k,
                     sh.block_n,
                     sh.block_k,
                     sh.a_block,
                     a_types[i % 3],
                     i % 4 == 2 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                     i % 2 == 0 ? DType::kFloat16 : DType::kBFloat16,
                     i % 2 == 1};
    const Fp8Format af = i % 3 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
    SCOPED_TRACE(Describe(c) + " a_quant=" + Fp8FormatName(af));
    const testing::GemmInputs in =
        testing::MakeGemmInputs(c, testing::FusedQuantActivations(c, rng), rng);
    const testing::QuantizedCase q = testing::QuantizeActivations(c, in, af);
    const GemmData d8 = GemmDataOf(q.c, q.d);
    DeviceGemm fused_dev(c, in), two_dev(q.c, q.d);  // the fused op; QuantizeFP8 -> FP8GEMM
    cuda::GemmLaunchArgs& g = fused_dev.g;
    g.quantize_a = true;
    g.a_quant_format = af;
    cuda::GemmLaunchArgs& g8 = two_dev.g;
    DevBuf& dy = fused_dev.y;
    g8.y = dy.p;
    const bool fused = sh.fused && IsHopper();
    EXPECT_EQ(cuda::FusedGemvApplies(g), fused);

    auto run = [&](const cuda::GemmLaunchArgs& args, GemmPath* used, bool* first) {
      cuda::GemmPlan plan;
      cuda::GpuStatus st = cuda::PlanFp8Gemm(args, options, &plan);
      EXPECT_TRUE(st.ok()) << cuda::GpuStatusMessage(st);
      *first = plan.quantize_first;
      DevBuf ws(plan.workspace_bytes);
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
      st = cuda::RunFp8Gemm(args, plan, ws.p, plan.workspace_bytes, nullptr, used);
      EXPECT_TRUE(st.ok()) << cuda::GpuStatusMessage(st);
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      return dy.Download();
    };
    GemmPath used_fused = GemmPath::kGemvScalar, used_two = GemmPath::kGemvScalar;
    bool first = false, first_two = false;
    const auto y_fused = run(g, &used_fused, &first);
    const auto y_two = run(g8, &used_two, &first_two);
    EXPECT_EQ(first, !fused) << "quantization launch before the product";
    EXPECT_EQ(used_fused, used_two);
    EXPECT_TRUE(y_fused == y_two) << cuda::GemmPathName(used_fused)
                                  << ": fused Y differs from QuantizeFP8 -> FP8GEMM";
    CheckGemm(q.c, d8, y_fused, 1e-3, cuda::GemmPathName(used_fused));
    if (fused) {  // the bulk-copy kernel directly, against its FP8-A form
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
      EXPECT_EQ(cuda::LaunchFp8Gemv(g, nullptr), cudaSuccess);
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      const auto yf = dy.Download();
      EXPECT_EQ(cudaMemset(dy.p, 0xFF, dy.bytes), cudaSuccess);
      EXPECT_EQ(cuda::LaunchFp8Gemv(g8, nullptr, cuda::GemvVariant::kTensorCoreBulk), cudaSuccess);
      EXPECT_EQ(cudaDeviceSynchronize(), cudaSuccess);
      EXPECT_TRUE(yf == dy.Download()) << "gemv_mma_bulk: fused Y differs";
      ++g_gemv_bulk_runs;
    }
    if (HasFailure()) return;
  }
  // The streaming kernel refuses a quantize_a problem outside its fused range.
  cuda::GemmLaunchArgs g;
  g.m = 1;
  g.n = 16;
  g.k = 100;
  g.a_type = DType::kBFloat16;
  g.quantize_a = true;
  DevBuf a(256), b(2048), y(64);
  g.a = a.p;
  g.b = static_cast<const uint8_t*>(b.p);
  g.y = y.p;
  EXPECT_FALSE(cuda::FusedGemvApplies(g));
  EXPECT_EQ(cuda::LaunchFp8Gemv(g, nullptr), cudaErrorInvalidValue);
}

// Past the wgmma kernel's tile limit, K / 128 of 2, 3, 4, 6, 8 and M not a multiple of 128:
// cuBLASLt's 128x128 weight-block mode gave wrong products for K = 256 (first run of this test,
// H200, cuBLASLt 13.1), so K / 128 not a multiple of 4 takes the wgmma or streaming kernel; its
// 1x128 mode (both scales VEC128) was right there and stays in use.
TEST(CudaFp8Gemm, CublasLtLargerRaggedM) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(21);
  struct Shape {
    int64_t m, n, k;
    int64_t block_n = 128;  // 1: 1x128 weight groups (cuBLASLt VEC128 for both operands)
  };
  const Shape shapes[] = {{1100, 1024, 256},    {1100, 1024, 384},    {1100, 1024, 512},
                          {1100, 1024, 768},    {1100, 1024, 1024},   {1100, 1000, 256},
                          {200, 9000, 256},     {33, 200, 256},       {1100, 1024, 128},
                          {1100, 1024, 256, 1}, {1100, 1024, 384, 1}, {200, 9000, 256, 1}};
  for (const Shape& sh : shapes) {
    const GemmCase c{sh.m,
                     sh.n,
                     sh.k,
                     sh.block_n,
                     128,
                     128,
                     DType::kE4M3FN,
                     Fp8Format::kE4M3FN,
                     DType::kBFloat16,
                     false};
    const GemmPath used = RunGemmCase(c, rng);
    std::printf("  %s: %s%s\n", Describe(c).c_str(), cuda::GemmPathName(used),
                HasFailure() ? " FAILED" : "");
  }
}

TEST(CudaFp8Gemm, LargerMUsesCublasLtWhereItAppliesAndMatches) {
  SKIP_WITHOUT_GPU();
  cudaDeviceProp prop{};
  ASSERT_EQ(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  const bool hopper = prop.major == 9;
  std::mt19937 rng(11);
  std::map<std::string, int> paths;
  struct Shape {
    int64_t m, n, k;
  };
  const Shape shapes[] = {{16, 256, 512},  {17, 384, 1024}, {33, 200, 256},
                          {128, 256, 512}, {64, 48, 400},   {20, 128, 4096}};
  struct Gran {
    int64_t bn, bk, ab;
  };
  const Gran grans[] = {{128, 128, 128}, {1, 128, 128}, {0, 0, 0}, {1, 0, 0}, {128, 0, 0}};
  int i = 0;
  for (const Shape& s : shapes) {
    for (const Gran& gr : grans) {
      for (DType out : {DType::kBFloat16, DType::kFloat16, DType::kFloat}) {
        ++i;
        const GemmCase c{s.m,
                         s.n,
                         s.k,
                         gr.bn,
                         gr.bk,
                         gr.ab,
                         i % 5 == 2 ? DType::kE5M2 : DType::kE4M3FN,
                         i % 7 == 4 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN,
                         out,
                         i % 3 == 0};
        const GemmPath used = RunGemmCase(c, rng);
        paths[std::string(cuda::GemmPathName(used)) + " " +
              Describe(c).substr(Describe(c).find("A="))]++;
        if (HasFailure()) break;
      }
    }
  }
  for (const auto& [k, v] : paths) std::printf("  path %s\n", k.c_str());
  // The case the performance targets rest on: E4M3 x E4M3, 128x128 weight blocks, K % 128 == 0.
  GemmCase key{128,  256, 512, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kBFloat16,
               false};
  const GemmPath used = RunGemmCase(key, rng);
  if (hopper) {
    // From min_m_for_wgmma on, our wgmma kernel (W8A8WgmmaKernelsMatchReference checks it).
    EXPECT_EQ(used, key.m >= cuda::GemmOptions{}.min_m_for_wgmma ? GemmPath::kW8A8Wgmma
                                                                 : GemmPath::kLtBlock128x128)
        << "on " << prop.name;
  }
}

bool IsHopper() {
  cudaDeviceProp prop{};
  return cudaGetDeviceProperties(&prop, 0) == cudaSuccess && prop.major == 9;
}

// The W8A8 wgmma kernel (sm_90) forced, both tiles, against the reference: 128x128 weight blocks,
// 1x128 activation groups, M not a multiple of the 128-row tile, N not a multiple of 128 (TMA
// zero-fill, guarded stores), K in {128, 384, 4096}, every output type, with and without bias,
// E4M3 and E5M2 operands. {M, K, N} per case. Also runs the dispatcher and the streaming kernel.
void RunW8A8Cases(const std::vector<std::array<int64_t, 3>>& shapes, std::mt19937& rng) {
  const int before = g_wgmma_runs;
  int i = 0;
  for (const auto& s : shapes) {
    ++i;
    const DType outs[] = {DType::kBFloat16, DType::kFloat16, DType::kFloat};
    const DType at = i % 5 == 3 ? DType::kE5M2 : DType::kE4M3FN;
    const Fp8Format bf = i % 4 == 2 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
    const GemmCase c{s[0], s[2], s[1], 128, 128, 128, at, bf, outs[i % 3], i % 2 == 0};
    RunGemmCase(c, rng);
    if (::testing::Test::HasFailure()) return;
  }
  // Every case is one the kernel applies to: on Hopper it must have run (every tile).
  if (IsHopper()) {
    EXPECT_EQ(g_wgmma_runs - before, static_cast<int>(std::size(kW8A8Tiles) * shapes.size()));
  }
}

TEST(CudaFp8Gemm, W8A8WgmmaSmallShapes) {
  SKIP_WITHOUT_GPU();
  if (!IsHopper()) GTEST_SKIP() << "the wgmma kernel needs sm_90";
  std::mt19937 rng(15);
  RunW8A8Cases({{17, 128, 200},
                {64, 384, 128},
                {129, 128, 1000},
                {1, 256, 72},
                {300, 384, 200},
                {17, 4096, 200},
                {129, 384, 1},
                {64, 128, 257}},
               rng);
}

TEST(CudaFp8Gemm, W8A8WgmmaLargerShapes) {
  SKIP_WITHOUT_GPU();
  if (!IsHopper()) GTEST_SKIP() << "the wgmma kernel needs sm_90";
  std::mt19937 rng(16);
  RunW8A8Cases({{1024, 384, 1000},
                {300, 4096, 1000},
                {1024, 4096, 200},
                {64, 4096, 1000},
                {129, 4096, 200},
                {1024, 128, 1000},
                // The TMA-store epilogue (128x128 double-buffered tile, 16-bit out, N % 8 == 0):
                // a partial last column tile, N below one box, more tiles than SMs (each CTA's
                // output buffer reused) with and without bias, bfloat16 and float16.
                {257, 256, 136},
                {100, 128, 8},
                {1000, 1024, 392},
                {2048, 256, 1152},
                {130, 512, 264},
                {2048, 256, 1152}},
               rng);
}

// The dispatcher picks the wgmma kernel on Hopper where it measured faster than cuBLASLt
// (GemmOptions: M = 256, K = N = 4096), cuBLASLt elsewhere (M = 4096; M below min_m_for_wgmma;
// FP8OPS_CUDA_NO_WGMMA=1), and the wgmma kernel everywhere with the limits lifted; on M = K = N
// = 4096 both paths run and agree.
TEST(CudaFp8Gemm, W8A8WgmmaSelectedOnHopper) {
  SKIP_WITHOUT_GPU();
  if (!IsHopper()) GTEST_SKIP() << "the wgmma kernel needs sm_90";
  const int64_t m = 4096, k = 4096, n = 4096;
  DevBuf a(m * k), b(n * k), as(4 * m * (k / 128)), bs(4 * (n / 128) * (k / 128)), y(2 * m * n);
  ASSERT_TRUE(a.p && b.p && as.p && bs.p && y.p);
  cuda::GemmLaunchArgs g;
  g.m = 256;
  g.n = n;
  g.k = k;
  g.a = a.p;
  g.a_scale = as.as<float>();
  g.b = b.as<uint8_t>();
  g.b_scale = bs.as<float>();
  g.out_type = DType::kBFloat16;
  g.y = y.p;
  cuda::GemmPlan plan;
  ASSERT_TRUE(cuda::PlanFp8Gemm(g, cuda::GemmOptions{}, &plan).ok());
  EXPECT_EQ(plan.path, GemmPath::kW8A8Wgmma) << cuda::GemmPathName(plan.path);
  EXPECT_EQ(plan.workspace_bytes, 0u);
  setenv("FP8OPS_CUDA_NO_WGMMA", "1", 1);
  const cuda::GemmOptions off = cuda::GemmOptions::FromEnv();
  unsetenv("FP8OPS_CUDA_NO_WGMMA");
  EXPECT_FALSE(off.allow_wgmma);
  ASSERT_TRUE(cuda::PlanFp8Gemm(g, off, &plan).ok());
  EXPECT_EQ(plan.path, GemmPath::kLtBlock128x128) << cuda::GemmPathName(plan.path);
  g.m = cuda::GemmOptions{}.min_m_for_wgmma - 1;
  ASSERT_TRUE(cuda::PlanFp8Gemm(g, cuda::GemmOptions{}, &plan).ok());
  EXPECT_NE(plan.path, GemmPath::kW8A8Wgmma);
  g.m = m;
  ASSERT_TRUE(cuda::PlanFp8Gemm(g, cuda::GemmOptions{}, &plan).ok());
  EXPECT_EQ(plan.path, GemmPath::kLtBlock128x128) << cuda::GemmPathName(plan.path);
  cuda::GemmOptions any;
  any.max_tiles_for_wgmma = 0;
  any.max_k_for_wgmma = 0;
  ASSERT_TRUE(cuda::PlanFp8Gemm(g, any, &plan).ok());
  EXPECT_EQ(plan.path, GemmPath::kW8A8Wgmma) << cuda::GemmPathName(plan.path);
  // Both paths on this large shape, random codes (no NaN) and scales: they must agree.
  std::mt19937 rng(17);
  std::vector<uint8_t> host(static_cast<size_t>(m * k));
  for (auto& v : host) v = static_cast<uint8_t>((rng() % 0x7E) | (rng() % 2 ? 0x80 : 0));
  CUDA_OK(cudaMemcpy(a.p, host.data(), host.size(), cudaMemcpyHostToDevice));
  for (auto& v : host) v = static_cast<uint8_t>((rng() % 0x7E) | (rng() % 2 ? 0x80 : 0));
  CUDA_OK(cudaMemcpy(b.p, host.data(), host.size(), cudaMemcpyHostToDevice));
  std::vector<float> sc(static_cast<size_t>(m * (k / 128)));
  for (auto& v : sc) v = std::ldexp(1.0f + static_cast<float>(rng() % 1000) / 1000.0f, -9);
  CUDA_OK(cudaMemcpy(as.p, sc.data(), as.bytes, cudaMemcpyHostToDevice));
  CUDA_OK(cudaMemcpy(bs.p, sc.data(), bs.bytes, cudaMemcpyHostToDevice));
  DevBuf ws(size_t{64} << 20);
  std::vector<std::vector<uint8_t>> outs;
  for (const cuda::GemmOptions& o : {any, off}) {
    ASSERT_TRUE(cuda::PlanFp8Gemm(g, o, &plan).ok());
    ASSERT_LE(plan.workspace_bytes, ws.bytes);
    CUDA_OK(cudaMemset(y.p, 0xFF, y.bytes));
    GemmPath used{};
    ASSERT_TRUE(cuda::RunFp8Gemm(g, plan, ws.p, plan.workspace_bytes, nullptr, &used).ok());
    CUDA_OK(cudaDeviceSynchronize());
    EXPECT_EQ(used, plan.path);
    outs.push_back(y.Download());
  }
  std::vector<float> f0(static_cast<size_t>(m * n)), f1(f0.size());
  LoadAsFloat(outs[0].data(), DType::kBFloat16, m * n, f0.data());
  LoadAsFloat(outs[1].data(), DType::kBFloat16, m * n, f1.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < f0.size(); ++i) {
    const double d = static_cast<double>(f0[i]) - f1[i];
    num += d * d;  // NaN (unwritten poison) fails the check below
    den += static_cast<double>(f1[i]) * f1[i];
  }
  EXPECT_LE(std::sqrt(num / den), 1e-2) << "wgmma vs cuBLASLt, M = K = N = 4096";
  g.m = m;
  g.k = 4000;  // K % 128 != 0: not ours
  EXPECT_FALSE(cuda::W8A8WgmmaApplies(g));
}

// Weight-only (A float16/bfloat16) at M > 16: the tensor-core kernel, with every scale
// granularity, ragged M/N/K (K % 16 != 0 takes the per-element tile loads, K % 64 != 0 a partial
// last tile), and the explicit fallback to the streaming kernel where block_k is not a multiple
// of 64. Small shapes: this test also runs under compute-sanitizer.
struct WoGran {
  int64_t bn, bk;
};
constexpr WoGran kWoGrans[] = {{128, 128}, {1, 0},   {0, 0},  {128, 32},
                               {100, 192}, {1, 128}, {64, 64}};

void RunWoCases(const std::vector<std::array<int64_t, 3>>& shapes, std::mt19937& rng, int stride) {
  int i = 0;
  for (const auto& s : shapes) {
    for (size_t gi = 0; gi < std::size(kWoGrans); gi += stride) {
      const WoGran gr = kWoGrans[(gi + i) % std::size(kWoGrans)];
      ++i;
      const DType at = i % 2 == 0 ? DType::kFloat16 : DType::kBFloat16;
      const Fp8Format bf = i % 3 == 1 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
      const DType outs[] = {DType::kBFloat16, DType::kFloat16, DType::kFloat};
      const GemmCase c{s[0], s[2], s[1], gr.bn, gr.bk, 128, at, bf, outs[i % 3], i % 4 != 1};
      const GemmPath used = RunGemmCase(c, rng);
      const bool wo = gr.bk <= 0 || gr.bk >= c.k || gr.bk % 64 == 0;
      EXPECT_EQ(used == GemmPath::kWeightOnlyMma, wo)
          << Describe(c) << ": ran " << cuda::GemmPathName(used);
      if (::testing::Test::HasFailure()) return;
    }
  }
}

TEST(CudaFp8Gemm, WeightOnlyTensorCoreSmallShapes) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(13);
  // {M, K, N}
  RunWoCases({{17, 128, 64},
              {31, 200, 72},
              {17, 80, 130},
              {65, 201, 64},
              {129, 1008, 136},
              {33, 64, 1},
              {300, 256, 65},
              {20, 1, 9}},
             rng, 1);
  // Threshold: M = 16 stays on the streaming kernel.
  GemmCase c{16,   64, 128, 128, 128, 128, DType::kFloat16, Fp8Format::kE4M3FN, DType::kFloat16,
             false};
  EXPECT_NE(RunGemmCase(c, rng), GemmPath::kWeightOnlyMma);
}

TEST(CudaFp8Gemm, WeightOnlyTensorCoreLargerShapes) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(14);
  RunWoCases({{17, 4096, 4104},
              {31, 1000, 1000},
              {128, 4096, 64},
              {128, 200, 4104},
              {300, 1000, 1000},
              {300, 4096, 64},
              {128, 128, 4104},
              {31, 4096, 1000}},
             rng, 3);
}

TEST(CudaFp8Gemm, EmptyDimensions) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(12);
  RunGemmCase({0, 64, 128, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat, false},
              rng);
  RunGemmCase({4, 0, 128, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat, false},
              rng);
  RunGemmCase({3, 8, 0, 128, 128, 128, DType::kE4M3FN, Fp8Format::kE4M3FN, DType::kFloat16, true},
              rng);
  RunGemmCase({32, 8, 0, 128, 128, 128, DType::kBFloat16, Fp8Format::kE4M3FN, DType::kFloat, true},
              rng);
}

// ------------------------------------------------------------------------------ DequantizeFP8

TEST(CudaDequantizeFp8, MatchesReferenceBitExact) {
  SKIP_WITHOUT_GPU();
  std::mt19937 rng(20);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_real_distribution<float> sd(0.01f, 2.0f);
  struct Case {
    int64_t rows, k;
    bool last_axis;
    int64_t bs, bn, bk;
    bool per_tensor;
    DType out;
    Fp8Format f;
  };
  const Case cases[] = {
      {7, 300, false, 0, 128, 128, false, DType::kFloat, Fp8Format::kE4M3FN},
      {130, 257, false, 0, 128, 128, false, DType::kBFloat16, Fp8Format::kE5M2},
      {5, 1000, true, 128, 0, 0, false, DType::kFloat16, Fp8Format::kE4M3FN},
      {5, 1000, true, 0, 0, 0, false, DType::kFloat, Fp8Format::kE4M3FN},
      {9, 33, false, 0, 1, 0, false, DType::kBFloat16, Fp8Format::kE4M3FN},
      {9, 33, false, 0, 128, 128, true, DType::kFloat, Fp8Format::kE5M2},
      {0, 16, true, 128, 0, 0, false, DType::kFloat, Fp8Format::kE4M3FN},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE("rows=" + std::to_string(c.rows) + " k=" + std::to_string(c.k));
    std::vector<uint8_t> x(static_cast<size_t>(c.rows * c.k));
    for (auto& v : x) v = static_cast<uint8_t>(byte(rng));
    int64_t ns = c.per_tensor  ? 1
                 : c.last_axis ? c.rows * NumBlocks(c.k, c.bs)
                               : NumBlocks(c.rows, c.bn) * NumBlocks(c.k, c.bk);
    std::vector<float> s(static_cast<size_t>(ns));
    for (auto& v : s) v = sd(rng);
    reference::DequantizeProblem p;
    p.rows = c.rows;
    p.k = c.k;
    p.x = x.data();
    p.format = c.f;
    p.scale = s.data();
    p.scale_count = ns;
    p.last_axis_groups = c.last_axis;
    p.block_size = c.bs;
    p.block_n = c.bn;
    p.block_k = c.bk;
    p.out_type = c.out;
    std::vector<uint8_t> want(x.size() * DTypeSize(c.out));
    p.y = want.data();
    reference::DequantizeFp8(p, 0, c.rows);
    DevBuf dx = DevBuf::From(x), ds = DevBuf::From(s), dy(want.size());
    cuda::DequantizeLaunchArgs a;
    a.rows = c.rows;
    a.k = c.k;
    a.x = dx.as<uint8_t>();
    a.format = c.f;
    a.scale = ds.as<float>();
    a.scale_count = ns;
    a.last_axis_groups = c.last_axis;
    a.block_size = c.bs;
    a.block_n = c.bn;
    a.block_k = c.bk;
    a.out_type = c.out;
    a.y = dy.p;
    CUDA_OK(cuda::LaunchDequantizeFp8(a, nullptr));
    CUDA_OK(cudaDeviceSynchronize());
    const auto got = dy.Download();
    // NaN codes decode to NaN on both sides, possibly with different payloads: compare as values.
    std::vector<float> gf(x.size()), wf(x.size());
    LoadAsFloat(got.data(), c.out, static_cast<int64_t>(x.size()), gf.data());
    LoadAsFloat(want.data(), c.out, static_cast<int64_t>(x.size()), wf.data());
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isnan(wf[i])) {
        ASSERT_TRUE(std::isnan(gf[i])) << i;
      } else {
        ASSERT_EQ(std::memcmp(&gf[i], &wf[i], 4), 0) << i << ": got " << gf[i] << " want " << wf[i];
      }
    }
  }
}

}  // namespace
}  // namespace fp8ops
