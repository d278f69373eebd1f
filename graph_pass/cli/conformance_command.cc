// `fp8ops conformance`: runs the operator conformance suite against a plugin library.
// NOTE: placeholder until the conformance runner (target fp8ops_conformance,
// fp8ops::conformance::RunConformanceMain) is linked into the CLI.
#include <cstdio>
#include <cstring>

#include "graph_pass/cli/commands.h"

namespace fp8ops::cli {

int RunConformanceCommand(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--help") == 0 || std::strcmp(argv[i], "-h") == 0) {
      std::printf(
          "usage: fp8ops conformance --plugin LIB [DIR]\n\n"
          "Runs the fp8ops operator conformance cases in DIR against the plugin LIB.\n"
          "(Not built into this fp8ops.)\n");
      return 0;
    }
  }
  std::fprintf(
      stderr,
      "fp8ops conformance: not built into this fp8ops (the conformance runner is missing)\n");
  return 1;
}

}  // namespace fp8ops::cli
