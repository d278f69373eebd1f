// Google Benchmark of the ops/cpu kernels: FP8GEMM (W8A8 and weight-only) and QuantizeFP8 at
// every ISA level this CPU has, over LLM projection shapes, beside the measured ceilings (DRAM
// read bandwidth, FP32 FMA and BF16 dot peaks) on the same threads.
//
//   build-cpu/bench/cpu_kernels_bench --benchmark_filter=Gemm [--threads=2]
//
// Counters: GFLOP/s = 2*M*N*K / time; GB/s = (FP8 weight bytes + A + Y bytes) / time. Times are
// real (wall) time of the whole multi-threaded call. Threads: a small pool standing in for
// ONNX Runtime's intra-op pool (FP8OPS_BENCH_THREADS, default: all cores). B's codes sit in plain
// heap memory like an initializer's; FP8OPS_BENCH_HUGEPAGES=1 puts them in 2 MiB-aligned,
// huge-page-advised memory instead (fewer TLB misses while streaming B).
#include <benchmark/benchmark.h>
#include <sys/mman.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <tuple>
#include <vector>

#include "bench/bench_util.h"
#include "fp8ops/quantize.h"
#include "ops/cpu/dispatch.h"
#include "ops/cpu/fp8_gemm.h"
#include "ops/cpu/quantize_fp8.h"

namespace fp8ops::bench {
namespace {

using cpu::Isa;

int Threads() {
  const char* env = std::getenv("FP8OPS_BENCH_THREADS");
  const int t = env ? std::atoi(env) : static_cast<int>(std::thread::hardware_concurrency());
  return t > 0 ? t : 1;
}

Pool& ThePool() {
  static Pool* pool = new Pool(Threads());
  return *pool;
}

// Activation modes of the GEMM benchmark.
enum AMode : int { kW8A8 = 0, kWeightOnlyF32 = 1, kWeightOnlyBf16 = 2 };

// Weights (codes and their prepared metadata) are cached per (N, K, ISA).
struct WeightKey {
  int64_t n, k;
  int isa;
  bool operator<(const WeightKey& o) const {
    return std::tie(n, k, isa) < std::tie(o.n, o.k, o.isa);
  }
};

// 2 MiB-aligned, huge-page-advised (FP8OPS_BENCH_HUGEPAGES=1) or plain heap memory for B.
template <typename T>
struct HugeAlloc {
  using value_type = T;
  HugeAlloc() = default;
  template <typename U>
  HugeAlloc(const HugeAlloc<U>&) {}
  T* allocate(size_t n) {
    const char* env = std::getenv("FP8OPS_BENCH_HUGEPAGES");
    if (env == nullptr || *env != '1') return static_cast<T*>(::operator new(n * sizeof(T)));
    const size_t bytes = (n * sizeof(T) + (size_t{2} << 20) - 1) & ~((size_t{2} << 20) - 1);
    void* p = std::aligned_alloc(size_t{2} << 20, bytes);
    madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) {
    const char* env = std::getenv("FP8OPS_BENCH_HUGEPAGES");
    if (env == nullptr || *env != '1') {
      ::operator delete(p);
    } else {
      std::free(p);
    }
  }
  bool operator==(const HugeAlloc&) const { return true; }
  bool operator!=(const HugeAlloc&) const { return false; }
};

struct Weight {
  std::vector<uint8_t, HugeAlloc<uint8_t>> codes;
  std::unique_ptr<cpu::PreparedB> prepared;
};

const Weight& Weights(int64_t n, int64_t k, Isa isa, int copy = 0) {
  static std::map<WeightKey, Weight> cache;
  auto& slot = cache[{n, k, static_cast<int>(isa) + 16 * copy}];
  if (!slot.prepared) {
    std::mt19937 rng(static_cast<uint32_t>(n * 31 + k + copy));
    std::normal_distribution<float> normal(0.0f, 0.02f);
    std::vector<float> w(static_cast<size_t>(n * k));
    for (auto& v : w) v = normal(rng);
    auto& codes = slot.codes;
    codes.resize(w.size());
    std::vector<float> scales(static_cast<size_t>(NumBlocks(n, 128) * NumBlocks(k, 128)));
    QuantizeBlocks2D(w.data(), n, k, 128, 128, {}, codes.data(), scales.data());
    cpu::BSource src;
    src.b = codes.data();
    src.n = n;
    src.k = k;
    src.b_scale = scales.data();
    src.b_scale_count = static_cast<int64_t>(scales.size());
    slot.prepared = cpu::PrepareB(src, isa, [](size_t n_tasks, absl::FunctionRef<void(size_t)> t) {
      return ThePool().Run(n_tasks, t);
    });
  }
  return slot;
}

void BM_Fp8Gemm(benchmark::State& state) {
  const int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  const Isa isa = static_cast<Isa>(state.range(3));
  const auto mode = static_cast<AMode>(state.range(4));
  if (!cpu::IsaSupported(isa)) {
    state.SkipWithError("ISA level not supported by this CPU");
    return;
  }
  if (isa == Isa::kScalar && m * n * k > (int64_t{1} << 31)) {
    state.SkipWithError("scalar reference: too slow for this shape");
    return;
  }
  const Weight& b = Weights(n, k, isa);
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(m * k));
  for (auto& v : x) v = normal(rng);
  std::vector<uint8_t> a;
  std::vector<float> a_scale;
  cpu::GemmInput in;
  in.m = m;
  if (mode == kW8A8) {
    a.resize(x.size());
    a_scale.resize(static_cast<size_t>(m * NumBlocks(k, 128)));
    QuantizeRowGroups(x.data(), m, k, 128, {}, a.data(), a_scale.data());
    in.a = a.data();
    in.a_type = DType::kE4M3FN;
    in.a_scale = a_scale.data();
  } else if (mode == kWeightOnlyBf16) {
    a.resize(x.size() * 2);
    StoreFromFloat(x.data(), m * k, DType::kBFloat16, a.data());
    in.a = a.data();
    in.a_type = DType::kBFloat16;
  } else {
    in.a = x.data();
    in.a_type = DType::kFloat;
  }
  std::vector<float> y(static_cast<size_t>(m * n));
  in.y = y.data();
  auto parallel = [](size_t n_tasks, absl::FunctionRef<void(size_t)> t) {
    return ThePool().Run(n_tasks, t);
  };
  for (auto _ : state) {
    const absl::Status s = cpu::Fp8Gemm(*b.prepared, b.codes.data(), in, parallel);
    if (!s.ok()) state.SkipWithError(std::string(s.message()).c_str());
    benchmark::DoNotOptimize(y.data());
  }
  const double a_bytes = static_cast<double>(m * k) * (mode == kW8A8             ? 1
                                                       : mode == kWeightOnlyBf16 ? 2
                                                                                 : 4);
  const double bytes = static_cast<double>(n * k) + a_bytes + 4.0 * m * n;
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["GB/s"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(cpu::IsaName(isa));
}

// {M} x {(N, K)} (M = 2-8: small batches on the GEMV): Llama-3-8B-like projections (4096x4096
// attention, 14336x4096 MLP up/gate, 4096x14336 MLP down).
void GemmArgs(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "isa", "a"});
  for (int64_t m : {1, 2, 4, 8, 16, 128, 512}) {
    for (auto nk : {std::pair<int64_t, int64_t>{4096, 4096}, {14336, 4096}, {4096, 14336}}) {
      for (int isa : {1, 2, 3, 4}) {
        for (int mode : {kW8A8, kWeightOnlyF32}) b->Args({m, nk.first, nk.second, isa, mode});
      }
    }
  }
}
BENCHMARK(BM_Fp8Gemm)->Apply(GemmArgs)->UseRealTime()->Unit(benchmark::kMillisecond)->MinTime(0.3);

// M = 1 with the weights streamed from DRAM: each iteration uses the next of `copies` distinct
// weights (copies * N * K bytes, well over the last-level cache).
void BM_Fp8GemvFromDram(benchmark::State& state) {
  const int64_t n = state.range(0), k = state.range(1), copies = state.range(2);
  const Isa isa = cpu::ActiveIsa();
  std::vector<const Weight*> w;
  for (int i = 0; i < copies; ++i) w.push_back(&Weights(n, k, isa, i + 1));
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(k));
  for (auto& v : x) v = normal(rng);
  std::vector<uint8_t> a(x.size());
  std::vector<float> a_scale(static_cast<size_t>(NumBlocks(k, 128)));
  QuantizeRowGroups(x.data(), 1, k, 128, {}, a.data(), a_scale.data());
  std::vector<float> y(static_cast<size_t>(n));
  cpu::GemmInput in;
  in.m = 1;
  in.a = a.data();
  in.a_scale = a_scale.data();
  in.y = y.data();
  auto parallel = [](size_t n_tasks, absl::FunctionRef<void(size_t)> t) {
    return ThePool().Run(n_tasks, t);
  };
  size_t i = 0;
  for (auto _ : state) {
    const Weight& wi = *w[i++ % w.size()];
    (void)cpu::Fp8Gemm(*wi.prepared, wi.codes.data(), in, parallel);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(n * k), benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(cpu::IsaName(isa));
}
BENCHMARK(BM_Fp8GemvFromDram)
    ->ArgNames({"N", "K", "copies"})
    ->Args({14336, 4096, 12})
    ->Args({4096, 14336, 12})
    ->UseRealTime()
    ->Unit(benchmark::kMillisecond)
    ->MinTime(0.5);

void BM_QuantizeFp8(benchmark::State& state) {
  const int64_t rows = state.range(0), k = state.range(1);
  const Isa isa = static_cast<Isa>(state.range(2));
  if (!cpu::IsaSupported(isa)) {
    state.SkipWithError("ISA level not supported by this CPU");
    return;
  }
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (auto& v : x) v = normal(rng);
  std::vector<uint8_t> y(x.size());
  std::vector<float> ys(static_cast<size_t>(rows * NumBlocks(k, 128)));
  reference::QuantizeProblem p;
  p.rows = rows;
  p.k = k;
  p.x = x.data();
  p.y = y.data();
  p.y_scale = ys.data();
  const int64_t per_task = std::max<int64_t>(1, 16384 / k);
  const size_t tasks = static_cast<size_t>((rows + per_task - 1) / per_task);
  for (auto _ : state) {
    (void)ThePool().Run(tasks, [&](size_t t) {
      const int64_t r0 = static_cast<int64_t>(t) * per_task;
      cpu::QuantizeFp8(p, r0, std::min(rows, r0 + per_task), isa);
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GB/s"] = benchmark::Counter(static_cast<double>(rows * k) * (4 + 1),
                                              benchmark::Counter::kIsIterationInvariantRate);
  state.SetLabel(cpu::IsaName(isa));
}
BENCHMARK(BM_QuantizeFp8)
    ->ArgNames({"rows", "K", "isa"})
    ->ArgsProduct({{1, 128, 512}, {4096, 14336}, {0, 1, 2}})
    ->UseRealTime()
    ->Unit(benchmark::kMicrosecond);

// ---- ceilings on the same threads

void BM_DramRead(benchmark::State& state) {
  double gbps = 0;
  for (auto _ : state) gbps = MeasureReadGBps(ThePool(), size_t{1} << 30, 3);
  state.counters["GB/s"] = gbps;
}
BENCHMARK(BM_DramRead)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_Fp32FmaPeak(benchmark::State& state) {
  double g = 0;
  for (auto _ : state) g = MeasureFmaGflops(ThePool(), 5);
  state.counters["GFLOP/s"] = g;
}
BENCHMARK(BM_Fp32FmaPeak)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

// A peak that needs ISA level `isa` (skipped with `missing` on CPUs without it).
void RunIsaPeak(benchmark::State& state, Isa isa, const char* missing,
                double (*measure)(Pool& pool, int reps)) {
  if (!cpu::IsaSupported(isa)) {
    state.SkipWithError(missing);
    return;
  }
  double g = 0;
  for (auto _ : state) g = measure(ThePool(), 5);
  state.counters["GFLOP/s"] = g;
}

void BM_Bf16DotPeak(benchmark::State& state) {
  RunIsaPeak(state, Isa::kAvx512Bf16, "no AVX512_BF16 on this CPU", MeasureBf16DotGflops);
}
BENCHMARK(BM_Bf16DotPeak)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

void BM_AmxBf16Peak(benchmark::State& state) {
  RunIsaPeak(state, Isa::kAvx512Amx, "no AMX-BF16 on this CPU (or the OS did not grant it)",
             MeasureAmxBf16Gflops);
}
BENCHMARK(BM_AmxBf16Peak)->Iterations(1)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace fp8ops::bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  benchmark::AddCustomContext("fp8ops_threads", std::to_string(fp8ops::bench::Threads()));
  benchmark::AddCustomContext("fp8ops_active_isa", fp8ops::cpu::IsaName(fp8ops::cpu::ActiveIsa()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
