// Shared pieces of the conformance case generator (fp8ops_conformance_gen): a fixed random
// generator, tensor helpers, and one builder per op that turns a case description into a model,
// its inputs, and the expected outputs computed by the reference kernels (ops/reference/).
//
// NOTE: everything here must be bit-reproducible: integer RNG, exact float arithmetic, no
// standard-library distributions, no libm transcendental functions (their last bit may differ
// between C libraries). The ctest `conformance_cases_regenerate` checks it byte for byte.
#ifndef FP8OPS_TESTS_CONFORMANCE_GENERATOR_GEN_COMMON_H_
#define FP8OPS_TESTS_CONFORMANCE_GENERATOR_GEN_COMMON_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"

namespace fp8ops::conformance::gen {

// splitmix64 (Steele, Lea, Flood 2014): one 64-bit state, one output per step.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  float Uniform();    // [0, 1), 24 random bits (exact in float32)
  float Symmetric();  // [-1, 1)
  float Normal();     // about N(0, 1): centred sum of 4 uniforms, scaled (Irwin-Hall)
  int64_t Int(int64_t lo, int64_t hi);  // uniform in [lo, hi]

 private:
  uint64_t state_;
};

// The seed of one case: the suite seed mixed with a hash of the case's name, so adding or
// removing a case never changes the data of another.
uint64_t SeedFor(const std::string& case_name);

// One generated case.
struct Case {
  std::string name;  // directory name; says which spec rule it checks
  std::string rule;  // one sentence, stored as the graph's doc_string
  onnx::ModelProto model;
  std::vector<onnx::TensorProto> inputs;   // graph inputs, in order
  std::vector<onnx::TensorProto> outputs;  // expected graph outputs, in order
};

// Bytes of a vector of trivially copyable values.
template <typename T>
std::vector<uint8_t> AsBytes(const std::vector<T>& v) {
  std::vector<uint8_t> b(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(b.data(), v.data(), b.size());
  return b;
}
// float32 values rounded (RNE) to t (float, float16 or bfloat16), as bytes.
std::vector<uint8_t> FloatsAs(const std::vector<float>& x, DType t);
float BitsToFloat(uint32_t u);
float NextUp(float x);    // next float32 towards +inf
float NextDown(float x);  // next float32 towards -inf
int64_t Product(const std::vector<int64_t>& dims);

// Random values of a matrix [rows, cols] whose magnitude changes along both axes (every 7th
// row band and 11th column band by a power of two), so that a wrong block-scale index shows.
std::vector<float> VariedMatrix(Rng& rng, int64_t rows, int64_t cols);

// All finite positive values of an FP8 format, ascending (code 0x00 .. max code).
std::vector<float> Fp8PositiveValues(Fp8Format f);

// ---------------------------------------------------------------------------------- builders
// An unset optional attribute is left out of the node (the op's default applies).

struct QuantizeCase {
  std::string name, rule;
  std::vector<int64_t> shape;  // X
  DType x_type = DType::kFloat;
  std::vector<float> x;  // rounded to x_type when stored
  std::optional<int64_t> block_size, fp8_type, saturate, scale_pow2;
  std::optional<std::vector<float>> scale;  // static scale
  std::vector<int64_t> scale_shape;
  bool scale_is_input = false;  // graph input instead of initializer
};
Case BuildQuantize(const QuantizeCase& q);

struct GemmCase {
  std::string name, rule;
  std::vector<int64_t> a_shape;  // [..., K]
  int64_t n = 0;
  DType a_type = DType::kE4M3FN;  // FP8 (W8A8) or float/float16/bfloat16 (weight-only)
  Fp8Format b_format = Fp8Format::kE4M3FN;
  std::optional<int64_t> block_n, block_k, a_block, out_type;
  std::optional<int64_t> a_quant_type;  // set: float A quantized inside the op (17 / 19)
  bool with_bias = false;
  bool b_is_input = false;     // B and B_scale as graph inputs instead of initializers
  bool bias_is_input = false;  // bias as a graph input instead of an initializer
  std::optional<std::vector<int64_t>> b_scale_shape;  // default [ceil(N/bn), ceil(K/bk)]

  // Data, filled by FillGemm (and adjustable afterwards).
  std::vector<uint8_t> a;      // A's bytes: FP8 codes or float/float16/bfloat16
  std::vector<float> a_scale;  // [..., ceil(K / a_block)] when A is FP8
  std::vector<uint8_t> b;      // [N, K] FP8 codes
  std::vector<float> b_scale;  // [ceil(N / bn), ceil(K / bk)]
  std::vector<uint8_t> bias;   // [N] of out_type

  int64_t M() const;
  int64_t K() const { return a_shape.back(); }
  int64_t Bn() const { return block_n.value_or(128); }
  int64_t Bk() const { return block_k.value_or(128); }
  int64_t ABlock() const { return a_block.value_or(128); }
  DType OutType() const { return static_cast<DType>(out_type.value_or(1)); }
};
// Quantizes A (when FP8: per row, groups of a_block, dynamic scales) and W [N, K] (blocks
// bn x bk) with the reference quantizer; bias is rounded to out_type (when with_bias).
void FillGemmFromFloats(GemmCase* g, const std::vector<float>& a_src,
                        const std::vector<float>& w_src, const std::vector<float>& bias_src);
// Random A, W and bias (VariedMatrix) through FillGemmFromFloats.
void FillGemm(GemmCase* g, Rng& rng);
Case BuildGemm(const GemmCase& g);

struct DequantizeCase {
  std::string name, rule;
  std::vector<int64_t> shape;  // X
  Fp8Format format = Fp8Format::kE4M3FN;
  std::vector<uint8_t> x;  // codes
  std::vector<float> scale;
  std::vector<int64_t> scale_shape;
  std::optional<int64_t> block_size, block_n, block_k, out_type;
};
Case BuildDequantize(const DequantizeCase& d);

// Case lists, one per op (gen_quantize.cc, gen_gemm.cc, gen_dequantize.cc).
void AddQuantizeCases(std::vector<Case>* cases);
void AddGemmCases(std::vector<Case>* cases);
void AddDequantizeCases(std::vector<Case>* cases);

}  // namespace fp8ops::conformance::gen

#endif  // FP8OPS_TESTS_CONFORMANCE_GENERATOR_GEN_COMMON_H_
