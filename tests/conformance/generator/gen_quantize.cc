// QuantizeFP8 cases (docs/OPERATORS.md sections 1.2, 1.4, 2).
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "tests/conformance/generator/gen_common.h"

namespace fp8ops::conformance::gen {
namespace {

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kFltMax = std::numeric_limits<float>::max();

const char* FormatTag(Fp8Format f) { return f == Fp8Format::kE4M3FN ? "e4m3fn" : "e5m2"; }

// A dynamic-scale case on random data.
QuantizeCase Random(const std::string& name, const std::string& rule, std::vector<int64_t> shape) {
  QuantizeCase q;
  q.name = name;
  q.rule = rule;
  q.shape = std::move(shape);
  Rng rng(SeedFor(name));
  const int64_t k = q.shape.back();
  const int64_t rows = k == 0 ? 0 : Product(q.shape) / k;
  q.x = VariedMatrix(rng, rows, k);
  return q;
}

// Lays `values` out as [rows, 16] (padding with random values) for a static-scale case.
void Pack16(QuantizeCase* q, std::vector<float> values, Rng& rng) {
  while (values.size() % 16 != 0) values.push_back(rng.Normal());
  q->shape = {static_cast<int64_t>(values.size() / 16), 16};
  q->x = std::move(values);
}

// Appends v and -v for each value.
void AddBothSigns(std::vector<float>* out, const std::vector<float>& v) {
  for (float x : v) {
    out->push_back(x);
    out->push_back(-x);
  }
}

void AttributeCases(std::vector<Case>* cases) {
  cases->push_back(BuildQuantize(Random("quantize_default_attributes",
                                        "No attributes: block_size=128, fp8_type=17 (E4M3FN), "
                                        "saturate=1, scale_pow2=0; K=300 ends in a partial group.",
                                        {4, 300})));
  for (int64_t bs : {0, 1, 32, 64, 128, 37}) {
    const std::string name = bs == 0    ? "quantize_block_size_0_whole_row"
                             : bs == 37 ? "quantize_block_size_37_odd"
                                        : absl::StrCat("quantize_block_size_", bs);
    QuantizeCase q = Random(
        name,
        absl::StrCat("block_size=", bs,
                     ": one dynamic scale amax/448 per group of block_size elements along the "
                     "last axis (0 = the whole row); K=150 is not a multiple of the block."),
        {4, bs == 1     ? 40
            : bs == 128 ? 300
                        : 150});
    q.block_size = bs;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q = Random("quantize_block_size_larger_than_k",
                            "block_size=128 with K=50: a single partial group per row.", {3, 50});
    q.block_size = 128;
    cases->push_back(BuildQuantize(q));
  }
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const int64_t t = static_cast<int64_t>(f);
    QuantizeCase q = Random(absl::StrCat("quantize_fp8_type_", t, "_", FormatTag(f)),
                            absl::StrCat("fp8_type=", t, ": Y is ", Fp8FormatName(f),
                                         ", dynamic scale = amax / ", Fp8Max(f), "."),
                            {4, 150});
    q.block_size = 64;
    q.fp8_type = t;
    cases->push_back(BuildQuantize(q));
  }
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const std::string name = absl::StrCat("quantize_scale_pow2_", FormatTag(f));
    QuantizeCase q = Random(
        name,
        "scale_pow2=1: each dynamic scale amax/fp8_max is rounded up to a power of two; a scale "
        "that is already a power of two stays (rows 0-1 have amax = fp8_max * 2^j).",
        {6, 96});
    // Rows 0 and 1: amax exactly fp8_max * 2^-3 and * 2^4, so amax / fp8_max is a power of two.
    for (int r = 0; r < 2; ++r) {
      const float target = std::ldexp(Fp8Max(f), r == 0 ? -3 : 4);
      float amax = 0;
      for (int i = 0; i < 96; ++i) amax = std::max(amax, std::fabs(q.x[r * 96 + i]));
      for (int i = 0; i < 96; ++i) {
        const float v = q.x[r * 96 + i] * (target / amax);
        q.x[r * 96 + i] = std::fabs(v) > target ? std::copysign(target, v) : v;
      }
      // Each group of 32 holds the exact amax.
      q.x[r * 96 + 5] = target;
      q.x[r * 96 + 40] = -target;
      q.x[r * 96 + 70] = target;
    }
    q.block_size = 32;
    q.fp8_type = static_cast<int64_t>(f);
    q.scale_pow2 = 1;
    cases->push_back(BuildQuantize(q));
  }
}

void StaticScaleCases(std::vector<Case>* cases) {
  {
    QuantizeCase q = Random(
        "quantize_static_scale_scalar",
        "Static per-tensor scale given as a scalar (shape []): Y = cast(X / scale), division in "
        "float32; Y_scale is the scale broadcast to [..., ceil(K/block_size)].",
        {4, 150});
    q.block_size = 64;
    q.scale = std::vector<float>{0.0371f};
    q.scale_shape = {};
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q =
        Random("quantize_static_scale_one_element_1d",
               "Static per-tensor scale of shape [1] (one element): same as a scalar.", {3, 70});
    q.block_size = 32;
    q.scale = std::vector<float>{0.0078125f * 3.0f};
    q.scale_shape = {1};
    q.fp8_type = 19;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q =
        Random("quantize_static_scale_per_group",
               "Static scale of Y_scale's shape [rows, ceil(K/block_size)]: each group divides by "
               "its own scale; Y_scale is that scale.",
               {4, 150});
    q.block_size = 64;
    Rng rng(SeedFor(q.name + "/scale"));
    std::vector<float> s(4 * 3);
    for (auto& v : s) v = std::ldexp(0.5f + rng.Uniform(), static_cast<int>(rng.Int(-9, -3)));
    q.scale = s;
    q.scale_shape = {4, 3};
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q =
        Random("quantize_static_scale_per_row_block_size_0",
               "block_size=0 with a static scale of shape [rows, 1]: one scale per row.", {5, 60});
    q.block_size = 0;
    q.scale = std::vector<float>{0.01f, 0.003f, 0.02f, 0.0007f, 0.5f};
    q.scale_shape = {5, 1};
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q =
        Random("quantize_static_scale_as_graph_input",
               "A static per-group scale fed as a graph input rather than an initializer, rank 3.",
               {2, 3, 40});
    q.block_size = 16;
    Rng rng(SeedFor(q.name + "/scale"));
    std::vector<float> s(2 * 3 * 3);
    for (auto& v : s) v = std::ldexp(0.5f + rng.Uniform(), static_cast<int>(rng.Int(-8, -4)));
    q.scale = s;
    q.scale_shape = {2, 3, 3};
    q.scale_is_input = true;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q = Random(
        "quantize_scale_pow2_ignored_with_static_scale",
        "scale_pow2=1 applies to dynamic scales only: a static (non power of two) scale is used "
        "as given.",
        {3, 64});
    q.block_size = 32;
    q.scale_pow2 = 1;
    q.scale = std::vector<float>{0.011f, 0.013f, 0.017f, 0.019f, 0.023f, 0.029f};
    q.scale_shape = {3, 2};
    cases->push_back(BuildQuantize(q));
  }
}

void TypeAndShapeCases(std::vector<Case>* cases) {
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    const std::string tag = t == DType::kFloat16 ? "float16" : "bfloat16";
    QuantizeCase q =
        Random(absl::StrCat("quantize_x_", tag),
               absl::StrCat("X of type ", tag, ": converted exactly to float32, then quantized."),
               {4, 150});
    q.x_type = t;
    q.block_size = 64;
    cases->push_back(BuildQuantize(q));

    QuantizeCase s = Random(
        absl::StrCat("quantize_x_", tag, "_static_scale"),
        absl::StrCat("X of type ", tag, " with a static float32 per-tensor scale."), {3, 64});
    s.x_type = t;
    s.block_size = 32;
    s.scale = std::vector<float>{0.0123f};
    s.scale_shape = {};
    cases->push_back(BuildQuantize(s));
  }
  struct ShapeCase {
    const char* name;
    std::vector<int64_t> shape;
    const char* rule;
  };
  const ShapeCase shapes[] = {
      {"quantize_rank_1", {150}, "X of rank 1 [K]: Y_scale is [ceil(K/block_size)]."},
      {"quantize_rank_3",
       {2, 3, 70},
       "X of rank 3: groups along the last axis, Y_scale [2, 3, ceil(K/32)]."},
      {"quantize_rank_4", {2, 1, 3, 40}, "X of rank 4: groups along the last axis."},
      {"quantize_rows_0", {0, 64}, "X with 0 rows: empty Y [0, K] and Y_scale [0, ceil(K/32)]."},
      {"quantize_rows_0_rank_3",
       {2, 0, 64},
       "X [2, 0, K]: a zero leading dimension gives empty outputs."},
      {"quantize_rows_1", {1, 150}, "A single row (M=1)."},
      {"quantize_k_0", {3, 0}, "K=0: Y [3, 0] and Y_scale [3, 0] (no groups)."},
  };
  for (const auto& s : shapes) {
    QuantizeCase q = Random(s.name, s.rule, s.shape);
    q.block_size = 32;
    cases->push_back(BuildQuantize(q));
  }
}

// Values around every pair of neighbouring FP8 values: the exact midpoint (a tie, rounded to the
// even code), and the floats just below and above it.
std::vector<float> TieValues(Fp8Format f) {
  const std::vector<float> v = Fp8PositiveValues(f);
  std::vector<float> out;
  for (size_t i = 0; i + 1 < v.size(); ++i) {
    const float mid = (v[i] + v[i + 1]) / 2;  // exact: one more mantissa bit
    AddBothSigns(&out, {mid, NextDown(mid), NextUp(mid)});
  }
  return out;
}

void SpecialValueCases(std::vector<Case>* cases) {
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const std::string tag = FormatTag(f);
    const int64_t t = static_cast<int64_t>(f);
    {
      QuantizeCase q;
      q.name = absl::StrCat("quantize_rounding_ties_to_even_", tag);
      q.rule =
          "Round to nearest, ties to even: X holds every midpoint between neighbouring finite FP8 "
          "values "
          "and the floats just below and above each (static scale 1, both signs).";
      Rng rng(SeedFor(q.name));
      Pack16(&q, TieValues(f), rng);
      q.fp8_type = t;
      q.scale = std::vector<float>{1.0f};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    {
      // With a scale that is not a power of two: x chosen so that x / s is exactly a midpoint.
      QuantizeCase q;
      q.name = absl::StrCat("quantize_rounding_ties_after_division_", tag);
      q.rule =
          "Ties after the float32 division: X / scale is exactly a midpoint between FP8 values "
          "(scale 0.3), "
          "and must round to the even code.";
      const float s = 0.3f;
      std::vector<float> xs;
      const std::vector<float> v = Fp8PositiveValues(f);
      for (size_t i = 0; i + 1 < v.size(); ++i) {
        const float mid = (v[i] + v[i + 1]) / 2;
        float x = mid * s;
        for (int step = 0; step < 8 && x / s != mid; ++step)
          x = x / s < mid ? NextUp(x) : NextDown(x);
        if (x / s == mid) AddBothSigns(&xs, {x});
      }
      Rng rng(SeedFor(q.name));
      Pack16(&q, xs, rng);
      q.fp8_type = t;
      q.scale = std::vector<float>{s};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    {
      // x / s and x * (1 / s) round to different FP8 codes: the spec says division.
      QuantizeCase q;
      q.name = absl::StrCat("quantize_division_not_reciprocal_", tag);
      q.rule =
          "Y = cast(X / scale) with a float32 division: every X here gives a different code if "
          "computed as "
          "X * (1 / scale) (scale 0.7).";
      const float s = 0.7f, inv = 1.0f / s;
      std::vector<float> xs;
      Rng rng(SeedFor(q.name));
      const std::vector<float> v = Fp8PositiveValues(f);
      for (int tries = 0; tries < 2000000 && xs.size() < 96; ++tries) {
        const size_t i = static_cast<size_t>(rng.Int(1, static_cast<int64_t>(v.size()) - 2));
        float x = (v[i] + v[i + 1]) / 2 * s;
        for (int64_t j = rng.Int(-3, 3); j < 0; ++j) x = NextDown(x);
        for (int64_t j = rng.Int(-3, 3); j > 0; --j) x = NextUp(x);
        if (EncodeFp8(x / s, f, true) != EncodeFp8(x * inv, f, true))
          xs.push_back(rng.Uniform() < 0.5f ? x : -x);
      }
      Pack16(&q, xs, rng);
      q.fp8_type = t;
      q.scale = std::vector<float>{s};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    {
      QuantizeCase q;
      q.name = absl::StrCat("quantize_subnormal_codes_", tag);
      q.rule =
          "FP8 subnormals: every subnormal value, the midpoints around them (ties to even, "
          "including half "
          "the smallest subnormal -> 0), values below half the smallest -> +-0 (static scale 1).";
      const float min_sub = DecodeFp8(1, f);
      std::vector<float> xs;
      const std::vector<float> v = Fp8PositiveValues(f);
      const int subnormals =
          f == Fp8Format::kE4M3FN ? 8 : 4;  // codes 0 .. 2^man - 1, then min normal
      for (int i = 0; i <= subnormals; ++i) {
        AddBothSigns(&xs, {v[i], NextUp(v[i])});
        const float mid = (v[i] + v[i + 1]) / 2;
        AddBothSigns(&xs, {mid, NextDown(mid), NextUp(mid)});
      }
      AddBothSigns(&xs,
                   {min_sub / 4, min_sub / 2, NextDown(min_sub / 2), NextUp(min_sub / 2), 1e-30f});
      Rng rng(SeedFor(q.name));
      Pack16(&q, xs, rng);
      q.fp8_type = t;
      q.scale = std::vector<float>{1.0f};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    // Values beyond max, with and without saturation.
    const float max = Fp8Max(f);
    const float next =
        f == Fp8Format::kE4M3FN ? 480.0f : 65536.0f;  // the value after max if it existed
    const float mid = (max + next) / 2;
    std::vector<float> beyond;
    AddBothSigns(&beyond, {max, NextUp(max), NextDown(mid), mid, NextUp(mid), (mid + next) / 2,
                           NextDown(next), next, next + (next - max) / 2, 2 * next, 1e10f, kFltMax,
                           kInf, 1.0f, 0.25f});
    for (int sat : {1, 0}) {
      QuantizeCase q;
      const char* result = sat == 1 ? "max" : f == Fp8Format::kE4M3FN ? "nan" : "inf";
      q.name = absl::StrCat("quantize_saturate_", sat, "_", tag, "_overflow_gives_", result);
      q.rule =
          sat == 1
              ? absl::StrCat(
                    "saturate=1: a value whose rounding exceeds ", max,
                    " (and +-Inf) becomes +-max; values up to the midpoint above max round to max.")
              : absl::StrCat("saturate=0: a value whose rounding exceeds ", max, " becomes ",
                             f == Fp8Format::kE4M3FN ? "NaN (sign|0x7F)" : "+-Inf (sign|0x7C)",
                             "; the tie at the midpoint above max rounds to even.");
      Rng rng(SeedFor(q.name));
      Pack16(&q, beyond, rng);
      q.fp8_type = t;
      q.saturate = sat;
      q.scale = std::vector<float>{1.0f};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    {
      QuantizeCase q;
      q.name = absl::StrCat("quantize_nan_gives_0x7f_sign_dropped_", tag);
      q.rule =
          "NaN (any sign or payload) gives the code 0x7F (static scale 1, saturate 0 and 1 alike).";
      std::vector<float> xs = {kNaN,
                               -kNaN,
                               BitsToFloat(0x7F800001u),
                               BitsToFloat(0xFF812345u),
                               BitsToFloat(0x7FFFFFFFu),
                               BitsToFloat(0xFFFFFFFFu),
                               1.0f,
                               -2.0f};
      Rng rng(SeedFor(q.name));
      Pack16(&q, xs, rng);
      q.fp8_type = t;
      q.saturate = 0;
      q.scale = std::vector<float>{1.0f};
      q.scale_shape = {};
      cases->push_back(BuildQuantize(q));
    }
    {
      QuantizeCase q;
      q.name = absl::StrCat("quantize_nonfinite_ignored_in_amax_", tag);
      q.rule =
          "Dynamic scale: amax is taken over finite values only (NaN and +-Inf ignored); NaN -> "
          "0x7F, "
          "+-Inf -> +-max (saturate=1).";
      Rng rng(SeedFor(q.name));
      q.shape = {4, 32};
      q.x = VariedMatrix(rng, 4, 32);
      q.x[3] = kNaN;
      q.x[32 + 7] = kInf;
      q.x[32 + 9] = -kInf;
      q.x[64 + 1] = -kNaN;
      q.x[64 + 20] = kInf;
      q.x[96 + 31] = -kInf;
      q.block_size = 16;
      q.fp8_type = t;
      cases->push_back(BuildQuantize(q));
    }
  }
  {
    QuantizeCase q;
    q.name = "quantize_nonfinite_ignored_in_amax_e5m2_saturate_0";
    q.rule =
        "Dynamic scale with saturate=0 on E5M2: amax ignores +-Inf, which stay +-Inf (sign|0x7C).";
    Rng rng(SeedFor(q.name));
    q.shape = {2, 32};
    q.x = VariedMatrix(rng, 2, 32);
    q.x[2] = kInf;
    q.x[40] = -kInf;
    q.x[50] = kNaN;
    q.block_size = 16;
    q.fp8_type = 19;
    q.saturate = 0;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q;
    q.name = "quantize_all_zero_group_gets_scale_1";
    q.rule =
        "A group whose finite amax is 0 gets scale 1: all +0 (codes 0x00), all -0 (0x80), mixed "
        "zeros, "
        "only NaN / +-Inf; other groups are normal.";
    Rng rng(SeedFor(q.name));
    q.shape = {2, 96};
    q.x = VariedMatrix(rng, 2, 96);
    for (int i = 0; i < 16; ++i) {
      q.x[i] = 0.0f;                          // group 0: +0
      q.x[16 + i] = -0.0f;                    // group 1: -0
      q.x[32 + i] = (i % 2) ? 0.0f : -0.0f;   // group 2: mixed
      q.x[96 + i] = (i % 3) ? kNaN : 0.0f;    // row 1 group 0: NaN and zeros
      q.x[112 + i] = (i % 2) ? kInf : -kInf;  // row 1 group 1: only +-Inf
    }
    q.block_size = 16;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q;
    q.name = "quantize_float32_subnormal_static_scale";
    q.rule =
        "Float32 subnormals are values, not zeros (no flush to zero): subnormal X divided by a "
        "subnormal "
        "static scale 2^-140 gives normal FP8 codes.";
    std::vector<float> xs;
    Rng rng(SeedFor(q.name));
    for (int i = 0; i < 48; ++i)
      xs.push_back(std::ldexp(rng.Symmetric(), -134 - static_cast<int>(rng.Int(0, 6))));
    Pack16(&q, xs, rng);
    for (auto& v : q.x)
      v = std::fabs(v) > 1e-30f ? std::ldexp(v, -140) : v;  // padding: subnormal too
    q.scale = std::vector<float>{std::ldexp(1.0f, -140)};
    q.scale_shape = {};
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q;
    q.name = "quantize_float32_subnormal_dynamic_scale";
    q.rule =
        "Groups of float32 subnormals: a subnormal quotient amax / fp8_max is rounded up, not to "
        "nearest "
        "(so amax / scale never exceeds fp8_max); one that would underflow to 0 becomes 2^-149.";
    Rng rng(SeedFor(q.name));
    q.shape = {3, 32};
    q.x.resize(96);
    for (int i = 0; i < 96; ++i) {
      const int row = i / 32;
      const int e = row == 0 ? -130 : row == 1 ? -140 : -147;
      q.x[i] = std::ldexp(rng.Symmetric(), e);
    }
    q.block_size = 16;
    cases->push_back(BuildQuantize(q));
  }
  {
    QuantizeCase q;
    q.name = "quantize_extreme_group_magnitudes";
    q.rule =
        "Dynamic scales at the ends of the float32 range: groups with amax near FLT_MAX and near "
        "1e-30.";
    Rng rng(SeedFor(q.name));
    q.shape = {3, 32};
    q.x.resize(96);
    for (int i = 0; i < 96; ++i) {
      const int row = i / 32;
      q.x[i] = row == 0   ? rng.Symmetric() * 3.0e38f
               : row == 1 ? rng.Symmetric() * 1e-30f
                          : rng.Normal();
    }
    q.x[10] = kFltMax;
    q.x[40] = -1e-30f;
    q.block_size = 16;
    q.fp8_type = 19;
    cases->push_back(BuildQuantize(q));
  }
  for (DType t : {DType::kFloat16, DType::kBFloat16}) {
    const std::string tag = t == DType::kFloat16 ? "float16" : "bfloat16";
    QuantizeCase q;
    q.name = absl::StrCat("quantize_x_", tag, "_special_values");
    q.rule = absl::StrCat(
        tag,
        " X with NaN, +-Inf, the largest finite value, subnormals and -0: amax ignores "
        "non-finite values; the static-free dynamic path.");
    Rng rng(SeedFor(q.name));
    q.shape = {3, 16};
    q.x = VariedMatrix(rng, 3, 16);
    const float big = t == DType::kFloat16 ? 65504.0f : 3.3895314e38f;
    const float sub = t == DType::kFloat16 ? std::ldexp(1.0f, -24) : std::ldexp(1.0f, -133);
    q.x[0] = kNaN;
    q.x[1] = kInf;
    q.x[2] = -kInf;
    q.x[3] = big;
    q.x[4] = -0.0f;
    for (int i = 0; i < 16; ++i) q.x[16 + i] = sub * static_cast<float>(i - 8);  // subnormal group
    q.x[32] = -big;
    q.x_type = t;
    q.block_size = 8;
    cases->push_back(BuildQuantize(q));
  }
}

}  // namespace

void AddQuantizeCases(std::vector<Case>* cases) {
  AttributeCases(cases);
  StaticScaleCases(cases);
  TypeAndShapeCases(cases);
  SpecialValueCases(cases);
}

}  // namespace fp8ops::conformance::gen
