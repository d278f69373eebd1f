// FP8GEMM kernels for AVX-512 (F, BW, VL, DQ, VBMI; BF16 for the *_bf16 entries).
// Compiled with AVX-512 flags: see kernel_abi.h for what this file may and may not use.
//
// B is read in place ([n, k] row-major codes, see kernel_abi.h): a chunk is 64 consecutive codes
// of one row (masked load for a shorter one). Decoding a chunk gives two vectors of bfloat16
// pairs, x0 = codes 0-7, 16-23, 32-39, 48-55 and x1 = codes 8-15, 24-31, 40-47, 56-63 (two
// elements per dword lane). vdpbf16ps takes them as they are against A prepared in that order
// (a_order_bf16); for FP32 FMA each pair splits into two float vectors (shift left 16 / mask the
// high half), a_order_f32.
//
// Decoder: two vpermi2b lookups over 128-entry tables of the high and low bytes of every
// magnitude's bfloat16, the sign, and one byte interleave (vpunpck{l,h}bw) per output vector:
// five instructions per 64 codes, exact for every code (zero, subnormals, NaN, Inf included). The
// tile paths and A's preparation use it.
//
// GemvDecoder: the GEMV decodes what it streams, so its decode is the loop's cost. On a Xeon
// (Emerald Rapids) vpermi2b takes two cycles of port 5 and the lookups bound the loop (about
// 10 cycles a chunk). For normal codes the GEMV uses arithmetic instead: the chunk as 16-bit words
// (odd code in the high byte), an arithmetic shift puts a high-byte code's sign at bit 15 and its
// magnitude where bfloat16's exponent and fraction go, one vpternlogd keeps those bits and sets
// exponent bit 7 (bias +128 instead of +120 / +112: the value times 2^8 for E4M3, 2^16 for E5M2,
// taken back in the block scale); the low-byte codes are shifted up first. Five instructions of
// which three are shifts, 64 codes in two vectors of bfloat16 pairs (even codes, odd codes).
// Chunks with a code that this gets wrong (zero, subnormal, Inf, NaN) are flagged at preparation
// (FlagRows) and decoded by the lookups from tables of the same scaled values. Measured (Xeon,
// one core, 16 MB of weights): 23-25 GB/s against 16-17 for the lookups. Where the dispatch's
// calibration (CalibDecode) finds the arithmetic decode no faster, and for a B prepared for one
// call, B has no flags and the GEMV decodes every chunk as Decoder does (LookupUnscaled), with A
// in a_order_*.
#include <immintrin.h>

#include <cstdint>

#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::cpu {
namespace {

constexpr int kChunk = 64;
// The float tile microkernel (GemmF32): nv vectors of 16 M columns (a panel of A^T) times
// kMrF32[nv - 1] broadcast B rows, 24 accumulators from nv = 2 on (12 for nv = 1, where 12 rows
// already need 13 loads per 12 FMAs). 6 x 4 for wide panels measured ~10% faster than 12 x 2 on
// Xeon (Emerald Rapids, two 512-bit FMA ports): 10 loads per 24 FMAs instead of 14, and 6 tile
// rows (6 KiB) stay in L1 while the panels stream from L2
// (bench/results/cpu_xeon_spr_2t_2026-11-23_tile.md). Non-increasing in nv: the driver takes the
// row count of a task's first (widest) panel for its narrower last one.
constexpr int kMaxNv = 4;
constexpr int kMrF32[kMaxNv] = {12, 12, 8, 6};
constexpr int kMrBf16 = 12;
constexpr int kMaxNvBf16 = 2;
constexpr int kTileRowsBf16 = 48;
static_assert(kTileRowsBf16 % kMrBf16 == 0 && kTileRowsBf16 <= kMaxTileRowsBf16);
// K' per pass of the float tile path: kTileKc, 2 kTileKc or 4 kTileKc (kernel_abi.h). The tile
// rows are then kc + 16 floats apart (one cache line more than the codes, see fp8_gemm.cc), a
// compile-time stride, so that one register addresses all tile rows of a microkernel call.
constexpr int kTileKc = 256;
constexpr int kGemvMaxM = 8;

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

// GemvDecoder's scale: decoded value = FP8 value * 2^kGemvShift[format e4m3 / e5m2].
constexpr int kGemvShift[2] = {8, 16};
constexpr float kGemvUnscale[2] = {1.0f / 256.0f, 1.0f / 65536.0f};

// The tables of every magnitude's bfloat16; `gemv`: of the value times 2^kGemvShift (exact: every
// nonzero finite magnitude is a normal bfloat16 well below the top of the range; zero, Inf and
// NaN unchanged).
constexpr DecodeTables MakeTables(bool gemv) {
  DecodeTables t{};
  for (int f = 0; f < 2; ++f) {
    for (int m = 0; m < 128; ++m) {
      uint16_t v = Bf16OfMagnitude(f == 0 ? 17 : 19, m);
      if (gemv && v != 0 && (v & 0x7F80) != 0x7F80) {
        v = static_cast<uint16_t>(v + (kGemvShift[f] << 7));
      }
      t.hi[f][m] = static_cast<uint8_t>(v >> 8);
      t.lo[f][m] = static_cast<uint8_t>(v & 0xFF);
    }
  }
  return t;
}
alignas(64) constexpr DecodeTables kTables = MakeTables(false);
alignas(64) constexpr DecodeTables kGemvTables = MakeTables(true);

// One format's tables in registers and the lookup both decoders share.
struct TableRegs {
  __m512i hi0, hi1, lo0, lo1;
  TableRegs(const DecodeTables& t, int f) {
    hi0 = _mm512_load_si512(t.hi[f]);
    hi1 = _mm512_load_si512(t.hi[f] + 64);
    lo0 = _mm512_load_si512(t.lo[f]);
    lo1 = _mm512_load_si512(t.lo[f] + 64);
  }
  // The high (sign included) and low bytes of each code's bfloat16, in place.
  inline void Lookup(__m512i c, __m512i* h, __m512i* l) const {
    *h = _mm512_permutex2var_epi8(hi0, c, hi1);  // index: the low 7 bits
    *l = _mm512_permutex2var_epi8(lo0, c, lo1);
    *h = _mm512_ternarylogic_epi32(*h, c, _mm512_set1_epi8(static_cast<char>(0x80)),
                                   0xF8);  // | sign
  }
  // One 64-byte chunk c -> bf16 of codes 0-7, 16-23, 32-39, 48-55 (*x0) and of the others (*x1).
  inline void Interleaved(__m512i c, __m512i* x0, __m512i* x1) const {
    __m512i h, l;
    Lookup(c, &h, &l);
    *x0 = _mm512_unpacklo_epi8(l, h);
    *x1 = _mm512_unpackhi_epi8(l, h);
  }
};

template <bool kE4M3>
struct Decoder {
  TableRegs t{kTables, kE4M3 ? 0 : 1};
  inline void Chunk(__m512i c, __m512i* x0, __m512i* x1) const { t.Interleaved(c, x0, x1); }
};

// The GEMV's decoder (see the file comment): a chunk -> bf16 of (FP8 value * 2^kGemvShift) of
// the even codes (*xe: word j = code 2j) and of the odd codes (*xo: word j = code 2j + 1).
template <bool kE4M3>
struct GemvDecoder {
  // `scaled`: the tables of the value times 2^kGemvShift (Lookup, beside Arith); else the exact
  // ones (LookupUnscaled: B prepared without flags decodes every chunk so, in Decoder's order).
  explicit GemvDecoder(bool scaled) : t(scaled ? kGemvTables : kTables, kE4M3 ? 0 : 1) {}
  TableRegs t;
  // Right for normal codes only (FlagRows marks the chunks holding others).
  static inline void Arith(__m512i c, __m512i* xe, __m512i* xo) {
    constexpr int kShift = kE4M3 ? 4 : 3;  // magnitude to bit 4 (E4M3) / 5 (E5M2)
    const __m512i keep = _mm512_set1_epi16(static_cast<int16_t>(kE4M3 ? 0x87F0 : 0x8FE0));
    const __m512i exp7 = _mm512_set1_epi16(0x4000);
    // (t & keep) | exp7: the sign, the magnitude, exponent bit 7.
    *xo = _mm512_ternarylogic_epi32(_mm512_srai_epi16(c, kShift), keep, exp7, 0xEA);
    *xe = _mm512_ternarylogic_epi32(_mm512_srai_epi16(_mm512_slli_epi16(c, 8), kShift), keep, exp7,
                                    0xEA);
  }
  // Every code, unscaled, as Decoder::Chunk (constructed with scaled = false).
  inline void LookupUnscaled(__m512i c, __m512i* x0, __m512i* x1) const {
    t.Interleaved(c, x0, x1);
  }
  // Every code: the lookups, then the bytes paired into words of Arith's order.
  inline void Lookup(__m512i c, __m512i* xe, __m512i* xo) const {
    __m512i h, l;
    t.Lookup(c, &h, &l);
    *xe = _mm512_ternarylogic_epi32(l, _mm512_set1_epi16(0x00FF), _mm512_slli_epi16(h, 8), 0xEA);
    *xo = _mm512_ternarylogic_epi32(h, _mm512_set1_epi16(static_cast<int16_t>(0xFF00)),
                                    _mm512_srli_epi16(l, 8), 0xEA);
  }
};

// bf16 pairs -> the float of the even / odd element.
inline __m512 EvenF32(__m512i x) { return _mm512_castsi512_ps(_mm512_slli_epi32(x, 16)); }
inline __m512 OddF32(__m512i x) {
  return _mm512_castsi512_ps(_mm512_and_si512(x, _mm512_set1_epi32(static_cast<int>(0xFFFF0000u))));
}

inline int64_t MinI(int64_t a, int64_t b) { return a < b ? a : b; }

// ------------------------------------------------------------------------------------ helpers

struct Orders {
  uint8_t f32[kChunk];
  uint8_t bf16[kChunk];
  uint8_t gemv_f32[kChunk];
  uint8_t gemv_bf16[kChunk];
};
// Code (chunk offset) of 16-bit element e of x0 (x = 0) or x1 (x = 1): see Decoder::Chunk.
constexpr uint8_t CodeOf(int x, int e) {
  return static_cast<uint8_t>(16 * (e / 8) + 8 * x + e % 8);
}
constexpr Orders MakeOrders() {
  Orders o{};
  for (int e = 0; e < 32; ++e) {
    o.bf16[e] = CodeOf(0, e);
    o.bf16[32 + e] = CodeOf(1, e);
  }
  for (int d = 0; d < 16; ++d) {  // EvenF32(x0), OddF32(x0), EvenF32(x1), OddF32(x1)
    o.f32[d] = CodeOf(0, 2 * d);
    o.f32[16 + d] = CodeOf(0, 2 * d + 1);
    o.f32[32 + d] = CodeOf(1, 2 * d);
    o.f32[48 + d] = CodeOf(1, 2 * d + 1);
  }
  // GemvDecoder: xe = codes 0, 2, 4, ..., xo = codes 1, 3, 5, ...; dword d of xe holds codes 4d
  // and 4d + 2, of xo codes 4d + 1 and 4d + 3.
  for (int e = 0; e < 32; ++e) {
    o.gemv_bf16[e] = static_cast<uint8_t>(2 * e);
    o.gemv_bf16[32 + e] = static_cast<uint8_t>(2 * e + 1);
  }
  for (int d = 0; d < 16; ++d) {  // EvenF32(xe), OddF32(xe), EvenF32(xo), OddF32(xo)
    o.gemv_f32[d] = static_cast<uint8_t>(4 * d);
    o.gemv_f32[16 + d] = static_cast<uint8_t>(4 * d + 2);
    o.gemv_f32[32 + d] = static_cast<uint8_t>(4 * d + 1);
    o.gemv_f32[48 + d] = static_cast<uint8_t>(4 * d + 3);
  }
  return o;
}
constexpr Orders kOrders = MakeOrders();

// Codes of chunk c of segment s of a row: offset in the row and length (<= 0: none left).
struct ChunkPos {
  int64_t off, len;
};
// The codes of one chunk; never reads past `len` bytes (masked-off bytes are 0).
inline __m512i LoadChunk(const uint8_t* p, int64_t len) {
  if (__builtin_expect(len >= kChunk, 1)) return _mm512_loadu_si512(p);
  if (len <= 0) return _mm512_setzero_si512();
  return _mm512_maskz_loadu_epi8(_cvtu64_mask64(~uint64_t{0} >> (64 - len)), p);
}

// ---------------------------------------------------------------------------------------- gemv

// One load of a chunk into a register. The compiler would otherwise fold the load into each of
// the decoder's instructions that read it (up to four loads of the same line), and loads, not
// ALU operations, would bound the GEMV loop.
inline __m512i LoadOnce(const uint8_t* p) {
  __m512i w = _mm512_loadu_si512(p);
  __asm__("" : "+v"(w));
  return w;
}

// A's chunk gi of the first kHoist rows, loaded once for R rows of B (kHoist = 0: none).
template <int kHoist, bool kBf16>
struct AChunk {
  static constexpr int kVecs = kBf16 ? 2 : 4;  // 64 bf16 or 64 floats
  __m512i v[kHoist > 0 ? kHoist : 1][kVecs];
  __attribute__((always_inline)) inline AChunk(const GemvArgs* g, int64_t gi) {
    for (int m = 0; m < kHoist; ++m) {
      const char* am =
          static_cast<const char*>(g->a) + (m * g->lda + gi * kChunk) * (kBf16 ? 2 : 4);
      for (int j = 0; j < kVecs; ++j) v[m][j] = _mm512_load_si512(am + 64 * j);
    }
  }
};

// acc[i][m][*] += x_i . A[m][chunk gi] for R decoded rows of B and the M rows of A (the first
// kHoist of them from `ac`): each vector of A is loaded once for the R rows.
template <int M, int R, int kS, bool kBf16, int kHoist>
__attribute__((target("avx512bf16"), always_inline)) inline void Accumulate(
    const GemvArgs* g, int64_t gi, const __m512i x0[R], const __m512i x1[R],
    const AChunk<kHoist, kBf16>& ac, __m512 acc[R][M][kS]) {
  for (int m = 0; m < M; ++m) {
    const int h = m < kHoist ? m : 0;
    if (kBf16) {
      const uint16_t* am = static_cast<const uint16_t*>(g->a) + m * g->lda + gi * kChunk;
      const __m512i a0 = m < kHoist ? ac.v[h][0] : _mm512_load_si512(am);
      const __m512i a1 = m < kHoist ? ac.v[h][1] : _mm512_load_si512(am + 32);
      for (int i = 0; i < R; ++i) {
        acc[i][m][0] = _mm512_dpbf16_ps(acc[i][m][0], (__m512bh)x0[i], (__m512bh)a0);
        acc[i][m][kS - 1] = _mm512_dpbf16_ps(acc[i][m][kS - 1], (__m512bh)x1[i], (__m512bh)a1);
      }
    } else {
      const float* am = static_cast<const float*>(g->a) + m * g->lda + gi * kChunk;
      constexpr int kV = AChunk<kHoist, kBf16>::kVecs;
      const __m512 a0 = m < kHoist ? _mm512_castsi512_ps(ac.v[h][0]) : _mm512_load_ps(am);
      const __m512 a1 = m < kHoist ? _mm512_castsi512_ps(ac.v[h][1]) : _mm512_load_ps(am + 16);
      const __m512 a2 = m < kHoist ? _mm512_castsi512_ps(ac.v[h][2 % kV]) : _mm512_load_ps(am + 32);
      const __m512 a3 = m < kHoist ? _mm512_castsi512_ps(ac.v[h][3 % kV]) : _mm512_load_ps(am + 48);
      for (int i = 0; i < R; ++i) {
        acc[i][m][0] = _mm512_fmadd_ps(EvenF32(x0[i]), a0, acc[i][m][0]);
        acc[i][m][kS - 1] = _mm512_fmadd_ps(OddF32(x0[i]), a1, acc[i][m][kS - 1]);
        acc[i][m][0] = _mm512_fmadd_ps(EvenF32(x1[i]), a2, acc[i][m][0]);
        acc[i][m][kS - 1] = _mm512_fmadd_ps(OddF32(x1[i]), a3, acc[i][m][kS - 1]);
      }
    }
  }
}

// y[m][r] = sum over segments of (sum_k a[m][k] * B[r][k]) * b_scale(r, s) * ascale[m][s] for R
// rows of B at a time; the vector accumulators are reduced once at the end.
// kS = 2: separate accumulators for the two vectors of a chunk, to hide latency when M is small.
// kCps: chunks per segment when known at compile time (0: at run time); kFull: every segment is
// whole chunks (no masked loads). The per-segment work (scale products, branches) costs as much
// as the chunks of a 128-long segment when left generic: a 1.3-1.5x slower kernel.
template <int M, int R, int kCps, bool kFull, bool kE4M3, bool kBf16>
__attribute__((target("avx512bf16"))) void Gemv(const GemvArgs* g) {
  constexpr int kS = M <= 2 ? 2 : 1;
  // A of up to 2 rows (bf16) or 1 row (float) stays in registers across the R rows of B.
  constexpr int kHoist = kBf16 ? (M <= 2 ? M : 0) : (M == 1 ? 1 : 0);
  const BView* b = g->b;
  // B prepared without flags (kernel_abi.h): every chunk by exact lookups, A in a_order_*.
  const bool lookup_all = b->flags == nullptr;
  const GemvDecoder<kE4M3> dec(!lookup_all);
  const float unscale = lookup_all ? 1.0f : kGemvUnscale[kE4M3 ? 0 : 1];
  // The next R rows follow these R in memory: fetch them as far ahead into L2 (each row is a
  // short stream of its own, which the hardware prefetchers pick up late).
  const int64_t ahead = R * b->k;
  const int64_t nseg = b->nseg, cps = kCps > 0 ? kCps : b->cps;
  // prod[i][m][s]: the scale product of (row slot i, A row m, segment s), recomputed when the
  // slot's row enters another block of B's scales (B rows of a block share it).
  float* prod = g->scratch;
  int64_t cached[R];
  // K in slabs (GemvArgs::slab), every row per slab: A's rows of a slab stay in L1.
  for (int64_t s0 = 0; s0 < nseg; s0 += g->slab) {
    const int64_t s1 = MinI(nseg, s0 + g->slab);
    // Only this slab's segments, once per slab and block: where every row has its own scales
    // (1 x 128 groups) a refresh per row of all segments would cost that again in every slab.
    for (int i = 0; i < R; ++i) cached[i] = -1;
    for (int64_t r0 = g->r0; r0 < g->r1; r0 += R) {
      const uint8_t* rowp[R];
      const uint8_t* flagp[R];
      for (int i = 0; i < R; ++i) {
        const int64_t r = MinI(r0 + i, g->r1 - 1);  // past the end: repeat the last row, dropped
        rowp[i] = b->b + r * b->k;
        flagp[i] = lookup_all ? nullptr : b->flags + r * b->flag_stride;
        const int64_t blk = r / b->bn;
        if (blk != cached[i]) {
          cached[i] = blk;
          GemvScaleProducts(*b, g->ascale, M, blk, s0, s1, unscale, prod + i * M * nseg);
        }
      }
      __m512 tot[R][M];
      for (int i = 0; i < R; ++i) {
        for (int m = 0; m < M; ++m) tot[i][m] = _mm512_setzero_ps();
      }
      for (int64_t s = s0; s < s1; ++s) {
        __m512 acc[R][M][kS];
        for (int i = 0; i < R; ++i) {
          for (int m = 0; m < M; ++m) {
            for (int h = 0; h < kS; ++h) acc[i][m][h] = _mm512_setzero_ps();
          }
        }
        const int64_t k0 = s * b->seg, g0 = s * cps;
        const int64_t seglen = kFull ? cps * kChunk : MinI(b->seg, b->k - k0);
#pragma GCC unroll 4
        for (int64_t c = 0; c < cps; ++c) {
          const int64_t off = k0 + c * kChunk;
          const AChunk<kHoist, kBf16> ac(g, g0 + c);
          const int64_t gi = g0 + c;
          __m512i x0[R], x1[R];
          for (int i = 0; i < R; ++i) {
            const uint8_t* p = rowp[i] + off;
            _mm_prefetch(reinterpret_cast<const char*>(p) + ahead, _MM_HINT_T1);
            const __m512i codes = kFull ? LoadOnce(p) : LoadChunk(p, seglen - c * kChunk);
            if (lookup_all) {
              dec.LookupUnscaled(codes, &x0[i], &x1[i]);
            } else if (__builtin_expect((flagp[i][gi >> 3] >> (gi & 7)) & 1, 0)) {
              dec.Lookup(codes, &x0[i], &x1[i]);
            } else {
              GemvDecoder<kE4M3>::Arith(codes, &x0[i], &x1[i]);
            }
          }
          Accumulate<M, R, kS, kBf16, kHoist>(g, gi, x0, x1, ac, acc);
        }
        for (int i = 0; i < R; ++i) {
          for (int m = 0; m < M; ++m) {
            __m512 t = acc[i][m][0];
            if (kS == 2) t = _mm512_add_ps(t, acc[i][m][1]);
            tot[i][m] = _mm512_fmadd_ps(t, _mm512_set1_ps(prod[(i * M + m) * nseg + s]), tot[i][m]);
          }
        }
      }
      for (int i = 0; i < R && r0 + i < g->r1; ++i) {
        for (int m = 0; m < M; ++m) {
          float& y = g->y[m * g->ldy + r0 + i - g->r0];
          const float part = _mm512_reduce_add_ps(tot[i][m]);
          y = s0 == 0 ? part : y + part;
        }
      }
    }
  }
}

// The segment shape: whole chunks everywhere (the usual 128-code blocks: 2 chunks), or not.
template <int M, int R, bool kE4M3, bool kBf16>
__attribute__((target("avx512bf16"))) void GemvShape(const GemvArgs* g) {
  const BView* b = g->b;
  const bool full = b->seg % kChunk == 0 && b->k % b->seg == 0;
  if (full && b->cps == 2) return Gemv<M, R, 2, true, kE4M3, kBf16>(g);
  if (full && b->cps == 1) return Gemv<M, R, 1, true, kE4M3, kBf16>(g);
  if (full) return Gemv<M, R, 0, true, kE4M3, kBf16>(g);
  return Gemv<M, R, 0, false, kE4M3, kBf16>(g);
}

// Rows of B per pass: as many as keep the accumulators in registers.
template <bool kE4M3, bool kBf16>
__attribute__((target("avx512bf16"))) void GemvRows(const GemvArgs* g) {
  switch (g->m) {
    case 1:
      GemvShape<1, 4, kE4M3, kBf16>(g);
      break;
    case 2:
      GemvShape<2, 4, kE4M3, kBf16>(g);
      break;
    case 3:
      GemvShape<3, 3, kE4M3, kBf16>(g);
      break;
    case 4:
      GemvShape<4, 2, kE4M3, kBf16>(g);
      break;
    case 5:
      GemvShape<5, 2, kE4M3, kBf16>(g);
      break;
    case 6:
      GemvShape<6, 2, kE4M3, kBf16>(g);
      break;
    case 7:
      GemvShape<7, 1, kE4M3, kBf16>(g);
      break;
    case 8:
      GemvShape<8, 1, kE4M3, kBf16>(g);
      break;
    default:
      break;
  }
}

// NOTE: the float variants run on CPUs without AVX512_BF16; the target attribute only lets the
// shared template compile, and no bf16 instruction is reached with kBf16 = false.
void GemvF32Dispatch(const GemvArgs* g) {
  if (g->b->format == 17) {
    GemvRows<true, false>(g);
  } else {
    GemvRows<false, false>(g);
  }
}

__attribute__((target("avx512bf16"))) void GemvBf16Dispatch(const GemvArgs* g) {
  if (g->b->format == 17) {
    GemvRows<true, true>(g);
  } else {
    GemvRows<false, true>(g);
  }
}

// -------------------------------------------------------------------------------------- tiles

// Calls f(gi, s, pos) for the global chunks gi in [g0, g1) in order, without divisions per chunk.
template <typename F>
inline void ForChunks(const BView* b, int64_t g0, int64_t g1, F f) {
  int64_t s = g0 / b->cps, c = g0 % b->cps;
  int64_t off = s * b->seg + c * kChunk;
  int64_t seg_end = s * b->seg + MinI(b->seg, b->k - s * b->seg);
  for (int64_t gi = g0; gi < g1; ++gi) {
    f(gi, s, ChunkPos{off, seg_end - off});
    if (++c == b->cps) {
      c = 0;
      ++s;
      off = s * b->seg;
      seg_end = off + MinI(b->seg, b->k - off);
    } else {
      off += kChunk;
    }
  }
}

// Flags (kernel_abi.h): chunks holding a code GemvDecoder::Arith gets wrong, i.e. exponent field
// zero (zero, subnormals) or all ones (E4M3: NaN = magnitude 0x7F; E5M2: Inf and NaN).
void FlagRows(const BView* b, int64_t r0, int64_t r1, uint8_t* flags) {
  const bool e4m3 = b->format == 17;
  const __m512i exp_bits = _mm512_set1_epi8(static_cast<char>(e4m3 ? 0x78 : 0x7C));
  const __m512i special = _mm512_set1_epi8(static_cast<char>(e4m3 ? 0x7F : 0x7C));
  const __m512i special_bits = e4m3 ? _mm512_set1_epi8(0x7F) : exp_bits;
  for (int64_t r = r0; r < r1; ++r) {
    const uint8_t* row = b->b + r * b->k;
    uint8_t* f = flags + r * b->flag_stride;
    ForChunks(b, 0, b->nseg * b->cps, [&](int64_t gi, int64_t, ChunkPos pos) {
      if (pos.len <= 0) return;
      const __mmask64 live =
          pos.len >= kChunk ? ~__mmask64{0} : _cvtu64_mask64(~uint64_t{0} >> (64 - pos.len));
      const __m512i c = _mm512_maskz_loadu_epi8(live, row + pos.off);
      const __mmask64 bad =
          _mm512_mask_testn_epi8_mask(live, c, exp_bits) |
          _mm512_mask_cmpeq_epi8_mask(live, _mm512_and_si512(c, special_bits), special);
      if (bad != 0) f[gi >> 3] = static_cast<uint8_t>(f[gi >> 3] | (1u << (gi & 7)));
    });
  }
}

template <bool kE4M3>
void DecodeF32T(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, float* tile,
                int64_t ldt) {
  const Decoder<kE4M3> dec;
  // Whole rows: fetch the next row; else the next pass's codes of this row.
  const int64_t ahead = g0 == 0 && g1 == b->nseg * b->cps ? b->k : (g1 - g0) * kChunk;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t r = r0 + i;
    const uint8_t* row = b->b + r * b->k;
    float* t = tile + i * ldt;
    const float* bs = b->b_scale + (r / b->bn) * b->nbk;
    ForChunks(b, g0, g1, [&](int64_t, int64_t s, ChunkPos pos) {
      // The next pass reads the codes that follow: fetch them into L2 now (short bursts of many
      // rows defeat the hardware prefetchers).
      _mm_prefetch(reinterpret_cast<const char*>(row + pos.off) + ahead, _MM_HINT_T1);
      __m512i x0, x1;
      dec.Chunk(LoadChunk(row + pos.off, pos.len), &x0, &x1);
      const __m512 sc = _mm512_set1_ps(bs[b->seg_kb[s]]);
      _mm512_storeu_ps(t, _mm512_mul_ps(EvenF32(x0), sc));
      _mm512_storeu_ps(t + 16, _mm512_mul_ps(OddF32(x0), sc));
      _mm512_storeu_ps(t + 32, _mm512_mul_ps(EvenF32(x1), sc));
      _mm512_storeu_ps(t + 48, _mm512_mul_ps(OddF32(x1), sc));
      t += kChunk;
    });
  }
}

template <bool kE4M3>
void DecodeBf16T(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, uint16_t* tile,
                 int64_t ldt) {
  const Decoder<kE4M3> dec;
  // Whole rows: fetch the next row; else the next pass's codes of this row.
  const int64_t ahead = g0 == 0 && g1 == b->nseg * b->cps ? b->k : (g1 - g0) * kChunk;
  for (int64_t i = 0; i < rows; ++i) {
    const int64_t r = r0 + i;
    const uint8_t* row = b->b + r * b->k;
    uint16_t* t = tile + i * ldt;
    ForChunks(b, g0, g1, [&](int64_t, int64_t, ChunkPos pos) {
      _mm_prefetch(reinterpret_cast<const char*>(row + pos.off) + ahead, _MM_HINT_T1);
      __m512i x0, x1;
      dec.Chunk(LoadChunk(row + pos.off, pos.len), &x0, &x1);
      _mm512_storeu_si512(t, x0);
      _mm512_storeu_si512(t + 32, x1);
      t += kChunk;
    });
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

void DecodeBf16(const BView* b, int64_t r0, int64_t rows, int64_t g0, int64_t g1, uint16_t* tile,
                int64_t ldt) {
  if (b->format == 17) {
    DecodeBf16T<true>(b, r0, rows, g0, g1, tile, ldt);
  } else {
    DecodeBf16T<false>(b, r0, rows, g0, g1, tile, ldt);
  }
}

// r[i][j] <- r[j][i]: unpack pairs, then 2 x 2 blocks, then 128-bit lanes twice.
inline void Transpose16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
  for (int h = 0; h < 2; ++h) {
    for (int j = 0; j < 4; ++j) {
      t[8 * h + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0x88);
      t[8 * h + 4 + j] = _mm512_shuffle_f32x4(r[8 * h + j], r[8 * h + 4 + j], 0xDD);
    }
  }
  for (int j = 0; j < 8; ++j) {
    r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xDD);
  }
}

// A^T for the float tile path (kernel_abi.h, PrepAArgs): A's chunks go through B's decoder, whose
// four float vectors are a_order_f32 by construction, then 16 x 16 transposes, one full-line
// store per K' position (the driver's scalar loop took 9% of an M = 128 product on a Xeon).
template <bool kE4M3>
void PrepAF32T(const PrepAArgs* p, int64_t g0, int64_t g1) {
  const Decoder<kE4M3> dec;
  const BView* b = p->b;
  ForChunks(b, g0, g1, [&](int64_t gi, int64_t s, ChunkPos pos) {
    __m512 v[4][16];
    for (int i = 0; i < 16; ++i) {
      if (i >= p->rows) {
        for (int q = 0; q < 4; ++q) v[q][i] = _mm512_setzero_ps();
        continue;
      }
      __m512i x0, x1;
      dec.Chunk(LoadChunk(p->a + i * p->lda + pos.off, pos.len), &x0, &x1);
      const __m512 sc = _mm512_set1_ps(p->scale[i * b->nseg + s]);
      v[0][i] = _mm512_mul_ps(EvenF32(x0), sc);
      v[1][i] = _mm512_mul_ps(OddF32(x0), sc);
      v[2][i] = _mm512_mul_ps(EvenF32(x1), sc);
      v[3][i] = _mm512_mul_ps(OddF32(x1), sc);
    }
    float* dst = p->dst + gi * kChunk * p->w;
    for (int q = 0; q < 4; ++q) {
      Transpose16x16(v[q]);
      for (int j = 0; j < 16; ++j) _mm512_storeu_ps(dst + (16 * q + j) * p->w, v[q][j]);
    }
  });
}

void PrepAF32(const PrepAArgs* p, int64_t g0, int64_t g1) {
  if (p->format == 17) {
    PrepAF32T<true>(p, g0, g1);
  } else {
    PrepAF32T<false>(p, g0, g1);
  }
}

// c[i][:] += tile[i][0:kc] . at[0:kc][:], everything already scaled, in the driver's layout
// (kernel_abi.h: tile rows kLdt floats apart, A^T packed: ldat = 16 * NV). Compile-time strides
// let one register address all R tile rows (constant displacements): the loop needs no spills.
template <int R, int NV, int kLdt>
void GemmF32(int64_t kc, const float* tile, const float* at, float* c, int64_t ldc) {
  constexpr int64_t ldt = kLdt, ldat = 16 * NV;
  __m512 acc[R][NV];
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
#pragma GCC unroll 4
  for (int64_t kk = 0; kk < kc; ++kk, at += ldat) {
    __m512 av[NV];
    for (int v = 0; v < NV; ++v) av[v] = _mm512_loadu_ps(at + 16 * v);
    for (int i = 0; i < R; ++i) {
      const __m512 bv = _mm512_set1_ps(tile[i * ldt + kk]);
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(bv, av[v], acc[i][v]);
    }
  }
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < NV; ++v) {
      float* ci = c + i * ldc + 16 * v;
      _mm512_storeu_ps(ci, _mm512_add_ps(acc[i][v], _mm512_loadu_ps(ci)));
    }
  }
}

// Calls GemmF32<r, nv, kLdt> for nv in 1..NV, r in 1..kMrF32[nv - 1] (counting down from R, NV).
template <int R, int NV, int kLdt>
void GemmF32Pick(int64_t r, int64_t nv, int64_t kc, const float* tile, const float* at, float* c,
                 int64_t ldc) {
  if (r == R && nv == NV) return GemmF32<R, NV, kLdt>(kc, tile, at, c, ldc);
  if constexpr (R > 1) {
    return GemmF32Pick<R - 1, NV, kLdt>(r, nv, kc, tile, at, c, ldc);
  } else if constexpr (NV > 1) {
    return GemmF32Pick<kMrF32[NV - 2], NV - 1, kLdt>(r, nv, kc, tile, at, c, ldc);
  }
}

// c[i][:] += (tile[i][0:kp] . at[0:kp][:]) * bscale[i] * ascale[:]
template <int R, int NV>
__attribute__((target("avx512bf16"))) void GemmBf16(int64_t kp, const uint32_t* tile, int64_t ldt,
                                                    const uint32_t* at, int64_t ldat,
                                                    const float* bscale, const float* ascale,
                                                    float* c, int64_t ldc) {
  __m512 acc[R][NV];
  for (int i = 0; i < R; ++i) {
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  }
  for (int64_t p = 0; p < kp; ++p, at += ldat) {
    __m512bh av[NV];
    for (int v = 0; v < NV; ++v) av[v] = (__m512bh)_mm512_loadu_si512(at + 16 * v);
    for (int i = 0; i < R; ++i) {
      const __m512bh bv = (__m512bh)_mm512_set1_epi32(static_cast<int>(tile[i * ldt + p]));
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_dpbf16_ps(acc[i][v], bv, av[v]);
    }
  }
  for (int i = 0; i < R; ++i) {
    const __m512 bs = _mm512_set1_ps(bscale[i]);
    for (int v = 0; v < NV; ++v) {
      float* ci = c + i * ldc + 16 * v;
      const __m512 s = _mm512_mul_ps(bs, _mm512_loadu_ps(ascale + 16 * v));
      _mm512_storeu_ps(ci, _mm512_fmadd_ps(acc[i][v], s, _mm512_loadu_ps(ci)));
    }
  }
}

#define FP8OPS_R_CASES(F, NV, ...) \
  switch (r) {                     \
    case 1:                        \
      F<1, NV>(__VA_ARGS__);       \
      break;                       \
    case 2:                        \
      F<2, NV>(__VA_ARGS__);       \
      break;                       \
    case 3:                        \
      F<3, NV>(__VA_ARGS__);       \
      break;                       \
    case 4:                        \
      F<4, NV>(__VA_ARGS__);       \
      break;                       \
    case 5:                        \
      F<5, NV>(__VA_ARGS__);       \
      break;                       \
    case 6:                        \
      F<6, NV>(__VA_ARGS__);       \
      break;                       \
    case 7:                        \
      F<7, NV>(__VA_ARGS__);       \
      break;                       \
    case 8:                        \
      F<8, NV>(__VA_ARGS__);       \
      break;                       \
    case 9:                        \
      F<9, NV>(__VA_ARGS__);       \
      break;                       \
    case 10:                       \
      F<10, NV>(__VA_ARGS__);      \
      break;                       \
    case 11:                       \
      F<11, NV>(__VA_ARGS__);      \
      break;                       \
    case 12:                       \
      F<12, NV>(__VA_ARGS__);      \
      break;                       \
    default:                       \
      break;                       \
  }

void GemmF32Dispatch(int64_t r, int64_t nv, int64_t kc, const float* tile, int64_t ldt,
                     const float* at, int64_t ldat, float* c, int64_t ldc) {
  constexpr int kMaxR = kMrF32[kMaxNv - 1];
  switch (ldt) {
    case 4 * kTileKc + 16:  // tasks of at most 2 vectors (kernel_abi.h)
      return GemmF32Pick<kMrF32[1], 2, 4 * kTileKc + 16>(r, nv, kc, tile, at, c, ldc);
    case 2 * kTileKc + 16:
      return GemmF32Pick<kMaxR, kMaxNv, 2 * kTileKc + 16>(r, nv, kc, tile, at, c, ldc);
    default:
      return GemmF32Pick<kMaxR, kMaxNv, kTileKc + 16>(r, nv, kc, tile, at, c, ldc);
  }
}

__attribute__((target("avx512bf16"))) void GemmBf16Dispatch(
    int64_t r, int64_t nv, int64_t kp, const uint32_t* tile, int64_t ldt, const uint32_t* at,
    int64_t ldat, const float* bscale, const float* ascale, float* c, int64_t ldc) {
  if (nv == 2) {
    FP8OPS_R_CASES(GemmBf16, 2, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc)
  } else {
    FP8OPS_R_CASES(GemmBf16, 1, kp, tile, ldt, at, ldat, bscale, ascale, c, ldc)
  }
}
#undef FP8OPS_R_CASES

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

// `iters` rounds of the GEMV's decode of 16 chunks of E4M3 codes in L1: arithmetic (the GEMV with
// flags) or the exact lookups (the GEMV without them), folded into a value to keep.
template <bool kArith>
float CalibDecode(int64_t iters) {
  alignas(64) uint8_t codes[16 * kChunk];
  for (int i = 0; i < 16 * kChunk; ++i) codes[i] = static_cast<uint8_t>(0x30 + i % 64);
  const GemvDecoder<true> dec(/*scaled=*/false);
  __m512i acc0 = _mm512_setzero_si512(), acc1 = _mm512_setzero_si512();
  for (int64_t it = 0; it < iters; ++it) {
    for (int c = 0; c < 16; ++c) {
      __m512i xe, xo;
      __m512i v = _mm512_load_si512(codes + c * kChunk);
      __asm__ volatile("" : "+v"(v));  // a new value each round to the compiler: not hoisted
      if (kArith) {
        GemvDecoder<true>::Arith(v, &xe, &xo);
      } else {
        dec.LookupUnscaled(v, &xe, &xo);
      }
      acc0 = _mm512_xor_si512(acc0, xe);
      acc1 = _mm512_xor_si512(acc1, xo);
    }
  }
  return static_cast<float>(_mm512_reduce_add_epi32(_mm512_xor_si512(acc0, acc1)) & 0xFF);
}

// The AVX-512 table; with `amx`, the AMX tile microkernel takes the bf16 tile path (its B rows
// and M columns per call are two tiles each, its tasks more rows).
constexpr Fp8GemmKernels MakeTable(bool amx) {
  Fp8GemmKernels t = {
      kChunk,
      16,
      kGemvMaxM,
      /*gemv_scratch=*/4,
      kMaxNv,
      {kMrF32[0], kMrF32[1], kMrF32[2], kMrF32[3]},
      kMrBf16,
      kMaxNvBf16,
      kTileRowsBf16,
      kTileKc,
      kOrders.f32,
      kOrders.bf16,
      kOrders.gemv_f32,
      kOrders.gemv_bf16,
      /*gemv_max_abs_a=*/0x1p64f,
      FlagRows,
      /*flags_optional=*/true,
      GemvF32Dispatch,
      GemvBf16Dispatch,
      DecodeF32,
      PrepAF32,
      DecodeBf16,
      GemmF32Dispatch,
      GemmBf16Dispatch,
      CalibFma,
      CalibBf16,
      CalibDecode<true>,
      CalibDecode<false>,
      /*tile_begin=*/nullptr,
      /*tile_end=*/nullptr,
      /*calib_amx=*/nullptr,
  };
  if (amx) {
    t.mr_bf16 = amx::kMr;
    t.max_nv_bf16 = amx::kMaxNv;
    t.tile_rows_bf16 = amx::kTileRows;
    t.gemm_bf16 = amx::GemmBf16;
    t.tile_begin = amx::TileBegin;
    t.tile_end = amx::TileEnd;
    t.calib_amx = amx::CalibTdp;
  }
  return t;
}

}  // namespace

extern const Fp8GemmKernels kFp8GemmAvx512 = MakeTable(false);
extern const Fp8GemmKernels kFp8GemmAvx512Amx = MakeTable(true);

}  // namespace fp8ops::cpu
