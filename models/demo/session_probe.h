// Runs one model in ONNX Runtime (with the plugin) in a fresh child process, so each session's peak
// memory is its own: the parent forks and execs its own executable in probe mode, hands the inputs
// over in a file and reads back the outputs and the numbers (load time, peak RSS from the child's
// /proc/self/status VmHWM, latency = median of N timed passes after warm-up).
#ifndef FP8OPS_MODELS_DEMO_SESSION_PROBE_H_
#define FP8OPS_MODELS_DEMO_SESSION_PROBE_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "host/ort_session.h"

namespace fp8ops::demo {

// One set of named inputs for one Run.
using InputSet = std::vector<std::pair<std::string, host::HostTensor>>;

struct ProbeOptions {
  std::string plugin_path;  // libfp8ops.so; empty = no plugin
  int threads = 1;          // ORT intra-op threads
  int warmup = 1;           // untimed passes over all input sets
  int runs = 5;             // timed passes; latency is their median
  std::string ep = "cpu";  // execution provider: "cpu", "cuda" or "cuda-graph" (CUDA + CUDA graphs)
};

struct ProbeResult {
  std::vector<std::vector<host::HostTensor>> outputs;  // per input set, every graph output
  double load_ms = 0;                                  // session creation
  double median_ms = 0, min_ms = 0;                    // one pass over all input sets
  int64_t rss_start_kib = 0;   // the child before the session (the runtime's own footprint)
  int64_t rss_loaded_kib = 0;  // after session creation
  int64_t peak_rss_kib = 0;    // VmHWM at the end: the session's whole life, runs included
  // CUDA provider only (else -1): device memory the session holds (drop of cudaMemGetInfo's free
  // bytes from before the session, context already created) after creation and after the runs.
  int64_t gpu_loaded_bytes = -1, gpu_after_runs_bytes = -1;
};

// Runs `model` in a child process started from `self_exe` (normally "/proc/self/exe"); the
// program's main must hand argv to ProbeChildMain when argv[1] == kProbeArg.
absl::StatusOr<ProbeResult> ProbeInChild(const std::string& self_exe, const std::string& model,
                                         const std::vector<InputSet>& inputs,
                                         const ProbeOptions& o);

inline constexpr const char kProbeArg[] = "__probe";
int ProbeChildMain(int argc, char** argv);

// Tensor-list files (little endian): u32 sets; per set u32 count; per tensor u32 name length, name,
// i32 elem_type, u32 rank, i64 dims[rank], u64 byte count, bytes.
absl::Status WriteInputSets(const std::string& path, const std::vector<InputSet>& sets);
absl::StatusOr<std::vector<InputSet>> ReadInputSets(const std::string& path);

// VmRSS / VmHWM of this process in KiB (0 when /proc is unavailable).
int64_t ReadProcStatusKib(const char* key);

}  // namespace fp8ops::demo

#endif  // FP8OPS_MODELS_DEMO_SESSION_PROBE_H_
