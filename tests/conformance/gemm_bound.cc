#include "tests/conformance/gemm_bound.h"

#include <cmath>
#include <limits>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::conformance {
namespace {

struct FloatFormat {
  int precision;  // significand bits, implicit bit included
  int emin;       // exponent of the smallest normal
  int emax;       // exponent of the largest finite
};

FloatFormat FormatOf(DType t) {
  switch (t) {
    case DType::kFloat16:
      return {11, -14, 15};
    case DType::kBFloat16:
      return {8, -126, 127};
    default:
      return {24, -126, 127};
  }
}

TensorDesc Desc(const host::HostTensor& t) { return {static_cast<DType>(t.elem_type), t.shape}; }

}  // namespace

double OutputUlp(double r, DType t) {
  const FloatFormat f = FormatOf(t);
  const double a = std::fabs(r);
  int e = f.emin;
  if (a >= std::ldexp(1.0, f.emin)) {
    int ex;
    std::frexp(a, &ex);  // a = m * 2^ex, m in [0.5, 1)
    e = std::min(ex - 1, f.emax);
  }
  return std::ldexp(1.0, e - f.precision + 1);
}

double OverflowThreshold(DType t) {
  const FloatFormat f = FormatOf(t);
  return std::ldexp(2.0 - std::ldexp(1.0, -f.precision), f.emax);
}

bool WithinGemmBound(double y, double r, double sum_abs, int64_t k, DType out_type, double* ratio) {
  double unused;
  if (ratio == nullptr) ratio = &unused;
  *ratio = 0;
  if (std::isnan(r)) return std::isnan(y);
  if (std::isinf(r)) return y == r;
  if (std::isnan(y)) {
    *ratio = std::numeric_limits<double>::infinity();
    return false;
  }
  const double e = static_cast<double>(k + 2) * std::ldexp(1.0, -24) * sum_abs;
  const double allowed = 2.0 * e + 0.5 * OutputUlp(r, out_type);
  if (std::isinf(y)) {
    const bool ok =
        std::signbit(y) == std::signbit(r) && std::fabs(r) + 2.0 * e >= OverflowThreshold(out_type);
    *ratio = ok ? 0.0 : std::numeric_limits<double>::infinity();
    return ok;
  }
  const double err = std::fabs(y - r);
  *ratio = err == 0 ? 0.0 : err / allowed;
  return err <= allowed;
}

absl::StatusOr<GemmBoundResult> CheckGemmBound(const GemmOperands& ops, const host::HostTensor& y) {
  if (ops.a == nullptr || ops.b == nullptr || ops.b_scale == nullptr) {
    return absl::InvalidArgumentError("FP8GEMM operands A, B and B_scale are required");
  }
  std::optional<TensorDesc> a_scale, bias;
  if (ops.a_scale != nullptr) a_scale = Desc(*ops.a_scale);
  if (ops.bias != nullptr) bias = Desc(*ops.bias);
  if (auto s = ValidateGemmAttrs(ops.attrs); !s.ok()) return s;
  if (auto s = ValidateGemmInputs(ops.attrs, Desc(*ops.a), a_scale, Desc(*ops.b),
                                  Desc(*ops.b_scale), bias);
      !s.ok()) {
    return s;
  }
  const DType out_type = static_cast<DType>(ops.attrs.out_type);
  std::vector<int64_t> want_shape = ops.a->shape;
  want_shape.back() = ops.b->shape[0];
  if (y.elem_type != ops.attrs.out_type || y.shape != want_shape) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Y has type ", y.elem_type, " shape [", absl::StrJoin(y.shape, ","), "]; expected type ",
        ops.attrs.out_type, " shape [", absl::StrJoin(want_shape, ","), "]"));
  }

  reference::GemmProblem p;
  p.k = ops.a->shape.back();
  p.m = 1;
  for (size_t i = 0; i + 1 < ops.a->shape.size(); ++i) p.m *= ops.a->shape[i];
  p.n = ops.b->shape[0];
  p.a = ops.a->bytes.data();
  p.a_type = static_cast<DType>(ops.a->elem_type);
  p.a_scale = ops.a_scale ? ops.a_scale->data<float>() : nullptr;
  p.a_block = ops.attrs.a_block;
  p.quantize_a = ops.attrs.a_quant_type != 0;  // the bound is on the quantized operands
  p.a_quant_format = static_cast<Fp8Format>(ops.attrs.a_quant_type);
  p.b = ops.b->bytes.data();
  p.b_format = ToFp8Format(static_cast<DType>(ops.b->elem_type));
  p.b_scale = ops.b_scale->data<float>();
  p.block_n = ops.attrs.block_n;
  p.block_k = ops.attrs.block_k;
  p.out_type = out_type;

  std::vector<float> a_rows(static_cast<size_t>(p.m * p.k)), b_row(static_cast<size_t>(p.k));
  for (int64_t m = 0; m < p.m; ++m) reference::DequantizeARow(p, m, a_rows.data() + m * p.k);
  std::vector<float> bias_values(static_cast<size_t>(p.n), 0.0f);
  if (ops.bias != nullptr) LoadAsFloat(ops.bias->bytes.data(), out_type, p.n, bias_values.data());
  std::vector<float> y_values(static_cast<size_t>(p.m * p.n));
  LoadAsFloat(y.bytes.data(), out_type, p.m * p.n, y_values.data());

  GemmBoundResult result;
  for (int64_t n = 0; n < p.n; ++n) {
    reference::DequantizeBRow(p, n, b_row.data());
    for (int64_t m = 0; m < p.m; ++m) {
      const float* a = a_rows.data() + m * p.k;
      double r = bias_values[n], t = std::fabs(static_cast<double>(bias_values[n]));
      for (int64_t kk = 0; kk < p.k; ++kk) {
        const double prod = static_cast<double>(a[kk]) * static_cast<double>(b_row[kk]);  // exact
        r += prod;
        t += std::fabs(prod);
      }
      const double got = y_values[m * p.n + n];
      double ratio = 0;
      ++result.elements;
      const bool ok = WithinGemmBound(got, r, t, p.k, out_type, &ratio);
      if (std::isfinite(ratio)) result.worst_ratio = std::max(result.worst_ratio, ratio);
      if (!ok) {
        if (result.failures == 0) {
          const double e = static_cast<double>(p.k + 2) * std::ldexp(1.0, -24) * t;
          result.first_failure =
              absl::StrFormat("Y[%d] (m=%d, n=%d): got %.9g, r=%.9g, allowed |y-r| <= %.3g",
                              m * p.n + n, m, n, got, r, 2 * e + 0.5 * OutputUlp(r, out_type));
        }
        ++result.failures;
      }
    }
  }
  return result;
}

}  // namespace fp8ops::conformance
