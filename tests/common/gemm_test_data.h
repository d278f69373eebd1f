// FP8GEMM test cases and their inputs, built with the core quantizer: one definition for the CPU
// kernel tests (tests/unit) and the CUDA kernel tests (tests/cuda).
#ifndef FP8OPS_TESTS_COMMON_GEMM_TEST_DATA_H_
#define FP8OPS_TESTS_COMMON_GEMM_TEST_DATA_H_

#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/quantize.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::testing {

struct GemmCase {
  int64_t m, n, k;
  int64_t block_n, block_k, a_block;
  DType a_type;  // FP8 (W8A8) or float type (weight-only)
  Fp8Format b_format;
  DType out_type;
  bool bias;
};

// Floats stored as elements of type t (rounded as the ops round).
inline std::vector<uint8_t> FloatsAs(const std::vector<float>& v, DType t) {
  std::vector<uint8_t> out(v.size() * DTypeSize(t));
  StoreFromFloat(v.data(), static_cast<int64_t>(v.size()), t, out.data());
  return out;
}

struct GemmInputs {
  std::vector<uint8_t> a;  // FP8 codes or float-type bytes
  std::vector<float> a_scale;
  std::vector<uint8_t> b;
  std::vector<float> b_scale;
  std::vector<uint8_t> bias;  // out_type bytes
};

// B from Gaussian weights (sigma 0.05, drawn from rng) quantized with c's blocks; A from the
// activations x ([m, k]), quantized per a_block group for FP8 A; a Gaussian bias if c.bias.
inline GemmInputs MakeGemmInputs(const GemmCase& c, const std::vector<float>& x,
                                 std::mt19937& rng) {
  GemmInputs d;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> w(static_cast<size_t>(c.n * c.k));
  for (auto& v : w) v = normal(rng) * 0.05f;
  d.b.resize(w.size());
  d.b_scale.resize(static_cast<size_t>(NumBlocks(c.n, c.block_n) * NumBlocks(c.k, c.block_k)));
  QuantizeBlocks2D(w.data(), c.n, c.k, c.block_n, c.block_k, {c.b_format, true, false}, d.b.data(),
                   d.b_scale.data());
  if (IsFp8DType(c.a_type)) {
    d.a.resize(x.size());
    d.a_scale.resize(static_cast<size_t>(c.m * NumBlocks(c.k, c.a_block)));
    QuantizeRowGroups(x.data(), c.m, c.k, c.a_block, {ToFp8Format(c.a_type), true, false},
                      d.a.data(), d.a_scale.data());
  } else {
    d.a = FloatsAs(x, c.a_type);
  }
  if (c.bias) {
    std::vector<float> bias(static_cast<size_t>(c.n));
    for (auto& v : bias) v = normal(rng);
    d.bias = FloatsAs(bias, c.out_type);
  }
  return d;
}

// The reference problem of a case (y left unset).
inline reference::GemmProblem ReferenceProblem(const GemmCase& c, const GemmInputs& d) {
  reference::GemmProblem p;
  p.m = c.m;
  p.n = c.n;
  p.k = c.k;
  p.a = d.a.data();
  p.a_type = c.a_type;
  p.a_scale = d.a_scale.empty() ? nullptr : d.a_scale.data();
  p.a_block = c.a_block;
  p.b = d.b.data();
  p.b_format = c.b_format;
  p.b_scale = d.b_scale.data();
  p.block_n = c.block_n;
  p.block_k = c.block_k;
  p.bias = d.bias.empty() ? nullptr : d.bias.data();
  p.out_type = c.out_type;
  return p;
}

// FP8GEMM with a_quant_type: the case and inputs of the two-node form QuantizeFP8 -> FP8GEMM, A
// quantized by the reference QuantizeFP8 (groups of c.a_block, saturating, dynamic scales) from
// d's float-type A. The fused op must give exactly the same Y on the same implementation.
struct QuantizedCase {
  GemmCase c;
  GemmInputs d;
};
inline QuantizedCase QuantizeActivations(const GemmCase& c, const GemmInputs& d, Fp8Format format) {
  QuantizedCase q{c, d};
  q.c.a_type = ToDType(format);
  q.d.a.assign(static_cast<size_t>(c.m * c.k), 0);
  q.d.a_scale.assign(static_cast<size_t>(c.m * NumBlocks(c.k, c.a_block)), 0.0f);
  reference::QuantizeFp8(
      reference::FusedActivationQuantization(d.a.data(), c.a_type, c.m, c.k, c.a_block, format,
                                             q.d.a.data(), q.d.a_scale.data()),
      0, c.m);
  return q;
}

// Activations for the fused-quantization tests: Gaussian, with a row of ~100x magnitudes, an
// all-zero 128-group (scale 1) and an infinity (left out of the amax, saturated) where M and K
// allow.
inline std::vector<float> FusedQuantActivations(const GemmCase& c, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(static_cast<size_t>(c.m * c.k));
  for (auto& v : x) v = normal(rng);
  if (c.m >= 2) {
    for (int64_t j = 0; j < c.k; ++j) x[c.k + j] *= 100.0f;
  }
  if (c.m >= 3 && c.k >= 128) {
    for (int64_t j = 0; j < 128; ++j) x[2 * c.k + j] = 0.0f;
  }
  if (c.m >= 4) x[3 * c.k + c.k / 2] = std::numeric_limits<float>::infinity();
  return x;
}

}  // namespace fp8ops::testing

#endif  // FP8OPS_TESTS_COMMON_GEMM_TEST_DATA_H_
