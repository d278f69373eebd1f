// FP8GEMM kernels for AVX2 + FMA + F16C. Compiled with those flags: see kernel_abi.h for what
// this file may and may not use.
//
// B is read in place ([n, k] row-major codes, see kernel_abi.h): a chunk is 32 consecutive codes
// of one row, decoded to four float vectors in K order (A needs no reordering). A shorter chunk
// is copied into a zeroed 32-byte buffer first, so no load reads past it.
// Decoding goes through float16 and vcvtph2ps:
//   E5M2: the code is the high byte of the float16 of the same value (exact, Inf/NaN included).
//   E4M3FN: sign-extend to 16 bits, shift left 7, clear bit 14: a float16 whose value is the
//   FP8 value times 2^-8, for normal and subnormal codes alike. The kernels multiply the scales
//   by 2^8 to compensate, and, since the NaN code 0x7F decodes to a finite number this way, a
//   chunk holding a NaN code has its flag bit set at preparation: the row's result for that
//   segment is NaN, as with the reference.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::cpu {
namespace {

constexpr int kChunk = 32;
constexpr int kMr = 6;
constexpr int kMaxNv = 2;
constexpr int kGemvMaxM = 4;

inline int64_t MinI(int64_t a, int64_t b) { return a < b ? a : b; }

struct Order {
  uint8_t v[kChunk];
};
constexpr Order MakeOrder() {
  Order o{};
  for (int j = 0; j < kChunk; ++j) o.v[j] = static_cast<uint8_t>(j);
  return o;
}
constexpr Order kOrder = MakeOrder();

// 16 codes -> 16 floats (k 0-7 in *lo, 8-15 in *hi).
template <bool kE4M3>
inline void Decode16(__m128i c, __m256* lo, __m256* hi) {
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

struct ChunkPos {
  int64_t off, len;
};
inline ChunkPos PosOf(const BView* b, int64_t s, int64_t c) {
  const int64_t k0 = s * b->seg;
  const int64_t seglen = MinI(b->seg, b->k - k0);
  return {k0 + c * kChunk, MinI(kChunk, seglen - c * kChunk)};
}

// One chunk -> f[0..3] (k 0-7, 8-15, 16-23, 24-31); reads only `len` bytes (the rest are 0).
template <bool kE4M3>
inline void DecodeChunk(const uint8_t* p, int64_t len, __m256 f[4]) {
  alignas(32) uint8_t buf[kChunk];
  if (len < kChunk) {
    for (int j = 0; j < kChunk; ++j) buf[j] = j < len ? p[j] : 0;
    p = buf;
  }
  Decode16<kE4M3>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)), &f[0], &f[1]);
  Decode16<kE4M3>(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16)), &f[2], &f[3]);
}

inline bool FlagBit(const uint8_t* row_flags, int64_t g) {
  return (row_flags[g >> 3] >> (g & 7)) & 1;
}

// --------------------------------------------------------------------------------------- flags

void FlagRows(const BView* b, int64_t r0, int64_t r1, uint8_t* flags) {
  for (int64_t r = r0; r < r1; ++r) {
    uint8_t* f = flags + r * b->flag_stride;
    for (int64_t i = 0; i < b->flag_stride; ++i) f[i] = 0;
    if (b->format != 17) continue;  // E5M2 decodes exactly
    const uint8_t* row = b->b + r * b->k;
    for (int64_t s = 0; s < b->nseg; ++s) {
      for (int64_t c = 0; c < b->cps; ++c) {
        const ChunkPos pos = PosOf(b, s, c);
        bool nan = false;
        for (int64_t j = 0; j < pos.len; ++j) nan |= (row[pos.off + j] & 0x7F) == 0x7F;
        if (nan) {
          const int64_t g = s * b->cps + c;
          f[g >> 3] = static_cast<uint8_t>(f[g >> 3] | (1u << (g & 7)));
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------- gemv

template <int M, int R, bool kE4M3>
void GemvF32(const GemvArgs* g) {
  const BView* b = g->b;
  const float* a = static_cast<const float*>(g->a);
  const int64_t nseg = b->nseg;
  // prod[i][m][s]: the scale product of (row slot i, A row m, segment s) times the decoder's
  // factor, recomputed when the slot's row enters another block of B's scales.
  float* prod = g->scratch;
  int64_t cached[R];
  const float factor = kE4M3 ? 256.0f : 1.0f;
  // K in slabs (GemvArgs::slab), every row per slab: A's rows of a slab stay in L1.
  for (int64_t s0 = 0; s0 < nseg; s0 += g->slab) {
    const int64_t s1 = MinI(nseg, s0 + g->slab);
    // Only this slab's segments, once per slab and block: where every row has its own scales
    // (1 x 128 groups) a refresh per row of all segments would cost that again in every slab.
    for (int i = 0; i < R; ++i) cached[i] = -1;
    for (int64_t r0 = g->r0; r0 < g->r1; r0 += R) {
      const uint8_t* rowp[R];
      const uint8_t* rowf[R];
      for (int i = 0; i < R; ++i) {
        const int64_t r = MinI(r0 + i, g->r1 - 1);  // past the end: repeat the last row, dropped
        rowp[i] = b->b + r * b->k;
        rowf[i] = b->flags + r * b->flag_stride;
        const int64_t blk = r / b->bn;
        if (blk != cached[i]) {
          cached[i] = blk;
          GemvScaleProducts(*b, g->ascale, M, blk, s0, s1, factor, prod + i * M * nseg);
        }
      }
      __m256 tot[R][M];
      for (int i = 0; i < R; ++i) {
        for (int m = 0; m < M; ++m) tot[i][m] = _mm256_setzero_ps();
      }
      for (int64_t s = s0; s < s1; ++s) {
        __m256 acc[R][M];
        bool nan[R];
        for (int i = 0; i < R; ++i) {
          nan[i] = false;
          for (int m = 0; m < M; ++m) acc[i][m] = _mm256_setzero_ps();
        }
        const int64_t k0 = s * b->seg, g0 = s * b->cps;
        const int64_t seglen = MinI(b->seg, b->k - k0);
        for (int64_t c = 0; c * kChunk < seglen; ++c) {
          const int64_t off = k0 + c * kChunk, len = seglen - c * kChunk;
          for (int i = 0; i < R; ++i) {
            // The next R rows follow in memory: fetch them into L2 (short per-row streams).
            if ((c & 1) == 0) {
              _mm_prefetch(reinterpret_cast<const char*>(rowp[i] + off) + R * b->k, _MM_HINT_T1);
            }
            __m256 f[4];
            DecodeChunk<kE4M3>(rowp[i] + off, len, f);
            nan[i] = nan[i] || FlagBit(rowf[i], g0 + c);
            for (int m = 0; m < M; ++m) {
              const float* am = a + m * g->lda + (g0 + c) * kChunk;
              __m256 t = _mm256_mul_ps(f[0], _mm256_loadu_ps(am));
              t = _mm256_fmadd_ps(f[1], _mm256_loadu_ps(am + 8), t);
              acc[i][m] = _mm256_fmadd_ps(f[2], _mm256_loadu_ps(am + 16), acc[i][m]);
              acc[i][m] = _mm256_fmadd_ps(f[3], _mm256_loadu_ps(am + 24), acc[i][m]);
              acc[i][m] = _mm256_add_ps(acc[i][m], t);
            }
          }
        }
        for (int i = 0; i < R; ++i) {
          for (int m = 0; m < M; ++m) {
            // A NaN weight (E4M3 0x7F decodes to a finite value here) makes the segment NaN.
            const float sc = nan[i] ? __builtin_nanf("") : prod[(i * M + m) * nseg + s];
            tot[i][m] = _mm256_fmadd_ps(acc[i][m], _mm256_set1_ps(sc), tot[i][m]);
          }
        }
      }
      for (int i = 0; i < R && r0 + i < g->r1; ++i) {
        for (int m = 0; m < M; ++m) {
          const __m128 h =
              _mm_add_ps(_mm256_castps256_ps128(tot[i][m]), _mm256_extractf128_ps(tot[i][m], 1));
          const __m128 q = _mm_add_ps(h, _mm_movehl_ps(h, h));
          float& y = g->y[m * g->ldy + r0 + i - g->r0];
          const float part = _mm_cvtss_f32(_mm_add_ss(q, _mm_movehdup_ps(q)));
          y = s0 == 0 ? part : y + part;
        }
      }
    }
  }
}

template <bool kE4M3>
void GemvF32Rows(const GemvArgs* g) {
  switch (g->m) {
    case 1:
      GemvF32<1, 4, kE4M3>(g);
      break;
    case 2:
      GemvF32<2, 2, kE4M3>(g);
      break;
    case 3:
      GemvF32<3, 1, kE4M3>(g);
      break;
    case 4:
      GemvF32<4, 1, kE4M3>(g);
      break;
    default:
      break;
  }
}

void GemvF32Dispatch(const GemvArgs* g) {
  if (g->b->format == 17) {
    GemvF32Rows<true>(g);
  } else {
    GemvF32Rows<false>(g);
  }
}

// -------------------------------------------------------------------------------------- tiles

template <bool kE4M3>
void DecodeF32T(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, float* tile,
                int64_t ldt) {
  const float factor = kE4M3 ? 256.0f : 1.0f;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t r = r0 + i;
    const uint8_t* row = b->b + r * b->k;
    const uint8_t* fl = b->flags + r * b->flag_stride;
    const float* bs = b->b_scale + (r / b->bn) * b->nbk;
    float* t = tile + i * ldt;
    // Chunks gi in order without divisions per chunk: segment s, chunk c of it.
    int64_t s = g0 / b->cps, c = g0 % b->cps;
    for (int64_t gi = g0; gi < g1; ++gi, t += kChunk) {
      const int64_t k0 = s * b->seg;
      const int64_t len = MinI(b->seg, b->k - k0) - c * kChunk;
      __m256 f[4];
      DecodeChunk<kE4M3>(row + k0 + c * kChunk, len, f);
      const bool nan = len > 0 && FlagBit(fl, gi);
      const __m256 sc = _mm256_set1_ps(nan ? __builtin_nanf("") : bs[b->seg_kb[s]] * factor);
      for (int q = 0; q < 4; ++q) _mm256_storeu_ps(t + 8 * q, _mm256_mul_ps(f[q], sc));
      if (++c == b->cps) {
        c = 0;
        ++s;
      }
    }
  }
}

void DecodeF32(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, float* tile,
               int64_t ldt) {
  if (b->format == 17) {
    DecodeF32T<true>(b, r0, rows, g0, g1, tile, ldt);
  } else {
    DecodeF32T<false>(b, r0, rows, g0, g1, tile, ldt);
  }
}

// c[i][:] += tile[i][0:kc] . at[0:kc][:], everything already scaled.
template <int R, int NV>
void GemmF32(int64_t kc, const float* tile, int64_t ldt, const float* at, int64_t ldat, float* c,
             int64_t ldc) {
  __m256 acc[R][NV];
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_setzero_ps();
  }
  for (int64_t kk = 0; kk < kc; ++kk, at += ldat) {
    __m256 av[NV];
    for (int v = 0; v < NV; ++v) av[v] = _mm256_loadu_ps(at + 8 * v);
    for (int i = 0; i < R; ++i) {
      const __m256 bv = _mm256_broadcast_ss(tile + i * ldt + kk);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm256_fmadd_ps(bv, av[v], acc[i][v]);
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < NV; ++v) {
      float* ci = c + i * ldc + 8 * v;
      _mm256_storeu_ps(ci, _mm256_add_ps(acc[i][v], _mm256_loadu_ps(ci)));
    }
  }
}

#define FP8OPS_R_CASES(NV)                             \
  switch (r) {                                         \
    case 1:                                            \
      GemmF32<1, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    case 2:                                            \
      GemmF32<2, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    case 3:                                            \
      GemmF32<3, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    case 4:                                            \
      GemmF32<4, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    case 5:                                            \
      GemmF32<5, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    case 6:                                            \
      GemmF32<6, NV>(kc, tile, ldt, at, ldat, c, ldc); \
      break;                                           \
    default:                                           \
      break;                                           \
  }

void GemmF32Dispatch(int64_t r, int64_t nv, int64_t kc, const float* tile, int64_t ldt,
                     const float* at, int64_t ldat, float* c, int64_t ldc) {
  if (nv == 2) {
    FP8OPS_R_CASES(2)
  } else {
    FP8OPS_R_CASES(1)
  }
}
#undef FP8OPS_R_CASES

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
    kChunk,
    8,
    kGemvMaxM,
    /*gemv_scratch=*/4,
    kMaxNv,
    {kMr, kMr, 0, 0},
    /*mr_bf16=*/0,
    /*max_nv_bf16=*/0,
    /*tile_rows_bf16=*/0,
    /*kc_f32=*/0,  // from the driver's L2 budgets
    kOrder.v,
    nullptr,
    kOrder.v,
    nullptr,
    /*gemv_max_abs_a=*/0.0f,
    FlagRows,
    /*flags_optional=*/false,  // NaN handling needs them
    GemvF32Dispatch,
    nullptr,
    DecodeF32,
    /*prep_a_f32=*/nullptr,
    nullptr,
    GemmF32Dispatch,
    nullptr,
    CalibFma,
    nullptr,
    /*calib_decode_arith=*/nullptr,
    /*calib_decode_lookup=*/nullptr,
    /*tile_begin=*/nullptr,
    /*tile_end=*/nullptr,
    /*calib_amx=*/nullptr,
};

}  // namespace fp8ops::cpu
