// Whole-session benchmark in ONNX Runtime (CPU EP): one run, every variant of the same
// projection side by side, ratios printed from that run.
//
// Per shape (M, K, N, layers) it builds, in C++, models computing X[M,K] @ W for a chain of
// `layers` weights (K->N, N->K, ... so that many layers can exceed the last-level cache):
//   fp32       MatMul, float weights
//   fp16       MatMul, float16 weights and input
//   dq_fp8     DequantizeLinear(E4M3 weight, per-tensor scale) + MatMul: ORT's own FP8 path
//   nbits8     com.microsoft.MatMulNBits, 8 bits, block 128, accuracy_level 4 (ORT's CPU peer)
//   fp8_w8a8   fp8ops QuantizeFP8 + FP8GEMM (E4M3, 128x128 weight blocks, 1x128 activations)
//   fp8_wo     fp8ops FP8GEMM weight-only (float activations)
//   fp8_fused  fp8ops FP8GEMM with a_quant_type=17: the W8A8 product with the activation
//              quantization inside the op (not run by default: --kinds=...,fp8_fused)
// and times session.Run (median of --runs after 2 warm-ups; slow variants stop after ~5 s with at
// least 3 runs). It also measures the ceilings on the same threads: DRAM read bandwidth and the
// FP32 FMA / BF16 dot peaks. Weights above 64 MiB go to an external-data file.
//
//   session_bench [--threads=2] [--runs=11] [--shapes=1x4096x4096,128x4096x14336x1,...]
//                 [--kinds=fp32,nbits8,fp8_w8a8] [--big] [--dir=/tmp] [--plugin=libfp8ops.so]
//
// Shapes are MxKxN[xLAYERS]. --big adds 1x4096x14336x11 and 16x4096x14336x11 (646 M weights:
// 646 MB in FP8, 2.6 GB in fp32), far over the L3 (the issue asks for 600 MB or more).
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "bench/bench_util.h"
#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"
#include "host/ort_session.h"
#include "ops/cpu/dispatch.h"
#include "tests/common/model_builder.h"

namespace fp8ops::bench {
namespace {

using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

struct Shape {
  int64_t m, k, n, layers;
  std::string Name() const {
    return absl::StrCat(m, "x", k, "x", n, layers > 1 ? absl::StrCat("x", layers) : "");
  }
  int64_t Weights() const {
    int64_t w = 0;
    for (int64_t l = 0; l < layers; ++l) w += k * n;
    return w;
  }
};

// Deterministic weight value of layer l, output row r, input column c: uniform in
// [-1, 1) / sqrt(in): any layout can be generated without holding the float weight.
float WeightValue(int64_t l, int64_t r, int64_t c, int64_t in) {
  uint64_t x = (static_cast<uint64_t>(l) << 48) ^ (static_cast<uint64_t>(r) << 24) ^
               static_cast<uint64_t>(c);
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  const float u = static_cast<float>(x >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
  return u / std::sqrt(static_cast<float>(in));
}

// Builds a model; initializers over 64 MiB are appended to <path>.data as external data.
class ModelWriter {
 public:
  explicit ModelWriter(std::string path) : path_(std::move(path)), model_(testing::NewModel(21)) {
    auto* op = model_.add_opset_import();
    op->set_domain("com.microsoft");
    op->set_version(1);
  }
  onnx::ModelProto& model() { return model_; }

  void AddInitializer(const std::string& name, int32_t type, const std::vector<int64_t>& dims,
                      const void* data, size_t bytes) {
    onnx::TensorProto* t = model_.mutable_graph()->add_initializer();
    t->set_name(name);
    t->set_data_type(type);
    for (int64_t d : dims) t->add_dims(d);
    if (bytes < (size_t{64} << 20)) {
      t->set_raw_data(std::string(static_cast<const char*>(data), bytes));
      return;
    }
    if (!data_)
      data_ = std::make_unique<std::ofstream>(path_ + ".data", std::ios::binary | std::ios::trunc);
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    auto add = [&](const char* k, const std::string& v) {
      auto* e = t->add_external_data();
      e->set_key(k);
      e->set_value(v);
    };
    const std::string file = path_.substr(path_.find_last_of('/') + 1) + ".data";
    add("location", file);
    add("offset", std::to_string(offset_));
    add("length", std::to_string(bytes));
    data_->write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
    offset_ += bytes;
    // NOTE: offsets stay 4 KiB aligned so ORT may map them.
    const size_t pad = (4096 - offset_ % 4096) % 4096;
    static const char zeros[4096] = {};
    data_->write(zeros, static_cast<std::streamsize>(pad));
    offset_ += pad;
  }

  std::string Save() {
    if (data_) data_->close();
    std::ofstream f(path_, std::ios::binary | std::ios::trunc);
    model_.SerializeToOstream(&f);
    return path_;
  }

 private:
  std::string path_;
  onnx::ModelProto model_;
  std::unique_ptr<std::ofstream> data_;
  size_t offset_ = 0;
};

// Writes the model of `kind` for `s` and returns its path.
std::string BuildModel(const std::string& kind, const Shape& s, const std::string& dir) {
  ModelWriter w(absl::StrCat(dir, "/", kind, "_", s.Name(), ".onnx"));
  auto& m = w.model();
  const bool f16 = kind == "fp16";
  const int32_t act = f16 ? 10 : 1;
  AddInput(m, "x", act, {s.m, s.k});
  std::string cur = "x";
  for (int64_t l = 0; l < s.layers; ++l) {
    const int64_t in = l % 2 == 0 ? s.k : s.n, out = l % 2 == 0 ? s.n : s.k;
    const std::string wn = absl::StrCat("w", l), y = absl::StrCat("y", l);
    if (kind == "fp32" || kind == "fp16") {
      std::vector<float> wf(static_cast<size_t>(in * out));
      for (int64_t c = 0; c < in; ++c) {
        for (int64_t r = 0; r < out; ++r) wf[c * out + r] = WeightValue(l, r, c, in);
      }
      if (f16) {
        std::vector<uint16_t> h(wf.size());
        StoreFromFloat(wf.data(), static_cast<int64_t>(wf.size()), DType::kFloat16, h.data());
        w.AddInitializer(wn, 10, {in, out}, h.data(), h.size() * 2);
      } else {
        w.AddInitializer(wn, 1, {in, out}, wf.data(), wf.size() * 4);
      }
      AddNode(m, "MatMul", {cur, wn}, {y});
    } else if (kind == "dq_fp8") {
      const float scale = 1.0f / std::sqrt(static_cast<float>(in)) / 448.0f;
      std::vector<uint8_t> q(static_cast<size_t>(in * out));
      for (int64_t c = 0; c < in; ++c) {
        for (int64_t r = 0; r < out; ++r) {
          q[c * out + r] = EncodeFp8<Fp8Format::kE4M3FN>(WeightValue(l, r, c, in) / scale, true);
        }
      }
      w.AddInitializer(wn, 17, {in, out}, q.data(), q.size());
      const std::vector<float> sv = {scale};
      w.AddInitializer(wn + "_s", 1, {}, sv.data(), 4);
      AddNode(m, "DequantizeLinear", {wn, wn + "_s"}, {wn + "_f"});
      AddNode(m, "MatMul", {cur, wn + "_f"}, {y});
    } else if (kind == "nbits8") {
      // B [N, K/128, 128] uint8 with the default zero point 128; scales [N * K/128].
      const int64_t nb = (in + 127) / 128;
      std::vector<uint8_t> q(static_cast<size_t>(out * nb * 128), 128);
      std::vector<float> sc(static_cast<size_t>(out * nb));
      std::vector<float> blk(128);
      for (int64_t r = 0; r < out; ++r) {
        for (int64_t b = 0; b < nb; ++b) {
          float amax = 0;
          const int64_t len = std::min<int64_t>(128, in - b * 128);
          for (int64_t i = 0; i < len; ++i) {
            blk[i] = WeightValue(l, r, b * 128 + i, in);
            amax = std::max(amax, std::fabs(blk[i]));
          }
          const float scale = amax > 0 ? amax / 127.0f : 1.0f;
          sc[r * nb + b] = scale;
          for (int64_t i = 0; i < len; ++i) {
            const float v = std::nearbyint(blk[i] / scale) + 128.0f;
            q[(r * nb + b) * 128 + i] = static_cast<uint8_t>(std::clamp(v, 0.0f, 255.0f));
          }
        }
      }
      w.AddInitializer(wn, 2, {out, nb, 128}, q.data(), q.size());
      w.AddInitializer(wn + "_s", 1, {out * nb}, sc.data(), sc.size() * 4);
      AddNode(m, "MatMulNBits", {cur, wn, wn + "_s"}, {y},
              {Attr::Int("K", in), Attr::Int("N", out), Attr::Int("bits", 8),
               Attr::Int("block_size", 128), Attr::Int("accuracy_level", 4)},
              "com.microsoft");
    } else {  // fp8_w8a8 / fp8_wo / fp8_fused: B [N, K] E4M3 in 128x128 blocks
      const int64_t nbn = (out + 127) / 128, nbk = (in + 127) / 128;
      std::vector<uint8_t> q(static_cast<size_t>(out * in));
      std::vector<float> sc(static_cast<size_t>(nbn * nbk));
      std::vector<float> panel(static_cast<size_t>(128 * in));
      for (int64_t i = 0; i < nbn; ++i) {
        const int64_t rows = std::min<int64_t>(128, out - i * 128);
        for (int64_t r = 0; r < rows; ++r) {
          for (int64_t c = 0; c < in; ++c) panel[r * in + c] = WeightValue(l, i * 128 + r, c, in);
        }
        QuantizeBlocks2D(panel.data(), rows, in, 128, 128, {}, q.data() + i * 128 * in,
                         sc.data() + i * nbk);
      }
      w.AddInitializer(wn, 17, {out, in}, q.data(), q.size());
      w.AddInitializer(wn + "_s", 1, {nbn, nbk}, sc.data(), sc.size() * 4);
      if (kind == "fp8_w8a8") {
        AddNode(m, "QuantizeFP8", {cur}, {y + "_q", y + "_qs"}, {}, "fp8ops");
        AddNode(m, "FP8GEMM", {y + "_q", y + "_qs", wn, wn + "_s"}, {y}, {}, "fp8ops");
      } else if (kind == "fp8_fused") {
        AddNode(m, "FP8GEMM", {cur, "", wn, wn + "_s"}, {y}, {Attr::Int("a_quant_type", 17)},
                "fp8ops");
      } else {
        AddNode(m, "FP8GEMM", {cur, "", wn, wn + "_s"}, {y}, {}, "fp8ops");
      }
    }
    cur = y;
  }
  AddOutput(m, cur, act, {s.m, s.layers % 2 == 1 ? s.n : s.k});
  return w.Save();
}

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Result {
  double ms = 0;  // median
  int runs = 0;
  std::string error;
};

std::string g_plugin = FP8OPS_PLUGIN_PATH;

Result Measure(const std::string& kind, const Shape& s, const std::string& dir, int threads,
               int runs) {
  Result r;
  const std::string path = BuildModel(kind, s, dir);
  host::SessionOptions so;
  so.plugin_path = g_plugin;
  so.intra_op_threads = threads;
  auto session = host::Session::FromFile(path, so);
  std::remove(path.c_str());
  std::remove((path + ".data").c_str());
  if (!session.ok()) {
    r.error = std::string(session.status().message()).substr(0, 200);
    return r;
  }
  const bool f16 = kind == "fp16";
  std::vector<float> x(static_cast<size_t>(s.m * s.k));
  for (size_t i = 0; i < x.size(); ++i) x[i] = WeightValue(99, 0, static_cast<int64_t>(i), 1);
  host::HostTensor xt;
  if (f16) {
    std::vector<uint16_t> h(x.size());
    StoreFromFloat(x.data(), static_cast<int64_t>(x.size()), DType::kFloat16, h.data());
    xt = host::HostTensor::From(10, {s.m, s.k}, h);
  } else {
    xt = host::HostTensor::From(1, {s.m, s.k}, x);
  }
  std::vector<double> times;
  const double t_start = Now();
  for (int i = 0; i < runs + 2; ++i) {
    const double t0 = Now();
    auto out = (*session)->Run({{"x", xt}});
    const double t1 = Now();
    if (!out.ok()) {
      r.error = std::string(out.status().message()).substr(0, 200);
      return r;
    }
    if (i >= 2) times.push_back((t1 - t0) * 1e3);
    if (i >= 4 && t1 - t_start > 5.0) break;  // slow variant: enough
  }
  std::sort(times.begin(), times.end());
  r.ms = times[times.size() / 2];
  r.runs = static_cast<int>(times.size());
  return r;
}

std::string Flag(int argc, char** argv, const std::string& name, const std::string& fallback) {
  const std::string prefix = "--" + name + "=";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--" + name) return "1";
    if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
  }
  return fallback;
}

int Main(int argc, char** argv) {
  const int threads = std::stoi(Flag(argc, argv, "threads", "2"));
  const int runs = std::stoi(Flag(argc, argv, "runs", "11"));
  const std::string dir = Flag(argc, argv, "dir", "/tmp");
  g_plugin = Flag(argc, argv, "plugin", g_plugin);
  std::vector<Shape> shapes;
  for (const auto& tok : absl::StrSplit(
           Flag(argc, argv, "shapes",
                "1x4096x4096,16x4096x4096,128x4096x4096,512x4096x4096,1x4096x14336,16x4096x14336,"
                "128x4096x14336,512x4096x14336"),
           ',', absl::SkipEmpty())) {
    std::vector<int64_t> v;
    for (const auto& d : absl::StrSplit(tok, 'x')) v.push_back(std::stoll(std::string(d)));
    shapes.push_back({v[0], v[1], v[2], v.size() > 3 ? v[3] : 1});
  }
  if (Flag(argc, argv, "big", "") == "1") {
    shapes.push_back({1, 4096, 14336, 11});
    shapes.push_back({16, 4096, 14336, 11});
  }
  std::vector<std::string> kinds;
  for (const auto& k :
       absl::StrSplit(Flag(argc, argv, "kinds", "fp32,fp16,dq_fp8,nbits8,fp8_w8a8,fp8_wo"), ',',
                      absl::SkipEmpty())) {
    kinds.emplace_back(k);
  }

  Pool pool(threads);
  const double dram = MeasureReadGBps(pool, size_t{1} << 30, 5);
  const double fma = MeasureFmaGflops(pool, 5);
  const double bf16 = MeasureBf16DotGflops(pool, 5);
  const double amx = MeasureAmxBf16Gflops(pool, 5);
  std::printf(
      "# fp8ops session benchmark: ONNX Runtime CPU EP, %d intra-op threads, median of %d runs\n",
      threads, runs);
  std::printf("# fp8ops CPU kernels: %s\n", cpu::IsaName(cpu::ActiveIsa()));
  std::printf(
      "# ceilings on %d threads: DRAM read %.1f GB/s, FP32 FMA %.0f GFLOP/s, BF16 dot %.0f "
      "GFLOP/s, AMX BF16 %.0f GFLOP/s\n\n",
      threads, dram, fma, bf16, amx);

  std::printf("| shape MxKxN[xL] | FP8 weights MB |");
  for (const auto& k : kinds) std::printf(" %s ms |", k.c_str());
  std::printf(
      " w8a8 vs nbits8 | wo vs nbits8 | w8a8 vs fp32 | w8a8 GB/s (%% DRAM) | w8a8 GFLOP/s (%% FMA) "
      "|\n");
  std::printf("|---|---|");
  for (size_t i = 0; i < kinds.size() + 5; ++i) std::printf("---|");
  std::printf("\n");
  for (const Shape& s : shapes) {
    std::map<std::string, Result> res;
    for (const auto& k : kinds) {
      res[k] = Measure(k, s, dir, threads, runs);
      if (!res[k].error.empty())
        std::fprintf(stderr, "%s %s: %s\n", k.c_str(), s.Name().c_str(), res[k].error.c_str());
    }
    const double wmb = static_cast<double>(s.Weights()) * 1e-6;
    std::printf("| %s | %.0f |", s.Name().c_str(), wmb);
    for (const auto& k : kinds) {
      if (res[k].error.empty()) {
        std::printf(" %.3f |", res[k].ms);
      } else {
        std::printf(" error |");
      }
    }
    auto ratio = [&](const char* a, const char* b) -> std::string {
      if (!res.count(a) || !res.count(b) || res[a].ms <= 0 || res[b].ms <= 0) return "-";
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2fx", res[b].ms / res[a].ms);
      return buf;
    };
    std::string gbs = "-", gfl = "-";
    if (res.count("fp8_w8a8") && res["fp8_w8a8"].ms > 0) {
      const double sec = res["fp8_w8a8"].ms * 1e-3;
      const double g = static_cast<double>(s.Weights()) / sec * 1e-9;
      const double f = 2.0 * s.m * static_cast<double>(s.Weights()) / sec * 1e-9;
      char buf[96];
      std::snprintf(buf, sizeof buf, "%.1f (%.0f%%)", g, 100 * g / dram);
      gbs = buf;
      std::snprintf(buf, sizeof buf, "%.0f (%.0f%%)", f, 100 * f / fma);
      gfl = buf;
    }
    if (res.count("fp8_fused") && res.count("fp8_w8a8")) {
      std::fprintf(stderr, "%s: fp8_fused %s the speed of fp8_w8a8\n", s.Name().c_str(),
                   ratio("fp8_fused", "fp8_w8a8").c_str());
    }
    std::printf(" %s | %s | %s | %s | %s |\n", ratio("fp8_w8a8", "nbits8").c_str(),
                ratio("fp8_wo", "nbits8").c_str(), ratio("fp8_w8a8", "fp32").c_str(), gbs.c_str(),
                gfl.c_str());
    std::fflush(stdout);
  }
  std::printf(
      "\nratios: speed of fp8ops relative to the peer (>1: fp8ops faster). GB/s counts FP8 "
      "weight bytes (1 per weight).\n");
  return 0;
}

}  // namespace
}  // namespace fp8ops::bench

int main(int argc, char** argv) { return fp8ops::bench::Main(argc, argv); }
