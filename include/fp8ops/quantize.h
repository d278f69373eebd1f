// Block quantization to FP8: the one implementation used by the rewrite (weights, offline) and by
// the reference kernels (activations, at run time).
//
// Scales are float32 and multiplicative: x ~= DecodeFp8(code) * scale.
// Dynamic scale of a group = amax / Fp8Max over the group's finite values; an all-zero (or
// all-non-finite) group gets scale 1. With scale_pow2, the scale is rounded up to a power of two.
#ifndef FP8OPS_QUANTIZE_H_
#define FP8OPS_QUANTIZE_H_

#include <float.h>
#include <math.h>

#include <cstdint>

#include "fp8ops/fp8.h"

#if defined(__CUDACC__)
#define FP8OPS_HOST_DEVICE __host__ __device__
#else
#define FP8OPS_HOST_DEVICE
#endif

namespace fp8ops {

struct Fp8QuantParams {
  Fp8Format format = Fp8Format::kE4M3FN;
  bool saturate = true;
  bool scale_pow2 = false;
};

// Number of groups of size `block` covering `dim` elements; block 0 means one group.
inline int64_t NumBlocks(int64_t dim, int64_t block) {
  return block <= 0 ? 1 : (dim + block - 1) / block;
}
// Effective block length: `block`, or the whole dimension when block is 0.
inline int64_t EffectiveBlock(int64_t dim, int64_t block) { return block <= 0 ? dim : block; }

// Max |x| over finite values (NaN and +-Inf ignored).
float FiniteAbsMax(const float* x, int64_t n);

// Scale for a group whose finite amax is `amax`: amax / fp8_max rounded to nearest, except that a
// subnormal quotient is rounded up (it has too few bits: rounded down, amax / scale could exceed
// fp8_max by up to 2x and overflow); a quotient that underflows to 0 becomes the smallest float.
// One definition for the host and the CUDA kernels.
FP8OPS_HOST_DEVICE inline float ScaleFromAmax(float amax, float fp8_max, bool pow2) {
  if (!(amax > 0.0f)) return 1.0f;
  float scale = amax / fp8_max;
  if (scale < FLT_MIN && static_cast<double>(scale) * fp8_max < static_cast<double>(amax)) {
    scale = nextafterf(scale, INFINITY);  // the product above is exact in double
  }
  if (pow2) {
    int e;
    const float m = frexpf(scale, &e);  // scale = m * 2^e, m in [0.5, 1); scale > 0 here
    scale = (m == 0.5f) ? scale : ldexpf(1.0f, e);
  }
  return scale;
}
inline float ScaleFromAmax(float amax, const Fp8QuantParams& p) {
  return ScaleFromAmax(amax, Fp8Max(p.format), p.scale_pow2);
}

// Quantizes n values with one scale: codes[i] = EncodeFp8(x[i] / scale). Division in float32.
void QuantizeWithScale(const float* x, int64_t n, float scale, const Fp8QuantParams& p,
                       uint8_t* codes);

// Row groups along the last axis: x is [rows, k] row-major; codes [rows, k];
// scales [rows, NumBlocks(k, group)]. group 0 = one scale per row.
void QuantizeRowGroups(const float* x, int64_t rows, int64_t k, int64_t group,
                       const Fp8QuantParams& p, uint8_t* codes, float* scales);

// 2-D blocks: w is [n, k] row-major; codes [n, k];
// scales [NumBlocks(n, block_n), NumBlocks(k, block_k)] row-major. A block size of 0 spans the
// whole dimension. To stream a large weight, call it on panels of rows whose count is a
// multiple of block_n (each panel writes its own rows of `scales`).
void QuantizeBlocks2D(const float* w, int64_t n, int64_t k, int64_t block_n, int64_t block_k,
                      const Fp8QuantParams& p, uint8_t* codes, float* scales);

}  // namespace fp8ops

#endif  // FP8OPS_QUANTIZE_H_
