// Helpers shared by the benchmarks: a small thread pool standing in for ONNX Runtime's intra-op
// pool in the kernel benchmarks, and the measured ceilings (DRAM read bandwidth, FMA peak).
#ifndef FP8OPS_BENCH_BENCH_UTIL_H_
#define FP8OPS_BENCH_BENCH_UTIL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"

namespace fp8ops::bench {

// Runs task(i), i < n, on `threads` threads (the caller is one of them); tasks are handed out
// one at a time, as ONNX Runtime's ParallelFor does for the plugin.
class Pool {
 public:
  explicit Pool(int threads);
  ~Pool();
  int threads() const { return static_cast<int>(workers_.size()) + 1; }
  absl::Status Run(size_t n, absl::FunctionRef<void(size_t)> task);

 private:
  void Work();
  void Drain();
  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;
  bool stop_ = false;
  const absl::FunctionRef<void(size_t)>* task_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<int> busy_{0};
};

// GB/s of a read-only pass over `bytes` (one buffer, split over the pool's threads), best of
// `reps`. Use a buffer well over the last-level cache for DRAM.
double MeasureReadGBps(Pool& pool, size_t bytes, int reps);
// GFLOP/s of FP32 FMA (the best vector width of this CPU) on all the pool's threads, best of
// `reps`; and the same for AVX512_BF16 dot products (0 if the CPU lacks them).
double MeasureFmaGflops(Pool& pool, int reps);
double MeasureBf16DotGflops(Pool& pool, int reps);
// AMX TDPBF16PS on tiles in L1, all threads (0 without AMX).
double MeasureAmxBf16Gflops(Pool& pool, int reps);

}  // namespace fp8ops::bench

#endif  // FP8OPS_BENCH_BENCH_UTIL_H_
