// fp8ops rewrite / inspect, and the subcommand table.
#include "graph_pass/cli/commands.h"

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "fp8ops/rewrite.h"
#include "graph_pass/model_io.h"

namespace fp8ops::cli {
namespace {

constexpr int kOk = 0, kFailed = 1, kUsage = 2;

const char kRewriteHelp[] =
    "usage: fp8ops rewrite IN.onnx OUT.onnx [options]\n"
    "\n"
    "Rewrites every MatMul / Gemm with a constant 2-D weight (initializer or Constant node, in\n"
    "subgraphs too) to fp8ops FP8GEMM with FP8 weights; prints a per-node report. The input is\n"
    "never modified; the output appears atomically.\n"
    "\n"
    "options:\n"
    "  --recipe w8a8|weight-only   w8a8 (default): QuantizeFP8 -> FP8GEMM (dynamic FP8 "
    "activations);\n"
    "                              weight-only: FP8GEMM on the float activations\n"
    "  --weight-format e4m3|e5m2   FP8 format of the weights (default e4m3 = FLOAT8E4M3FN)\n"
    "  --activation-format e4m3|e5m2   FP8 format of the activations (default e4m3; w8a8 only)\n"
    "  --weight-block B            128x128 (default), tensor, channel, 1x128, or any NxK\n"
    "  --activation-block 128|row  activation scale groups along K (default 128; must equal the\n"
    "                              weight block's K when both are blocked); row = one scale per "
    "row\n"
    "  --fuse-activation-quant     w8a8: a projection that alone reads its activation quantizes "
    "it\n"
    "                              itself (FP8GEMM a_quant_type) instead of a QuantizeFP8 node; "
    "same\n"
    "                              outputs; shared activations keep their QuantizeFP8\n"
    "  --include REGEX             rewrite only nodes whose name matches (searched; repeatable)\n"
    "  --exclude REGEX             never rewrite nodes whose name matches (searched; repeatable)\n"
    "  --keep-last                 keep the final projection feeding a graph output (lm_head) as "
    "is\n"
    "  --min-elements N            leave weights with fewer than N elements as they are (default "
    "0)\n"
    "  --external-data             store tensors of 1 KiB or more in OUT.data (automatic when the\n"
    "                              input has external data or the output would pass 2 GB)\n"
    "  --report FILE.json          also write the report as JSON\n"
    "  --threads N                 quantization threads (default: all cores)\n"
    "  --quiet                     no table on stdout, no progress on stderr\n"
    "  -h, --help                  this help\n"
    "\n"
    "exit status: 0 on success, 1 on error (nothing is written), 2 on a usage error\n";

const char kInspectHelp[] =
    "usage: fp8ops inspect IN.onnx [options]\n"
    "\n"
    "Lists the MatMul / Gemm nodes of a model: which ones `fp8ops rewrite` would rewrite, their\n"
    "shapes and bytes, and why the others are skipped. Writes nothing.\n"
    "\n"
    "options: --json (the report as JSON on stdout), and the selection options of `rewrite`:\n"
    "  --recipe, --weight-format, --activation-format, --weight-block, --activation-block,\n"
    "  --fuse-activation-quant, --include, --exclude, --keep-last, --min-elements\n"
    "  -h, --help                  this help\n";

void PrintUsage(FILE* f) {
  std::fprintf(f, "usage: fp8ops <command> [args]\n\ncommands:\n");
  for (const Command* c = Commands(); c->name != nullptr; ++c)
    std::fprintf(f, "  %-12s %s\n", c->name, c->summary);
  std::fprintf(f, "\n`fp8ops <command> --help` describes each command.\n");
}

struct Parsed {
  RewriteOptions options;
  std::vector<std::string> positional;
  std::string report_path;
  bool quiet = false;
  bool json = false;
  bool help = false;
  std::vector<std::string> includes, excludes;
};

std::string JoinAlternatives(const std::vector<std::string>& v) {
  if (v.size() == 1) return v[0];
  std::string s;
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? "|" : "", "(?:", v[i], ")");
  return s;
}

// Parses argv[1..]; `rewrite` enables the options that only make sense when writing.
absl::Status ParseArgs(int argc, char** argv, bool rewrite, Parsed* p) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      p->help = true;
      return absl::OkStatus();
    }
    if (arg.size() < 2 || arg.compare(0, 2, "--") != 0) {
      if (!arg.empty() && arg[0] == '-' && arg != "-") {
        return absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'"));
      }
      p->positional.push_back(arg);
      continue;
    }
    std::string value;
    bool has_value = false;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
      has_value = true;
    }
    auto need = [&](std::string* out) -> absl::Status {
      if (has_value) {
        *out = value;
        return absl::OkStatus();
      }
      if (i + 1 >= argc)
        return absl::InvalidArgumentError(absl::StrCat("option ", arg, " needs a value"));
      *out = argv[++i];
      return absl::OkStatus();
    };
    auto flag = [&]() -> absl::Status {
      if (has_value)
        return absl::InvalidArgumentError(absl::StrCat("option ", arg, " takes no value"));
      return absl::OkStatus();
    };
    std::string v;
    absl::Status s;
    RewriteOptions& o = p->options;
    if (arg == "--recipe") {
      if ((s = need(&v)).ok()) s = ParseRecipe(v, &o.recipe);
    } else if (arg == "--weight-format") {
      if ((s = need(&v)).ok()) s = ParseFp8FormatName(v, &o.weight_format);
    } else if (arg == "--activation-format") {
      if ((s = need(&v)).ok()) s = ParseFp8FormatName(v, &o.activation_format);
    } else if (arg == "--weight-block") {
      if ((s = need(&v)).ok()) s = ParseWeightBlock(v, &o.block_n, &o.block_k);
    } else if (arg == "--activation-block") {
      if ((s = need(&v)).ok()) s = ParseActivationBlock(v, &o.activation_block);
    } else if (arg == "--include") {
      if ((s = need(&v)).ok()) p->includes.push_back(v);
    } else if (arg == "--exclude") {
      if ((s = need(&v)).ok()) p->excludes.push_back(v);
    } else if (arg == "--keep-last") {
      if ((s = flag()).ok()) o.keep_last = true;
    } else if (arg == "--fuse-activation-quant") {
      if ((s = flag()).ok()) o.fuse_activation_quant = true;
    } else if (arg == "--min-elements") {
      if ((s = need(&v)).ok() && (!absl::SimpleAtoi(v, &o.min_elements) || o.min_elements < 0)) {
        s = absl::InvalidArgumentError(
            absl::StrCat("--min-elements needs a count >= 0, got '", v, "'"));
      }
    } else if (rewrite && arg == "--external-data") {
      if ((s = flag()).ok()) o.external_data = ExternalDataMode::kAlways;
    } else if (rewrite && arg == "--report") {
      s = need(&p->report_path);
    } else if (rewrite && arg == "--threads") {
      if ((s = need(&v)).ok() && (!absl::SimpleAtoi(v, &o.num_threads) || o.num_threads < 1)) {
        s = absl::InvalidArgumentError(absl::StrCat("--threads needs a count >= 1, got '", v, "'"));
      }
    } else if (rewrite && arg == "--quiet") {
      if ((s = flag()).ok()) p->quiet = true;
    } else if (!rewrite && arg == "--json") {
      if ((s = flag()).ok()) p->json = true;
    } else {
      s = absl::InvalidArgumentError(absl::StrCat("unknown option '", arg, "'"));
    }
    if (!s.ok()) return s;
  }
  if (!p->includes.empty()) p->options.include_regex = JoinAlternatives(p->includes);
  if (!p->excludes.empty()) p->options.exclude_regex = JoinAlternatives(p->excludes);
  return ValidateRewriteOptions(p->options);
}

int UsageError(const char* cmd, const std::string& msg) {
  std::fprintf(stderr, "fp8ops %s: %s\n(see fp8ops %s --help)\n", cmd, msg.c_str(), cmd);
  return kUsage;
}

int Failure(const char* cmd, const absl::Status& s) {
  std::string msg(s.message());
  for (char& c : msg) {
    if (c == '\n') c = ' ';  // one line
  }
  std::fprintf(stderr, "fp8ops %s: error: %s\n", cmd, msg.c_str());
  return kFailed;
}

absl::Status WriteTextFileAtomically(const std::string& path, const std::string& text) {
  auto f = graph_pass::TempFile::Create(path);
  if (!f.ok()) return f.status();
  if (auto s = (*f)->Append(text.data(), static_cast<int64_t>(text.size())); !s.ok()) return s;
  return (*f)->Commit();
}

}  // namespace

const Command* Commands() {
  static const Command kCommands[] = {
      {"rewrite", "rewrite a model's MatMul/Gemm nodes to FP8 (fp8ops rewrite IN.onnx OUT.onnx)",
       RunRewriteCommand},
      {"inspect", "list eligible nodes, shapes, bytes and skip reasons (writes nothing)",
       RunInspectCommand},
      {"conformance", "run the operator conformance suite against a plugin library",
       RunConformanceCommand},
      {nullptr, nullptr, nullptr},
  };
  return kCommands;
}

int RunRewriteCommand(int argc, char** argv) {
  Parsed p;
  if (auto s = ParseArgs(argc, argv, /*rewrite=*/true, &p); !s.ok())
    return UsageError("rewrite", std::string(s.message()));
  if (p.help) {
    std::fputs(kRewriteHelp, stdout);
    return kOk;
  }
  if (p.positional.size() != 2) {
    return UsageError("rewrite", absl::StrCat("expected IN.onnx and OUT.onnx, got ",
                                              p.positional.size(), " path(s)"));
  }
  const std::string& in = p.positional[0];
  const std::string& out = p.positional[1];
  if (!p.report_path.empty() && (graph_pass::SameFile(p.report_path, in) || p.report_path == out ||
                                 graph_pass::SameFile(p.report_path, out))) {
    return UsageError("rewrite", "--report must name a file other than the models");
  }
  p.options.progress = !p.quiet;
  graph_pass::InstallSignalCleanup();
  auto report = RewriteFile(in, out, p.options);
  if (!report.ok()) return Failure("rewrite", report.status());
  if (!p.report_path.empty()) {
    if (auto s = WriteTextFileAtomically(p.report_path, ReportToJson(*report)); !s.ok())
      return Failure("rewrite", s);
  }
  if (!p.quiet) std::fputs(ReportToTable(*report).c_str(), stdout);
  return kOk;
}

int RunInspectCommand(int argc, char** argv) {
  Parsed p;
  if (auto s = ParseArgs(argc, argv, /*rewrite=*/false, &p); !s.ok())
    return UsageError("inspect", std::string(s.message()));
  if (p.help) {
    std::fputs(kInspectHelp, stdout);
    return kOk;
  }
  if (p.positional.size() != 1) {
    return UsageError("inspect",
                      absl::StrCat("expected one model path, got ", p.positional.size()));
  }
  auto report = InspectFile(p.positional[0], p.options);
  if (!report.ok()) return Failure("inspect", report.status());
  std::fputs((p.json ? ReportToJson(*report) : ReportToTable(*report)).c_str(), stdout);
  return kOk;
}

int Main(int argc, char** argv) {
  if (argc < 2) {
    PrintUsage(stderr);
    return kUsage;
  }
  const std::string cmd = argv[1];
  if (cmd == "-h" || cmd == "--help" || cmd == "help") {
    PrintUsage(stdout);
    return kOk;
  }
  for (const Command* c = Commands(); c->name != nullptr; ++c) {
    if (cmd == c->name) return c->run(argc - 1, argv + 1);
  }
  std::fprintf(stderr, "fp8ops: unknown command '%s'\n", cmd.c_str());
  PrintUsage(stderr);
  return kUsage;
}

}  // namespace fp8ops::cli
