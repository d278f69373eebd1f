#include "ops/cpu/isa.h"

#include <cctype>
#include <cstdint>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#define FP8OPS_X86 1
#endif
#if defined(__linux__) && defined(__x86_64__)
#include <sys/syscall.h>
#endif
#if defined(__unix__)
#include <unistd.h>
#endif

namespace fp8ops::cpu {
namespace {

#ifdef FP8OPS_X86
uint64_t XGetBv0() {
  uint32_t lo, hi;
  __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
  return (static_cast<uint64_t>(hi) << 32) | lo;
}

// Linux gives a process the AMX tile data state only on request (arch_prctl
// ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA); without it the first tile instruction faults.
bool RequestAmxPermission() {
#if defined(__linux__) && defined(__x86_64__)
  constexpr long kArchReqXcompPerm = 0x1023;
  constexpr long kXfeatureXtiledata = 18;
  return syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0;
#else
  return false;
#endif
}
#endif

CpuFeatures Detect() {
  CpuFeatures f;
#ifdef FP8OPS_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = (c >> 27) & 1u;
  f.fma = (c >> 12) & 1u;
  f.f16c = (c >> 29) & 1u;
  if (osxsave) {
    const uint64_t xcr0 = XGetBv0();
    f.os_avx = (xcr0 & 0x6) == 0x6;                   // SSE + AVX state
    f.os_avx512 = f.os_avx && (xcr0 & 0xE0) == 0xE0;  // opmask, ZMM_Hi256, Hi16_ZMM
    f.os_amx = (xcr0 & 0x60000) == 0x60000;           // XTILECFG, XTILEDATA
  }
  if (__get_cpuid_max(0, nullptr) >= 7) {
    __cpuid_count(7, 0, a, b, c, d);
    f.avx2 = (b >> 5) & 1u;
    f.avx512f = (b >> 16) & 1u;
    f.avx512dq = (b >> 17) & 1u;
    f.avx512bw = (b >> 30) & 1u;
    f.avx512vl = (b >> 31) & 1u;
    f.avx512vbmi = (c >> 1) & 1u;
    f.amx_bf16 = (d >> 22) & 1u;
    f.amx_tile = (d >> 24) & 1u;
    const unsigned max_sub = a;
    if (max_sub >= 1) {
      __cpuid_count(7, 1, a, b, c, d);
      f.avx512bf16 = (a >> 5) & 1u;
    }
  }
  f.os_amx = f.os_amx && f.amx_tile && f.amx_bf16 && RequestAmxPermission();
#endif
  return f;
}

}  // namespace

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kScalar:
      return "scalar";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx512Bf16:
      return "avx512_bf16";
    case Isa::kAvx512Amx:
      return "avx512_amx";
  }
  return "?";
}

std::optional<Isa> ParseIsa(const std::string& name) {
  std::string s;
  for (char ch : name) s += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kAvx512Bf16, Isa::kAvx512Amx}) {
    if (s == IsaName(isa)) return isa;
  }
  return std::nullopt;
}

const CpuFeatures& DetectCpu() {
  static const CpuFeatures f = Detect();
  return f;
}

int64_t L1DataCacheBytes() {
  static const int64_t bytes = [] {
    long v = -1;
#if defined(__unix__) && defined(_SC_LEVEL1_DCACHE_SIZE)
    v = sysconf(_SC_LEVEL1_DCACHE_SIZE);
#endif
    // Unknown (some VMs report 0): 32 KiB, the smallest L1 data cache of the CPUs with AVX2.
    return v >= 16 * 1024 && v <= 1024 * 1024 ? static_cast<int64_t>(v) : int64_t{32 * 1024};
  }();
  return bytes;
}

bool IsaSupported(Isa isa) {
  const CpuFeatures& f = DetectCpu();
  const bool avx2 = f.os_avx && f.avx2 && f.fma && f.f16c;
  const bool avx512 =
      avx2 && f.os_avx512 && f.avx512f && f.avx512bw && f.avx512vl && f.avx512dq && f.avx512vbmi;
  switch (isa) {
    case Isa::kScalar:
      return true;
    case Isa::kAvx2:
      return avx2;
    case Isa::kAvx512:
      return avx512;
    case Isa::kAvx512Bf16:
      return avx512 && f.avx512bf16;
    case Isa::kAvx512Amx:
      return avx512 && f.avx512bf16 && f.os_amx;
  }
  return false;
}

Isa BestSupportedIsa() {
  for (Isa isa : {Isa::kAvx512Amx, Isa::kAvx512Bf16, Isa::kAvx512, Isa::kAvx2}) {
    if (IsaSupported(isa)) return isa;
  }
  return Isa::kScalar;
}

}  // namespace fp8ops::cpu
