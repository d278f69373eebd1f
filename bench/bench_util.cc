#include "bench/bench_util.h"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "ops/cpu/dispatch.h"
#include "ops/cpu/kernel_abi.h"

namespace fp8ops::bench {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Pool::Pool(int threads) {
  for (int i = 1; i < threads; ++i) workers_.emplace_back([this] { Work(); });
}

Pool::~Pool() {
  {
    std::lock_guard<std::mutex> l(mu_);
    stop_ = true;
    ++generation_;
  }
  cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Pool::Drain() {
  for (size_t i = next_.fetch_add(1); i < n_; i = next_.fetch_add(1)) (*task_)(i);
}

void Pool::Work() {
  uint64_t seen = 0;
  for (;;) {
    {
      std::unique_lock<std::mutex> l(mu_);
      cv_.wait(l, [&] { return generation_ != seen; });
      seen = generation_;
      if (stop_) return;
    }
    Drain();
    busy_.fetch_sub(1);
  }
}

absl::Status Pool::Run(size_t n, absl::FunctionRef<void(size_t)> task) {
  if (workers_.empty() || n <= 1) {
    for (size_t i = 0; i < n; ++i) task(i);
    return absl::OkStatus();
  }
  {
    std::lock_guard<std::mutex> l(mu_);
    task_ = &task;
    n_ = n;
    next_.store(0);
    busy_.store(static_cast<int>(workers_.size()));
    ++generation_;
  }
  cv_.notify_all();
  Drain();
  while (busy_.load() != 0) std::this_thread::yield();
  return absl::OkStatus();
}

double MeasureReadGBps(Pool& pool, size_t bytes, int reps) {
  const size_t words = bytes / 8;
  auto* buf = static_cast<uint64_t*>(std::aligned_alloc(4096, words * 8));
  std::memset(buf, 1, words * 8);
  const size_t nt = static_cast<size_t>(pool.threads()) * 4;
  std::vector<uint64_t> sums(nt);
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    (void)pool.Run(nt, [&](size_t t) {
      const size_t b = words * t / nt, e = words * (t + 1) / nt;
      uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
      for (size_t i = b; i + 4 <= e; i += 4) {
        s0 += buf[i];
        s1 += buf[i + 1];
        s2 += buf[i + 2];
        s3 += buf[i + 3];
      }
      sums[t] = s0 + s1 + s2 + s3;
    });
    best = std::max(best, static_cast<double>(words * 8) / (Now() - t0) * 1e-9);
  }
  std::free(buf);
  return best;
}

namespace {

double PeakLoop(Pool& pool, int reps, float (*loop)(int64_t), double flop_per_iter) {
  if (loop == nullptr) return 0;
  constexpr int64_t kIters = 200000;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    (void)pool.Run(static_cast<size_t>(pool.threads()), [&](size_t) {
      volatile float sink = loop(kIters);
      (void)sink;
    });
    best = std::max(best, pool.threads() * kIters * flop_per_iter / (Now() - t0) * 1e-9);
  }
  return best;
}

}  // namespace

double MeasureFmaGflops(Pool& pool, int reps) {
  using cpu::Isa;
  if (const auto* k = cpu::GemmKernelsFor(Isa::kAvx512)) return PeakLoop(pool, reps, k->calib_fma, 24 * 32.0);
  if (const auto* k = cpu::GemmKernelsFor(Isa::kAvx2)) return PeakLoop(pool, reps, k->calib_fma, 12 * 16.0);
  return 0;
}

double MeasureBf16DotGflops(Pool& pool, int reps) {
  if (!cpu::IsaSupported(cpu::Isa::kAvx512Bf16)) return 0;
  return PeakLoop(pool, reps, cpu::GemmKernelsFor(cpu::Isa::kAvx512Bf16)->calib_bf16, 24 * 64.0);
}

}  // namespace fp8ops::bench
