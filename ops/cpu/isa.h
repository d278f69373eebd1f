// CPU feature detection and the ISA level the fast CPU kernels run at.
//
// ops/cpu/dispatch.h picks the level the kernels run at from these (once, at first use).
#ifndef FP8OPS_OPS_CPU_ISA_H_
#define FP8OPS_OPS_CPU_ISA_H_

#include <cstdint>
#include <optional>
#include <string>

namespace fp8ops::cpu {

// Kernel levels, lowest first.
//   kScalar:     the reference kernels (ops/reference), any x86-64 or other CPU.
//   kAvx2:       AVX2 + FMA + F16C; FP8 decoded to FP32, FP32 FMA.
//   kAvx512:     AVX-512 F/BW/VL/DQ/VBMI; FP8 decoded by integer bit moves (vpermi2b lookups for
//                the chunks holding zero/subnormal/NaN/Inf codes), FP32 FMA; on a CPU that has
//                AVX512_BF16 (picked there when vdpbf16ps is slower than FMA) the GEMV still
//                uses vdpbf16ps at M = 1 (PreparedB::gemv_bf16_max_m).
//   kAvx512Bf16: kAvx512 plus AVX512_BF16; W8A8 and bfloat16-activation GEMMs use vdpbf16ps
//                (FP8 values are exact in bfloat16), other activations use FP32 FMA.
//   kAvx512Amx:  kAvx512Bf16 plus AMX-TILE and AMX-BF16 with the OS's permission for the tile data
//                state (Linux arch_prctl, asked once): the larger-M W8A8 / bfloat16-activation
//                GEMMs multiply decoded bfloat16 tiles with TDPBF16PS; everything else as
//                kAvx512Bf16.
enum class Isa : int { kScalar = 0, kAvx2 = 1, kAvx512 = 2, kAvx512Bf16 = 3, kAvx512Amx = 4 };

const char* IsaName(Isa isa);
// Parses scalar | avx2 | avx512 | avx512_bf16 | avx512_amx (case-insensitive).
std::optional<Isa> ParseIsa(const std::string& name);

struct CpuFeatures {
  bool avx2 = false, fma = false, f16c = false;
  bool avx512f = false, avx512bw = false, avx512vl = false, avx512dq = false;
  bool avx512vbmi = false, avx512bf16 = false;
  bool amx_tile = false, amx_bf16 = false;
  bool os_avx = false, os_avx512 = false;  // xgetbv: the OS saves the YMM / ZMM state
  bool os_amx = false;  // the OS saves the tile state and granted this process its use
};
// What this CPU and OS support (cpuid and xgetbv, read once).
const CpuFeatures& DetectCpu();

// The size of one core's L1 data cache (sysconf; 32 KiB where it is not known).
int64_t L1DataCacheBytes();

// True when this CPU can run kernels of `isa`.
bool IsaSupported(Isa isa);
// The best level this CPU supports.
Isa BestSupportedIsa();

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_ISA_H_
