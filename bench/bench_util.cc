#include "bench/bench_util.h"

#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "ops/cpu/dispatch.h"
#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::bench {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Sums [b, e) of 64-byte lines with the widest loads this CPU has (a read-only stream).
__attribute__((target("avx512f"))) uint64_t ReadAvx512(const uint64_t* p, size_t b, size_t e) {
  __m512i s0 = _mm512_setzero_si512(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = b; i + 32 <= e; i += 32) {
    s0 = _mm512_add_epi64(s0, _mm512_load_si512(p + i));
    s1 = _mm512_add_epi64(s1, _mm512_load_si512(p + i + 8));
    s2 = _mm512_add_epi64(s2, _mm512_load_si512(p + i + 16));
    s3 = _mm512_add_epi64(s3, _mm512_load_si512(p + i + 24));
  }
  return static_cast<uint64_t>(_mm512_reduce_add_epi64(
      _mm512_add_epi64(_mm512_add_epi64(s0, s1), _mm512_add_epi64(s2, s3))));
}
__attribute__((target("avx2"))) uint64_t ReadAvx2(const uint64_t* p, size_t b, size_t e) {
  __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = b; i + 16 <= e; i += 16) {
    s0 = _mm256_add_epi64(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    s1 = _mm256_add_epi64(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    s2 = _mm256_add_epi64(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    s3 = _mm256_add_epi64(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t out[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(out),
                     _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3)));
  return out[0] + out[1] + out[2] + out[3];
}
uint64_t ReadScalar(const uint64_t* p, size_t b, size_t e) {
  uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  for (size_t i = b; i + 4 <= e; i += 4) {
    s0 += p[i];
    s1 += p[i + 1];
    s2 += p[i + 2];
    s3 += p[i + 3];
  }
  return s0 + s1 + s2 + s3;
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
  auto read = cpu::IsaSupported(cpu::Isa::kAvx512) ? ReadAvx512
              : cpu::IsaSupported(cpu::Isa::kAvx2) ? ReadAvx2
                                                   : ReadScalar;
  double best = 0;
  for (int r = 0; r < reps; ++r) {
    const double t0 = Now();
    (void)pool.Run(nt, [&](size_t t) {
      // Chunks of whole 64-byte lines.
      const size_t b = words * t / nt / 32 * 32, e = words * (t + 1) / nt / 32 * 32;
      sums[t] = read(buf, b, e);
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
  if (const auto* k = cpu::GemmKernelsFor(Isa::kAvx512))
    return PeakLoop(pool, reps, k->calib_fma, 24 * 32.0);
  if (const auto* k = cpu::GemmKernelsFor(Isa::kAvx2))
    return PeakLoop(pool, reps, k->calib_fma, 12 * 16.0);
  return 0;
}

double MeasureAmxBf16Gflops(Pool& pool, int reps) {
  if (!cpu::IsaSupported(cpu::Isa::kAvx512Amx)) return 0;
  return PeakLoop(pool, reps, cpu::GemmKernelsFor(cpu::Isa::kAvx512Amx)->calib_amx,
                  4 * 16 * 16 * 32 * 2.0);
}

double MeasureBf16DotGflops(Pool& pool, int reps) {
  if (!cpu::IsaSupported(cpu::Isa::kAvx512Bf16)) return 0;
  return PeakLoop(pool, reps, cpu::GemmKernelsFor(cpu::Isa::kAvx512Bf16)->calib_bf16, 24 * 64.0);
}

}  // namespace fp8ops::bench
