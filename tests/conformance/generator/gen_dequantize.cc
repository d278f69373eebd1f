// DequantizeFP8 cases (docs/OPERATORS.md sections 1.3, 4).
#include <cmath>

#include "absl/strings/str_cat.h"
#include "tests/conformance/generator/gen_common.h"

namespace fp8ops::conformance::gen {
namespace {

const char* FormatTag(Fp8Format f) { return f == Fp8Format::kE4M3FN ? "e4m3fn" : "e5m2"; }
const char* OutTag(int64_t t) { return t == 1 ? "float" : t == 10 ? "float16" : "bfloat16"; }

// Every code 0x00..0xFF, as a [16, 16] tensor.
std::vector<uint8_t> AllCodes() {
  std::vector<uint8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<uint8_t>(i);
  return x;
}

// Random codes (all 256 codes possible, NaN and Inf included).
std::vector<uint8_t> RandomCodes(Rng& rng, int64_t n) {
  std::vector<uint8_t> x(static_cast<size_t>(n));
  for (auto& c : x) c = static_cast<uint8_t>(rng.Next() >> 56);
  return x;
}

std::vector<float> RandomScales(Rng& rng, int64_t n) {
  std::vector<float> s(static_cast<size_t>(n));
  for (auto& v : s) v = std::ldexp(0.5f + rng.Uniform(), static_cast<int>(rng.Int(-12, 2)));
  return s;
}

std::string BlockName(int64_t v) { return v == 37 ? "37_odd" : absl::StrCat(v); }

void PerTensorCases(std::vector<Case>* cases) {
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    for (int64_t out : {1, 10, 16}) {
      DequantizeCase d;
      d.name = absl::StrCat("dequantize_all_codes_", FormatTag(f), "_out_", OutTag(out));
      d.rule = absl::StrCat("Every ", Fp8FormatName(f),
                            " code (NaN and Inf included) times a per-tensor scale 0.3, in "
                            "float32, then rounded once to ",
                            OutTag(out), " (out_type=", out, ").");
      d.shape = {16, 16};
      d.format = f;
      d.x = AllCodes();
      d.scale = {0.3f};
      d.scale_shape = {};
      d.out_type = out;
      cases->push_back(BuildDequantize(d));
    }
  }
  {
    DequantizeCase d;
    d.name = "dequantize_out_float16_overflow_and_subnormals";
    d.rule =
        "out_type=10: products beyond 65504 round to +-Inf, tiny products to float16 subnormals or "
        "zero "
        "(rows 0-7 scale 1000 via 2-D blocks, rows 8-15 scale 2^-20).";
    d.shape = {16, 16};
    d.format = Fp8Format::kE4M3FN;
    d.x = AllCodes();
    d.scale = {1000.0f, std::ldexp(1.0f, -20)};
    d.scale_shape = {2, 1};
    d.block_n = 8;
    d.block_k = 0;
    d.out_type = 10;
    cases->push_back(BuildDequantize(d));
  }
  struct PerTensorShape {
    const char* name;
    std::vector<int64_t> shape, scale_shape;
    std::optional<int64_t> block_size;
    const char* rule;
  };
  const PerTensorShape shapes[] = {
      {"dequantize_per_tensor_scale_1d",
       {4, 40},
       {1},
       std::nullopt,
       "A scale of shape [1] is per tensor."},
      {"dequantize_per_tensor_scale_2d_shape",
       {4, 40},
       {1, 1},
       std::nullopt,
       "A scale of shape [1, 1] is per tensor (2-D mode with one block)."},
      {"dequantize_per_tensor_rank_3",
       {2, 3, 40},
       {},
       std::nullopt,
       "A one-element scale is per tensor for any X: rank 3 without block_size."},
      {"dequantize_per_tensor_with_block_size",
       {3, 40},
       {},
       16,
       "A one-element scale is per tensor even when block_size is given."},
      {"dequantize_scalar_x", {}, {}, std::nullopt, "X of rank 0 with a per-tensor scale."},
  };
  for (const auto& s : shapes) {
    DequantizeCase d;
    d.name = s.name;
    d.rule = s.rule;
    d.shape = s.shape;
    Rng rng(SeedFor(d.name));
    d.x = RandomCodes(rng, Product(s.shape));
    d.scale = {0.0625f * 3.0f};
    d.scale_shape = s.scale_shape;
    d.block_size = s.block_size;
    cases->push_back(BuildDequantize(d));
  }
}

void LastAxisCases(std::vector<Case>* cases) {
  for (int64_t bs : {0, 1, 32, 64, 128, 37}) {
    DequantizeCase d;
    d.name = absl::StrCat("dequantize_block_size_", BlockName(bs));
    d.rule = absl::StrCat(
        "block_size=", bs,
        ": last-axis groups, scale [rows, ceil(K/block_size)] (0 = one scale per row); K is not a "
        "multiple of the block.");
    const int64_t k = bs == 128 ? 300 : bs == 1 ? 40 : 150;
    d.shape = {4, k};
    Rng rng(SeedFor(d.name));
    d.x = RandomCodes(rng, 4 * k);
    d.scale_shape = {4, NumBlocks(k, bs)};
    d.scale = RandomScales(rng, Product(d.scale_shape));
    d.block_size = bs;
    d.format = bs % 2 == 0 ? Fp8Format::kE4M3FN : Fp8Format::kE5M2;
    cases->push_back(BuildDequantize(d));
  }
  struct S {
    const char* name;
    std::vector<int64_t> shape;
    const char* rule;
  };
  const S shapes[] = {
      {"dequantize_block_size_rank_1",
       {100},
       "block_size groups on X of rank 1: scale [ceil(K/32)]."},
      {"dequantize_block_size_rank_3",
       {2, 3, 70},
       "block_size groups on X of rank 3: scale [2, 3, ceil(K/32)]."},
      {"dequantize_block_size_rank_4", {2, 1, 3, 40}, "block_size groups on X of rank 4."},
      {"dequantize_block_size_rows_0",
       {0, 64},
       "X [0, K] with block_size: empty Y, scale [0, ceil(K/32)]."},
  };
  for (const auto& s : shapes) {
    DequantizeCase d;
    d.name = s.name;
    d.rule = s.rule;
    d.shape = s.shape;
    Rng rng(SeedFor(d.name));
    d.x = RandomCodes(rng, Product(s.shape));
    d.scale_shape = s.shape;
    d.scale_shape.back() = NumBlocks(s.shape.back(), 32);
    d.scale = RandomScales(rng, Product(d.scale_shape));
    d.block_size = 32;
    d.out_type = 16;
    cases->push_back(BuildDequantize(d));
  }
}

void TwoDimensionalCases(std::vector<Case>* cases) {
  struct B {
    std::optional<int64_t> bn, bk;
    int64_t n, k;
    const char* rule;
  };
  const B blocks[] = {
      {std::nullopt, std::nullopt, 129, 96,
       "No attributes: 2-D blocks block_n=block_k=128 on X [N, K], out_type=1; N=129 ends in a "
       "partial block."},
      {0, 0, 20, 40, "block_n=block_k=0: one block, scale [1, 1]."},
      {1, 0, 20, 40, "block_n=1, block_k=0: per-row scales [N, 1]."},
      {0, 32, 20, 70, "block_n=0, block_k=32: per-column-group scales [1, ceil(K/32)]."},
      {1, 1, 12, 20, "block_n=block_k=1: one scale per element."},
      {1, 128, 12, 300, "block_n=1, block_k=128: 1-D groups [N, ceil(K/128)]."},
      {128, 128, 129, 130, "block_n=block_k=128 given explicitly (out_type=16)."},
      {32, 64, 70, 150, "block_n=32, block_k=64."},
      {64, 32, 70, 150, "block_n=64, block_k=32."},
      {37, 29, 80, 100, "Odd blocks block_n=37, block_k=29."},
  };
  for (const auto& b : blocks) {
    DequantizeCase d;
    d.name = !b.bn ? "dequantize_2d_default_attributes"
                   : absl::StrCat("dequantize_2d_block_n_", BlockName(*b.bn), "_block_k_",
                                  *b.bk == 29 ? "29_odd" : absl::StrCat(*b.bk));
    d.rule = b.rule;
    d.shape = {b.n, b.k};
    Rng rng(SeedFor(d.name));
    d.x = RandomCodes(rng, b.n * b.k);
    d.scale_shape = {NumBlocks(b.n, b.bn.value_or(128)), NumBlocks(b.k, b.bk.value_or(128))};
    d.scale = RandomScales(rng, Product(d.scale_shape));
    d.block_n = b.bn;
    d.block_k = b.bk;
    d.format = (b.n + b.k) % 3 == 0 ? Fp8Format::kE5M2 : Fp8Format::kE4M3FN;
    if (b.bn && b.n * b.k > 8192) d.out_type = 16;  // keeps the case small
    cases->push_back(BuildDequantize(d));
  }
}

}  // namespace

void AddDequantizeCases(std::vector<Case>* cases) {
  PerTensorCases(cases);
  LastAxisCases(cases);
  TwoDimensionalCases(cases);
}

}  // namespace fp8ops::conformance::gen
