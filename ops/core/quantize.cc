#include "fp8ops/quantize.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace fp8ops {

float FiniteAbsMax(const float* x, int64_t n) {
  float amax = 0.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float a = std::fabs(x[i]);
    if (std::isfinite(a)) amax = std::max(amax, a);
  }
  return amax;
}

void QuantizeWithScale(const float* x, int64_t n, float scale, const Fp8QuantParams& p,
                       uint8_t* codes) {
  if (p.format == Fp8Format::kE4M3FN) {
    for (int64_t i = 0; i < n; ++i) codes[i] = EncodeFp8<Fp8Format::kE4M3FN>(x[i] / scale, p.saturate);
  } else {
    for (int64_t i = 0; i < n; ++i) codes[i] = EncodeFp8<Fp8Format::kE5M2>(x[i] / scale, p.saturate);
  }
}

void QuantizeRowGroups(const float* x, int64_t rows, int64_t k, int64_t group,
                       const Fp8QuantParams& p, uint8_t* codes, float* scales) {
  const int64_t g = EffectiveBlock(k, group);
  const int64_t ng = NumBlocks(k, group);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t b = 0; b < ng; ++b) {
      const int64_t k0 = b * g;
      const int64_t len = std::min(g, k - k0);
      const float* src = x + r * k + k0;
      const float s = ScaleFromAmax(FiniteAbsMax(src, len), p);
      scales[r * ng + b] = s;
      QuantizeWithScale(src, len, s, p, codes + r * k + k0);
    }
  }
}

void QuantizeBlocks2D(const float* w, int64_t n, int64_t k, int64_t block_n, int64_t block_k,
                      const Fp8QuantParams& p, uint8_t* codes, float* scales) {
  const int64_t bn = EffectiveBlock(n, block_n);
  const int64_t bk = EffectiveBlock(k, block_k);
  const int64_t nbn = NumBlocks(n, block_n);
  const int64_t nbk = NumBlocks(k, block_k);
  for (int64_t i = 0; i < nbn; ++i) {
    const int64_t n0 = i * bn;
    const int64_t rows = std::min(bn, n - n0);
    for (int64_t j = 0; j < nbk; ++j) {
      const int64_t k0 = j * bk;
      const int64_t len = std::min(bk, k - k0);
      float amax = 0.0f;
      for (int64_t r = 0; r < rows; ++r) amax = std::max(amax, FiniteAbsMax(w + (n0 + r) * k + k0, len));
      const float s = ScaleFromAmax(amax, p);
      scales[i * nbk + j] = s;
      for (int64_t r = 0; r < rows; ++r) {
        QuantizeWithScale(w + (n0 + r) * k + k0, len, s, p, codes + (n0 + r) * k + k0);
      }
    }
  }
}

}  // namespace fp8ops
