// `fp8ops conformance`: runs the operator conformance suite (tests/conformance/) against a plugin
// library. The runner lives in tests/conformance (target fp8ops_conformance); it is built with the
// tests (FP8OPS_BUILD_TESTS, on by default).
#include <cstdio>

#include "graph_pass/cli/commands.h"
#ifdef FP8OPS_HAVE_CONFORMANCE
#include "tests/conformance/runner.h"
#endif

namespace fp8ops::cli {

int RunConformanceCommand(int argc, char** argv) {
#ifdef FP8OPS_HAVE_CONFORMANCE
  return fp8ops::conformance::RunConformanceMain(argc, argv);
#else
  (void)argc;
  (void)argv;
  std::fprintf(stderr,
               "fp8ops conformance: not built into this fp8ops (configure with "
               "-DFP8OPS_BUILD_TESTS=ON)\n");
  return 1;
#endif
}

}  // namespace fp8ops::cli
