#include "tests/conformance/runner.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <memory>
#include <regex>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "fp8ops/dtype.h"
#include "tests/conformance/case_io.h"
#include "tests/conformance/gemm_bound.h"

#ifndef FP8OPS_SOURCE_DIR
#error "FP8OPS_SOURCE_DIR must be defined (tests/conformance/CMakeLists.txt)"
#endif

namespace fp8ops::conformance {
namespace {

namespace fs = std::filesystem;

struct Outcome {
  bool pass = true;
  std::string op;      // op types of the case's nodes
  std::string check;   // "exact", "bound" or both
  std::string detail;  // summary, or the first problem
};

std::string ShapeStr(const std::vector<int64_t>& s) {
  return absl::StrCat("[", absl::StrJoin(s, ","), "]");
}

bool IsFloatType(int32_t t) { return t == 1 || t == 10 || t == 16; }

double ElementAsDouble(const HostTensor& t, int64_t i) {
  float v = 0;
  LoadAsFloat(t.bytes.data() + i * HostTensor::ElementSize(t.elem_type),
              static_cast<DType>(t.elem_type), 1, &v);
  return v;
}

std::string ElementStr(const HostTensor& t, int64_t i) {
  const int esize = HostTensor::ElementSize(t.elem_type);
  const uint8_t* p = t.bytes.data() + i * esize;
  if (t.elem_type == 17 || t.elem_type == 19) {
    return absl::StrFormat("0x%02x (%g)", p[0],
                           DecodeFp8(p[0], static_cast<Fp8Format>(t.elem_type)));
  }
  if (IsFloatType(t.elem_type)) {
    uint32_t bits = 0;
    std::memcpy(&bits, p, esize);
    return absl::StrFormat("%.9g (0x%0*x)", ElementAsDouble(t, i), 2 * esize, bits);
  }
  return absl::StrFormat("%d-byte value", esize);
}

// Exact comparison: same type and shape; FP8 and other non-float types byte for byte; float
// types bit for bit except that any NaN equals any NaN.
std::string CompareExact(const std::string& name, const HostTensor& got, const HostTensor& want) {
  if (got.elem_type != want.elem_type || got.shape != want.shape) {
    return absl::StrCat(name, ": got type ", got.elem_type, " shape ", ShapeStr(got.shape),
                        ", want type ", want.elem_type, " shape ", ShapeStr(want.shape));
  }
  const int esize = HostTensor::ElementSize(want.elem_type);
  const int64_t n = want.NumElements();
  int64_t bad = 0, first = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (std::memcmp(got.bytes.data() + i * esize, want.bytes.data() + i * esize, esize) == 0)
      continue;
    if (IsFloatType(want.elem_type) && std::isnan(ElementAsDouble(got, i)) &&
        std::isnan(ElementAsDouble(want, i))) {
      continue;
    }
    if (first < 0) first = i;
    ++bad;
  }
  if (bad == 0) return "";
  return absl::StrCat(name, "[", first, "]: got ", ElementStr(got, first), ", want ",
                      ElementStr(want, first), " (", bad, " of ", n, " differ)");
}

int64_t IntAttr(const onnx::NodeProto& node, const std::string& name, int64_t fallback) {
  for (const auto& a : node.attribute()) {
    if (a.name() == name) return a.i();
  }
  return fallback;
}

class CaseRunner {
 public:
  explicit CaseRunner(const RunnerOptions& o) : options_(o) {}

  Outcome Run(const std::string& dir, std::string* rule) {
    Outcome out;
    auto c = LoadCase(dir);
    if (!c.ok()) return Fail(out, absl::StrCat("cannot load the case: ", c.status().message()));
    *rule = c->model.graph().doc_string();
    std::set<std::string> ops;
    for (const auto& node : c->model.graph().node()) ops.insert(node.op_type());
    out.op = absl::StrJoin(ops, "+");

    host::SessionOptions so;
    so.plugin_path = options_.plugin_path;
    so.execution_provider = options_.execution_provider;
    so.intra_op_threads = options_.threads;
    auto session = host::Session::FromFile((fs::path(dir) / "model.onnx").string(), so);
    if (!session.ok())
      return Fail(out, absl::StrCat("session creation failed: ", session.status().message()));
    auto got = (*session)->Run(c->inputs);
    if (!got.ok()) return Fail(out, absl::StrCat("run failed: ", got.status().message()));
    const auto& names = (*session)->output_names();
    if (got->size() != c->outputs.size()) {
      return Fail(out, absl::StrCat(got->size(), " outputs, want ", c->outputs.size()));
    }

    // Every tensor a node may read: initializers and fed inputs.
    std::map<std::string, HostTensor> values;
    for (const auto& init : c->model.graph().initializer()) {
      auto t = FromTensorProto(init);
      if (t.ok()) values[init.name()] = *std::move(t);
    }
    for (const auto& [name, t] : c->inputs) values[name] = t;

    std::set<std::string> checks;
    std::vector<std::string> details;
    for (size_t i = 0; i < c->outputs.size(); ++i) {
      const auto& [name, want] = c->outputs[i];
      const auto it = std::find(names.begin(), names.end(), name);
      if (it == names.end())
        return Fail(out, absl::StrCat("the session has no output '", name, "'"));
      const HostTensor& y = (*got)[static_cast<size_t>(it - names.begin())];
      const onnx::NodeProto* producer = nullptr;
      for (const auto& node : c->model.graph().node()) {
        for (const auto& o : node.output()) {
          if (o == name) producer = &node;
        }
      }
      if (producer != nullptr && producer->op_type() == "FP8GEMM" &&
          producer->domain() == "fp8ops") {
        checks.insert("bound");
        std::string problem;
        const std::string summary = CheckGemm(*producer, values, name, y, want, &problem);
        if (!problem.empty()) return Fail(out, problem);
        details.push_back(summary);
      } else {
        checks.insert("exact");
        const std::string problem = CompareExact(name, y, want);
        if (!problem.empty()) return Fail(out, problem);
        details.push_back(absl::StrCat(name, " ", want.NumElements(), " exact"));
      }
    }
    out.check = absl::StrJoin(checks, "+");
    out.detail = absl::StrJoin(details, "; ");
    return out;
  }

 private:
  static Outcome Fail(Outcome o, std::string why) {
    o.pass = false;
    o.detail = std::move(why);
    return o;
  }

  // Returns a summary; sets *problem when the output fails the bound.
  static std::string CheckGemm(const onnx::NodeProto& node,
                               const std::map<std::string, HostTensor>& values,
                               const std::string& name, const HostTensor& y, const HostTensor& want,
                               std::string* problem) {
    GemmOperands ops;
    ops.attrs.block_n = IntAttr(node, "block_n", 128);
    ops.attrs.block_k = IntAttr(node, "block_k", 128);
    ops.attrs.a_block = IntAttr(node, "a_block", 128);
    ops.attrs.out_type = IntAttr(node, "out_type", 1);
    ops.attrs.a_quant_type = IntAttr(node, "a_quant_type", 0);
    const HostTensor** slots[] = {&ops.a, &ops.a_scale, &ops.b, &ops.b_scale, &ops.bias};
    for (int i = 0; i < node.input_size() && i < 5; ++i) {
      if (node.input(i).empty()) continue;
      const auto it = values.find(node.input(i));
      if (it == values.end()) {
        *problem = absl::StrCat("FP8GEMM input '", node.input(i),
                                "' is neither a graph input nor an initializer");
        return "";
      }
      *slots[i] = &it->second;
    }
    // The stored expected output (the reference kernels') must itself satisfy the bound.
    auto ref = CheckGemmBound(ops, want);
    if (!ref.ok() || ref->failures > 0) {
      *problem = absl::StrCat("case data inconsistent: expected ", name, " ",
                              ref.ok() ? ref->first_failure : std::string(ref.status().message()));
      return "";
    }
    auto r = CheckGemmBound(ops, y);
    if (!r.ok()) {
      *problem = absl::StrCat(name, ": ", r.status().message());
      return "";
    }
    if (r->failures > 0) {
      *problem = absl::StrCat(name, ": ", r->failures, " of ", r->elements,
                              " outside the bound; first ", r->first_failure);
      return "";
    }
    return absl::StrFormat("%s %d within bound (worst %.3g of allowed)", name, r->elements,
                           r->worst_ratio);
  }

  const RunnerOptions& options_;
};

std::string Usage() {
  return "usage: fp8ops conformance --plugin PATH [--ep cpu|cuda] [--filter REGEX] [--threads N] "
         "[-v] [DIR]\n"
         "  Runs the fp8ops operator conformance suite (DIR, default: " +
         DefaultSuiteDir() +
         ")\n"
         "  against the custom-op library PATH loaded into ONNX Runtime.\n";
}

}  // namespace

std::string DefaultSuiteDir() {
  return std::string(FP8OPS_SOURCE_DIR) + "/tests/conformance/cases";
}

absl::StatusOr<RunnerSummary> RunConformance(const RunnerOptions& options, std::ostream& out) {
  const std::string dir = options.dir.empty() ? DefaultSuiteDir() : options.dir;
  auto names = ListCases(dir);
  if (!names.ok()) return names.status();
  std::regex filter;
  if (!options.filter.empty()) {
    try {
      filter = std::regex(options.filter, std::regex::ECMAScript);
    } catch (const std::regex_error& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("bad --filter '", options.filter, "': ", e.what()));
    }
  }
  std::vector<std::string> selected;
  for (const auto& n : *names) {
    if (options.filter.empty() || std::regex_search(n, filter)) selected.push_back(n);
  }

  out << "fp8ops conformance: " << selected.size() << " of " << names->size() << " cases in " << dir
      << "\n  plugin " << options.plugin_path << ", execution provider "
      << options.execution_provider << "\n";
  size_t width = 4;
  for (const auto& n : selected) width = std::max(width, n.size());
  out << absl::StrFormat("%-6s %-*s %-14s %-6s %s\n", "result", static_cast<int>(width), "case",
                         "op", "check", "detail");
  RunnerSummary summary;
  CaseRunner runner(options);
  for (const auto& n : selected) {
    std::string rule;
    const Outcome o = runner.Run((fs::path(dir) / n).string(), &rule);
    (o.pass ? summary.passed : summary.failed)++;
    out << absl::StrFormat("%-6s %-*s %-14s %-6s %s\n", o.pass ? "PASS" : "FAIL",
                           static_cast<int>(width), n, o.op, o.check, o.detail);
    if ((!o.pass || options.verbose) && !rule.empty()) out << "       rule: " << rule << "\n";
    out.flush();
  }
  out << summary.passed << " passed, " << summary.failed << " failed\n";
  return summary;
}

int RunConformanceMain(int argc, char** argv) {
  RunnerOptions o;
  std::vector<std::string> positional;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const std::string& flag, std::string* dst) {
      if (arg == flag) {
        if (i + 1 >= argc) return false;
        *dst = argv[++i];
        return true;
      }
      if (arg.rfind(flag + "=", 0) == 0) {
        *dst = arg.substr(flag.size() + 1);
        return true;
      }
      return false;
    };
    std::string threads;
    if (arg == "-h" || arg == "--help") {
      std::cout << Usage();
      return 0;
    } else if (arg == "-v" || arg == "--verbose") {
      o.verbose = true;
    } else if (value("--plugin", &o.plugin_path) || value("--ep", &o.execution_provider) ||
               value("--filter", &o.filter)) {
    } else if (value("--threads", &threads)) {
      if (!absl::SimpleAtoi(threads, &o.threads) || o.threads < 0) {
        std::cerr << "fp8ops conformance: bad --threads '" << threads << "'\n" << Usage();
        return 2;
      }
    } else if (!arg.empty() && arg[0] == '-') {
      std::cerr << "fp8ops conformance: unknown or incomplete option '" << arg << "'\n" << Usage();
      return 2;
    } else {
      positional.push_back(arg);
    }
  }
  if (o.plugin_path.empty()) {
    std::cerr << "fp8ops conformance: --plugin PATH is required\n" << Usage();
    return 2;
  }
  if (o.execution_provider != "cpu" && o.execution_provider != "cuda") {
    std::cerr << "fp8ops conformance: --ep must be cpu or cuda, got '" << o.execution_provider
              << "'\n";
    return 2;
  }
  if (positional.size() > 1) {
    std::cerr << "fp8ops conformance: one suite directory at most\n" << Usage();
    return 2;
  }
  if (!positional.empty()) o.dir = positional[0];
  auto summary = RunConformance(o, std::cout);
  if (!summary.ok()) {
    std::cerr << "fp8ops conformance: " << summary.status().message() << "\n";
    return 2;
  }
  if (summary->passed + summary->failed == 0) {
    std::cerr << "fp8ops conformance: no case matched\n";
    return 1;
  }
  return summary->failed == 0 ? 0 : 1;
}

}  // namespace fp8ops::conformance
