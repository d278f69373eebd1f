// Picks the kernel tables: once per process, from the CPU (ops/cpu/isa.h) and the environment
// variable FP8OPS_CPU_ISA=scalar|avx2|avx512|avx512_bf16|avx512_amx (a level the CPU lacks falls
// back to the best supported one below it, with a warning on stderr).
//
// With AMX (avx512_amx) and no override, that level is taken without calibration: its tile
// multiplies run at over ten times the FP32 FMA rate.
// On a CPU with AVX512_BF16 and no override, a short calibration (well under a millisecond)
// times vdpbf16ps against FP32 FMA: avx512_bf16 is chosen only if the bf16 dot product gives at
// least 0.9x the FMA's FLOP rate (on some CPUs it runs at half that rate, on others at twice).
// On AVX-512 a second one times the GEMV's two FP8 decoders (GemvArithDecodeFaster).
#ifndef FP8OPS_OPS_CPU_DISPATCH_H_
#define FP8OPS_OPS_CPU_DISPATCH_H_

#include "ops/cpu/isa.h"
#include "ops/cpu/kernel_abi.h"

namespace fp8ops::cpu {

// The kernel tables of one level; nullptr for kScalar (the drivers then run the reference
// kernels) or when `isa` is not supported by this CPU.
const Fp8GemmKernels* GemmKernelsFor(Isa isa);
const QuantizeFp8Kernels* QuantizeKernelsFor(Isa isa);

// The level the kernels run at (chosen once).
Isa ActiveIsa();

// FLOP rates of one core measured by the calibration loops (0 where unavailable).
struct DotRates {
  double fma_gflops = 0, bf16_gflops = 0;
};
DotRates MeasureDotRates();
// True where this CPU has AVX512_BF16 and vdpbf16ps measured under 0.9x the FP32 FMA's FLOP rate
// (MeasureDotRates, once per process).
bool Bf16DotSlowerThanFma();

// Whether the GEMV's arithmetic decode (with the optional flags, kernel_abi.h) measured faster
// than its table lookups on this CPU (a calibration of well under a millisecond, once per
// process); FP8OPS_GEMV_DECODE=arith|lookup overrides it. False where the ISA has one decoder.
bool GemvArithDecodeFaster();

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_DISPATCH_H_
