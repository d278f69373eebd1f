// FP8GEMM cases (docs/OPERATORS.md sections 1.5, 3).
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tests/conformance/generator/gen_common.h"

namespace fp8ops::conformance::gen {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

const char* TypeTag(DType t) {
  switch (t) {
    case DType::kFloat:
      return "f32";
    case DType::kFloat16:
      return "f16";
    case DType::kBFloat16:
      return "bf16";
    case DType::kE4M3FN:
      return "e4m3fn";
    default:
      return "e5m2";
  }
}

// A W8A8 (or weight-only) case with random data.
GemmCase Make(const std::string& name, const std::string& rule, std::vector<int64_t> a_shape,
              int64_t n, std::optional<int64_t> block_n, std::optional<int64_t> block_k,
              std::optional<int64_t> a_block, DType a_type = DType::kE4M3FN) {
  GemmCase g;
  g.name = name;
  g.rule = rule;
  g.a_shape = std::move(a_shape);
  g.n = n;
  g.a_type = a_type;
  g.block_n = block_n;
  g.block_k = block_k;
  g.a_block = a_block;
  Rng rng(SeedFor(name));
  FillGemm(&g, rng);
  return g;
}

std::string BlockName(int64_t v) { return v == 37 ? "37_odd" : absl::StrCat(v); }

void GranularityCases(std::vector<Case>* cases) {
  cases->push_back(BuildGemm(
      Make("gemm_default_attributes",
           "No attributes: block_n=block_k=a_block=128 (2-D weight blocks, 1x128 activation "
           "groups), out_type=1; N=130, K=160 end in partial blocks.",
           {3, 160}, 130, std::nullopt, std::nullopt, std::nullopt)));
  cases->push_back(BuildGemm(
      Make("gemm_per_tensor",
           "Per-tensor scales: block_n=0, block_k=0 (B_scale [1, 1]), a_block=0 (one A scale "
           "per row).",
           {4, 96}, 24, 0, 0, 0)));
  {
    GemmCase g =
        Make("gemm_per_tensor_b_scale_scalar",
             "block_n=block_k=0 accepts a B_scale with one element given as a scalar (shape []).",
             {3, 64}, 16, 0, 0, 0);
    g.b_scale_shape = std::vector<int64_t>{};
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_per_tensor_b_scale_1d",
                      "block_n=block_k=0 accepts a B_scale with one element of shape [1].", {3, 64},
                      16, 0, 0, 32);
    g.b_scale_shape = std::vector<int64_t>{1};
    cases->push_back(BuildGemm(g));
  }
  cases->push_back(BuildGemm(Make(
      "gemm_per_channel", "Per-channel weights: block_n=1, block_k=0 (B_scale [N, 1]); a_block=0.",
      {4, 96}, 24, 1, 0, 0)));
  cases->push_back(BuildGemm(
      Make("gemm_1d_groups",
           "1-D weight groups: block_n=1, block_k=128 (B_scale [N, ceil(K/128)]), a_block=128; "
           "K=300.",
           {3, 300}, 20, 1, 128, 128)));
  cases->push_back(BuildGemm(
      Make("gemm_2d_blocks",
           "2-D weight blocks block_n=block_k=128 (DeepSeek-V3), a_block=128; N=130, K=160.",
           {3, 160}, 130, 128, 128, 128)));
}

void AttributeCases(std::vector<Case>* cases) {
  for (int64_t bn : {0, 1, 32, 64, 128, 37}) {
    cases->push_back(BuildGemm(
        Make(absl::StrCat("gemm_block_n_", BlockName(bn)),
             absl::StrCat("block_n=", bn, " (block_k=a_block=32): rows of B in groups of ", bn,
                          " share a scale row (0 = all N); N is not a multiple of the block."),
             {3, 80}, bn == 128 ? 130 : 70, bn, 32, 32)));
  }
  for (int64_t bk : {0, 1, 32, 64, 128, 37}) {
    cases->push_back(BuildGemm(
        Make(absl::StrCat("gemm_block_k_", BlockName(bk)),
             absl::StrCat("block_k=", bk, " (block_n=16, a_block=", bk == 0 ? 128 : bk,
                          "): K in groups of ", bk, " (0 = all K); K=150 ends in a partial block."),
             {3, 150}, 40, 16, bk, bk == 0 ? 128 : bk)));
  }
  for (int64_t ab : {0, 1, 32, 64, 128, 37}) {
    cases->push_back(
        BuildGemm(Make(absl::StrCat("gemm_a_block_", BlockName(ab), "_block_k_0"),
                       absl::StrCat("a_block=", ab, " with block_k=0: A scales per row group of ",
                                    ab, " (0 = one per row), independent of B's blocks."),
                       {3, 150}, 24, 8, 0, ab)));
  }
  cases->push_back(BuildGemm(
      Make("gemm_a_block_0_block_k_64",
           "a_block=0 (one A scale per row) with blocked B (block_k=64): allowed, only two "
           "blocked sizes must agree.",
           {3, 150}, 24, 8, 64, 0)));
}

void TypeCases(std::vector<Case>* cases) {
  for (DType a : {DType::kFloat, DType::kFloat16, DType::kBFloat16, DType::kE4M3FN, DType::kE5M2}) {
    for (Fp8Format b : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
      for (int64_t out : {1, 10, 16}) {
        for (bool bias : {false, true}) {
          const std::string name =
              absl::StrCat("gemm_types_a_", TypeTag(a), "_b_", TypeTag(ToDType(b)), "_out_",
                           TypeTag(static_cast<DType>(out)), bias ? "_bias" : "_no_bias");
          GemmCase g;
          g.name = name;
          g.rule =
              absl::StrCat("Types: A ", DTypeName(a),
                           IsFp8DType(a) ? " with A_scale (W8A8)" : " (weight-only, no A_scale)",
                           ", B ", Fp8FormatName(b), ", out_type=", out,
                           bias ? ", bias [N] of out_type." : ", no bias.");
          g.a_shape = {3, 70};
          g.n = 20;
          g.a_type = a;
          g.b_format = b;
          g.block_n = 8;
          g.block_k = 32;
          g.a_block = 32;
          g.out_type = out;
          g.with_bias = bias;
          Rng rng(SeedFor(name));
          FillGemm(&g, rng);
          cases->push_back(BuildGemm(g));
        }
      }
    }
  }
}

void ShapeCases(std::vector<Case>* cases) {
  struct S {
    const char* name;
    std::vector<int64_t> a_shape;
    int64_t n;
    DType a_type;
    const char* rule;
  };
  const S shapes[] = {
      {"gemm_rows_0", {0, 64}, 16, DType::kE4M3FN, "M=0: A [0, K] gives an empty Y [0, N]."},
      {"gemm_rows_0_rank_3",
       {2, 0, 64},
       16,
       DType::kE4M3FN,
       "A [2, 0, K]: a zero leading dim gives Y [2, 0, N]."},
      {"gemm_rows_1", {1, 150}, 40, DType::kE4M3FN, "M=1 (decode-style single row)."},
      {"gemm_rank_1",
       {150},
       40,
       DType::kE4M3FN,
       "A of rank 1 [K] with A_scale [ceil(K/a_block)]: Y is [N]."},
      {"gemm_rank_3", {2, 3, 150}, 40, DType::kE4M3FN, "A of rank 3 [2, 3, K]: Y [2, 3, N]."},
      {"gemm_rank_4",
       {2, 1, 3, 150},
       40,
       DType::kE4M3FN,
       "A of rank 4 [2, 1, 3, K]: Y [2, 1, 3, N]."},
      {"gemm_weight_only_rank_1", {150}, 40, DType::kFloat, "Weight-only with A of rank 1 [K]."},
      {"gemm_weight_only_rank_3",
       {2, 3, 150},
       40,
       DType::kFloat16,
       "Weight-only float16 A of rank 3."},
      {"gemm_n_1", {3, 150}, 1, DType::kE4M3FN, "N=1."},
      {"gemm_k_1", {3, 1}, 20, DType::kE4M3FN, "K=1: one product per output."},
      {"gemm_k_smaller_than_block",
       {3, 20},
       20,
       DType::kE4M3FN,
       "K=20 < block_k=a_block=32: one partial K block."},
  };
  for (const auto& s : shapes) {
    GemmCase g = Make(s.name, s.rule, s.a_shape, s.n, 16, 32, 32, s.a_type);
    cases->push_back(BuildGemm(g));
  }
  for (bool bias : {true, false}) {
    GemmCase g = Make(bias ? "gemm_k_0_gives_bias" : "gemm_k_0_gives_zeros",
                      bias ? "K=0: the empty sum is 0, so Y = bias." : "K=0 without bias: Y = 0.",
                      {3, 0}, 8, 4, 32, 32);
    g.out_type = 10;
    g.with_bias = bias;
    Rng rng(SeedFor(g.name + "/bias"));
    std::vector<float> b(8);
    for (auto& v : b) v = rng.Normal();
    if (bias) g.bias = FloatsAs(b, DType::kFloat16);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_ragged_k_last_block_counts",
                      "K=130 with block_k=a_block=128: the last, 2-wide K block carries most of "
                      "the magnitude and "
                      "must not be dropped.",
                      {4, 130}, 24, 8, 128, 128);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 4, 130), w = VariedMatrix(rng, 24, 130), bias;
    for (int64_t m = 0; m < 4; ++m) {
      a[m * 130 + 128] = 40.0f + static_cast<float>(m);
      a[m * 130 + 129] = -30.0f;
    }
    for (int64_t n = 0; n < 24; ++n) {
      w[n * 130 + 128] = 25.0f - static_cast<float>(n);
      w[n * 130 + 129] = 20.0f;
    }
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_ragged_n_last_block",
                      "N=130 with block_n=128: the last 2 rows of B form their own scale block "
                      "with a much larger "
                      "scale.",
                      {3, 64}, 130, 128, 64, 64);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 3, 64), w = VariedMatrix(rng, 130, 64), bias;
    for (int64_t k = 0; k < 64; ++k) {
      w[128 * 64 + k] *= 1000.0f;
      w[129 * 64 + k] *= -3000.0f;
    }
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_b_as_graph_input", "B and B_scale fed as graph inputs (not initializers), W8A8.",
             {3, 100}, 24, 8, 32, 32);
    g.b_is_input = true;
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_b_as_graph_input_weight_only",
                      "B and B_scale fed as graph inputs, weight-only bfloat16 A, bfloat16 bias as "
                      "a graph input.",
                      {3, 100}, 24, 1, 0, std::nullopt, DType::kBFloat16);
    g.b_is_input = true;
    g.with_bias = true;
    g.bias_is_input = true;
    g.out_type = 16;
    Rng rng(SeedFor(g.name + "/bias"));
    std::vector<float> b(24);
    for (auto& v : b) v = rng.Normal();
    g.bias = FloatsAs(b, DType::kBFloat16);
    cases->push_back(BuildGemm(g));
  }
}

void SpecialValueCases(std::vector<Case>* cases) {
  {
    GemmCase g = Make("gemm_nan_in_a_propagates_weight_only",
                      "A NaN in float A makes its whole output row NaN.", {3, 40}, 12, 4, 16,
                      std::nullopt, DType::kFloat);
    const float nan = kNaN;
    std::memcpy(g.a.data() + (1 * 40 + 5) * 4, &nan, 4);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_nan_code_in_a_propagates",
             "An FP8 NaN code in A (0x7F, 0xFF) makes its output row NaN.", {3, 40}, 12, 4, 16, 16);
    g.a[1 * 40 + 5] = 0x7F;
    g.a[2 * 40 + 39] = 0xFF;
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_nan_code_in_b_propagates",
                      "An FP8 NaN code in B makes its output column NaN.", {3, 40}, 12, 4, 16, 16);
    g.b[2 * 40 + 7] = 0x7F;
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make(
        "gemm_inf_in_a_weight_only",
        "+-Inf in float A gives +-Inf outputs (sign of the product); B has no zero in that column.",
        {3, 40}, 12, 4, 16, std::nullopt, DType::kFloat);
    for (int64_t n = 0; n < 12; ++n) {
      if (g.b[n * 40 + 3] == 0x00 || g.b[n * 40 + 3] == 0x80) g.b[n * 40 + 3] = 0x38;  // 1.0
    }
    const float inf = kInf, ninf = -kInf;
    std::memcpy(g.a.data() + (0 * 40 + 3) * 4, &inf, 4);
    std::memcpy(g.a.data() + (2 * 40 + 3) * 4, &ninf, 4);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_e5m2_inf_code_in_b",
             "An E5M2 Inf code in B: Inf times a nonzero A is +-Inf, times a zero A is NaN.",
             {3, 40}, 12, 4, 16, 16, DType::kE5M2);
    g.b_format = Fp8Format::kE5M2;
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 3, 40), w = VariedMatrix(rng, 12, 40), bias;
    a[2 * 40 + 4] = 0.0f;  // row 2 meets the Inf with a zero
    a[0 * 40 + 4] = 1.5f;
    a[1 * 40 + 4] = -2.0f;
    FillGemmFromFloats(&g, a, w, bias);
    g.b[1 * 40 + 4] = 0x7C;  // +Inf
    g.b[5 * 40 + 4] = 0xFC;  // -Inf
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_out_float16_overflow_to_inf",
             "out_type=10: sums far beyond 65504 round to +-Inf; other columns stay finite.",
             {3, 64}, 16, 1, 0, std::nullopt, DType::kFloat);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a(3 * 64), w(16 * 64), bias;
    for (auto& v : a) v = 50.0f + 10.0f * rng.Uniform();
    for (int64_t n = 0; n < 16; ++n) {
      for (int64_t k = 0; k < 64; ++k) {
        const float mag = n % 2 == 0 ? 400.0f : 0.01f;  // even columns: sums around 1e6
        w[n * 64 + k] = (n % 4 == 0 ? -1.0f : 1.0f) * mag * (0.5f + rng.Uniform());
      }
    }
    g.out_type = 10;
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_out_bfloat16_large_values",
             "out_type=16: sums around 1e30 are finite in bfloat16 (rounded once from float32).",
             {3, 64}, 16, 1, 0, std::nullopt, DType::kFloat);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 3, 64), w = VariedMatrix(rng, 16, 64), bias;
    for (auto& v : a) v *= 1e14f;
    for (auto& v : w) v *= 1e14f;
    g.out_type = 16;
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_subnormal_fp8_codes",
             "FP8 subnormal codes in A and B (E4M3FN 0x01-0x07 and their negatives) with scale 1.",
             {3, 48}, 12, 0, 0, 0);
    Rng rng(SeedFor(g.name + "/codes"));
    for (auto& c : g.a) c = static_cast<uint8_t>(rng.Int(1, 7) | (rng.Int(0, 1) << 7));
    for (auto& c : g.b) c = static_cast<uint8_t>(rng.Int(1, 7) | (rng.Int(0, 1) << 7));
    for (auto& s : g.a_scale) s = 1.0f;
    for (auto& s : g.b_scale) s = 1.0f;
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g =
        Make("gemm_cancellation",
             "Products that cancel: each output is a small difference of large sums (the bound is "
             "relative to sum |a*b|).",
             {3, 128}, 16, 1, 64, 64);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a(3 * 128), w(16 * 128), bias;
    for (int64_t k = 0; k < 128; k += 2) {
      for (int64_t m = 0; m < 3; ++m) {
        const float v = rng.Normal();
        a[m * 128 + k] = v;
        a[m * 128 + k + 1] = v * (1.0f + 0.01f * rng.Symmetric());
      }
      for (int64_t n = 0; n < 16; ++n) {
        const float v = 100.0f * rng.Normal();
        w[n * 128 + k] = v;
        w[n * 128 + k + 1] = -v;
      }
    }
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_zero_rows_get_bias",
                      "An all-zero A row quantizes to scale 1 and zero codes: its output row is "
                      "exactly the bias.",
                      {3, 64}, 16, 8, 32, 32);
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 3, 64), w = VariedMatrix(rng, 16, 64), bias(16);
    for (int64_t k = 0; k < 64; ++k) a[1 * 64 + k] = 0.0f;
    for (auto& v : bias) v = rng.Normal();
    g.with_bias = true;
    g.out_type = 10;
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
}

// a_quant_type: float A quantized inside the op as QuantizeFP8 would (section 3).
void FusedQuantizationCases(std::vector<Case>* cases) {
  struct Spec {
    const char* name;
    std::vector<int64_t> a_shape;
    int64_t n;
    DType a_type;
    int64_t a_quant_type;
    std::optional<int64_t> block_n, block_k, a_block, out_type;
    bool bias;
    const char* rule;
  };
  const Spec specs[] = {
      {"gemm_a_quant_e4m3_bf16",
       {3, 160},
       130,
       DType::kBFloat16,
       17,
       std::nullopt,
       std::nullopt,
       std::nullopt,
       16,
       false,
       "a_quant_type=17: bfloat16 A quantized to E4M3 in groups of 128 (the last one 32 wide) "
       "inside the op, then 128x128 weight blocks; Y as QuantizeFP8 -> FP8GEMM."},
      {"gemm_a_quant_e5m2_f32_per_channel",
       {2, 3, 96},
       24,
       DType::kFloat,
       19,
       1,
       0,
       0,
       std::nullopt,
       true,
       "a_quant_type=19: float A of rank 3 quantized to E5M2 with one scale per row (a_block=0), "
       "per-channel weights, bias."},
      {"gemm_a_quant_f16_decode_row",
       {1, 256},
       72,
       DType::kFloat16,
       17,
       128,
       128,
       128,
       10,
       true,
       "a_quant_type=17 with one float16 row (decode): M=1, K=256 in two groups of 128, float16 "
       "output and bias."},
  };
  for (const Spec& s : specs) {
    GemmCase g = Make(s.name, s.rule, s.a_shape, s.n, s.block_n, s.block_k, s.a_block, s.a_type);
    g.a_quant_type = s.a_quant_type;
    g.out_type = s.out_type;
    g.with_bias = s.bias;
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, g.M(), g.K()), w = VariedMatrix(rng, g.n, g.K());
    std::vector<float> bias(static_cast<size_t>(g.n));
    for (auto& v : bias) v = rng.Normal();
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
  {
    GemmCase g = Make("gemm_a_quant_zero_row_and_inf",
                      "a_quant_type=17: an all-zero row gets scale 1 (output = bias); an infinity "
                      "is left out of its group's amax and saturates to 448 times the scale.",
                      {3, 128}, 16, 8, 64, 64, DType::kFloat);
    g.a_quant_type = 17;
    g.with_bias = true;
    Rng rng(SeedFor(g.name + "/data"));
    std::vector<float> a = VariedMatrix(rng, 3, 128), w = VariedMatrix(rng, 16, 128), bias(16);
    for (int64_t k = 0; k < 128; ++k) a[1 * 128 + k] = 0.0f;
    a[2 * 128 + 5] = kInf;
    for (auto& v : bias) v = rng.Normal();
    FillGemmFromFloats(&g, a, w, bias);
    cases->push_back(BuildGemm(g));
  }
}

}  // namespace

void AddGemmCases(std::vector<Case>* cases) {
  FusedQuantizationCases(cases);
  GranularityCases(cases);
  AttributeCases(cases);
  TypeCases(cases);
  ShapeCases(cases);
  SpecialValueCases(cases);
}

}  // namespace fp8ops::conformance::gen
