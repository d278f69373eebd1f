// fp8ops_demo: the before/after picture of the README's main command (scripts/main_job.sh).
//
//   fp8ops_demo ocr --keys KEYS --images DIR --model NAME=PATH [--model NAME=PATH ...]
//                   [--plugin LIB] [--threads T] [--runs N] [--check]
//       PaddleOCR text recogniser on the images listed in DIR/labels.tsv: per image the decoded
//       text of every model, the share of positions whose top-1 class agrees with the first model,
//       and the output cosine; then per model its weight bytes, file size, session peak RSS and
//       latency.
//       --check: exit 1 unless every model decodes every image as the first model does, with top-1
//       agreement >= 97% and cosine >= 0.98. --vs MODEL=BASELINE (names) adds a before/after line.
//   fp8ops_demo bench --model NAME=PATH [--model ...] [--dim NAME=V ...] [--seq S] [--batch B]
//                     [--plugin LIB] [--threads T] [--runs N] [--ep cpu|cuda|cuda-graph]
//       Any model on seeded random inputs (symbolic dims: --dim, else batch for the first, seq for
//       the others): output cosine against the first model and the same per-model numbers.
//       --ep cuda: in ONNX Runtime's CUDA execution provider (the plugin's CUDA kernels); adds the
//       device memory each session holds after creation (weights) and after the runs.
//       --ep cuda-graph: the same with the run captured once as a CUDA graph and replayed (ORT's
//       enable_cuda_graph; inputs and outputs in device buffers bound once); the timed runs are
//       replays on the GPU-resident inputs, without host copies.
//       Each model gets the inputs in the element types it declares (float32 / float16 /
//       bfloat16 conversions of the same values), so a float32 model and its float16 version
//       run on one input; outputs are compared as float32.
//   fp8ops_demo optimized --model NAME=PATH [--model ...] [--plugin LIB] [--ep cpu|cuda]
//                         [--out DIR]
//       Node counts per op type of each model before and after ONNX Runtime's graph
//       optimizations (ORT_ENABLE_ALL) for that execution provider: which fusions applied.
//       --out DIR keeps the optimized models (DIR/NAME.onnx) instead of a temporary directory.
//   fp8ops_demo to-fp16 IN OUT
//       The FP16 copy of an FP32 model (see models/demo/model_tools.h).
//   fp8ops_demo summary MODEL
//       Weight bytes, file size and op counts of a model.
//
// Every model runs in its own child process (models/demo/session_probe.h), so peak RSS is per
// session.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "fp8ops/float16.h"
#include "models/demo/model_tools.h"
#include "models/demo/ocr_pipeline.h"
#include "models/demo/session_probe.h"

namespace fp8ops::demo {
namespace {

constexpr double kMinTop1 = 0.97;
constexpr double kMinCosine = 0.98;

struct NamedModel {
  std::string name, path;
};

struct Args {
  std::vector<NamedModel> models;
  std::map<std::string, int64_t> dims;
  std::vector<std::pair<std::string, std::string>> extra_pairs;  // --vs MODEL=BASELINE (names)
  std::string keys, images, plugin, out_dir;
  std::string ep = "cpu";
  int threads = 1, runs = 5;
  int64_t seq = 16, batch = 1;
  bool check = false;
};

[[noreturn]] void Usage(const char* msg) {
  std::fprintf(stderr,
               "fp8ops_demo: %s\n(see the comment at the top of models/demo/demo_main.cc)\n", msg);
  std::exit(2);
}

Args ParseArgs(int argc, char** argv, int first) {
  Args a;
  for (int i = first; i < argc; ++i) {
    const std::string k = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(("missing value for " + k).c_str());
      return argv[++i];
    };
    if (k == "--model") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos) Usage("--model takes NAME=PATH");
      a.models.push_back({v.substr(0, eq), v.substr(eq + 1)});
    } else if (k == "--dim") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos) Usage("--dim takes NAME=VALUE");
      a.dims[v.substr(0, eq)] = std::atoll(v.c_str() + eq + 1);
    } else if (k == "--vs") {
      const std::string v = value();
      const size_t eq = v.find('=');
      if (eq == std::string::npos) Usage("--vs takes MODEL=BASELINE (model names)");
      a.extra_pairs.emplace_back(v.substr(0, eq), v.substr(eq + 1));
    } else if (k == "--keys") {
      a.keys = value();
    } else if (k == "--images") {
      a.images = value();
    } else if (k == "--plugin") {
      a.plugin = value();
    } else if (k == "--ep") {
      a.ep = value();
      if (a.ep != "cpu" && a.ep != "cuda" && a.ep != "cuda-graph")
        Usage("--ep takes cpu, cuda or cuda-graph");
    } else if (k == "--threads") {
      a.threads = std::atoi(value().c_str());
    } else if (k == "--runs") {
      a.runs = std::max(1, std::atoi(value().c_str()));
    } else if (k == "--seq") {
      a.seq = std::atoll(value().c_str());
    } else if (k == "--batch") {
      a.batch = std::atoll(value().c_str());
    } else if (k == "--out") {
      a.out_dir = value();
    } else if (k == "--check") {
      a.check = true;
    } else {
      Usage(("unknown option " + k).c_str());
    }
  }
  if (a.models.empty()) Usage("give at least one --model NAME=PATH");
  return a;
}

// Terminal columns of a UTF-8 string (CJK and fullwidth forms take two).
int DisplayWidth(const std::string& s) {
  int w = 0;
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<uint8_t>(s[i]);
    const int len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : 4;
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1F) : len == 3 ? (c & 0x0F) : (c & 0x07);
    for (int k = 1; k < len && i + k < s.size(); ++k)
      cp = (cp << 6) | (static_cast<uint8_t>(s[i + k]) & 0x3F);
    const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                      (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                      (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                      (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x20000 && cp <= 0x3FFFD);
    w += wide ? 2 : 1;
    i += len;
  }
  return w;
}

std::string Pad(const std::string& s, int width) {
  return s + std::string(static_cast<size_t>(std::max(0, width - DisplayWidth(s))), ' ');
}

std::string Mib(int64_t bytes) { return absl::StrFormat("%.2f MiB", bytes / 1048576.0); }

std::vector<float> AsFloats(const host::HostTensor& t) {
  std::vector<float> v(static_cast<size_t>(t.NumElements()));
  for (size_t i = 0; i < v.size(); ++i) {
    if (t.elem_type == 1) {
      v[i] = t.data<float>()[i];
    } else if (t.elem_type == 10) {
      v[i] = HalfToFloat(t.data<uint16_t>()[i]);
    } else if (t.elem_type == 16) {
      v[i] = Bf16ToFloat(t.data<uint16_t>()[i]);
    } else {
      v[i] = 0;
    }
  }
  return v;
}

// `t` with its values in element type `to` (float32, float16 or bfloat16).
absl::StatusOr<host::HostTensor> ConvertFloats(const host::HostTensor& t, int32_t to) {
  auto is_float = [](int32_t e) { return e == 1 || e == 10 || e == 16; };
  if (t.elem_type == to) return t;
  if (!is_float(t.elem_type) || !is_float(to)) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot convert element type ", t.elem_type, " to ", to));
  }
  const std::vector<float> v = AsFloats(t);
  host::HostTensor out;
  out.elem_type = to;
  out.shape = t.shape;
  out.bytes.resize(v.size() * static_cast<size_t>(host::HostTensor::ElementSize(to)));
  for (size_t i = 0; i < v.size(); ++i) {
    if (to == 1) {
      out.mutable_data<float>()[i] = v[i];
    } else {
      out.mutable_data<uint16_t>()[i] = to == 10 ? FloatToHalf(v[i]) : FloatToBf16(v[i]);
    }
  }
  return out;
}

// The input sets with every tensor in the element type the model at `path` declares for that
// input (one set of inputs serves a float32 model and its float16 version).
absl::StatusOr<std::vector<InputSet>> InputsForModel(const std::string& path,
                                                     const std::vector<InputSet>& inputs) {
  auto model = LoadModel(path);
  if (!model.ok()) return model.status();
  std::map<std::string, int32_t> declared;
  for (const auto& in : model->graph().input()) {
    if (in.type().has_tensor_type()) declared[in.name()] = in.type().tensor_type().elem_type();
  }
  std::vector<InputSet> out = inputs;
  for (auto& set : out) {
    for (auto& [name, t] : set) {
      auto it = declared.find(name);
      if (it == declared.end() || it->second == t.elem_type) continue;
      auto c = ConvertFloats(t, it->second);
      if (!c.ok()) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ", input '", name, "': ", c.status().message()));
      }
      t = *std::move(c);
    }
  }
  return out;
}

struct Measured {
  NamedModel model;
  ModelSummary summary;
  ProbeResult probe;
};

absl::StatusOr<std::vector<Measured>> MeasureAll(const Args& a,
                                                 const std::vector<InputSet>& inputs) {
  std::vector<Measured> out;
  ProbeOptions po;
  po.plugin_path = a.plugin;
  po.threads = a.threads;
  po.runs = a.runs;
  po.ep = a.ep;
  // The CUDA provider's first runs create handles and pick cuBLAS algorithms: keep them untimed.
  if (a.ep != "cpu") po.warmup = 3;
  for (const auto& m : a.models) {
    std::fprintf(stderr, "  running %s (%s) ...\n", m.name.c_str(), m.path.c_str());
    auto summary = Summarize(m.path);
    if (!summary.ok()) return summary.status();
    auto model_inputs = InputsForModel(m.path, inputs);
    if (!model_inputs.ok()) return model_inputs.status();
    auto probe = ProbeInChild("/proc/self/exe", m.path, *model_inputs, po);
    if (!probe.ok()) return probe.status();
    out.push_back({m, *summary, std::move(*probe)});
  }
  return out;
}

void PrintModelTable(const std::vector<Measured>& ms, const std::string& latency_label,
                     const Args& a) {
  int name_w = 6;
  for (const auto& m : ms) name_w = std::max(name_w, DisplayWidth(m.model.name));
  std::printf("\n%s  %12s  %12s  %12s  %12s  %10s  %s\n", Pad("model", name_w).c_str(),
              "GEMM weights", "all weights", "file", "peak RSS", "load", latency_label.c_str());
  for (const auto& m : ms) {
    // Three decimals under 10 ms: GPU decode steps take a few tenths of a millisecond.
    const int dec = m.probe.median_ms < 10 ? 3 : 2;
    std::printf("%s  %12s  %12s  %12s  %12s  %7.1f ms  %8.*f ms (min %.*f)\n",
                Pad(m.model.name, name_w).c_str(), Mib(m.summary.gemm_weight_bytes).c_str(),
                Mib(m.summary.constant_bytes).c_str(), Mib(m.summary.file_bytes).c_str(),
                Mib(m.probe.peak_rss_kib * 1024).c_str(), m.probe.load_ms, dec,
                m.probe.median_ms, dec, m.probe.min_ms);
  }
  const bool gpu = ms[0].probe.gpu_loaded_bytes >= 0;
  if (gpu) {
    std::printf("\n%s  %16s  %16s  (CUDA execution provider: device memory held by the session)\n",
                Pad("model", name_w).c_str(), "GPU after load", "GPU after runs");
    for (const auto& m : ms) {
      std::printf("%s  %16s  %16s\n", Pad(m.model.name, name_w).c_str(),
                  Mib(m.probe.gpu_loaded_bytes).c_str(), Mib(m.probe.gpu_after_runs_bytes).c_str());
    }
  }
  auto ratio = [](double after, double before) { return before > 0 ? after / before : 0.0; };
  auto compare = [&](const Measured& m, const Measured& base) {
    if (gpu) {
      std::printf("  %s vs %s: GPU memory after load x%.2f, after runs x%.2f; speed-up x%.2f\n",
                  m.model.name.c_str(), base.model.name.c_str(),
                  ratio(m.probe.gpu_loaded_bytes, base.probe.gpu_loaded_bytes),
                  ratio(m.probe.gpu_after_runs_bytes, base.probe.gpu_after_runs_bytes),
                  ratio(base.probe.median_ms, m.probe.median_ms));
    }
    std::printf(
        "  %s vs %s: GEMM weights x%.2f, file x%.2f, peak RSS %+.1f MiB (x%.2f), latency x%.2f\n",
        m.model.name.c_str(), base.model.name.c_str(),
        ratio(m.summary.gemm_weight_bytes, base.summary.gemm_weight_bytes),
        ratio(m.summary.file_bytes, base.summary.file_bytes),
        (m.probe.peak_rss_kib - base.probe.peak_rss_kib) / 1024.0,
        ratio(m.probe.peak_rss_kib, base.probe.peak_rss_kib),
        ratio(m.probe.median_ms, base.probe.median_ms));
  };
  const auto& ref = ms[0];
  for (size_t i = 1; i < ms.size(); ++i) compare(ms[i], ref);
  for (const auto& [model, base] : a.extra_pairs) {
    const Measured *pm = nullptr, *pb = nullptr;
    for (const auto& m : ms) {
      if (m.model.name == model) pm = &m;
      if (m.model.name == base) pb = &m;
    }
    if (pm == nullptr || pb == nullptr) {
      std::printf("  (--vs %s=%s: no model of that name)\n", model.c_str(), base.c_str());
      continue;
    }
    compare(*pm, *pb);
  }
  std::printf(
      "  (peak RSS: VmHWM of a fresh process per model; ONNX Runtime loaded, no session: %s. "
      "latency: median of %d runs after warm-up, %d intra-op thread%s, %s execution provider%s)\n",
      Mib(ref.probe.rss_start_kib * 1024).c_str(), a.runs, a.threads, a.threads == 1 ? "" : "s",
      a.ep.c_str(),
      a.ep == "cuda-graph" ? "; graph replays on GPU-resident inputs and outputs, no host copies"
                           : "");
}

int RunOcr(const Args& a) {
  if (a.keys.empty() || a.images.empty()) Usage("ocr needs --keys and --images");
  auto labels = LoadLabels(a.keys);
  auto list = ReadLabelsTsv(a.images + "/labels.tsv");
  if (!labels.ok() || !list.ok()) {
    std::fprintf(stderr, "fp8ops_demo: %s\n",
                 std::string((!labels.ok() ? labels.status() : list.status()).message()).c_str());
    return 1;
  }
  std::vector<InputSet> inputs;
  for (const auto& [file, truth] : *list) {
    auto img = ReadPnm(a.images + "/" + file);
    if (!img.ok()) {
      std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(img.status().message()).c_str());
      return 1;
    }
    RecInput r = PreprocessForRecognizer(*img);
    inputs.push_back({{"x", host::HostTensor::From(1, {1, 3, 48, r.width}, r.data)}});
  }
  auto ms = MeasureAll(a, inputs);
  if (!ms.ok()) {
    std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(ms.status().message()).c_str());
    return 1;
  }
  // Per image and model: decoded text, top-1 agreement and cosine against the first model.
  struct Cell {
    std::string text;
    double top1 = 1, cos = 1;
  };
  const size_t n_models = ms->size(), n_images = list->size();
  std::vector<std::vector<Cell>> cells(n_images, std::vector<Cell>(n_models));
  for (size_t i = 0; i < n_images; ++i) {
    const auto& ref_out = (*ms)[0].probe.outputs[i][0];
    const std::vector<float> ref = AsFloats(ref_out);
    const int64_t c = ref_out.shape.back(), t = ref_out.NumElements() / c;
    const std::vector<int> ref_arg = ArgmaxRows(ref.data(), t, c);
    for (size_t k = 0; k < n_models; ++k) {
      const std::vector<float> out = AsFloats((*ms)[k].probe.outputs[i][0]);
      if (out.size() != ref.size()) {
        cells[i][k] = {"<output shape differs>", 0.0, 0.0};
        continue;
      }
      const std::vector<int> arg = ArgmaxRows(out.data(), t, c);
      cells[i][k] = {CtcGreedyDecode(arg, *labels), Top1Agreement(ref_arg, arg),
                     Cosine(ref.data(), out.data(), t * c)};
    }
  }
  // The table: the first two models side by side; the others summarized below.
  const std::string& ref_name = (*ms)[0].model.name;
  std::printf("\nPaddleOCR v4 text recogniser on %zu rendered text lines (greedy CTC decoding)\n",
              n_images);
  int text_w = 14;
  for (size_t i = 0; i < n_images; ++i) {
    text_w = std::max(text_w, DisplayWidth((*list)[i].second) + 2);
    for (size_t k = 0; k < std::min<size_t>(2, n_models); ++k)
      text_w = std::max(text_w, DisplayWidth(cells[i][k].text) + 2);
  }
  const bool pair = n_models >= 2;
  std::printf("%s  %s", Pad("rendered text", text_w).c_str(), Pad(ref_name, text_w).c_str());
  if (pair)
    std::printf("  %s  %7s  %8s", Pad((*ms)[1].model.name, text_w).c_str(), "top-1", "cosine");
  std::printf("\n");
  for (size_t i = 0; i < n_images; ++i) {
    std::printf("%s  %s", Pad("\"" + (*list)[i].second + "\"", text_w).c_str(),
                Pad("\"" + cells[i][0].text + "\"", text_w).c_str());
    if (pair) {
      std::printf("  %s  %6.1f%%  %8.5f", Pad("\"" + cells[i][1].text + "\"", text_w).c_str(),
                  100 * cells[i][1].top1, cells[i][1].cos);
    }
    std::printf("\n");
  }
  if (pair) {
    std::printf(
        "(top-1: share of output positions whose most likely character agrees with %s; cosine: of "
        "the "
        "output probabilities)\n",
        ref_name.c_str());
  }
  int name_w = 8;
  for (const auto& m : *ms) name_w = std::max(name_w, DisplayWidth(m.model.name));
  bool ok = true;
  std::printf("\n");
  for (size_t k = 0; k < n_models; ++k) {
    int right = 0, same = 0;
    double min_top1 = 1, min_cos = 1;
    for (size_t i = 0; i < n_images; ++i) {
      right += cells[i][k].text == (*list)[i].second;
      same += cells[i][k].text == cells[i][0].text;
      min_top1 = std::min(min_top1, cells[i][k].top1);
      min_cos = std::min(min_cos, cells[i][k].cos);
    }
    if (k == 0) {
      std::printf("%s  reads %d/%zu lines as rendered\n", Pad(ref_name, name_w).c_str(), right,
                  n_images);
      continue;
    }
    const bool pass =
        same == static_cast<int>(n_images) && min_top1 >= kMinTop1 && min_cos >= kMinCosine;
    ok = ok && pass;
    std::printf("%s  reads %d/%zu as rendered, %d/%zu as %s; top-1 >= %.1f%%, cosine >= %.5f: %s\n",
                Pad((*ms)[k].model.name, name_w).c_str(), right, n_images, same, n_images,
                ref_name.c_str(), 100 * min_top1, min_cos,
                pass ? "PASS" : "FAIL (wants the same text, top-1 >= 97%, cosine >= 0.98)");
    for (size_t i = 0; i < n_images; ++i) {
      if (cells[i][k].text != cells[i][0].text) {
        std::printf("%s    \"%s\" instead of \"%s\"\n", Pad("", name_w).c_str(),
                    cells[i][k].text.c_str(), cells[i][0].text.c_str());
      }
    }
  }
  PrintModelTable(*ms, absl::StrFormat("latency (%zu images)", list->size()), a);
  return a.check && !ok ? 1 : 0;
}

// Seeded random inputs for a model's graph inputs.
absl::StatusOr<InputSet> RandomInputs(const Args& a, const std::string& path) {
  auto model = LoadModel(path);
  if (!model.ok()) return model.status();
  std::map<std::string, bool> is_init;
  for (const auto& t : model->graph().initializer()) is_init[t.name()] = true;
  std::mt19937 rng(1234);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  InputSet set;
  for (const auto& in : model->graph().input()) {
    if (is_init.count(in.name())) continue;
    const auto& tt = in.type().tensor_type();
    std::vector<int64_t> shape;
    for (int d = 0; d < tt.shape().dim_size(); ++d) {
      const auto& dim = tt.shape().dim(d);
      if (dim.has_dim_value()) {
        shape.push_back(dim.dim_value());
      } else if (a.dims.count(dim.dim_param())) {
        shape.push_back(a.dims.at(dim.dim_param()));
      } else {
        shape.push_back(d == 0 ? a.batch : a.seq);
      }
    }
    host::HostTensor t;
    t.elem_type = tt.elem_type();
    t.shape = shape;
    const int esize = host::HostTensor::ElementSize(t.elem_type);
    if (esize == 0)
      return absl::UnimplementedError(absl::StrCat("input '", in.name(), "' type ", t.elem_type));
    t.bytes.resize(static_cast<size_t>(t.NumElements()) * esize);
    const bool positions = in.name().find("position") != std::string::npos;
    const bool mask = in.name().find("mask") != std::string::npos;
    for (int64_t i = 0; i < t.NumElements(); ++i) {
      const int64_t last = shape.empty() ? 1 : shape.back();
      const int64_t ival = mask        ? 1
                           : positions ? i % std::max<int64_t>(1, last)
                                       : static_cast<int64_t>(rng() % 100);
      switch (t.elem_type) {
        case 1:
          t.mutable_data<float>()[i] = normal(rng);
          break;
        case 10:
          t.mutable_data<uint16_t>()[i] = FloatToHalf(normal(rng));
          break;
        case 16:
          t.mutable_data<uint16_t>()[i] = FloatToBf16(normal(rng));
          break;
        case 7:
          t.mutable_data<int64_t>()[i] = ival;
          break;
        case 6:
          t.mutable_data<int32_t>()[i] = static_cast<int32_t>(ival);
          break;
        case 9:
          t.mutable_data<uint8_t>()[i] = 1;
          break;
        default:
          return absl::UnimplementedError(
              absl::StrCat("input '", in.name(), "' type ", t.elem_type));
      }
    }
    set.emplace_back(in.name(), std::move(t));
  }
  return set;
}

int RunBench(const Args& a) {
  auto inputs = RandomInputs(a, a.models[0].path);
  if (!inputs.ok()) {
    std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(inputs.status().message()).c_str());
    return 1;
  }
  std::string shapes;
  for (const auto& [name, t] : *inputs) {
    absl::StrAppend(&shapes, shapes.empty() ? "" : ", ", name, " [");
    for (size_t d = 0; d < t.shape.size(); ++d) absl::StrAppend(&shapes, d ? "," : "", t.shape[d]);
    absl::StrAppend(&shapes, "]");
  }
  auto ms = MeasureAll(a, {*inputs});
  if (!ms.ok()) {
    std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(ms.status().message()).c_str());
    return 1;
  }
  const std::string& first = a.models[0].path;
  std::printf("\n%s on seeded random inputs %s (outputs compared with '%s')\n",
              first.substr(first.rfind('/') + 1).c_str(), shapes.c_str(),
              (*ms)[0].model.name.c_str());
  const auto& ref_outs = (*ms)[0].probe.outputs[0];
  for (size_t k = 1; k < ms->size(); ++k) {
    const auto& outs = (*ms)[k].probe.outputs[0];
    for (size_t o = 0; o < ref_outs.size() && o < outs.size(); ++o) {
      const auto r = AsFloats(ref_outs[o]), v = AsFloats(outs[o]);
      double ref_max = 0;
      for (float x : r) ref_max = std::max(ref_max, static_cast<double>(std::fabs(x)));
      const bool same_shape = ref_outs[o].shape == outs[o].shape;
      std::printf("  %s output %zu: cosine %.5f, max |diff| %.4g (max |ref| %.4g)%s\n",
                  (*ms)[k].model.name.c_str(), o,
                  same_shape ? Cosine(r.data(), v.data(), static_cast<int64_t>(r.size())) : 0.0,
                  same_shape ? MaxAbsDiff(r.data(), v.data(), static_cast<int64_t>(r.size())) : 0.0,
                  ref_max, same_shape ? "" : " SHAPE DIFFERS");
    }
  }
  PrintModelTable(*ms, "latency (one run)", a);
  return 0;
}

int RunOptimized(const Args& a) {
  if (a.ep != "cpu" && a.ep != "cuda") Usage("optimized takes --ep cpu or cuda");
  std::string dir = a.out_dir;
  const bool temp = dir.empty();
  if (temp) {
    char tmpl[] = "/tmp/fp8ops_optimized.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      std::fprintf(stderr, "fp8ops_demo: mkdtemp failed\n");
      return 1;
    }
    dir = tmpl;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
  }
  // Per model: op -> count before and after.
  std::vector<std::map<std::string, int>> before, after;
  int status = 0;
  for (const auto& m : a.models) {
    auto s0 = Summarize(m.path);
    if (!s0.ok()) {
      std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(s0.status().message()).c_str());
      status = 1;
      break;
    }
    std::string file = m.name;
    for (char& c : file) {
      if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_') c = '_';
    }
    host::SessionOptions so;
    so.plugin_path = a.plugin;
    so.intra_op_threads = a.threads;
    so.execution_provider = a.ep;
    so.optimized_model_path = dir + "/" + file + ".onnx";
    auto session = host::Session::FromFile(m.path, so);
    auto s1 = session.ok() ? Summarize(so.optimized_model_path) : session.status();
    if (!s1.ok()) {
      std::fprintf(stderr, "fp8ops_demo: %s: %s\n", m.path.c_str(),
                   std::string(s1.status().message()).c_str());
      status = 1;
      break;
    }
    before.push_back(s0->op_counts);
    after.push_back(s1->op_counts);
  }
  if (temp) std::filesystem::remove_all(dir);
  if (status != 0) return status;
  std::set<std::string> ops;
  for (const auto& counts : before)
    for (const auto& [op, n] : counts) ops.insert(op);
  for (const auto& counts : after)
    for (const auto& [op, n] : counts) ops.insert(op);
  int op_w = 8;
  for (const auto& op : ops) op_w = std::max(op_w, DisplayWidth(op));
  std::printf("\nnodes per op type, as written -> after ONNX Runtime's optimizations (%s EP)\n",
              a.ep.c_str());
  std::printf("%s", Pad("op", op_w).c_str());
  for (const auto& m : a.models) std::printf("  %18s", m.name.c_str());
  std::printf("\n");
  auto row = [&](const std::string& label, auto count) {
    std::printf("%s", Pad(label, op_w).c_str());
    for (size_t k = 0; k < a.models.size(); ++k) {
      const auto [b, f] = count(k);
      std::printf("  %18s", (b == f ? absl::StrCat(f) : absl::StrCat(b, " -> ", f)).c_str());
    }
    std::printf("\n");
  };
  for (const auto& op : ops) {
    row(op, [&](size_t k) {
      auto get = [&](const std::map<std::string, int>& c) {
        auto it = c.find(op);
        return it == c.end() ? 0 : it->second;
      };
      return std::make_pair(get(before[k]), get(after[k]));
    });
  }
  row("(all)", [&](size_t k) {
    int b = 0, f = 0;
    for (const auto& [op, n] : before[k]) b += n;
    for (const auto& [op, n] : after[k]) f += n;
    return std::make_pair(b, f);
  });
  if (!temp) std::printf("(optimized models in %s)\n", dir.c_str());
  return 0;
}

int RunSummary(const std::string& path) {
  auto s = Summarize(path);
  if (!s.ok()) {
    std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(s.status().message()).c_str());
    return 1;
  }
  std::printf("%s: file %s, all weights %s, GEMM weights %s\n", path.c_str(),
              Mib(s->file_bytes).c_str(), Mib(s->constant_bytes).c_str(),
              Mib(s->gemm_weight_bytes).c_str());
  for (const auto& [op, n] : s->op_counts) std::printf("  %-28s %d\n", op.c_str(), n);
  return 0;
}

}  // namespace
}  // namespace fp8ops::demo

int main(int argc, char** argv) {
  using namespace fp8ops::demo;
  if (argc >= 2 && std::strcmp(argv[1], kProbeArg) == 0) return ProbeChildMain(argc, argv);
  if (argc < 2) Usage("missing command (ocr, bench, optimized, to-fp16, summary)");
  const std::string cmd = argv[1];
  if (cmd == "ocr") return RunOcr(ParseArgs(argc, argv, 2));
  if (cmd == "bench") return RunBench(ParseArgs(argc, argv, 2));
  if (cmd == "optimized") return RunOptimized(ParseArgs(argc, argv, 2));
  if (cmd == "summary" && argc == 3) return RunSummary(argv[2]);
  if (cmd == "to-fp16" && argc == 4) {
    Fp16Stats st;
    if (auto s = ConvertFileToFp16(argv[2], argv[3], &st); !s.ok()) {
      std::fprintf(stderr, "fp8ops_demo: %s\n", std::string(s.message()).c_str());
      return 1;
    }
    std::printf(
        "%s -> %s: %d float32 constants stored as float16, %d MatMul/Gemm computing in float16\n",
        argv[2], argv[3], st.constants_converted, st.gemms_in_fp16);
    return 0;
  }
  Usage(("unknown command or arguments: " + cmd).c_str());
}
