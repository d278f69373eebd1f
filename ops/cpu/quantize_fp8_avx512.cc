// QuantizeFP8 for AVX-512 (F, BW, VL, DQ). Compiled with those flags: see kernel_abi.h for what
// this file may and may not use.
//
// Per group of a row: one pass for the finite amax (integer max of |x| bit patterns, non-finite
// lanes masked out), the scale from fp8ops::ScaleFromAmax (the one implementation), then one
// pass dividing by it in float32 and encoding: the integer round-to-nearest-even of
// include/fp8ops/fp8.h done on 16 lanes (normal range: add half-ulp-minus-one plus the lsb, shift;
// subnormal range: |x| * 2^(bias - 1 + mantissa bits) converted with RNE), then overflow,
// sign and NaN. A group is at most a few KiB, so the second pass reads it from L1.
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

inline __mmask16 TailMask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1u);
}

// Loads up to 16 elements of x (type 1, 10 or 16) as float; lanes past `mask` are 0.
inline __m512 Load(const void* x, int32_t type, int64_t i, __mmask16 mask) {
  if (type == 1) return _mm512_maskz_loadu_ps(mask, static_cast<const float*>(x) + i);
  const __m256i h = _mm256_maskz_loadu_epi16(mask, static_cast<const uint16_t*>(x) + i);
  if (type == 10) return _mm512_cvtph_ps(h);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

template <bool kE4M3>
struct Encoder {
  static constexpr int kShift = kE4M3 ? 20 : 21;
  __m512i ovf_code;
  explicit Encoder(bool saturate) {
    const int max_code = kE4M3 ? 0x7E : 0x7B;
    const int overflow = kE4M3 ? 0x7F : 0x7C;
    ovf_code = _mm512_set1_epi32(saturate ? max_code : overflow);
  }
  // q: 16 float32 values -> 16 codes in the low byte of each lane.
  inline __m512i Encode(__m512 q) const {
    const __m512i u = _mm512_castps_si512(q);
    const __m512i a = _mm512_and_si512(u, _mm512_set1_epi32(0x7FFFFFFF));
    const __m512i sign = _mm512_and_si512(_mm512_srli_epi32(u, 24), _mm512_set1_epi32(0x80));
    // Beyond 2^(bias+2) the code is "overflow" whatever the mantissa: clamp so the integer
    // rounding below yields a code above max.
    const __m512i ac = _mm512_min_epu32(a, _mm512_set1_epi32(kE4M3 ? 0x44000000 : 0x48000000));
    const __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(ac, kShift), _mm512_set1_epi32(1));
    const __m512i rounded = _mm512_srli_epi32(
        _mm512_add_epi32(_mm512_add_epi32(ac, _mm512_set1_epi32((1 << (kShift - 1)) - 1)), lsb),
        kShift);
    const __m512i norm = _mm512_sub_epi32(rounded, _mm512_set1_epi32(kE4M3 ? 960 : 448));
    const __m512 scaled =
        _mm512_mul_ps(_mm512_castsi512_ps(a), _mm512_set1_ps(kE4M3 ? 512.0f : 65536.0f));
    const __m512i sub =
        _mm512_cvt_roundps_epi32(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __mmask16 is_sub =
        _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32(kE4M3 ? 0x3C800000 : 0x38800000));
    __m512i code = _mm512_mask_blend_epi32(is_sub, norm, sub);
    const __mmask16 ovf = _mm512_cmpgt_epi32_mask(code, _mm512_set1_epi32(kE4M3 ? 0x7E : 0x7B));
    code = _mm512_mask_mov_epi32(code, ovf, ovf_code);
    code = _mm512_or_si512(code, sign);
    const __mmask16 nan = _mm512_cmpgt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
    return _mm512_mask_mov_epi32(code, nan, _mm512_set1_epi32(0x7F));
  }
};

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
      const void* xg = xrow + k0 * esize;
      float s;
      if (p->static_scale != nullptr) {
        s = p->static_scale_count == 1 ? p->static_scale[0] : p->static_scale[r * p->ngroups + g];
      } else {
        __m512i amax = _mm512_setzero_si512();
        for (int64_t i = 0; i < len; i += 16) {
          const __m512i v = _mm512_castps_si512(Load(xg, p->x_type, i, TailMask(len - i)));
          const __m512i a = _mm512_and_si512(v, _mm512_set1_epi32(0x7FFFFFFF));
          const __mmask16 finite = _mm512_cmplt_epu32_mask(a, _mm512_set1_epi32(0x7F800000));
          amax = _mm512_mask_max_epu32(amax, finite, amax, a);
        }
        const uint32_t bits = static_cast<uint32_t>(_mm512_reduce_max_epu32(amax));
        float amax_f;
        __builtin_memcpy(&amax_f, &bits, 4);
        s = ScaleFromAmax(amax_f, *p->params);
      }
      p->y_scale[r * p->ngroups + g] = s;
      const __m512 sv = _mm512_set1_ps(s);
      for (int64_t i = 0; i < len; i += 16) {
        const __mmask16 mask = TailMask(len - i);
        const __m512 q = _mm512_div_ps(Load(xg, p->x_type, i, mask), sv);
        _mm_mask_storeu_epi8(yrow + k0 + i, mask, _mm512_cvtepi32_epi8(enc.Encode(q)));
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

extern const QuantizeFp8Kernels kQuantizeFp8Avx512 = {QuantizeRowsDispatch};

}  // namespace fp8ops::cpu
