// The conformance runner: loads a plugin (libfp8ops.so or another implementation of the fp8ops
// domain) into ONNX Runtime, runs every case of the suite and checks the outputs against the
// spec's tolerances (tests/conformance/README.md):
//   QuantizeFP8, DequantizeFP8: exact (FP8 codes byte for byte, float32 scales and outputs bit for
//     bit; NaN equals NaN for float outputs);
//   FP8GEMM: the bound of gemm_bound.h, computed from the case's own operands.
//
// Command line (`fp8ops conformance ...` and the standalone `fp8ops_conformance`):
//   --plugin PATH     custom-op library to register (required)
//   --ep cpu|cuda     execution provider (default cpu)
//   --filter REGEX    run only the cases whose name contains a match (ECMAScript regex)
//   --threads N       intra-op threads of each session (default 1)
//   -v, --verbose     print each case's rule, not only those of failures
//   DIR               suite directory (default: tests/conformance/cases of the source tree)
// Prints one table row per case and, last, a line "N passed, N failed". Exit status: 0 when every
// case passed, 1 when one failed (or none matched), 2 on a usage error.
#ifndef FP8OPS_TESTS_CONFORMANCE_RUNNER_H_
#define FP8OPS_TESTS_CONFORMANCE_RUNNER_H_

#include <ostream>
#include <string>

#include "absl/status/statusor.h"

namespace fp8ops::conformance {

struct RunnerOptions {
  std::string plugin_path;
  std::string execution_provider = "cpu";
  std::string filter;  // empty: every case
  std::string dir;     // empty: DefaultSuiteDir()
  int threads = 1;
  bool verbose = false;
};

struct RunnerSummary {
  int passed = 0;
  int failed = 0;
};

// tests/conformance/cases in the source tree this library was built from.
std::string DefaultSuiteDir();

// Runs the matching cases, writing the table and the final "N passed, N failed" line to `out`.
// A status error means the suite could not be run at all (bad directory or filter).
absl::StatusOr<RunnerSummary> RunConformance(const RunnerOptions& options, std::ostream& out);

// Command-line entry. argv[0] is the command's name (ignored), options follow, as for main().
int RunConformanceMain(int argc, char** argv);

}  // namespace fp8ops::conformance

#endif  // FP8OPS_TESTS_CONFORMANCE_RUNNER_H_
