// FP8GEMM kernels for AVX-512 (F, BW, VL, DQ, VBMI; BF16 for the *_bf16 entries).
// Compiled with AVX-512 flags: see kernel_abi.h for what this file may and may not use.
//
// Packed layout (nr = 32 columns per panel, kgroup = 4): for each group of 4 K values, two
// 64-byte chunks (columns 0-15, 16-31). In a chunk, bytes 4c .. 4c+3 hold column c at
// k = 0, 2, 1, 3. Decoding a chunk gives two vectors of bfloat16 pairs, dword lane c = column c:
// (k0, k1) from the even bytes, (k2, k3) from the odd bytes. vdpbf16ps takes them as they are
// (FP8 values are exact in bfloat16); for FP32 FMA each pair splits into two float vectors
// (shift left 16 / mask the high half).
//
// Fast decoder (no shuffles, which compete with the FMAs for one port on Intel): in each 16-bit
// lane, bf16 = sign | ((magnitude << (7 - mantissa bits)) + (127 - bias) << 7), exact for normal
// codes. A K group holding a code it gets wrong (zero, subnormal, NaN, Inf) has its flag set at
// pack time and takes the slow decoder: two vpermi2b lookups over 128-entry tables of the high
// and low bytes of every code's bfloat16 (exact for all codes). Padding (K beyond k, columns
// beyond n) uses the code of 1.0: its products are multiplied by A's zero padding or by a zero
// column scale, and it keeps the padded groups on the fast path.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::cpu {
namespace {

constexpr int kNr = 32;
constexpr int kKGroup = 4;
constexpr int kMr = 12;
constexpr int kGemvMaxM = 4;
// GEMV: distance of the software prefetch of B. Streaming from DRAM needs it far ahead: on a
// Xeon (Sapphire Rapids class) 0 / 1 / 4 / 8 KiB gave 12 / 18 / 22 / 25 GB/s on 2 cores.
constexpr int kPrefetchBytes = 8192;

// bfloat16 bits of the magnitude code m (0..127) of an FP8 format.
constexpr uint16_t Bf16OfMagnitude(int32_t format, int m) {
  const bool e4m3 = format == 17;
  const int man_bits = e4m3 ? 3 : 2;
  const int bias = e4m3 ? 7 : 15;
  const int e = m >> man_bits;
  const int f = m & ((1 << man_bits) - 1);
  if (e4m3 && m == 0x7F) return 0x7FC0;                   // NaN
  if (!e4m3 && e == 31) return f == 0 ? 0x7F80 : 0x7FC0;  // Inf / NaN
  if (e == 0) {
    if (f == 0) return 0;
    int p = 0;  // top bit of f
    while ((f >> (p + 1)) != 0) ++p;
    const int exp = p + 1 - bias - man_bits;  // value = 2^exp * (f / 2^p)
    const int mant = (f - (1 << p)) << (7 - p);
    return static_cast<uint16_t>(((exp + 127) << 7) | mant);
  }
  return static_cast<uint16_t>(((e - bias + 127) << 7) | (f << (7 - man_bits)));
}

struct DecodeTables {
  alignas(64) uint8_t hi[2][128];  // [format e4m3 / e5m2][magnitude]
  alignas(64) uint8_t lo[2][128];
};

constexpr DecodeTables MakeTables() {
  DecodeTables t{};
  for (int f = 0; f < 2; ++f) {
    for (int m = 0; m < 128; ++m) {
      const uint16_t v = Bf16OfMagnitude(f == 0 ? 17 : 19, m);
      t.hi[f][m] = static_cast<uint8_t>(v >> 8);
      t.lo[f][m] = static_cast<uint8_t>(v & 0xFF);
    }
  }
  return t;
}
alignas(64) constexpr DecodeTables kTables = MakeTables();

// True if the fast decoder gets code c wrong (see the file comment).
constexpr bool NeedsSlowDecode(int32_t format, uint8_t c) {
  if (format == 17) return (c & 0x78) == 0 || (c & 0x7F) == 0x7F;  // zero/subnormal, NaN
  return (c & 0x7C) == 0 || (c & 0x7C) == 0x7C;                    // zero/subnormal, Inf/NaN
}
constexpr uint8_t kPadCode[2] = {0x38, 0x3C};  // 1.0 in E4M3FN / E5M2

template <bool kE4M3>
struct Decoder {
  static constexpr int kManBits = kE4M3 ? 3 : 2;
  __m512i hi0, hi1, lo0, lo1;
  Decoder() {
    const int f = kE4M3 ? 0 : 1;
    hi0 = _mm512_load_si512(kTables.hi[f]);
    hi1 = _mm512_load_si512(kTables.hi[f] + 64);
    lo0 = _mm512_load_si512(kTables.lo[f]);
    lo1 = _mm512_load_si512(kTables.lo[f] + 64);
  }
  // One 64-byte chunk -> bf16 of the even bytes (*x0) and of the odd bytes (*x1), per 16-bit
  // lane. Exact for normal codes only.
  static inline void Fast(const uint8_t* p, __m512i* x0, __m512i* x1) {
    const __m512i w = _mm512_loadu_si512(p);
    const __m512i mag_mask = _mm512_set1_epi16(static_cast<int16_t>(0x7F << (7 - kManBits)));
    const __m512i bias = _mm512_set1_epi16(static_cast<int16_t>((127 - (kE4M3 ? 7 : 15)) << 7));
    const __m512i sign = _mm512_set1_epi16(static_cast<int16_t>(0x8000));
    const __m512i lo =
        _mm512_add_epi16(_mm512_and_si512(_mm512_slli_epi16(w, 7 - kManBits), mag_mask), bias);
    *x0 = _mm512_ternarylogic_epi32(lo, _mm512_slli_epi16(w, 8), sign, 0xF8);  // lo | (w<<8 & sign)
    const __m512i hi =
        _mm512_add_epi16(_mm512_and_si512(_mm512_srli_epi16(w, 1 + kManBits), mag_mask), bias);
    *x1 = _mm512_ternarylogic_epi32(hi, w, sign, 0xF8);  // hi | (w & sign)
  }
  // The same, exact for every code.
  inline void Slow(const uint8_t* p, __m512i* x0, __m512i* x1) const {
    const __m512i c = _mm512_loadu_si512(p);
    __m512i h = _mm512_permutex2var_epi8(hi0, c, hi1);
    const __m512i l = _mm512_permutex2var_epi8(lo0, c, lo1);
    h = _mm512_ternarylogic_epi32(h, c, _mm512_set1_epi8(static_cast<char>(0x80)), 0xF8);
    const __m512i low_byte = _mm512_set1_epi16(0x00FF);
    // x0 lane = l(even byte) | h(even byte) << 8; x1 lane = l(odd byte) | h(odd byte) << 8.
    *x0 = _mm512_ternarylogic_epi32(l, _mm512_slli_epi16(h, 8), low_byte, 0xE4);
    *x1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(l, 8), h, low_byte, 0xE4);
  }
  // Both chunks of a K group (32 columns x 4 K): x[chunk][0 / 1].
  inline void Group(const uint8_t* p, bool slow, __m512i x[2][2]) const {
    if (__builtin_expect(slow, 0)) {
      Slow(p, &x[0][0], &x[0][1]);
      Slow(p + 64, &x[1][0], &x[1][1]);
    } else {
      Fast(p, &x[0][0], &x[0][1]);
      Fast(p + 64, &x[1][0], &x[1][1]);
    }
  }
};

// bf16 pairs -> the float of the even / odd element.
inline __m512 EvenF32(__m512i x) { return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)); }
inline __m512 OddF32(__m512i x) {
  return _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

inline int64_t MinI(int64_t a, int64_t b) { return a < b ? a : b; }

// -------------------------------------------------------------------------------------- pack

void PackPanel(const PackPanelArgs* a) {
  const int64_t col0 = a->panel * kNr;
  const uint8_t pad = kPadCode[a->format == 17 ? 0 : 1];
  constexpr int kKOfByte[4] = {0, 2, 1, 3};
  for (int64_t k4 = 0; k4 < a->kpad / kKGroup; ++k4) {
    bool slow = false;
    for (int chunk = 0; chunk < 2; ++chunk) {
      uint8_t* dst = a->codes + (k4 * 2 + chunk) * 64;
      for (int byte = 0; byte < 64; ++byte) {
        const int64_t col = col0 + chunk * 16 + byte / 4;
        const int64_t kk = k4 * kKGroup + kKOfByte[byte % 4];
        const uint8_t c = (col < a->n && kk < a->k) ? a->b[col * a->k + kk] : pad;
        slow = slow || NeedsSlowDecode(a->format, c);
        dst[byte] = c;
      }
    }
    a->flags[k4] = slow ? 1 : 0;
  }
  // Decoding is exact: colscale stays B's scale.
}

// ---------------------------------------------------------------------------------------- gemv

// y[m][0:32] = sum over segments of (sum_k a[m][k] * B[k][:]) * colscale * ascale[m][seg].
// kSplit: separate accumulators for even and odd K pairs, to hide latency when M is small.
template <int M, bool kE4M3, bool kBf16>
__attribute__((target("avx512bf16"))) void Gemv(const GemvArgs* g) {
  constexpr bool kSplit = M <= 2;
  const Decoder<kE4M3> dec;
  for (int m = 0; m < M; ++m) {
    _mm512_storeu_ps(g->y + m * kNr, _mm512_setzero_ps());
    _mm512_storeu_ps(g->y + m * kNr + 16, _mm512_setzero_ps());
  }
  for (int64_t k0 = 0, s = 0; k0 < g->kpad; k0 += g->seg, ++s) {
    const int64_t k1 = MinI(k0 + g->seg, g->kpad);
    __m512 acc[M][2][2];
    for (int m = 0; m < M; ++m) {
      for (int c = 0; c < 2; ++c) acc[m][c][0] = acc[m][c][1] = _mm512_setzero_ps();
    }
    const uint8_t* p = g->codes + (k0 / kKGroup) * 128;
    const uint8_t* flag = g->flags + k0 / kKGroup;
    for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128, ++flag) {
      // B streams once: fetch ahead (the panel is contiguous; past its end is harmless).
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes, _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(p) + kPrefetchBytes + 64, _MM_HINT_T0);
      __m512i x[2][2];
      dec.Group(p, *flag != 0, x);
      for (int m = 0; m < M; ++m) {
        for (int c = 0; c < 2; ++c) {
          __m512& acc_b = acc[m][c][kSplit ? 1 : 0];
          if (kBf16) {
            const uint32_t* am = static_cast<const uint32_t*>(g->a) + m * (g->lda / 2) + kk / 2;
            acc[m][c][0] = _mm512_dpbf16_ps(acc[m][c][0], (__m512bh)x[c][0],
                                            (__m512bh)_mm512_set1_epi32(static_cast<int>(am[0])));
            acc_b = _mm512_dpbf16_ps(acc_b, (__m512bh)x[c][1],
                                     (__m512bh)_mm512_set1_epi32(static_cast<int>(am[1])));
          } else {
            const float* am = static_cast<const float*>(g->a) + m * g->lda + kk;
            acc[m][c][0] = _mm512_fmadd_ps(_mm512_set1_ps(am[0]), EvenF32(x[c][0]), acc[m][c][0]);
            acc_b = _mm512_fmadd_ps(_mm512_set1_ps(am[1]), OddF32(x[c][0]), acc_b);
            acc[m][c][0] = _mm512_fmadd_ps(_mm512_set1_ps(am[2]), EvenF32(x[c][1]), acc[m][c][0]);
            acc_b = _mm512_fmadd_ps(_mm512_set1_ps(am[3]), OddF32(x[c][1]), acc_b);
          }
        }
      }
    }
    const float* cs = g->colscale + (k0 / g->kseg_b) * kNr;
    const __m512 s0 = _mm512_loadu_ps(cs), s1 = _mm512_loadu_ps(cs + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 as = _mm512_set1_ps(g->ascale[m * g->ldas + s]);
      float* y = g->y + m * kNr;
      __m512 t0 = acc[m][0][0], t1 = acc[m][1][0];
      if (kSplit) {
        t0 = _mm512_add_ps(t0, acc[m][0][1]);
        t1 = _mm512_add_ps(t1, acc[m][1][1]);
      }
      _mm512_storeu_ps(y, _mm512_fmadd_ps(t0, _mm512_mul_ps(s0, as), _mm512_loadu_ps(y)));
      _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(t1, _mm512_mul_ps(s1, as), _mm512_loadu_ps(y + 16)));
    }
  }
}

template <bool kE4M3, bool kBf16>
__attribute__((target("avx512bf16"))) void GemvRows(const GemvArgs* g) {
  switch (g->m) {
    case 1:
      Gemv<1, kE4M3, kBf16>(g);
      break;
    case 2:
      Gemv<2, kE4M3, kBf16>(g);
      break;
    case 3:
      Gemv<3, kE4M3, kBf16>(g);
      break;
    case 4:
      Gemv<4, kE4M3, kBf16>(g);
      break;
    default:
      break;
  }
}

// NOTE: the float variants run on CPUs without AVX512_BF16; the target attribute only lets the
// shared template compile, and no bf16 instruction is reached with kBf16 = false.
void GemvF32Dispatch(const GemvArgs* g) {
  if (g->format == 17) {
    GemvRows<true, false>(g);
  } else {
    GemvRows<false, false>(g);
  }
}

__attribute__((target("avx512bf16"))) void GemvBf16Dispatch(const GemvArgs* g) {
  if (g->format == 17) {
    GemvRows<true, true>(g);
  } else {
    GemvRows<false, true>(g);
  }
}

// -------------------------------------------------------------------------------------- tiles

template <bool kE4M3>
void DecodeF32T(const uint8_t* codes, const uint8_t* flags, int64_t k0, int64_t k1,
                const float* colscale, int64_t kseg_b, float* tile) {
  const Decoder<kE4M3> dec;
  const uint8_t* p = codes + (k0 / kKGroup) * 128;
  const uint8_t* flag = flags + k0 / kKGroup;
  // K groups never straddle a K block of B (blocks are multiples of kgroup, see PackB).
  const float* cs = colscale + (k0 / kseg_b) * kNr;
  int64_t next_block = (k0 / kseg_b + 1) * kseg_b;
  for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128, ++flag, tile += kKGroup * kNr) {
    if (kk >= next_block) {
      cs += kNr;
      next_block += kseg_b;
    }
    __m512i x[2][2];
    dec.Group(p, *flag != 0, x);
    for (int c = 0; c < 2; ++c) {
      const __m512 sc = _mm512_loadu_ps(cs + 16 * c);
      _mm512_storeu_ps(tile + 0 * kNr + 16 * c, _mm512_mul_ps(EvenF32(x[c][0]), sc));
      _mm512_storeu_ps(tile + 1 * kNr + 16 * c, _mm512_mul_ps(OddF32(x[c][0]), sc));
      _mm512_storeu_ps(tile + 2 * kNr + 16 * c, _mm512_mul_ps(EvenF32(x[c][1]), sc));
      _mm512_storeu_ps(tile + 3 * kNr + 16 * c, _mm512_mul_ps(OddF32(x[c][1]), sc));
    }
  }
}

template <bool kE4M3>
void DecodeBf16T(const uint8_t* codes, const uint8_t* flags, int64_t k0, int64_t k1,
                 uint32_t* tile) {
  const Decoder<kE4M3> dec;
  const uint8_t* p = codes + (k0 / kKGroup) * 128;
  const uint8_t* flag = flags + k0 / kKGroup;
  for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128, ++flag, tile += 2 * kNr) {
    __m512i x[2][2];
    dec.Group(p, *flag != 0, x);
    for (int c = 0; c < 2; ++c) {
      _mm512_storeu_si512(tile + 16 * c, x[c][0]);
      _mm512_storeu_si512(tile + kNr + 16 * c, x[c][1]);
    }
  }
}

void DecodeF32(const uint8_t* codes, const uint8_t* flags, int32_t format, int64_t k0, int64_t k1,
               const float* colscale, int64_t kseg_b, float* tile) {
  if (format == 17) {
    DecodeF32T<true>(codes, flags, k0, k1, colscale, kseg_b, tile);
  } else {
    DecodeF32T<false>(codes, flags, k0, k1, colscale, kseg_b, tile);
  }
}

void DecodeBf16(const uint8_t* codes, const uint8_t* flags, int32_t format, int64_t k0, int64_t k1,
                uint32_t* tile) {
  if (format == 17) {
    DecodeBf16T<true>(codes, flags, k0, k1, tile);
  } else {
    DecodeBf16T<false>(codes, flags, k0, k1, tile);
  }
}

// c[m][:] += a[m][0:kc] . tile[0:kc][:], everything already scaled.
template <int M>
void GemmF32(int64_t kc, const float* a, int64_t lda, const float* tile, float* c, int64_t ldc) {
  __m512 acc[M][2];
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk, tile += kNr) {
    const __m512 b0 = _mm512_loadu_ps(tile), b1 = _mm512_loadu_ps(tile + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 av = _mm512_set1_ps(a[kk * lda + m]);
      acc[m][0] = _mm512_fmadd_ps(av, b0, acc[m][0]);
      acc[m][1] = _mm512_fmadd_ps(av, b1, acc[m][1]);
    }
  }
  for (int m = 0; m < M; ++m) {
    float* cm = c + m * ldc;
    _mm512_storeu_ps(cm, _mm512_add_ps(acc[m][0], _mm512_loadu_ps(cm)));
    _mm512_storeu_ps(cm + 16, _mm512_add_ps(acc[m][1], _mm512_loadu_ps(cm + 16)));
  }
}

// c[m][:] += (a[m][0:kc] . tile[0:kc][:]) * colscale * ascale[m]
template <int M>
__attribute__((target("avx512bf16"))) void GemmBf16(int64_t kc, const uint32_t* a, int64_t lda,
                                                    const uint32_t* tile, const float* colscale,
                                                    const float* ascale, int64_t ldas, float* c,
                                                    int64_t ldc) {
  __m512 acc[M][2];
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm512_setzero_ps();
  for (int64_t kp = 0; kp < kc / 2; ++kp, tile += kNr) {
    const __m512bh b0 = (__m512bh)_mm512_loadu_si512(tile);
    const __m512bh b1 = (__m512bh)_mm512_loadu_si512(tile + 16);
    for (int m = 0; m < M; ++m) {
      const __m512bh av = (__m512bh)_mm512_set1_epi32(static_cast<int>(a[kp * lda + m]));
      acc[m][0] = _mm512_dpbf16_ps(acc[m][0], b0, av);
      acc[m][1] = _mm512_dpbf16_ps(acc[m][1], b1, av);
    }
  }
  const __m512 s0 = _mm512_loadu_ps(colscale), s1 = _mm512_loadu_ps(colscale + 16);
  for (int m = 0; m < M; ++m) {
    const __m512 as = _mm512_set1_ps(ascale[m * ldas]);
    float* cm = c + m * ldc;
    _mm512_storeu_ps(cm, _mm512_fmadd_ps(acc[m][0], _mm512_mul_ps(s0, as), _mm512_loadu_ps(cm)));
    _mm512_storeu_ps(cm + 16,
                     _mm512_fmadd_ps(acc[m][1], _mm512_mul_ps(s1, as), _mm512_loadu_ps(cm + 16)));
  }
}

#define FP8OPS_MR_CASES(F, ...) \
  switch (m) {                  \
    case 1:                     \
      F<1>(__VA_ARGS__);        \
      break;                    \
    case 2:                     \
      F<2>(__VA_ARGS__);        \
      break;                    \
    case 3:                     \
      F<3>(__VA_ARGS__);        \
      break;                    \
    case 4:                     \
      F<4>(__VA_ARGS__);        \
      break;                    \
    case 5:                     \
      F<5>(__VA_ARGS__);        \
      break;                    \
    case 6:                     \
      F<6>(__VA_ARGS__);        \
      break;                    \
    case 7:                     \
      F<7>(__VA_ARGS__);        \
      break;                    \
    case 8:                     \
      F<8>(__VA_ARGS__);        \
      break;                    \
    case 9:                     \
      F<9>(__VA_ARGS__);        \
      break;                    \
    case 10:                    \
      F<10>(__VA_ARGS__);       \
      break;                    \
    case 11:                    \
      F<11>(__VA_ARGS__);       \
      break;                    \
    case 12:                    \
      F<12>(__VA_ARGS__);       \
      break;                    \
    default:                    \
      break;                    \
  }

void GemmF32Dispatch(int64_t m, int64_t kc, const float* a, int64_t lda, const float* tile,
                     float* c, int64_t ldc) {
  FP8OPS_MR_CASES(GemmF32, kc, a, lda, tile, c, ldc)
}

__attribute__((target("avx512bf16"))) void GemmBf16Dispatch(
    int64_t m, int64_t kc, const uint32_t* a, int64_t lda, const uint32_t* tile,
    const float* colscale, const float* ascale, int64_t ldas, float* c, int64_t ldc) {
  FP8OPS_MR_CASES(GemmBf16, kc, a, lda, tile, colscale, ascale, ldas, c, ldc)
}
#undef FP8OPS_MR_CASES

// ---------------------------------------------------------------------------------- calibration

float CalibFma(int64_t iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999f), y = _mm512_set1_ps(1e-3f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

__attribute__((target("avx512bf16"))) float CalibBf16(int64_t iters) {
  __m512 acc[24];
  for (int i = 0; i < 24; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512bh x = (__m512bh)_mm512_set1_epi16(0x3F80), y = (__m512bh)_mm512_set1_epi16(0x3A83);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 24
    for (int i = 0; i < 24; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < 24; ++i) s = _mm512_add_ps(s, acc[i]);
  return _mm512_reduce_add_ps(s);
}

}  // namespace

extern const Fp8GemmKernels kFp8GemmAvx512 = {
    kNr,
    kKGroup,
    kGemvMaxM,
    kMr,
    /*uses_flags=*/true,
    PackPanel,
    GemvF32Dispatch,
    GemvBf16Dispatch,
    DecodeF32,
    DecodeBf16,
    GemmF32Dispatch,
    GemmBf16Dispatch,
    CalibFma,
    CalibBf16,
};

}  // namespace fp8ops::cpu
