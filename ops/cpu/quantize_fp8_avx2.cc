// QuantizeFP8 for AVX2 + F16C. Compiled with those flags: see kernel_abi.h for what this file may
// and may not use. Same algorithm as quantize_fp8_avx512.cc on 8 lanes; partial vectors go
// through a zero-padded stack buffer.
#include <immintrin.h>

#include <cstdint>

#include "fp8ops/quantize.h"  // ScaleFromAmax (non-inline); nothing inline from it is used here
#include "ops/cpu/kernel_abi.h"

// GCC 12 flags the intrinsics' own _mm512_undefined_* (`__Y = __Y`) as (maybe-)uninitialized.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"

namespace fp8ops::cpu {
namespace {

inline int64_t MinI(int64_t a, int64_t b) { return a < b ? a : b; }

// 8 elements of type 1, 10 or 16 at p -> float.
inline __m256 Load8(const void* p, int32_t type) {
  if (type == 1) return _mm256_loadu_ps(static_cast<const float*>(p));
  const __m128i h = _mm_loadu_si128(static_cast<const __m128i*>(p));
  if (type == 10) return _mm256_cvtph_ps(h);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

// Up to 8 elements (n < 8 zero-padded) -> float.
inline __m256 LoadPartial(const void* p, int32_t type, int64_t n) {
  if (n >= 8) return Load8(p, type);
  alignas(32) uint8_t buf[32] = {};
  const int esize = type == 1 ? 4 : 2;
  for (int64_t i = 0; i < n * esize; ++i) buf[i] = static_cast<const uint8_t*>(p)[i];
  return Load8(buf, type);
}

template <bool kE4M3>
struct Encoder {
  static constexpr int kShift = kE4M3 ? 20 : 21;
  __m256i ovf_code;
  explicit Encoder(bool saturate) {
    const int max_code = kE4M3 ? 0x7E : 0x7B;
    const int overflow = kE4M3 ? 0x7F : 0x7C;
    ovf_code = _mm256_set1_epi32(saturate ? max_code : overflow);
  }
  // 8 float32 -> 8 codes in the low byte of each lane. All compared integers are < 2^31, so
  // the signed compares are exact.
  inline __m256i Encode(__m256 q) const {
    const __m256i u = _mm256_castps_si256(q);
    const __m256i a = _mm256_and_si256(u, _mm256_set1_epi32(0x7FFFFFFF));
    const __m256i sign = _mm256_and_si256(_mm256_srli_epi32(u, 24), _mm256_set1_epi32(0x80));
    const __m256i ac = _mm256_min_epu32(a, _mm256_set1_epi32(kE4M3 ? 0x44000000 : 0x48000000));
    const __m256i lsb = _mm256_and_si256(_mm256_srli_epi32(ac, kShift), _mm256_set1_epi32(1));
    const __m256i rounded = _mm256_srli_epi32(
        _mm256_add_epi32(_mm256_add_epi32(ac, _mm256_set1_epi32((1 << (kShift - 1)) - 1)), lsb),
        kShift);
    const __m256i norm = _mm256_sub_epi32(rounded, _mm256_set1_epi32(kE4M3 ? 960 : 448));
    // Rounds with MXCSR's mode (round-to-nearest-even unless changed), as nearbyint in fp8.h.
    const __m256i sub = _mm256_cvtps_epi32(
        _mm256_mul_ps(_mm256_castsi256_ps(a), _mm256_set1_ps(kE4M3 ? 512.0f : 65536.0f)));
    const __m256i is_sub =
        _mm256_cmpgt_epi32(_mm256_set1_epi32(kE4M3 ? 0x3C800000 : 0x38800000), a);
    __m256i code = _mm256_blendv_epi8(norm, sub, is_sub);
    const __m256i ovf = _mm256_cmpgt_epi32(code, _mm256_set1_epi32(kE4M3 ? 0x7E : 0x7B));
    code = _mm256_blendv_epi8(code, ovf_code, ovf);
    code = _mm256_or_si256(code, sign);
    const __m256i nan = _mm256_cmpgt_epi32(a, _mm256_set1_epi32(0x7F800000));
    return _mm256_blendv_epi8(code, _mm256_set1_epi32(0x7F), nan);
  }
};

// Low bytes of 8 dword lanes -> 8 bytes at dst (n < 8: the first n).
inline void Store8(__m256i code, uint8_t* dst, int64_t n) {
  const __m256i w = _mm256_packus_epi32(code, code);
  const __m256i b = _mm256_packus_epi16(w, w);
  const __m128i v = _mm_unpacklo_epi32(_mm256_castsi256_si128(b), _mm256_extracti128_si256(b, 1));
  if (n >= 8) {
    _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), v);
    return;
  }
  alignas(16) uint8_t buf[16];
  _mm_store_si128(reinterpret_cast<__m128i*>(buf), v);
  for (int64_t i = 0; i < n; ++i) dst[i] = buf[i];
}

template <bool kE4M3>
void QuantizeRows(const QuantizeRowsArgs* p, int64_t r0, int64_t r1) {
  const Encoder<kE4M3> enc(p->params->saturate);
  const int esize = p->x_type == 1 ? 4 : 2;
  for (int64_t r = r0; r < r1; ++r) {
    const char* xrow = static_cast<const char*>(p->x) + r * p->k * esize;
    uint8_t* yrow = p->y + r * p->k;
    for (int64_t g = 0; g < p->ngroups; ++g) {
      const int64_t k0 = g * p->group;
      const int64_t len = MinI(p->group, p->k - k0);
      const char* xg = xrow + k0 * esize;
      float s;
      if (p->static_scale != nullptr) {
        s = p->static_scale_count == 1 ? p->static_scale[0] : p->static_scale[r * p->ngroups + g];
      } else {
        __m256i amax = _mm256_setzero_si256();
        for (int64_t i = 0; i < len; i += 8) {
          const __m256i v = _mm256_castps_si256(LoadPartial(xg + i * esize, p->x_type, len - i));
          const __m256i a = _mm256_and_si256(v, _mm256_set1_epi32(0x7FFFFFFF));
          const __m256i finite = _mm256_cmpgt_epi32(_mm256_set1_epi32(0x7F800000), a);
          amax = _mm256_max_epu32(amax, _mm256_and_si256(a, finite));
        }
        __m128i m4 = _mm_max_epu32(_mm256_castsi256_si128(amax), _mm256_extracti128_si256(amax, 1));
        m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0x4E));
        m4 = _mm_max_epu32(m4, _mm_shuffle_epi32(m4, 0xB1));
        const uint32_t bits = static_cast<uint32_t>(_mm_cvtsi128_si32(m4));
        float amax_f;
        __builtin_memcpy(&amax_f, &bits, 4);
        s = ScaleFromAmax(amax_f, *p->params);
      }
      p->y_scale[r * p->ngroups + g] = s;
      const __m256 sv = _mm256_set1_ps(s);
      for (int64_t i = 0; i < len; i += 8) {
        const __m256 q = _mm256_div_ps(LoadPartial(xg + i * esize, p->x_type, len - i), sv);
        Store8(enc.Encode(q), yrow + k0 + i, len - i);
      }
    }
  }
}

void QuantizeRowsDispatch(const QuantizeRowsArgs* p, int64_t r0, int64_t r1) {
  if (p->params->format == Fp8Format::kE4M3FN) {
    QuantizeRows<true>(p, r0, r1);
  } else {
    QuantizeRows<false>(p, r0, r1);
  }
}

}  // namespace

extern const QuantizeFp8Kernels kQuantizeFp8Avx2 = {QuantizeRowsDispatch};

}  // namespace fp8ops::cpu
