// FP8GEMM kernels for AVX-512 (F, BW, VL, DQ, VBMI; BF16 for the *_bf16 entries).
// Compiled with AVX-512 flags: see kernel_abi.h for what this file may and may not use.
//
// Packed layout (nr = 32 columns per panel, kgroup = 4): for each group of 4 K values, two
// 64-byte chunks (columns 0-15, 16-31). In a chunk, byte 16*L + 8*h + 2*i + e holds the code of
// column 4*L + i at k = 2*h + e (L: 128-bit lane, i < 4, h, e < 2). Two vpermi2b lookups over
// 128-entry tables give the high and low bytes of each code's bfloat16 value (FP8 values are
// exact in bfloat16, NaN, Inf and subnormals included); the sign bit is or-ed in, and
// vpunpck{l,h}bw then yields, per chunk, two vectors of bf16 pairs: dword lane c = column c,
// (k0, k1) in the first and (k2, k3) in the second. vdpbf16ps consumes these as they are; for
// FP32 FMA each pair splits into two float vectors (shift left 16 / mask the high half).
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

// bfloat16 bits of the magnitude code m (0..127) of an FP8 format.
constexpr uint16_t Bf16OfMagnitude(int32_t format, int m) {
  const bool e4m3 = format == 17;
  const int man_bits = e4m3 ? 3 : 2;
  const int bias = e4m3 ? 7 : 15;
  const int e = m >> man_bits;
  const int f = m & ((1 << man_bits) - 1);
  if (e4m3 && m == 0x7F) return 0x7FC0;         // NaN
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

// The 4 table registers and the sign mask of one format.
struct Decoder {
  __m512i hi0, hi1, lo0, lo1, sign;
  explicit Decoder(int32_t format) {
    const int f = format == 17 ? 0 : 1;
    hi0 = _mm512_load_si512(kTables.hi[f]);
    hi1 = _mm512_load_si512(kTables.hi[f] + 64);
    lo0 = _mm512_load_si512(kTables.lo[f]);
    lo1 = _mm512_load_si512(kTables.lo[f] + 64);
    sign = _mm512_set1_epi8(static_cast<char>(0x80));
  }
  // One 64-byte chunk -> bf16 pairs (k0,k1) and (k2,k3) of 16 columns.
  inline void Decode(const uint8_t* p, __m512i* x0, __m512i* x1) const {
    const __m512i c = _mm512_loadu_si512(p);
    __m512i hi = _mm512_permutex2var_epi8(hi0, c, hi1);
    const __m512i lo = _mm512_permutex2var_epi8(lo0, c, lo1);
    hi = _mm512_ternarylogic_epi32(hi, c, sign, 0xF8);  // hi | (c & 0x80)
    *x0 = _mm512_unpacklo_epi8(lo, hi);
    *x1 = _mm512_unpackhi_epi8(lo, hi);
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
  for (int64_t k4 = 0; k4 < a->kpad / kKGroup; ++k4) {
    for (int chunk = 0; chunk < 2; ++chunk) {
      uint8_t* dst = a->codes + (k4 * 2 + chunk) * 64;
      for (int byte = 0; byte < 64; ++byte) {
        const int lane = byte >> 4, h = (byte >> 3) & 1, i = (byte >> 1) & 3, e = byte & 1;
        const int64_t col = col0 + chunk * 16 + lane * 4 + i;
        const int64_t kk = k4 * kKGroup + 2 * h + e;
        dst[byte] = (col < a->n && kk < a->k) ? a->b[col * a->k + kk] : 0;
      }
    }
  }
  // Decoding is exact: colscale stays B's scale.
}

// ---------------------------------------------------------------------------------------- gemv

// y[m][0:32] = sum over segments of (sum_k a[m][k] * B[k][:]) * colscale * ascale[m][seg].
template <int M>
void GemvF32(const GemvArgs* g) {
  const Decoder dec(g->format);
  const float* a = static_cast<const float*>(g->a);
  for (int m = 0; m < M; ++m) {
    _mm512_storeu_ps(g->y + m * kNr, _mm512_setzero_ps());
    _mm512_storeu_ps(g->y + m * kNr + 16, _mm512_setzero_ps());
  }
  for (int64_t k0 = 0, s = 0; k0 < g->kpad; k0 += g->seg, ++s) {
    const int64_t k1 = MinI(k0 + g->seg, g->kpad);
    // Two accumulators per (row, chunk): even and odd K, to hide the FMA latency.
    __m512 acc[M][2][2];
    for (int m = 0; m < M; ++m) {
      for (int c = 0; c < 2; ++c) acc[m][c][0] = acc[m][c][1] = _mm512_setzero_ps();
    }
    const uint8_t* p = g->codes + (k0 / kKGroup) * 128;
    for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128) {
      __m512i x[2][2];
      dec.Decode(p, &x[0][0], &x[0][1]);
      dec.Decode(p + 64, &x[1][0], &x[1][1]);
      for (int m = 0; m < M; ++m) {
        const float* am = a + m * g->lda + kk;
        const __m512 a0 = _mm512_set1_ps(am[0]), a1 = _mm512_set1_ps(am[1]);
        const __m512 a2 = _mm512_set1_ps(am[2]), a3 = _mm512_set1_ps(am[3]);
        for (int c = 0; c < 2; ++c) {
          acc[m][c][0] = _mm512_fmadd_ps(a0, EvenF32(x[c][0]), acc[m][c][0]);
          acc[m][c][1] = _mm512_fmadd_ps(a1, OddF32(x[c][0]), acc[m][c][1]);
          acc[m][c][0] = _mm512_fmadd_ps(a2, EvenF32(x[c][1]), acc[m][c][0]);
          acc[m][c][1] = _mm512_fmadd_ps(a3, OddF32(x[c][1]), acc[m][c][1]);
        }
      }
    }
    const float* cs = g->colscale + (k0 / g->kseg_b) * kNr;
    const __m512 s0 = _mm512_loadu_ps(cs), s1 = _mm512_loadu_ps(cs + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 as = _mm512_set1_ps(g->ascale[m * g->ldas + s]);
      float* y = g->y + m * kNr;
      const __m512 t0 = _mm512_add_ps(acc[m][0][0], acc[m][0][1]);
      const __m512 t1 = _mm512_add_ps(acc[m][1][0], acc[m][1][1]);
      _mm512_storeu_ps(y, _mm512_fmadd_ps(t0, _mm512_mul_ps(s0, as), _mm512_loadu_ps(y)));
      _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(t1, _mm512_mul_ps(s1, as), _mm512_loadu_ps(y + 16)));
    }
  }
}

void GemvF32Dispatch(const GemvArgs* g) {
  switch (g->m) {
    case 1: GemvF32<1>(g); break;
    case 2: GemvF32<2>(g); break;
    case 3: GemvF32<3>(g); break;
    case 4: GemvF32<4>(g); break;
    default: break;
  }
}

template <int M>
__attribute__((target("avx512bf16"))) void GemvBf16(const GemvArgs* g) {
  const Decoder dec(g->format);
  const uint32_t* a = static_cast<const uint32_t*>(g->a);
  const int64_t lda2 = g->lda / 2;
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
    for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128) {
      __m512i x[2][2];
      dec.Decode(p, &x[0][0], &x[0][1]);
      dec.Decode(p + 64, &x[1][0], &x[1][1]);
      for (int m = 0; m < M; ++m) {
        const uint32_t* am = a + m * lda2 + kk / 2;
        const __m512bh a01 = (__m512bh)_mm512_set1_epi32(static_cast<int>(am[0]));
        const __m512bh a23 = (__m512bh)_mm512_set1_epi32(static_cast<int>(am[1]));
        for (int c = 0; c < 2; ++c) {
          acc[m][c][0] = _mm512_dpbf16_ps(acc[m][c][0], (__m512bh)x[c][0], a01);
          acc[m][c][1] = _mm512_dpbf16_ps(acc[m][c][1], (__m512bh)x[c][1], a23);
        }
      }
    }
    const float* cs = g->colscale + (k0 / g->kseg_b) * kNr;
    const __m512 s0 = _mm512_loadu_ps(cs), s1 = _mm512_loadu_ps(cs + 16);
    for (int m = 0; m < M; ++m) {
      const __m512 as = _mm512_set1_ps(g->ascale[m * g->ldas + s]);
      float* y = g->y + m * kNr;
      const __m512 t0 = _mm512_add_ps(acc[m][0][0], acc[m][0][1]);
      const __m512 t1 = _mm512_add_ps(acc[m][1][0], acc[m][1][1]);
      _mm512_storeu_ps(y, _mm512_fmadd_ps(t0, _mm512_mul_ps(s0, as), _mm512_loadu_ps(y)));
      _mm512_storeu_ps(y + 16, _mm512_fmadd_ps(t1, _mm512_mul_ps(s1, as), _mm512_loadu_ps(y + 16)));
    }
  }
}

__attribute__((target("avx512bf16"))) void GemvBf16Dispatch(const GemvArgs* g) {
  switch (g->m) {
    case 1: GemvBf16<1>(g); break;
    case 2: GemvBf16<2>(g); break;
    case 3: GemvBf16<3>(g); break;
    case 4: GemvBf16<4>(g); break;
    default: break;
  }
}

// -------------------------------------------------------------------------------------- tiles

void DecodeF32(const uint8_t* codes, int32_t format, int64_t k0, int64_t k1, float* tile) {
  const Decoder dec(format);
  const uint8_t* p = codes + (k0 / kKGroup) * 128;
  for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128, tile += kKGroup * kNr) {
    for (int c = 0; c < 2; ++c) {
      __m512i x0, x1;
      dec.Decode(p + 64 * c, &x0, &x1);
      _mm512_storeu_ps(tile + 0 * kNr + 16 * c, EvenF32(x0));
      _mm512_storeu_ps(tile + 1 * kNr + 16 * c, OddF32(x0));
      _mm512_storeu_ps(tile + 2 * kNr + 16 * c, EvenF32(x1));
      _mm512_storeu_ps(tile + 3 * kNr + 16 * c, OddF32(x1));
    }
  }
}

void DecodeBf16(const uint8_t* codes, int32_t format, int64_t k0, int64_t k1, uint32_t* tile) {
  const Decoder dec(format);
  const uint8_t* p = codes + (k0 / kKGroup) * 128;
  for (int64_t kk = k0; kk < k1; kk += kKGroup, p += 128, tile += 2 * kNr) {
    for (int c = 0; c < 2; ++c) {
      __m512i x0, x1;
      dec.Decode(p + 64 * c, &x0, &x1);
      _mm512_storeu_si512(tile + 16 * c, x0);
      _mm512_storeu_si512(tile + kNr + 16 * c, x1);
    }
  }
}

// c[m][:] += (a[m][0:kc] . tile[0:kc][:]) * colscale * ascale[m]
template <int M>
void GemmF32(int64_t kc, const float* a, int64_t lda, const float* tile, const float* colscale,
             const float* ascale, int64_t ldas, float* c, int64_t ldc) {
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
  const __m512 s0 = _mm512_loadu_ps(colscale), s1 = _mm512_loadu_ps(colscale + 16);
  for (int m = 0; m < M; ++m) {
    const __m512 as = _mm512_set1_ps(ascale[m * ldas]);
    float* cm = c + m * ldc;
    _mm512_storeu_ps(cm, _mm512_fmadd_ps(acc[m][0], _mm512_mul_ps(s0, as), _mm512_loadu_ps(cm)));
    _mm512_storeu_ps(cm + 16,
                     _mm512_fmadd_ps(acc[m][1], _mm512_mul_ps(s1, as), _mm512_loadu_ps(cm + 16)));
  }
}

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

#define FP8OPS_MR_CASES(F, ...)    \
  switch (m) {                     \
    case 1: F<1>(__VA_ARGS__); break; \
    case 2: F<2>(__VA_ARGS__); break; \
    case 3: F<3>(__VA_ARGS__); break; \
    case 4: F<4>(__VA_ARGS__); break; \
    case 5: F<5>(__VA_ARGS__); break; \
    case 6: F<6>(__VA_ARGS__); break; \
    case 7: F<7>(__VA_ARGS__); break; \
    case 8: F<8>(__VA_ARGS__); break; \
    case 9: F<9>(__VA_ARGS__); break; \
    case 10: F<10>(__VA_ARGS__); break; \
    case 11: F<11>(__VA_ARGS__); break; \
    case 12: F<12>(__VA_ARGS__); break; \
    default: break;                \
  }

void GemmF32Dispatch(int64_t m, int64_t kc, const float* a, int64_t lda, const float* tile,
                     const float* colscale, const float* ascale, int64_t ldas, float* c,
                     int64_t ldc) {
  FP8OPS_MR_CASES(GemmF32, kc, a, lda, tile, colscale, ascale, ldas, c, ldc)
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
