// FP8GEMM kernels for AVX2 + FMA + F16C. Compiled with those flags: see kernel_abi.h for what
// this file may and may not use.
//
// Packed layout (nr = 16 columns per panel, kgroup = 1): 16 bytes per K value, columns in order.
// Decoding goes through float16 and vcvtph2ps:
//   E5M2: the code is the high byte of the float16 of the same value (exact, Inf/NaN included).
//   E4M3FN: sign-extend to 16 bits, shift left 7, clear bit 14: a float16 whose value is the
//   FP8 value times 2^-8, for normal and subnormal codes alike. pack_panel multiplies colscale
//   by 2^8 to compensate, and, since the NaN code 0x7F decodes to a finite number this way, sets
//   colscale to NaN for every (column, K block) that holds a NaN weight: the result of that
//   column is NaN, as with the reference.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::cpu {
namespace {

constexpr int kNr = 16;
constexpr int kMr = 6;
constexpr int kGemvMaxM = 4;

inline int64_t MinI(int64_t a, int64_t b) { return a < b ? a : b; }

// 16 codes -> 16 floats (cols 0-7 in *lo, 8-15 in *hi).
template <bool kE4M3>
inline void Decode16(const uint8_t* p, __m256* lo, __m256* hi) {
  const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  __m256i w;
  if (kE4M3) {
    w = _mm256_and_si256(_mm256_slli_epi16(_mm256_cvtepi8_epi16(c), 7),
                         _mm256_set1_epi16(static_cast<int16_t>(0xBF80)));
  } else {
    w = _mm256_slli_epi16(_mm256_cvtepu8_epi16(c), 8);
  }
  *lo = _mm256_cvtph_ps(_mm256_castsi256_si128(w));
  *hi = _mm256_cvtph_ps(_mm256_extracti128_si256(w, 1));
}

// -------------------------------------------------------------------------------------- pack

void PackPanel(const PackPanelArgs* a) {
  const int64_t col0 = a->panel * kNr;
  const bool e4m3 = a->format == 17;
  for (int64_t kk = 0; kk < a->kpad; ++kk) {
    uint8_t* dst = a->codes + kk * kNr;
    for (int i = 0; i < kNr; ++i) {
      const int64_t col = col0 + i;
      dst[i] = (col < a->n && kk < a->k) ? a->b[col * a->k + kk] : 0;
    }
  }
  if (!e4m3) return;
  const float nan = __builtin_nanf("");
  for (int64_t s = 0; s < a->nseg_b; ++s) {
    const int64_t k0 = s * a->kseg_b;
    const int64_t k1 = MinI(k0 + a->kseg_b, a->k);
    for (int i = 0; i < kNr; ++i) {
      float& cs = a->colscale[s * kNr + i];
      cs *= 256.0f;
      const int64_t col = col0 + i;
      if (col >= a->n) continue;
      for (int64_t kk = k0; kk < k1; ++kk) {
        if ((a->b[col * a->k + kk] & 0x7F) == 0x7F) {
          cs = nan;
          break;
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------- gemv

template <int M, bool kE4M3>
void GemvF32(const GemvArgs* g) {
  const float* a = static_cast<const float*>(g->a);
  for (int m = 0; m < M; ++m) {
    _mm256_storeu_ps(g->y + m * kNr, _mm256_setzero_ps());
    _mm256_storeu_ps(g->y + m * kNr + 8, _mm256_setzero_ps());
  }
  for (int64_t k0 = 0, s = 0; k0 < g->kpad; k0 += g->seg, ++s) {
    const int64_t k1 = MinI(k0 + g->seg, g->kpad);
    __m256 acc[M][2][2];  // [row][half][even/odd k]
    for (int m = 0; m < M; ++m) {
      for (int c = 0; c < 2; ++c) acc[m][c][0] = acc[m][c][1] = _mm256_setzero_ps();
    }
    const uint8_t* p = g->codes + k0 * kNr;
    int64_t kk = k0;
    for (; kk + 2 <= k1; kk += 2, p += 2 * kNr) {
      __m256 b[2][2];
      Decode16<kE4M3>(p, &b[0][0], &b[0][1]);
      Decode16<kE4M3>(p + kNr, &b[1][0], &b[1][1]);
      for (int m = 0; m < M; ++m) {
        const float* am = a + m * g->lda + kk;
        const __m256 a0 = _mm256_broadcast_ss(am), a1 = _mm256_broadcast_ss(am + 1);
        for (int c = 0; c < 2; ++c) {
          acc[m][c][0] = _mm256_fmadd_ps(a0, b[0][c], acc[m][c][0]);
          acc[m][c][1] = _mm256_fmadd_ps(a1, b[1][c], acc[m][c][1]);
        }
      }
    }
    if (kk < k1) {
      __m256 b0, b1;
      Decode16<kE4M3>(p, &b0, &b1);
      for (int m = 0; m < M; ++m) {
        const __m256 a0 = _mm256_broadcast_ss(a + m * g->lda + kk);
        acc[m][0][0] = _mm256_fmadd_ps(a0, b0, acc[m][0][0]);
        acc[m][1][0] = _mm256_fmadd_ps(a0, b1, acc[m][1][0]);
      }
    }
    const float* cs = g->colscale + (k0 / g->kseg_b) * kNr;
    const __m256 s0 = _mm256_loadu_ps(cs), s1 = _mm256_loadu_ps(cs + 8);
    for (int m = 0; m < M; ++m) {
      const __m256 as = _mm256_broadcast_ss(g->ascale + m * g->ldas + s);
      float* y = g->y + m * kNr;
      const __m256 t0 = _mm256_add_ps(acc[m][0][0], acc[m][0][1]);
      const __m256 t1 = _mm256_add_ps(acc[m][1][0], acc[m][1][1]);
      _mm256_storeu_ps(y, _mm256_fmadd_ps(t0, _mm256_mul_ps(s0, as), _mm256_loadu_ps(y)));
      _mm256_storeu_ps(y + 8, _mm256_fmadd_ps(t1, _mm256_mul_ps(s1, as), _mm256_loadu_ps(y + 8)));
    }
  }
}

template <bool kE4M3>
void GemvF32Rows(const GemvArgs* g) {
  switch (g->m) {
    case 1:
      GemvF32<1, kE4M3>(g);
      break;
    case 2:
      GemvF32<2, kE4M3>(g);
      break;
    case 3:
      GemvF32<3, kE4M3>(g);
      break;
    case 4:
      GemvF32<4, kE4M3>(g);
      break;
    default:
      break;
  }
}

void GemvF32Dispatch(const GemvArgs* g) {
  if (g->format == 17) {
    GemvF32Rows<true>(g);
  } else {
    GemvF32Rows<false>(g);
  }
}

// -------------------------------------------------------------------------------------- tiles

void DecodeF32(const uint8_t* codes, const uint8_t* /*flags*/, int32_t format, int64_t k0,
               int64_t k1, const float* colscale, int64_t kseg_b, float* tile) {
  const uint8_t* p = codes + k0 * kNr;
  const float* cs = colscale + (k0 / kseg_b) * kNr;
  int64_t next_block = (k0 / kseg_b + 1) * kseg_b;
  for (int64_t kk = k0; kk < k1; ++kk, p += kNr, tile += kNr) {
    if (kk >= next_block) {
      cs += kNr;
      next_block += kseg_b;
    }
    __m256 lo, hi;
    if (format == 17) {
      Decode16<true>(p, &lo, &hi);
    } else {
      Decode16<false>(p, &lo, &hi);
    }
    _mm256_storeu_ps(tile, _mm256_mul_ps(lo, _mm256_loadu_ps(cs)));
    _mm256_storeu_ps(tile + 8, _mm256_mul_ps(hi, _mm256_loadu_ps(cs + 8)));
  }
}

// c[m][:] += a[m][0:kc] . tile[0:kc][:], everything already scaled.
template <int M>
void GemmF32(int64_t kc, const float* a, int64_t lda, const float* tile, float* c, int64_t ldc) {
  __m256 acc[M][2];
  for (int m = 0; m < M; ++m) acc[m][0] = acc[m][1] = _mm256_setzero_ps();
  for (int64_t kk = 0; kk < kc; ++kk, tile += kNr) {
    const __m256 b0 = _mm256_loadu_ps(tile), b1 = _mm256_loadu_ps(tile + 8);
    for (int m = 0; m < M; ++m) {
      const __m256 av = _mm256_broadcast_ss(a + kk * lda + m);
      acc[m][0] = _mm256_fmadd_ps(av, b0, acc[m][0]);
      acc[m][1] = _mm256_fmadd_ps(av, b1, acc[m][1]);
    }
  }
  for (int m = 0; m < M; ++m) {
    float* cm = c + m * ldc;
    _mm256_storeu_ps(cm, _mm256_add_ps(acc[m][0], _mm256_loadu_ps(cm)));
    _mm256_storeu_ps(cm + 8, _mm256_add_ps(acc[m][1], _mm256_loadu_ps(cm + 8)));
  }
}

void GemmF32Dispatch(int64_t m, int64_t kc, const float* a, int64_t lda, const float* tile,
                     float* c, int64_t ldc) {
  switch (m) {
    case 1:
      GemmF32<1>(kc, a, lda, tile, c, ldc);
      break;
    case 2:
      GemmF32<2>(kc, a, lda, tile, c, ldc);
      break;
    case 3:
      GemmF32<3>(kc, a, lda, tile, c, ldc);
      break;
    case 4:
      GemmF32<4>(kc, a, lda, tile, c, ldc);
      break;
    case 5:
      GemmF32<5>(kc, a, lda, tile, c, ldc);
      break;
    case 6:
      GemmF32<6>(kc, a, lda, tile, c, ldc);
      break;
    default:
      break;
  }
}

float CalibFma(int64_t iters) {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-3f);
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, acc[i]);
  alignas(32) float out[8];
  _mm256_store_ps(out, s);
  return out[0] + out[7];
}

}  // namespace

extern const Fp8GemmKernels kFp8GemmAvx2 = {
    kNr,
    1,
    kGemvMaxM,
    kMr,
    /*uses_flags=*/false,
    PackPanel,
    GemvF32Dispatch,
    nullptr,
    DecodeF32,
    nullptr,
    GemmF32Dispatch,
    nullptr,
    CalibFma,
    nullptr,
};

}  // namespace fp8ops::cpu
