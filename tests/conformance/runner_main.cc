// fp8ops_conformance: the conformance runner as a standalone program (same arguments as
// `fp8ops conformance`; see runner.h).
#include "tests/conformance/runner.h"

int main(int argc, char** argv) { return fp8ops::conformance::RunConformanceMain(argc, argv); }
