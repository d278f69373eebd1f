// Cross-checks with ONNX Runtime's own standard ops where their semantics overlap with fp8ops
// (tests/conformance/README.md, "Cross-checks with ONNX Runtime"):
//   QuantizeLinear (FLOAT8E4M3FN / FLOAT8E5M2 output, opsets 19 and 21, per tensor, per axis,
//     blocked) == QuantizeFP8 with a static scale, code for code;
//   DequantizeLinear (same layouts) == DequantizeFP8, value for value;
//   DequantizeLinear + MatMul ~ FP8GEMM, both within the conformance bound (gemm_bound.h).
// Each pair runs in one session (one model holding both nodes, fed the same inputs and scales).
// Every disagreement must fall in a documented category; the documented ones are also pinned, so
// a change in ONNX Runtime shows up here and the README gets updated.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "fp8ops/dtype.h"
#include "fp8ops/fp8.h"
#include "fp8ops/quantize.h"
#include "host/ort_session.h"
#include "ops/reference/reference_kernels.h"
#include "tests/common/model_builder.h"
#include "tests/conformance/gemm_bound.h"

namespace fp8ops::conformance {
namespace {

using host::HostTensor;
using testing::AddInitializer;
using testing::AddInput;
using testing::AddNode;
using testing::AddOutput;
using testing::Attr;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kInf = std::numeric_limits<float>::infinity();

// A fixed generator (splitmix64), as the case generator uses.
class Rng {
 public:
  explicit Rng(uint64_t seed) : s_(seed) {}
  uint64_t Next() {
    uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  float Symmetric() {
    return static_cast<float>(static_cast<int64_t>(Next() >> 40) - (1 << 23)) * 0x1p-23f;
  }
  int Int(int lo, int hi) {
    return lo + static_cast<int>(Next() % static_cast<uint64_t>(hi - lo + 1));
  }

 private:
  uint64_t s_;
};

float Bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Inputs that exercise the whole codec when divided by `scale`: every FP8 value and every midpoint
// (and their float neighbours), a dense sweep from max to twice the overflow point, random values
// over the whole float32 exponent range, and the specials; both signs.
std::vector<float> CodecSweep(Fp8Format f, float scale, uint64_t seed) {
  std::vector<float> q;  // values of x / scale
  const float max = Fp8Max(f);
  for (int c = 0; c <= (f == Fp8Format::kE4M3FN ? 0x7E : 0x7B); ++c) {
    const float v = DecodeFp8(static_cast<uint8_t>(c), f);
    const float next = c == (f == Fp8Format::kE4M3FN ? 0x7E : 0x7B)
                           ? (f == Fp8Format::kE4M3FN ? 480.0f : 65536.0f)
                           : DecodeFp8(static_cast<uint8_t>(c + 1), f);
    const float mid = (v + next) / 2;
    for (float x : {v, mid}) {
      q.push_back(x);
      q.push_back(std::nextafter(x, kInf));
      q.push_back(std::nextafter(x, 0.0f));
    }
  }
  for (float x = max; x < 4 * max; x = std::nextafter(x, kInf) + max / 4096) q.push_back(x);
  std::vector<float> xs;
  for (float v : q) xs.push_back(v * scale);  // near the ties after division (not always exactly)
  Rng rng(seed);
  for (int i = 0; i < 20000; ++i) xs.push_back(std::ldexp(rng.Symmetric(), rng.Int(-150, 128)));
  for (float v : {0.0f, kInf, kNaN, std::numeric_limits<float>::max(),
                  std::numeric_limits<float>::denorm_min(), Bits(0x7F800001u), Bits(0x7FFFFFFFu),
                  Bits(0x7FC12345u)}) {
    xs.push_back(v);
  }
  const size_t n = xs.size();
  for (size_t i = 0; i < n; ++i) xs.push_back(-xs[i]);
  return xs;
}

// Documented disagreements between ORT's FP8 QuantizeLinear and fp8ops (README.md).
enum class Known { kNone, kNanSign, kE4M3NoSat480To496, kE5M2NoSat61440To65536 };
const char* KnownName(Known k) {
  switch (k) {
    case Known::kNanSign:
      return "negative NaN keeps its sign in ORT (0xFF), fp8ops gives 0x7F";
    case Known::kE4M3NoSat480To496:
      return "E4M3FN saturate=0, |x/scale| in [480, 496): ORT +-448, fp8ops NaN";
    case Known::kE5M2NoSat61440To65536:
      return "E5M2 saturate=0, |x/scale| in [61440, 65536): ORT NaN, fp8ops +-Inf";
    default:
      return "undocumented";
  }
}
Known Classify(float q, Fp8Format f, bool saturate, uint8_t ours, uint8_t ort) {
  const uint8_t sign = std::signbit(q) ? 0x80 : 0x00;
  const float a = std::fabs(q);
  if (std::isnan(q) && sign && ours == 0x7F && ort == 0xFF) return Known::kNanSign;
  if (f == Fp8Format::kE4M3FN && !saturate && a >= 480.0f && a < 496.0f && ours == (sign | 0x7F) &&
      ort == (sign | 0x7E)) {
    return Known::kE4M3NoSat480To496;
  }
  if (f == Fp8Format::kE5M2 && !saturate && a >= 61440.0f && a < 65536.0f &&
      ours == (sign | 0x7C) && ort == (sign | 0x7F)) {
    return Known::kE5M2NoSat61440To65536;
  }
  return Known::kNone;
}

absl::StatusOr<std::vector<HostTensor>> RunModel(
    const onnx::ModelProto& m, const std::vector<std::pair<std::string, HostTensor>>& feeds) {
  host::SessionOptions so;
  so.plugin_path = FP8OPS_PLUGIN_PATH;
  auto s = host::Session::FromBytes(testing::Serialize(m), so);
  if (!s.ok()) return s.status();
  return (*s)->Run(feeds);
}

// Compares ORT's codes (`ort`) with fp8ops' (`ours`) for quotients `q` (x / scale in float32);
// returns the count of each documented category and fails the test on any other difference.
std::map<Known, int64_t> CompareCodes(const std::vector<float>& q, const uint8_t* ours,
                                      const uint8_t* ort, Fp8Format f, bool saturate,
                                      const std::string& what) {
  std::map<Known, int64_t> counts;
  int64_t reported = 0;
  for (size_t i = 0; i < q.size(); ++i) {
    if (ours[i] == ort[i]) continue;
    const Known k = Classify(q[i], f, saturate, ours[i], ort[i]);
    ++counts[k];
    if (k == Known::kNone && reported++ < 5) {
      ADD_FAILURE() << what << ": x/scale=" << q[i] << " (" << std::hexfloat << q[i]
                    << std::defaultfloat << ") fp8ops 0x" << std::hex << int{ours[i]} << " ORT 0x"
                    << int{ort[i]} << std::dec;
    }
  }
  return counts;
}

// The categories a per-tensor sweep with this format / saturate must show (ORT 1.29 behaviour).
void ExpectDocumentedCategories(const std::map<Known, int64_t>& counts, Fp8Format f, bool saturate,
                                const std::string& what) {
  auto count = [&](Known k) { return counts.count(k) ? counts.at(k) : 0; };
  EXPECT_GT(count(Known::kNanSign), 0)
      << what << ": documented difference no longer seen (update README.md): "
      << KnownName(Known::kNanSign);
  if (!saturate && f == Fp8Format::kE4M3FN) {
    EXPECT_GT(count(Known::kE4M3NoSat480To496), 0)
        << what << ": documented ORT deviation no longer seen (update README.md): "
        << KnownName(Known::kE4M3NoSat480To496);
  }
  if (!saturate && f == Fp8Format::kE5M2) {
    EXPECT_GT(count(Known::kE5M2NoSat61440To65536), 0)
        << what << ": documented ORT deviation no longer seen (update README.md): "
        << KnownName(Known::kE5M2NoSat61440To65536);
  }
}

// ----------------------------------------------------------------------- QuantizeLinear, per
// tensor

struct QlParam {
  int opset;
  Fp8Format format;
  bool saturate;
  float scale;
};
std::string QlName(const ::testing::TestParamInfo<QlParam>& i) {
  return absl::StrCat("opset", i.param.opset, "_", Fp8FormatName(i.param.format), "_sat",
                      i.param.saturate ? 1 : 0, i.param.scale == 1.0f ? "_scale1" : "_scale037");
}

class QuantizeLinearPerTensor : public ::testing::TestWithParam<QlParam> {};

TEST_P(QuantizeLinearPerTensor, SameCodesAsQuantizeFp8WithStaticScale) {
  const QlParam p = GetParam();
  const int32_t fp8 = static_cast<int32_t>(p.format);
  const std::vector<float> x = CodecSweep(p.format, p.scale, 19 + p.opset);
  const int64_t n = static_cast<int64_t>(x.size());

  auto m = testing::NewModel(p.opset);
  AddInput(m, "x", 1, {1, n});
  AddInitializer(m, "scale", 1, {}, std::vector<float>{p.scale});
  AddInitializer(m, "zero_point", fp8, {}, std::vector<uint8_t>{0});
  AddNode(m, "QuantizeLinear", {"x", "scale", "zero_point"}, {"y_ort"},
          {Attr::Int("saturate", p.saturate)});
  AddNode(
      m, "QuantizeFP8", {"x", "scale"}, {"y_fp8ops", "y_scale"},
      {Attr::Int("block_size", 0), Attr::Int("fp8_type", fp8), Attr::Int("saturate", p.saturate)},
      "fp8ops");
  AddOutput(m, "y_ort");
  AddOutput(m, "y_fp8ops");
  auto out = RunModel(m, {{"x", HostTensor::From(1, {1, n}, x)}});
  ASSERT_TRUE(out.ok()) << out.status();

  std::vector<float> q(x.size());
  for (size_t i = 0; i < x.size(); ++i) q[i] = x[i] / p.scale;
  const auto counts = CompareCodes(q, (*out)[1].data<uint8_t>(), (*out)[0].data<uint8_t>(),
                                   p.format, p.saturate, QlName({p, 0}));
  EXPECT_EQ(counts.count(Known::kNone), 0u) << "undocumented disagreements with ORT QuantizeLinear";
  ExpectDocumentedCategories(counts, p.format, p.saturate, QlName({p, 0}));
  // The sweep does reach both overflow regions and the +-Inf inputs: ORT and fp8ops agree there
  // with saturate=1 (+-Inf -> +-max for both formats).
  if (p.saturate) {
    for (size_t i = 0; i < x.size(); ++i) {
      if (std::isinf(x[i])) {
        EXPECT_EQ((*out)[0].data<uint8_t>()[i],
                  (std::signbit(x[i]) ? 0x80 : 0) | (fp8 == 17 ? 0x7E : 0x7B));
      }
    }
  }
}

std::vector<QlParam> QlParams() {
  std::vector<QlParam> v;
  for (int opset : {19, 21}) {
    for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
      for (bool sat : {true, false}) {
        for (float s : {1.0f, 0.37f}) v.push_back({opset, f, sat, s});
      }
    }
  }
  return v;
}
INSTANTIATE_TEST_SUITE_P(Ort, QuantizeLinearPerTensor, ::testing::ValuesIn(QlParams()), QlName);

// Both divide x by the scale in float32: on inputs where x / s and x * (1 / s) round to different
// codes, ORT agrees with fp8ops (and so with the division).
TEST(QuantizeLinearDivision, DividesByTheScaleLikeQuantizeFp8) {
  for (Fp8Format f : {Fp8Format::kE4M3FN, Fp8Format::kE5M2}) {
    const int32_t fp8 = static_cast<int32_t>(f);
    const float s = 0.37f, inv = 1.0f / s;
    std::vector<float> x;
    Rng rng(5);
    for (int tries = 0; tries < 1000000 && x.size() < 200; ++tries) {
      const int c = rng.Int(1, f == Fp8Format::kE4M3FN ? 0x7D : 0x7A);
      float v =
          (DecodeFp8(static_cast<uint8_t>(c), f) + DecodeFp8(static_cast<uint8_t>(c + 1), f)) / 2 *
          s;
      for (int j = rng.Int(-3, 3); j != 0; j += j < 0 ? 1 : -1)
        v = std::nextafter(v, j < 0 ? -kInf : kInf);
      if (EncodeFp8(v / s, f, true) != EncodeFp8(v * inv, f, true)) x.push_back(v);
    }
    ASSERT_GE(x.size(), 50u)
        << "too few inputs that tell division from multiplication by the reciprocal";
    const int64_t n = static_cast<int64_t>(x.size());
    auto m = testing::NewModel(21);
    AddInput(m, "x", 1, {n});
    AddInitializer(m, "scale", 1, {}, std::vector<float>{s});
    AddInitializer(m, "zero_point", fp8, {}, std::vector<uint8_t>{0});
    AddNode(m, "QuantizeLinear", {"x", "scale", "zero_point"}, {"y_ort"});
    AddNode(m, "QuantizeFP8", {"x", "scale"}, {"y_fp8ops", "y_scale"},
            {Attr::Int("block_size", 0), Attr::Int("fp8_type", fp8)}, "fp8ops");
    AddOutput(m, "y_ort");
    AddOutput(m, "y_fp8ops");
    auto out = RunModel(m, {{"x", HostTensor::From(1, {n}, x)}});
    ASSERT_TRUE(out.ok()) << out.status();
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ((*out)[0].data<uint8_t>()[i], EncodeFp8(x[i] / s, f, true)) << "ORT, x=" << x[i];
      EXPECT_EQ((*out)[1].data<uint8_t>()[i], EncodeFp8(x[i] / s, f, true)) << "fp8ops, x=" << x[i];
    }
  }
}

// -------------------------------------------------------- QuantizeLinear, per axis and blocked

// Random data with a few specials, [rows, k].
std::vector<float> RandomWithSpecials(int64_t rows, int64_t k, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> x(static_cast<size_t>(rows * k));
  for (auto& v : x) v = std::ldexp(rng.Symmetric(), rng.Int(-12, 4));
  x[1] = kNaN;
  x[2] = kInf;
  x[3] = -kInf;
  x[4] = -0.0f;
  x[5] = 1e30f;
  return x;
}
std::vector<float> RandomScales(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> s(static_cast<size_t>(n));
  for (auto& v : s) v = std::ldexp(1.0f + 0.5f * rng.Symmetric(), rng.Int(-10, -4));
  return s;
}

struct LayoutCase {
  const char* name;
  int opset;
  int axis;
  int64_t ort_block;  // 0: per axis
  int64_t our_block;  // QuantizeFP8 block_size
};

class QuantizeLinearLayouts : public ::testing::TestWithParam<std::tuple<LayoutCase, Fp8Format>> {};

TEST_P(QuantizeLinearLayouts, SameCodesAsQuantizeFp8) {
  const auto& [lc, format] = GetParam();
  const int32_t fp8 = static_cast<int32_t>(format);
  const int64_t rows = 6, k = 150;
  const std::vector<float> x = RandomWithSpecials(rows, k, 7 + lc.opset);
  // ORT's scale layout, and the same scales in QuantizeFP8's layout [rows, NumBlocks(k, block)].
  std::vector<int64_t> ort_shape;
  std::vector<float> ort_scale, our_scale;
  const int64_t groups = NumBlocks(k, lc.our_block);
  if (lc.ort_block > 0) {  // blocked along the last axis: the same layout
    ort_shape = {rows, groups};
    ort_scale = RandomScales(rows * groups, 11);
    our_scale = ort_scale;
  } else if (lc.axis == 0) {  // one scale per row
    ort_shape = {rows};
    ort_scale = RandomScales(rows, 12);
    our_scale = ort_scale;  // [rows, 1]
  } else {  // one scale per column: QuantizeFP8 block_size=1 with the scale repeated on each row
    ort_shape = {k};
    ort_scale = RandomScales(k, 13);
    for (int64_t r = 0; r < rows; ++r)
      our_scale.insert(our_scale.end(), ort_scale.begin(), ort_scale.end());
  }
  auto m = testing::NewModel(lc.opset);
  AddInput(m, "x", 1, {rows, k});
  AddInitializer(m, "ort_scale", 1, ort_shape, ort_scale);
  AddInitializer(m, "our_scale", 1, {rows, groups}, our_scale);
  AddInitializer(m, "zero_point", fp8, ort_shape, std::vector<uint8_t>(ort_scale.size(), 0));
  std::vector<Attr> attrs = {Attr::Int("axis", lc.axis), Attr::Int("saturate", 1)};
  if (lc.ort_block > 0) attrs.push_back(Attr::Int("block_size", lc.ort_block));
  AddNode(m, "QuantizeLinear", {"x", "ort_scale", "zero_point"}, {"y_ort"}, attrs);
  AddNode(m, "QuantizeFP8", {"x", "our_scale"}, {"y_fp8ops", "y_scale"},
          {Attr::Int("block_size", lc.our_block), Attr::Int("fp8_type", fp8)}, "fp8ops");
  AddOutput(m, "y_ort");
  AddOutput(m, "y_fp8ops");
  auto out = RunModel(m, {{"x", HostTensor::From(1, {rows, k}, x)}});
  ASSERT_TRUE(out.ok()) << "ONNX Runtime CPU cannot run QuantizeLinear-" << lc.opset << " "
                        << lc.name << " to " << Fp8FormatName(format) << ": " << out.status();
  std::vector<float> q(x.size());
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < k; ++c) {
      q[r * k + c] = x[r * k + c] / our_scale[r * groups + c / EffectiveBlock(k, lc.our_block)];
    }
  }
  const auto counts =
      CompareCodes(q, (*out)[1].data<uint8_t>(), (*out)[0].data<uint8_t>(), format, true, lc.name);
  EXPECT_EQ(counts.count(Known::kNone), 0u);
}

const LayoutCase kLayouts[] = {
    {"per_axis_0_opset19", 19, 0, 0, 0},   {"per_axis_1_opset19", 19, 1, 0, 1},
    {"per_axis_0_opset21", 21, 0, 0, 0},   {"per_axis_last_opset21", 21, -1, 0, 1},
    {"blocked_32_opset21", 21, 1, 32, 32}, {"blocked_37_ragged_opset21", 21, 1, 37, 37},
};
INSTANTIATE_TEST_SUITE_P(Ort, QuantizeLinearLayouts,
                         ::testing::Combine(::testing::ValuesIn(kLayouts),
                                            ::testing::Values(Fp8Format::kE4M3FN,
                                                              Fp8Format::kE5M2)),
                         [](const auto& i) {
                           return absl::StrCat(std::get<0>(i.param).name, "_",
                                               Fp8FormatName(std::get<1>(i.param)));
                         });

// ------------------------------------------------------- QuantizeLinear with float16 / bfloat16 x

class QuantizeLinearHalfInput : public ::testing::TestWithParam<std::tuple<int, DType>> {};

TEST_P(QuantizeLinearHalfInput, SameCodesAsQuantizeFp8) {
  const auto [opset, type] = GetParam();
  const int64_t n = 4096;
  Rng rng(31);
  std::vector<float> xf(n);
  for (auto& v : xf) v = std::ldexp(rng.Symmetric(), rng.Int(-20, 10));
  std::vector<uint16_t> x(n);
  for (int64_t i = 0; i < n; ++i)
    x[i] = type == DType::kFloat16 ? FloatToHalf(xf[i]) : FloatToBf16(xf[i]);
  const float scale = 0.375f;  // exact in float16 and bfloat16
  const uint16_t scale_half = type == DType::kFloat16 ? FloatToHalf(scale) : FloatToBf16(scale);
  auto m = testing::NewModel(opset);
  AddInput(m, "x", static_cast<int32_t>(type), {n});
  AddInitializer(m, "scale_half", static_cast<int32_t>(type), {},
                 std::vector<uint16_t>{scale_half});
  AddInitializer(m, "scale", 1, {}, std::vector<float>{scale});
  AddInitializer(m, "zero_point", 17, {}, std::vector<uint8_t>{0});
  AddNode(m, "QuantizeLinear", {"x", "scale_half", "zero_point"}, {"y_ort"});
  AddNode(m, "QuantizeFP8", {"x", "scale"}, {"y_fp8ops", "y_scale"}, {Attr::Int("block_size", 0)},
          "fp8ops");
  AddOutput(m, "y_ort");
  AddOutput(m, "y_fp8ops");
  auto out = RunModel(m, {{"x", HostTensor::From(static_cast<int32_t>(type), {n}, x)}});
  if (!out.ok()) {
    GTEST_SKIP() << "ONNX Runtime CPU does not implement QuantizeLinear-" << opset << " from "
                 << DTypeName(type) << " to FLOAT8E4M3FN: " << out.status().message();
  }
  int64_t differ = 0;
  for (int64_t i = 0; i < n; ++i)
    differ += (*out)[0].data<uint8_t>()[i] != (*out)[1].data<uint8_t>()[i];
  EXPECT_EQ(differ, 0) << "of " << n;
}
INSTANTIATE_TEST_SUITE_P(Ort, QuantizeLinearHalfInput,
                         ::testing::Combine(::testing::Values(19, 21),
                                            ::testing::Values(DType::kFloat16, DType::kBFloat16)),
                         [](const auto& i) {
                           return absl::StrCat("opset", std::get<0>(i.param), "_",
                                               DTypeName(std::get<1>(i.param)));
                         });

// ------------------------------------------------------------------------------ DequantizeLinear

bool SameFloat(float a, float b) {
  return (std::isnan(a) && std::isnan(b)) || std::memcmp(&a, &b, 4) == 0;
}

class DequantizeLinearLayouts : public ::testing::TestWithParam<std::tuple<int, Fp8Format>> {};

TEST_P(DequantizeLinearLayouts, SameValuesAsDequantizeFp8) {
  const auto [opset, format] = GetParam();
  const int32_t fp8 = static_cast<int32_t>(format);
  const int64_t n = 16, k = 96;  // every code appears (n * k = 6 * 256)
  std::vector<uint8_t> x(n * k);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<uint8_t>(i * 37 % 256);
  const std::vector<float> per_tensor = {0.3f};
  const std::vector<float> per_row = RandomScales(n, 41);
  const std::vector<float> blocked = RandomScales(n * NumBlocks(k, 40), 42);

  auto m = testing::NewModel(opset);
  AddInput(m, "x", fp8, {n, k});
  AddInitializer(m, "s_tensor", 1, {}, per_tensor);
  AddInitializer(m, "s_row", 1, {n}, per_row);
  AddInitializer(m, "s_row2d", 1, {n, 1}, per_row);
  AddInitializer(m, "zp", fp8, {}, std::vector<uint8_t>{0});
  AddInitializer(m, "zp_row", fp8, {n}, std::vector<uint8_t>(n, 0));
  AddNode(m, "DequantizeLinear", {"x", "s_tensor", "zp"}, {"ort_tensor"});
  AddNode(m, "DequantizeFP8", {"x", "s_tensor"}, {"our_tensor"}, {}, "fp8ops");
  AddNode(m, "DequantizeLinear", {"x", "s_row", "zp_row"}, {"ort_row"}, {Attr::Int("axis", 0)});
  AddNode(m, "DequantizeFP8", {"x", "s_row2d"}, {"our_row"},
          {Attr::Int("block_n", 1), Attr::Int("block_k", 0)}, "fp8ops");
  std::vector<std::string> outs = {"ort_tensor", "our_tensor", "ort_row", "our_row"};
  if (opset >= 21) {  // blocked along the last axis (block 40: K=96 ends in a partial block)
    AddInitializer(m, "s_blk", 1, {n, NumBlocks(k, 40)}, blocked);
    AddInitializer(m, "zp_blk", fp8, {n, NumBlocks(k, 40)},
                   std::vector<uint8_t>(blocked.size(), 0));
    AddNode(m, "DequantizeLinear", {"x", "s_blk", "zp_blk"}, {"ort_blk"},
            {Attr::Int("axis", 1), Attr::Int("block_size", 40)});
    AddNode(m, "DequantizeFP8", {"x", "s_blk"}, {"our_blk"}, {Attr::Int("block_size", 40)},
            "fp8ops");
    AddNode(m, "DequantizeFP8", {"x", "s_blk"}, {"our_blk2d"},
            {Attr::Int("block_n", 1), Attr::Int("block_k", 40)}, "fp8ops");
    outs.insert(outs.end(), {"ort_blk", "our_blk", "our_blk2d"});
  }
  for (const auto& o : outs) AddOutput(m, o);
  auto out = RunModel(m, {{"x", HostTensor::From(fp8, {n, k}, x)}});
  ASSERT_TRUE(out.ok()) << "ONNX Runtime CPU cannot run DequantizeLinear-" << opset << " from "
                        << Fp8FormatName(format) << ": " << out.status();
  auto compare = [&](size_t ort, size_t ours) {
    int64_t differ = 0;
    for (int64_t i = 0; i < n * k; ++i) {
      const float a = (*out)[ort].data<float>()[i], b = (*out)[ours].data<float>()[i];
      if (!SameFloat(a, b) && differ++ < 3) {
        ADD_FAILURE() << outs[ort] << " vs " << outs[ours] << " [" << i << "] code 0x" << std::hex
                      << int{x[i]} << std::dec << ": " << a << " vs " << b;
      }
    }
    EXPECT_EQ(differ, 0) << outs[ort] << " vs " << outs[ours];
  };
  compare(0, 1);
  compare(2, 3);
  if (opset >= 21) {
    compare(4, 5);
    compare(4, 6);
  }
}
INSTANTIATE_TEST_SUITE_P(Ort, DequantizeLinearLayouts,
                         ::testing::Combine(::testing::Values(19, 21),
                                            ::testing::Values(Fp8Format::kE4M3FN,
                                                              Fp8Format::kE5M2)),
                         [](const auto& i) {
                           return absl::StrCat("opset", std::get<0>(i.param), "_",
                                               Fp8FormatName(std::get<1>(i.param)));
                         });

// DequantizeLinear with a float16 scale (float16 output) against DequantizeFP8 out_type=10 with
// the same scale in float32: one float32 product, one rounding, on both sides.
TEST(DequantizeLinearFloat16, SameValuesAsDequantizeFp8OutFloat16) {
  std::vector<uint8_t> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<uint8_t>(i);
  const float scale = 0.30004883f;  // exact in float16 (0x34CD)
  ASSERT_EQ(HalfToFloat(FloatToHalf(scale)), scale);
  auto m = testing::NewModel(19);
  AddInput(m, "x", 17, {256});
  AddInitializer(m, "s16", 10, {}, std::vector<uint16_t>{FloatToHalf(scale)});
  AddInitializer(m, "s32", 1, {}, std::vector<float>{scale});
  AddInitializer(m, "zp", 17, {}, std::vector<uint8_t>{0});
  AddNode(m, "DequantizeLinear", {"x", "s16", "zp"}, {"y_ort"});
  AddNode(m, "DequantizeFP8", {"x", "s32"}, {"y_fp8ops"}, {Attr::Int("out_type", 10)}, "fp8ops");
  AddOutput(m, "y_ort");
  AddOutput(m, "y_fp8ops");
  auto out = RunModel(m, {{"x", HostTensor::From(17, {256}, x)}});
  if (!out.ok())
    GTEST_SKIP() << "ONNX Runtime CPU: DequantizeLinear-19 FP8 -> float16: "
                 << out.status().message();
  for (int i = 0; i < 256; ++i) {
    const float a = HalfToFloat((*out)[0].data<uint16_t>()[i]),
                b = HalfToFloat((*out)[1].data<uint16_t>()[i]);
    EXPECT_TRUE(SameFloat(a, b)) << "code 0x" << std::hex << i << std::dec << ": ORT " << a
                                 << " fp8ops " << b;
  }
}

// --------------------------------------------------------- DequantizeLinear + MatMul vs FP8GEMM

struct GemmXCase {
  const char* name;
  bool w8a8;
  int64_t block_n, block_k, a_block;
};

class DequantizeMatMulVsFp8Gemm : public ::testing::TestWithParam<GemmXCase> {};

TEST_P(DequantizeMatMulVsFp8Gemm, BothWithinTheConformanceBound) {
  const GemmXCase c = GetParam();
  const int64_t m = 5, k = 300, n = 130;  // ragged K and N for 128 blocks
  Rng rng(99);
  std::vector<float> a(m * k), w(n * k);
  for (auto& v : a) v = std::ldexp(rng.Symmetric(), rng.Int(-3, 3));
  for (auto& v : w) v = std::ldexp(rng.Symmetric(), rng.Int(-6, 0));
  // Weights: fp8ops layout [N, K] and B_scale [ceil(N/bn), ceil(K/bk)].
  const int64_t nbn = NumBlocks(n, c.block_n), nbk = NumBlocks(k, c.block_k);
  std::vector<uint8_t> bq(n * k);
  std::vector<float> bs(nbn * nbk);
  QuantizeBlocks2D(w.data(), n, k, c.block_n, c.block_k, {}, bq.data(), bs.data());
  // The same scales for DequantizeLinear-21 blocked on axis 1: one row of block scales per row of
  // B.
  const int64_t bk = EffectiveBlock(k, c.block_k), bn = EffectiveBlock(n, c.block_n);
  std::vector<float> bs_rows(n * nbk);
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < nbk; ++j) bs_rows[r * nbk + j] = bs[(r / bn) * nbk + j];
  }
  auto model = testing::NewModel(21);
  std::vector<std::pair<std::string, HostTensor>> feeds;
  AddInitializer(model, "B", 17, {n, k}, bq);
  AddInitializer(model, "B_scale", 1, {nbn, nbk}, bs);
  AddInitializer(model, "B_scale_rows", 1, {n, nbk}, bs_rows);
  AddInitializer(model, "B_zp", 17, {n, nbk}, std::vector<uint8_t>(n * nbk, 0));
  AddNode(model, "DequantizeLinear", {"B", "B_scale_rows", "B_zp"}, {"B_f"},
          {Attr::Int("axis", 1), Attr::Int("block_size", bk)});
  AddNode(model, "Transpose", {"B_f"}, {"B_t"}, {Attr::Ints("perm", {1, 0})});
  std::vector<uint8_t> aq;
  std::vector<float> as;
  if (c.w8a8) {
    const int64_t nba = NumBlocks(k, c.a_block);
    aq.resize(m * k);
    as.resize(m * nba);
    QuantizeRowGroups(a.data(), m, k, c.a_block, {}, aq.data(), as.data());
    AddInput(model, "A", 17, {m, k});
    AddInput(model, "A_scale", 1, {m, nba});
    AddInitializer(model, "A_zp", 17, {m, nba}, std::vector<uint8_t>(m * nba, 0));
    AddNode(model, "DequantizeLinear", {"A", "A_scale", "A_zp"}, {"A_f"},
            {Attr::Int("axis", 1), Attr::Int("block_size", EffectiveBlock(k, c.a_block))});
    AddNode(model, "MatMul", {"A_f", "B_t"}, {"y_ort"});
    AddNode(model, "FP8GEMM", {"A", "A_scale", "B", "B_scale"}, {"y_fp8ops"},
            {Attr::Int("block_n", c.block_n), Attr::Int("block_k", c.block_k),
             Attr::Int("a_block", c.a_block)},
            "fp8ops");
    feeds = {{"A", HostTensor::From(17, {m, k}, aq)},
             {"A_scale", HostTensor::From(1, {m, nba}, as)}};
  } else {
    AddInput(model, "A", 1, {m, k});
    AddNode(model, "MatMul", {"A", "B_t"}, {"y_ort"});
    AddNode(model, "FP8GEMM", {"A", "", "B", "B_scale"}, {"y_fp8ops"},
            {Attr::Int("block_n", c.block_n), Attr::Int("block_k", c.block_k)}, "fp8ops");
    feeds = {{"A", HostTensor::From(1, {m, k}, a)}};
  }
  AddOutput(model, "y_ort");
  AddOutput(model, "y_fp8ops");
  auto out = RunModel(model, feeds);
  ASSERT_TRUE(out.ok()) << out.status();

  GemmOperands ops;
  ops.attrs.block_n = c.block_n;
  ops.attrs.block_k = c.block_k;
  ops.attrs.a_block = c.a_block;
  ops.a = &feeds[0].second;
  ops.a_scale = c.w8a8 ? &feeds[1].second : nullptr;
  const HostTensor b = HostTensor::From(17, {n, k}, bq),
                   b_scale = HostTensor::From(1, {nbn, nbk}, bs);
  ops.b = &b;
  ops.b_scale = &b_scale;
  for (int i : {0, 1}) {
    auto r = CheckGemmBound(ops, (*out)[i]);
    ASSERT_TRUE(r.ok()) << r.status();
    EXPECT_EQ(r->failures, 0) << (i == 0 ? "DequantizeLinear+MatMul" : "FP8GEMM") << ": "
                              << r->first_failure;
    EXPECT_LE(r->worst_ratio, 1.0);
  }
}
const GemmXCase kGemmX[] = {
    {"w8a8_2d_blocks_128", true, 128, 128, 128},      {"w8a8_1d_groups", true, 1, 128, 128},
    {"w8a8_per_channel_per_row", true, 1, 0, 0},      {"weight_only_per_channel", false, 1, 0, 128},
    {"weight_only_2d_blocks_64", false, 64, 64, 128},
};
INSTANTIATE_TEST_SUITE_P(Ort, DequantizeMatMulVsFp8Gemm, ::testing::ValuesIn(kGemmX),
                         [](const auto& i) { return std::string(i.param.name); });

// QuantizeLinear-21 can take its output type from `output_dtype` instead of a zero point.
TEST(QuantizeLinearOutputDtype, Opset21WithoutZeroPoint) {
  const std::vector<float> x = {0.1f, -3.0f, 500.0f, 1e-3f, kNaN, -kInf};
  auto m = testing::NewModel(21);
  AddInput(m, "x", 1, {6});
  AddInitializer(m, "scale", 1, {}, std::vector<float>{0.5f});
  AddNode(m, "QuantizeLinear", {"x", "scale"}, {"y_ort"}, {Attr::Int("output_dtype", 17)});
  AddNode(m, "QuantizeFP8", {"x", "scale"}, {"y_fp8ops", "y_scale"}, {Attr::Int("block_size", 0)},
          "fp8ops");
  AddOutput(m, "y_ort");
  AddOutput(m, "y_fp8ops");
  auto out = RunModel(m, {{"x", HostTensor::From(1, {6}, x)}});
  if (!out.ok())
    GTEST_SKIP() << "ONNX Runtime CPU: QuantizeLinear-21 output_dtype=17: "
                 << out.status().message();
  ASSERT_EQ((*out)[0].elem_type, 17);
  for (int i = 0; i < 6; ++i)
    EXPECT_EQ((*out)[0].data<uint8_t>()[i], (*out)[1].data<uint8_t>()[i]) << "x=" << x[i];
}

}  // namespace
}  // namespace fp8ops::conformance
