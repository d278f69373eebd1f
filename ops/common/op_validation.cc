#include "ops/common/op_validation.h"

#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "fp8ops/quantize.h"

namespace fp8ops {
namespace {

std::string ShapeStr(const std::vector<int64_t>& s) { return absl::StrCat("[", absl::StrJoin(s, ","), "]"); }

absl::Status CheckDims(const TensorDesc& t, const char* name) {
  for (int64_t d : t.shape) {
    if (d < 0) return absl::InvalidArgumentError(absl::StrCat(name, " has a negative dimension ", ShapeStr(t.shape)));
  }
  return absl::OkStatus();
}

absl::Status CheckBlock(int64_t v, const char* name) {
  if (v < 0) return absl::InvalidArgumentError(absl::StrCat("attribute ", name, "=", v, " must be >= 0"));
  return absl::OkStatus();
}

absl::Status CheckOutType(int64_t out_type) {
  if (out_type != 1 && out_type != 10 && out_type != 16) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute out_type=", out_type, " must be 1 (float), 10 (float16) or 16 (bfloat16)"));
  }
  return absl::OkStatus();
}

absl::Status ExpectType(DType got, DType want, const char* name) {
  if (got != want) {
    return absl::InvalidArgumentError(absl::StrCat(name, " must be ", DTypeName(want), ", got ", DTypeName(got)));
  }
  return absl::OkStatus();
}

}  // namespace

int64_t TensorDesc::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

std::vector<int64_t> QuantizeScaleShape(const std::vector<int64_t>& x_shape, int64_t block_size) {
  std::vector<int64_t> s = x_shape;
  if (!s.empty()) s.back() = NumBlocks(s.back(), block_size);
  return s;
}

absl::Status ValidateStaticScaleValues(const float* s, int64_t n, const char* name) {
  for (int64_t i = 0; i < n; ++i) {
    if (!(std::isfinite(s[i]) && s[i] > 0.0f)) {
      return absl::InvalidArgumentError(absl::StrCat("input ", name, "[", i, "]=", s[i], " must be finite and > 0"));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateQuantizeAttrs(const QuantizeAttrs& a) {
  if (auto s = CheckBlock(a.block_size, "block_size"); !s.ok()) return s;
  if (!IsFp8Format(a.fp8_type)) {
    return absl::InvalidArgumentError(absl::StrCat("attribute fp8_type=", a.fp8_type, " must be 17 (E4M3FN) or 19 (E5M2)"));
  }
  if (a.saturate != 0 && a.saturate != 1) {
    return absl::InvalidArgumentError(absl::StrCat("attribute saturate=", a.saturate, " must be 0 or 1"));
  }
  if (a.scale_pow2 != 0 && a.scale_pow2 != 1) {
    return absl::InvalidArgumentError(absl::StrCat("attribute scale_pow2=", a.scale_pow2, " must be 0 or 1"));
  }
  return absl::OkStatus();
}

absl::Status ValidateGemmAttrs(const GemmAttrs& a) {
  if (auto s = CheckBlock(a.block_n, "block_n"); !s.ok()) return s;
  if (auto s = CheckBlock(a.block_k, "block_k"); !s.ok()) return s;
  if (auto s = CheckBlock(a.a_block, "a_block"); !s.ok()) return s;
  if (a.a_quant_type != 0 && !IsFp8Format(a.a_quant_type)) {
    return absl::InvalidArgumentError(
        absl::StrCat("attribute a_quant_type=", a.a_quant_type,
                     " must be 0 (A as given), 17 (E4M3FN) or 19 (E5M2)"));
  }
  return CheckOutType(a.out_type);
}

absl::Status ValidateDequantizeAttrs(const DequantizeAttrs& a) {
  if (a.block_size) {
    if (auto s = CheckBlock(*a.block_size, "block_size"); !s.ok()) return s;
  }
  if (auto s = CheckBlock(a.block_n, "block_n"); !s.ok()) return s;
  if (auto s = CheckBlock(a.block_k, "block_k"); !s.ok()) return s;
  return CheckOutType(a.out_type);
}

absl::Status ValidateQuantizeTypes(DType x, std::optional<DType> scale) {
  if (!IsFloatDType(x)) {
    return absl::InvalidArgumentError(absl::StrCat("input X must be float, float16 or bfloat16, got ", DTypeName(x)));
  }
  if (scale) return ExpectType(*scale, DType::kFloat, "input scale");
  return absl::OkStatus();
}

absl::Status ValidateGemmTypes(const GemmAttrs& a, DType a_type, std::optional<DType> a_scale,
                               DType b, DType b_scale, std::optional<DType> bias) {
  if (!IsFp8DType(a_type) && !IsFloatDType(a_type)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input A must be float8e4m3fn, float8e5m2, float, float16 or bfloat16, got ", DTypeName(a_type)));
  }
  if (a.a_quant_type != 0) {
    if (IsFp8DType(a_type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("attribute a_quant_type=", a.a_quant_type,
                       " quantizes A inside the op, so A must be float, float16 or bfloat16, got ",
                       DTypeName(a_type)));
    }
    if (a_scale) {
      return absl::InvalidArgumentError(
          "input A_scale is given but attribute a_quant_type computes A's scales inside the op");
    }
  }
  if (IsFp8DType(a_type) && !a_scale) {
    return absl::InvalidArgumentError("input A is FP8 but A_scale is missing");
  }
  if (IsFp8DType(a_type) || a.a_quant_type != 0) {
    if (a_scale) {
      if (auto s = ExpectType(*a_scale, DType::kFloat, "input A_scale"); !s.ok()) return s;
    }
    if (a.a_block > 0 && a.block_k > 0 && a.a_block != a.block_k) {
      return absl::InvalidArgumentError(absl::StrCat("attribute a_block=", a.a_block, " must equal block_k=",
                                                     a.block_k, " when both are blocked"));
    }
  } else if (a_scale) {
    return absl::InvalidArgumentError(
        "input A_scale is given but A is a float type (weight-only mode takes no A_scale)");
  }
  if (!IsFp8DType(b)) return absl::InvalidArgumentError(absl::StrCat("input B must be FP8, got ", DTypeName(b)));
  if (auto s = ExpectType(b_scale, DType::kFloat, "input B_scale"); !s.ok()) return s;
  if (bias) {
    if (auto s = ExpectType(*bias, static_cast<DType>(a.out_type), "input bias (must match out_type)"); !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateDequantizeTypes(DType x, DType scale) {
  if (!IsFp8DType(x)) return absl::InvalidArgumentError(absl::StrCat("input X must be FP8, got ", DTypeName(x)));
  return ExpectType(scale, DType::kFloat, "input scale");
}

absl::Status ValidateQuantizeInputs(const QuantizeAttrs& a, const TensorDesc& x,
                                    const std::optional<TensorDesc>& scale) {
  if (auto s = ValidateQuantizeTypes(x.type, scale ? std::optional<DType>(scale->type) : std::nullopt); !s.ok()) {
    return s;
  }
  if (x.shape.empty()) return absl::InvalidArgumentError("input X must have rank >= 1, got a scalar");
  if (auto s = CheckDims(x, "input X"); !s.ok()) return s;
  if (scale && scale->NumElements() != 1) {
    const auto want = QuantizeScaleShape(x.shape, a.block_size);
    if (scale->shape != want) {
      return absl::InvalidArgumentError(absl::StrCat("input scale has shape ", ShapeStr(scale->shape),
                                                     "; expected one element or ", ShapeStr(want)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateGemmInputs(const GemmAttrs& a, const TensorDesc& A,
                                const std::optional<TensorDesc>& a_scale, const TensorDesc& b,
                                const TensorDesc& b_scale, const std::optional<TensorDesc>& bias) {
  if (auto s = ValidateGemmTypes(a, A.type, a_scale ? std::optional<DType>(a_scale->type) : std::nullopt, b.type,
                                 b_scale.type, bias ? std::optional<DType>(bias->type) : std::nullopt);
      !s.ok()) {
    return s;
  }
  if (A.shape.empty()) return absl::InvalidArgumentError("input A must have rank >= 1, got a scalar");
  if (auto s = CheckDims(A, "input A"); !s.ok()) return s;
  if (b.shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat("input B must be 2-D [N, K], got ", ShapeStr(b.shape)));
  }
  if (auto s = CheckDims(b, "input B"); !s.ok()) return s;
  const int64_t k = A.shape.back(), n = b.shape[0];
  if (b.shape[1] != k) {
    return absl::InvalidArgumentError(absl::StrCat("K mismatch: A is ", ShapeStr(A.shape), " (K=", k, ") but B is ",
                                                   ShapeStr(b.shape), " (K=", b.shape[1], ")"));
  }
  const std::vector<int64_t> want_b_scale = {NumBlocks(n, a.block_n), NumBlocks(k, a.block_k)};
  if (b_scale.shape != want_b_scale && !(b_scale.NumElements() == 1 && a.block_n == 0 && a.block_k == 0)) {
    return absl::InvalidArgumentError(absl::StrCat("input B_scale has shape ", ShapeStr(b_scale.shape), "; expected ",
                                                   ShapeStr(want_b_scale), " for N=", n, ", K=", k,
                                                   ", block_n=", a.block_n, ", block_k=", a.block_k));
  }
  if (a_scale) {
    const auto want = QuantizeScaleShape(A.shape, a.a_block);
    if (a_scale->shape != want) {
      return absl::InvalidArgumentError(absl::StrCat("input A_scale has shape ", ShapeStr(a_scale->shape),
                                                     "; expected ", ShapeStr(want), " for a_block=", a.a_block));
    }
  }
  if (bias && bias->shape != std::vector<int64_t>{n}) {
    return absl::InvalidArgumentError(
        absl::StrCat("input bias has shape ", ShapeStr(bias->shape), "; expected [", n, "]"));
  }
  return absl::OkStatus();
}

absl::Status ValidateDequantizeInputs(const DequantizeAttrs& a, const TensorDesc& x, const TensorDesc& scale) {
  if (auto s = ValidateDequantizeTypes(x.type, scale.type); !s.ok()) return s;
  if (auto s = CheckDims(x, "input X"); !s.ok()) return s;
  if (scale.NumElements() == 1) return absl::OkStatus();  // per tensor
  if (a.block_size) {
    if (x.shape.empty()) return absl::InvalidArgumentError("input X must have rank >= 1 for block_size groups");
    const auto want = QuantizeScaleShape(x.shape, *a.block_size);
    if (scale.shape != want) {
      return absl::InvalidArgumentError(
          absl::StrCat("input scale has shape ", ShapeStr(scale.shape), "; expected ", ShapeStr(want)));
    }
    return absl::OkStatus();
  }
  if (x.shape.size() != 2) {
    return absl::InvalidArgumentError(absl::StrCat(
        "input X must be 2-D for block_n/block_k scales (or give block_size), got ", ShapeStr(x.shape)));
  }
  const std::vector<int64_t> want = {NumBlocks(x.shape[0], a.block_n), NumBlocks(x.shape[1], a.block_k)};
  if (scale.shape != want) {
    return absl::InvalidArgumentError(
        absl::StrCat("input scale has shape ", ShapeStr(scale.shape), "; expected ", ShapeStr(want)));
  }
  return absl::OkStatus();
}

}  // namespace fp8ops
