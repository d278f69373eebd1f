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
// --ep=cuda-graph: the same side by side in ONNX Runtime's CUDA execution provider, every model
// with float16 activations and output, each run a CUDA-graph replay on inputs resident on the GPU
// (host::Session::RunResident); the GPU peers (DESIGN.md) beside fp8ops' ops:
//   fp16       MatMul (cuBLAS)
//   nbits8     com.microsoft.MatMulNBits, 8 bits, block 128, float16 scales
//   ort_fp8w   com.microsoft.MatMulBlockQuantizedFp8Weight: the same E4M3 weights as fp8ops', its
//              per-row [N, K/128] scales expanded from the 128x128 blocks (weight-only)
//   ort_fp8w_a8  the same with its static per-tensor activation scale (amax of the input / 448)
// plus fp8_w8a8, fp8_wo and fp8_fused. Each output's cosine to the first kind's is printed, so a
// misbuilt peer shows. --ep=cuda: the same without CUDA graphs (host copies in every run).
//
//   session_bench [--threads=2] [--runs=11] [--shapes=1x4096x4096,128x4096x14336x1,...]
//                 [--kinds=fp32,nbits8,fp8_w8a8] [--big] [--dir=/tmp] [--plugin=libfp8ops.so]
//                 [--ep=cpu|cuda|cuda-graph] [--keep-models]
//
// Shapes are MxKxN[xLAYERS]. --big adds 1x4096x14336x11 and 16x4096x14336x11 (646 M weights:
// 646 MB in FP8, 2.6 GB in fp32), far over the L3 (the issue asks for 600 MB or more). On the GPU
// the default shapes chain layers so that the weights exceed the 50 MB L2 of an H100.
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

// The benchmark input: deterministic values in [-1, 1).
std::vector<float> InputValues(const Shape& s) {
  std::vector<float> x(static_cast<size_t>(s.m * s.k));
  for (size_t i = 0; i < x.size(); ++i) x[i] = WeightValue(99, 0, static_cast<int64_t>(i), 1);
  return x;
}

// The 128x128-block E4M3 weight of layer l ([out, in] codes, [out/128, in/128] scales): fp8ops'
// form, also what ort_fp8w reads.
void BlockFp8Weight(int64_t l, int64_t in, int64_t out, std::vector<uint8_t>* q,
                    std::vector<float>* sc) {
  const int64_t nbn = (out + 127) / 128, nbk = (in + 127) / 128;
  q->assign(static_cast<size_t>(out * in), 0);
  sc->assign(static_cast<size_t>(nbn * nbk), 0.0f);
  std::vector<float> panel(static_cast<size_t>(128 * in));
  for (int64_t i = 0; i < nbn; ++i) {
    const int64_t rows = std::min<int64_t>(128, out - i * 128);
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = 0; c < in; ++c) panel[r * in + c] = WeightValue(l, i * 128 + r, c, in);
    }
    QuantizeBlocks2D(panel.data(), rows, in, 128, 128, {}, q->data() + i * 128 * in,
                     sc->data() + i * nbk);
  }
}

// Whether the model of `kind` takes and returns float16: fp16 always, every kind but fp32 on the
// GPU.
bool Float16Io(const std::string& kind, bool gpu) {
  return kind == "fp16" || (gpu && kind != "fp32");
}

// Writes the model of `kind` for `s` and returns its path (activation types: Float16Io).
std::string BuildModel(const std::string& kind, const Shape& s, const std::string& dir, bool gpu) {
  ModelWriter w(absl::StrCat(dir, "/", kind, "_", s.Name(), ".onnx"));
  auto& m = w.model();
  const bool f16 = Float16Io(kind, gpu);
  const int32_t act = f16 ? 10 : 1;
  AddInput(m, "x", act, {s.m, s.k});
  std::string cur = "x";
  for (int64_t l = 0; l < s.layers; ++l) {
    const int64_t in = l % 2 == 0 ? s.k : s.n, out = l % 2 == 0 ? s.n : s.k;
    const std::string wn = absl::StrCat("w", l), y = absl::StrCat("y", l);
    if (kind == "fp32" || kind == "fp16") {  // f16: kind fp16 here (fp32 keeps float)
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
      if (act == 10) {  // DequantizeLinear's output takes the scale's type
        uint16_t h = 0;
        StoreFromFloat(sv.data(), 1, DType::kFloat16, &h);
        w.AddInitializer(wn + "_s", 10, {}, &h, 2);
      } else {
        w.AddInitializer(wn + "_s", 1, {}, sv.data(), 4);
      }
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
      if (act == 10) {  // the scales are of A's type
        std::vector<uint16_t> h(sc.size());
        StoreFromFloat(sc.data(), static_cast<int64_t>(sc.size()), DType::kFloat16, h.data());
        w.AddInitializer(wn + "_s", 10, {out * nb}, h.data(), h.size() * 2);
      } else {
        w.AddInitializer(wn + "_s", 1, {out * nb}, sc.data(), sc.size() * 4);
      }
      AddNode(m, "MatMulNBits", {cur, wn, wn + "_s"}, {y},
              {Attr::Int("K", in), Attr::Int("N", out), Attr::Int("bits", 8),
               Attr::Int("block_size", 128), Attr::Int("accuracy_level", 4)},
              "com.microsoft");
    } else {  // fp8_*, ort_fp8w*: B [N, K] E4M3 in 128x128 blocks
      std::vector<uint8_t> q;
      std::vector<float> sc;
      BlockFp8Weight(l, in, out, &q, &sc);
      const int64_t nbn = (out + 127) / 128, nbk = (in + 127) / 128;
      w.AddInitializer(wn, 17, {out, in}, q.data(), q.size());
      if (kind == "ort_fp8w" || kind == "ort_fp8w_a8") {
        std::vector<float> rows(static_cast<size_t>(out * nbk));  // [N, K/128]: one row per n
        for (int64_t r = 0; r < out; ++r) {
          for (int64_t b = 0; b < nbk; ++b) rows[r * nbk + b] = sc[(r / 128) * nbk + b];
        }
        w.AddInitializer(wn + "_s", 1, {out, nbk}, rows.data(), rows.size() * 4);
        std::vector<std::string> ins = {cur, wn, wn + "_s"};
        if (kind == "ort_fp8w_a8") {
          // Static per-tensor activation scale (what a calibration would give): the amax of
          // the benchmark input for the first layer; after it, 4 standard deviations of the
          // layer's input (each layer scales the input's deviation by 1 / sqrt(3): uniform
          // weights in [-1, 1) / sqrt(K); the input's is 1 / sqrt(3)).
          float amax = 0;
          if (l == 0) {
            for (float v : InputValues(s)) amax = std::max(amax, std::fabs(v));
          } else {
            amax = 4.0f * std::pow(1.0f / std::sqrt(3.0f), static_cast<float>(l + 1));
          }
          const std::vector<float> as = {amax / 448.0f};
          w.AddInitializer(wn + "_as", 1, {}, as.data(), 4);
          ins.push_back(wn + "_as");
        }
        AddNode(m, "MatMulBlockQuantizedFp8Weight", ins, {y}, {Attr::Int("block_size", 128)},
                "com.microsoft");
      } else {
        w.AddInitializer(wn + "_s", 1, {nbn, nbk}, sc.data(), sc.size() * 4);
        std::vector<Attr> attrs;
        if (act != 1) attrs.push_back(Attr::Int("out_type", act));
        if (kind == "fp8_w8a8") {
          AddNode(m, "QuantizeFP8", {cur}, {y + "_q", y + "_qs"}, {}, "fp8ops");
          AddNode(m, "FP8GEMM", {y + "_q", y + "_qs", wn, wn + "_s"}, {y}, attrs, "fp8ops");
        } else {
          if (kind == "fp8_fused") attrs.push_back(Attr::Int("a_quant_type", 17));
          AddNode(m, "FP8GEMM", {cur, "", wn, wn + "_s"}, {y}, attrs, "fp8ops");
        }
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
  std::vector<float> out;  // the first run's output, as float
};

std::string g_plugin = FP8OPS_PLUGIN_PATH;
bool g_keep_models = false;  // --keep-models: leave the generated models in --dir

// ep: "cpu", "cuda" (host copies in every run) or "cuda-graph" (replays on GPU-resident inputs).
Result Measure(const std::string& kind, const Shape& s, const std::string& dir, int threads,
               int runs, const std::string& ep) {
  Result r;
  const bool gpu = ep != "cpu";
  const std::string path = BuildModel(kind, s, dir, gpu);
  host::SessionOptions so;
  so.plugin_path = g_plugin;
  so.intra_op_threads = threads;
  so.execution_provider = gpu ? "cuda" : "cpu";
  so.cuda_graph = ep == "cuda-graph";
  auto session = host::Session::FromFile(path, so);
  if (!g_keep_models) {
    std::remove(path.c_str());
    std::remove((path + ".data").c_str());
  }
  if (!session.ok()) {
    r.error = std::string(session.status().message()).substr(0, 200);
    return r;
  }
  const bool f16 = Float16Io(kind, gpu);
  const std::vector<float> x = InputValues(s);
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
  const int warmups = gpu ? 3 : 2;
  for (int i = 0; i < runs + warmups; ++i) {
    const double t0 = Now();
    absl::Status st;
    if (i == 0 || ep != "cuda-graph") {  // the first run also captures the graph
      auto out = (*session)->Run({{"x", xt}});
      st = out.status();
      if (out.ok() && i == 0) {
        const host::HostTensor& y = (*out)[0];
        r.out.resize(static_cast<size_t>(y.NumElements()));
        LoadAsFloat(y.bytes.data(), y.elem_type == 10 ? DType::kFloat16 : DType::kFloat,
                    y.NumElements(), r.out.data());
      }
    } else {
      st = (*session)->RunResident();
    }
    const double t1 = Now();
    if (!st.ok()) {
      r.error = std::string(st.message()).substr(0, 200);
      return r;
    }
    if (i >= warmups) times.push_back((t1 - t0) * 1e3);
    if (i >= warmups + 2 && t1 - t_start > 5.0) break;  // slow variant: enough
  }
  std::sort(times.begin(), times.end());
  r.ms = times[times.size() / 2];
  r.runs = static_cast<int>(times.size());
  return r;
}

// Every kind of one shape, errors reported on stderr.
std::map<std::string, Result> MeasureAll(const std::vector<std::string>& kinds, const Shape& s,
                                         const std::string& dir, int threads, int runs,
                                         const std::string& ep) {
  std::map<std::string, Result> res;
  for (const auto& k : kinds) {
    res[k] = Measure(k, s, dir, threads, runs, ep);
    if (!res[k].error.empty())
      std::fprintf(stderr, "%s %s: %s\n", k.c_str(), s.Name().c_str(), res[k].error.c_str());
  }
  return res;
}

// "<b's time / a's>x" (>1: a faster), "-" where either is missing or failed.
std::string Ratio(const std::map<std::string, Result>& res, const char* a, const char* b) {
  auto ia = res.find(a), ib = res.find(b);
  if (ia == res.end() || ib == res.end() || ia->second.ms <= 0 || ib->second.ms <= 0) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2fx", ib->second.ms / ia->second.ms);
  return buf;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size() || a.empty()) return 0;
  double ab = 0, aa = 0, bb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ab += static_cast<double>(a[i]) * b[i];
    aa += static_cast<double>(a[i]) * a[i];
    bb += static_cast<double>(b[i]) * b[i];
  }
  return aa > 0 && bb > 0 ? ab / std::sqrt(aa * bb) : 0;
}

// The GPU table: milliseconds per kind, each output's cosine to the first kind's, and the
// ratios that compare fp8ops with ONNX Runtime's own (>1: fp8ops faster).
int GpuMain(const std::vector<Shape>& shapes, const std::vector<std::string>& kinds,
            const std::string& dir, int runs, const std::string& ep) {
  std::printf(
      "# fp8ops session benchmark: ONNX Runtime CUDA EP (%s), float16 activations, median "
      "of %d runs\n\n",
      ep.c_str(), runs);
  std::printf("| shape MxKxN[xL] | FP8 weights MB |");
  for (const auto& k : kinds) std::printf(" %s ms (cos) |", k.c_str());
  std::printf(
      " w8a8 vs fp16 | wo vs fp16 | wo vs ort_fp8w | w8a8 vs ort_fp8w_a8 | w8a8 vs nbits8 | "
      "wo TB/s |\n|---|---|");
  for (size_t i = 0; i < kinds.size() + 6; ++i) std::printf("---|");
  std::printf("\n");
  for (const Shape& s : shapes) {
    std::map<std::string, Result> res = MeasureAll(kinds, s, dir, 1, runs, ep);
    std::printf("| %s | %.0f |", s.Name().c_str(), static_cast<double>(s.Weights()) * 1e-6);
    const std::vector<float>& ref = res[kinds[0]].out;
    for (const auto& k : kinds) {
      if (res[k].error.empty()) {
        std::printf(" %.3f (%.4f) |", res[k].ms, Cosine(res[k].out, ref));
      } else {
        std::printf(" error |");
      }
    }
    auto ratio = [&](const char* a, const char* b) { return Ratio(res, a, b); };
    std::string tbs = "-";
    if (res.count("fp8_wo") && res["fp8_wo"].ms > 0) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2f",
                    static_cast<double>(s.Weights()) / (res["fp8_wo"].ms * 1e-3) * 1e-12);
      tbs = buf;
    }
    std::printf(" %s | %s | %s | %s | %s | %s |\n", ratio("fp8_w8a8", "fp16").c_str(),
                ratio("fp8_wo", "fp16").c_str(), ratio("fp8_wo", "ort_fp8w").c_str(),
                ratio("fp8_w8a8", "ort_fp8w_a8").c_str(), ratio("fp8_w8a8", "nbits8").c_str(),
                tbs.c_str());
    std::fflush(stdout);
  }
  std::printf(
      "\nms: one run of the whole chain (a CUDA-graph replay and the wait for it, with "
      "--ep=cuda-graph); cos: output cosine to %s's. TB/s counts FP8 weight bytes.\n",
      kinds[0].c_str());
  return 0;
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
  const std::string ep = Flag(argc, argv, "ep", "cpu");
  if (ep != "cpu" && ep != "cuda" && ep != "cuda-graph") {
    std::fprintf(stderr, "session_bench: --ep must be cpu, cuda or cuda-graph\n");
    return 2;
  }
  const bool gpu = ep != "cpu";
  g_plugin = Flag(argc, argv, "plugin", g_plugin);
  g_keep_models = Flag(argc, argv, "keep-models", "") == "1";
  std::vector<Shape> shapes;
  // GPU: layers chained so that the weights stay far over an H100's 50 MB L2 (134 / 235 MB FP8).
  const char* default_shapes =
      gpu ? "1x4096x4096x8,16x4096x4096x8,128x4096x4096x8,1024x4096x4096x8,1x4096x14336x4,"
            "16x4096x14336x4,128x4096x14336x4,1024x4096x14336x4"
          : "1x4096x4096,16x4096x4096,128x4096x4096,512x4096x4096,1x4096x14336,16x4096x14336,"
            "128x4096x14336,512x4096x14336";
  for (const auto& tok :
       absl::StrSplit(Flag(argc, argv, "shapes", default_shapes), ',', absl::SkipEmpty())) {
    std::vector<int64_t> v;
    for (const auto& d : absl::StrSplit(tok, 'x')) v.push_back(std::stoll(std::string(d)));
    shapes.push_back({v[0], v[1], v[2], v.size() > 3 ? v[3] : 1});
  }
  if (Flag(argc, argv, "big", "") == "1") {
    shapes.push_back({1, 4096, 14336, 11});
    shapes.push_back({16, 4096, 14336, 11});
  }
  std::vector<std::string> kinds;
  const char* default_kinds = gpu ? "fp16,nbits8,ort_fp8w,ort_fp8w_a8,fp8_w8a8,fp8_wo,fp8_fused"
                                  : "fp32,fp16,dq_fp8,nbits8,fp8_w8a8,fp8_wo";
  for (const auto& k :
       absl::StrSplit(Flag(argc, argv, "kinds", default_kinds), ',', absl::SkipEmpty())) {
    kinds.emplace_back(k);
  }
  if (gpu) return GpuMain(shapes, kinds, dir, runs, ep);

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
    std::map<std::string, Result> res = MeasureAll(kinds, s, dir, threads, runs, "cpu");
    const double wmb = static_cast<double>(s.Weights()) * 1e-6;
    std::printf("| %s | %.0f |", s.Name().c_str(), wmb);
    for (const auto& k : kinds) {
      if (res[k].error.empty()) {
        std::printf(" %.3f |", res[k].ms);
      } else {
        std::printf(" error |");
      }
    }
    auto ratio = [&](const char* a, const char* b) { return Ratio(res, a, b); };
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
