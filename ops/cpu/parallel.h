// How the CPU kernels run their tasks: on the caller's pool (the plugin passes ONNX Runtime's
// intra-op pool) or one after another.
#ifndef FP8OPS_OPS_CPU_PARALLEL_H_
#define FP8OPS_OPS_CPU_PARALLEL_H_

#include <cstddef>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace fp8ops::cpu {

// Runs task(i) for i in [0, n), possibly in parallel; returns the pool's error, if any.
using ParallelFn = absl::FunctionRef<absl::Status(size_t n, absl::FunctionRef<void(size_t)> task)>;
// Runs the tasks one after another on the calling thread.
absl::Status RunSerial(size_t n, absl::FunctionRef<void(size_t)> task);

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_PARALLEL_H_
