#include "ops/cpu/dispatch.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace fp8ops::cpu {
namespace {

// Seconds for one call of loop(iters).
double TimeLoop(float (*loop)(int64_t), int64_t iters) {
  volatile float sink = 0;
  const auto t0 = std::chrono::steady_clock::now();
  sink = sink + loop(iters);
  const auto t1 = std::chrono::steady_clock::now();
  return std::chrono::duration<double>(t1 - t0).count();
}

Isa ChooseActive() {
  const Isa best = BestSupportedIsa();
  const char* env = std::getenv("FP8OPS_CPU_ISA");
  if (env != nullptr && *env != '\0') {
    const auto want = ParseIsa(env);
    if (!want) {
      std::fprintf(stderr,
                   "fp8ops: ignoring FP8OPS_CPU_ISA=%s (want "
                   "scalar|avx2|avx512|avx512_bf16|avx512_amx)\n",
                   env);
    } else {
      Isa isa = *want;
      while (!IsaSupported(isa)) isa = static_cast<Isa>(static_cast<int>(isa) - 1);
      if (isa != *want) {
        std::fprintf(stderr, "fp8ops: FP8OPS_CPU_ISA=%s is not supported by this CPU; using %s\n",
                     env, IsaName(isa));
      }
      return isa;
    }
  }
  if (best == Isa::kAvx512Bf16 && Bf16DotSlowerThanFma()) return Isa::kAvx512;
  return best;
}

}  // namespace

const Fp8GemmKernels* GemmKernelsFor(Isa isa) {
#if FP8OPS_X86_KERNELS
  if (!IsaSupported(isa)) return nullptr;
  switch (isa) {
    case Isa::kScalar:
      return nullptr;
    case Isa::kAvx2:
      return &kFp8GemmAvx2;
    case Isa::kAvx512:
    case Isa::kAvx512Bf16:
      return &kFp8GemmAvx512;
    case Isa::kAvx512Amx:
      return &kFp8GemmAvx512Amx;
  }
#endif
  (void)isa;
  return nullptr;
}

const QuantizeFp8Kernels* QuantizeKernelsFor(Isa isa) {
#if FP8OPS_X86_KERNELS
  if (!IsaSupported(isa)) return nullptr;
  switch (isa) {
    case Isa::kScalar:
      return nullptr;
    case Isa::kAvx2:
      return &kQuantizeFp8Avx2;
    case Isa::kAvx512:
    case Isa::kAvx512Bf16:
    case Isa::kAvx512Amx:
      return &kQuantizeFp8Avx512;
  }
#endif
  (void)isa;
  return nullptr;
}

Isa ActiveIsa() {
  static const Isa isa = ChooseActive();
  return isa;
}

DotRates MeasureDotRates() {
  DotRates r;
  const Fp8GemmKernels* k = GemmKernelsFor(Isa::kAvx512);
  if (k == nullptr) return r;
  constexpr int64_t kIters = 2000;  // 48k vector instructions: some 15-50 us per run
  double best_fma = 1e9, best_bf16 = 1e9;
  for (int rep = 0; rep < 5; ++rep) {
    best_fma = std::min(best_fma, TimeLoop(k->calib_fma, kIters));
    if (IsaSupported(Isa::kAvx512Bf16))
      best_bf16 = std::min(best_bf16, TimeLoop(k->calib_bf16, kIters));
  }
  r.fma_gflops = kIters * 24.0 * 32.0 / best_fma * 1e-9;  // 16 lanes x 2 FLOP
  if (IsaSupported(Isa::kAvx512Bf16))
    r.bf16_gflops = kIters * 24.0 * 64.0 / best_bf16 * 1e-9;  // 32 x 2
  return r;
}

bool Bf16DotSlowerThanFma() {
  static const bool slower = [] {
    if (!IsaSupported(Isa::kAvx512Bf16)) return false;
    const DotRates r = MeasureDotRates();
    return r.bf16_gflops < 0.9 * r.fma_gflops;
  }();
  return slower;
}

bool GemvArithDecodeFaster() {
  static const bool faster = [] {
    const Fp8GemmKernels* k = GemmKernelsFor(Isa::kAvx512);
    if (k == nullptr || k->calib_decode_arith == nullptr) return false;
    const char* env = std::getenv("FP8OPS_GEMV_DECODE");
    if (env != nullptr && std::strcmp(env, "arith") == 0) return true;
    if (env != nullptr && std::strcmp(env, "lookup") == 0) return false;
    constexpr int64_t kIters = 400;  // 6400 chunks: 7 / 14 us per run on a Xeon (arith / lookup)
    double arith = 1e9, lookup = 1e9;
    for (int rep = 0; rep < 5; ++rep) {
      arith = std::min(arith, TimeLoop(k->calib_decode_arith, kIters));
      lookup = std::min(lookup, TimeLoop(k->calib_decode_lookup, kIters));
    }
    return arith < 0.9 * lookup;
  }();
  return faster;
}

}  // namespace fp8ops::cpu
