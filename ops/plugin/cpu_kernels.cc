#include "ops/plugin/cpu_kernels.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "ops/cpu/dispatch.h"
#include "ops/cpu/quantize_fp8.h"
#include "ops/plugin/kernel_setup.h"
#include "ops/plugin/status_macros.h"
#include "ops/reference/reference_kernels.h"

namespace fp8ops::plugin {
namespace {

// Rows of X viewed as [rows, k] with k the last dimension.
int64_t LeadingRows(const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return rows;
}

// Splits [0, total) into about `chunks` contiguous ranges of at least `min_len`.
struct Ranges {
  int64_t total, len, count;
  Ranges(int64_t total_, int64_t min_len) : total(total_) {
    len = std::max<int64_t>(min_len, 1);
    count = total == 0 ? 0 : (total + len - 1) / len;
  }
  int64_t Begin(int64_t i) const { return i * len; }
  int64_t End(int64_t i) const { return std::min(total, (i + 1) * len); }
};

// ONNX Runtime's intra-op pool as the CPU kernels' cpu::ParallelFn.
auto OrtPool(OrtKernelContext* ctx) {
  return [ctx](size_t n, absl::FunctionRef<void(size_t)> task) -> absl::Status {
    auto fn = [&task](size_t i) { task(i); };
    return ParallelFor(ctx, n, fn);
  };
}

// Input i when it is a constant initializer (KernelInfoGetConstantInput_tensor), else nullopt.
absl::StatusOr<std::optional<InputTensor>> ConstantInput(const OrtKernelInfo* info, size_t i) {
  const OrtApi& api = Api();
  int is_constant = 0;
  const OrtValue* value = nullptr;
  if (OrtStatus* s = api.KernelInfoGetConstantInput_tensor(info, i, &is_constant, &value)) {
    api.ReleaseStatus(s);  // e.g. an absent optional input: not constant
    return std::nullopt;
  }
  if (!is_constant || value == nullptr) return std::nullopt;
  OrtTensorTypeAndShapeInfo* shape_info = nullptr;
  if (auto s = FromOrt(api.GetTensorTypeAndShape(value, &shape_info)); !s.ok()) return s;
  InputTensor t;
  size_t rank = 0;
  absl::Status st = FromOrt(api.GetDimensionsCount(shape_info, &rank));
  if (st.ok()) {
    t.desc.shape.resize(rank);
    st = FromOrt(api.GetDimensions(shape_info, t.desc.shape.data(), rank));
  }
  api.ReleaseTensorTypeAndShapeInfo(shape_info);
  if (!st.ok()) return st;
  void* data = nullptr;
  if (auto s = FromOrt(api.GetTensorMutableData(const_cast<OrtValue*>(value), &data)); !s.ok())
    return s;
  t.data = data;
  return t;
}

// B and B_scale as the kernels prepare them; nullopt unless their shapes are valid.
std::optional<cpu::BSource> PrepareSource(const GemmAttrs& attrs, DType b_type,
                                          const InputTensor& b, const InputTensor& b_scale) {
  if (b.desc.shape.size() != 2) return std::nullopt;
  cpu::BSource src;
  src.n = b.desc.shape[0];
  src.k = b.desc.shape[1];
  src.b = static_cast<const uint8_t*>(b.data);
  src.format = ToFp8Format(b_type);
  src.b_scale = static_cast<const float*>(b_scale.data);
  src.b_scale_count = b_scale.desc.NumElements();
  src.block_n = attrs.block_n;
  src.block_k = attrs.block_k;
  src.a_block = attrs.a_block;
  const int64_t want = NumBlocks(src.n, src.block_n) * NumBlocks(src.k, src.block_k);
  const bool per_tensor = attrs.block_n == 0 && attrs.block_k == 0 && src.b_scale_count == 1;
  if (src.b_scale_count != want && !per_tensor) return std::nullopt;
  return src;
}

}  // namespace

// ---------------------------------------------------------------------------------- QuantizeFP8

absl::StatusOr<std::unique_ptr<QuantizeFp8CpuKernel>> QuantizeFp8CpuKernel::Create(
    const OrtKernelInfo* info) {
  auto k = std::make_unique<QuantizeFp8CpuKernel>();
  FP8OPS_ASSIGN_OR_RETURN(attrs, ReadQuantizeKernel(info));
  k->attrs_ = attrs;
  k->isa_ = cpu::ActiveIsa();
  return k;
}

absl::Status QuantizeFp8CpuKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(x, GetInput(ctx, quantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale, GetInput(ctx, quantize_io::kScale));
  if (!x) return absl::InvalidArgumentError("input X is missing");
  std::optional<TensorDesc> scale_desc;
  if (scale) scale_desc = scale->desc;
  FP8OPS_RETURN_IF_ERROR(ValidateQuantizeInputs(attrs_, x->desc, scale_desc));

  reference::QuantizeProblem p;
  p.k = x->desc.shape.back();
  p.rows = LeadingRows(x->desc.shape);
  p.x = x->data;
  p.x_type = x->desc.type;
  p.block_size = attrs_.block_size;
  p.params = {static_cast<Fp8Format>(attrs_.fp8_type), attrs_.saturate != 0,
              attrs_.scale_pow2 != 0};
  if (scale) {
    p.static_scale = static_cast<const float*>(scale->data);
    p.static_scale_count = scale->desc.NumElements();
    FP8OPS_RETURN_IF_ERROR(
        ValidateStaticScaleValues(p.static_scale, p.static_scale_count, "scale"));
  }
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, quantize_io::kY, x->desc.shape));
  FP8OPS_ASSIGN_OR_RETURN(
      y_scale,
      AllocOutput(ctx, quantize_io::kYScale, QuantizeScaleShape(x->desc.shape, attrs_.block_size)));
  p.y = static_cast<uint8_t*>(y);
  p.y_scale = static_cast<float*>(y_scale);

  return cpu::QuantizeFp8Rows(p, isa_, OrtPool(ctx));
}

// -------------------------------------------------------------------------------------- FP8GEMM

absl::StatusOr<std::unique_ptr<Fp8GemmCpuKernel>> Fp8GemmCpuKernel::Create(
    const OrtKernelInfo* info) {
  auto k = std::make_unique<Fp8GemmCpuKernel>();
  FP8OPS_ASSIGN_OR_RETURN(setup, ReadGemmKernel(info));
  k->attrs_ = setup.attrs;
  const DType b_type = setup.b_type;
  k->isa_ = cpu::ActiveIsa();
  // Prepare a constant weight's metadata now (invalid shapes are left for Compute to report). The
  // codes stay in ONNX Runtime's buffer: Compute reads them from its input.
  FP8OPS_ASSIGN_OR_RETURN(b_const, ConstantInput(info, gemm_io::kB));
  FP8OPS_ASSIGN_OR_RETURN(b_scale_const, ConstantInput(info, gemm_io::kBScale));
  if (b_const && b_scale_const) {
    if (auto src = PrepareSource(k->attrs_, b_type, *b_const, *b_scale_const)) {
      k->prepared_b_ = cpu::PrepareB(*src, k->isa_);
    }
  }
  return k;
}

absl::Status Fp8GemmCpuKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(a, GetInput(ctx, gemm_io::kA));
  FP8OPS_ASSIGN_OR_RETURN(a_scale, GetInput(ctx, gemm_io::kAScale));
  FP8OPS_ASSIGN_OR_RETURN(b, GetInput(ctx, gemm_io::kB));
  FP8OPS_ASSIGN_OR_RETURN(b_scale, GetInput(ctx, gemm_io::kBScale));
  FP8OPS_ASSIGN_OR_RETURN(bias, GetInput(ctx, gemm_io::kBias));
  if (!a || !b || !b_scale)
    return absl::InvalidArgumentError("inputs A, B and B_scale are required");
  std::optional<TensorDesc> a_scale_desc, bias_desc;
  if (a_scale) a_scale_desc = a_scale->desc;
  if (bias) bias_desc = bias->desc;
  FP8OPS_RETURN_IF_ERROR(
      ValidateGemmInputs(attrs_, a->desc, a_scale_desc, b->desc, b_scale->desc, bias_desc));

  std::vector<int64_t> y_shape = a->desc.shape;
  y_shape.back() = b->desc.shape[0];
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, gemm_io::kY, y_shape));

  cpu::GemmInput in;
  in.m = LeadingRows(a->desc.shape);
  in.a = a->data;
  in.a_type = a->desc.type;
  in.a_scale = a_scale ? static_cast<const float*>(a_scale->data) : nullptr;
  in.a_block = attrs_.a_block;
  in.quantize_a = attrs_.a_quant_type != 0;
  in.a_quant_format = static_cast<Fp8Format>(attrs_.a_quant_type);
  in.bias = bias ? bias->data : nullptr;
  in.out_type = static_cast<DType>(attrs_.out_type);
  in.y = y;
  const auto parallel = OrtPool(ctx);
  const auto* b_codes = static_cast<const uint8_t*>(b->data);
  if (prepared_b_ != nullptr) return cpu::Fp8Gemm(*prepared_b_, b_codes, in, parallel);
  // B (or B_scale) is computed at run time: prepare it for this call.
  const auto src = PrepareSource(attrs_, b->desc.type, *b, *b_scale);
  if (!src) {
    return absl::InternalError("B / B_scale shapes passed validation but cannot be prepared");
  }
  const auto prepared = cpu::PrepareB(*src, isa_, parallel, /*one_call=*/true);
  return cpu::Fp8Gemm(*prepared, b_codes, in, parallel);
}

// -------------------------------------------------------------------------------- DequantizeFP8

absl::StatusOr<std::unique_ptr<DequantizeFp8CpuKernel>> DequantizeFp8CpuKernel::Create(
    const OrtKernelInfo* info) {
  auto k = std::make_unique<DequantizeFp8CpuKernel>();
  FP8OPS_ASSIGN_OR_RETURN(attrs, ReadDequantizeKernel(info));
  k->attrs_ = attrs;
  return k;
}

absl::Status DequantizeFp8CpuKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(x, GetInput(ctx, dequantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale, GetInput(ctx, dequantize_io::kScale));
  if (!x || !scale) return absl::InvalidArgumentError("inputs X and scale are required");
  FP8OPS_RETURN_IF_ERROR(ValidateDequantizeInputs(attrs_, x->desc, scale->desc));

  reference::DequantizeProblem p;
  p.k = x->desc.shape.empty() ? 1 : x->desc.shape.back();
  p.rows = LeadingRows(x->desc.shape);
  p.x = static_cast<const uint8_t*>(x->data);
  p.format = ToFp8Format(x->desc.type);
  p.scale = static_cast<const float*>(scale->data);
  p.scale_count = scale->desc.NumElements();
  p.last_axis_groups = attrs_.block_size.has_value();
  p.block_size = attrs_.block_size.value_or(0);
  p.block_n = attrs_.block_n;
  p.block_k = attrs_.block_k;
  p.out_type = static_cast<DType>(attrs_.out_type);
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, dequantize_io::kY, x->desc.shape));
  p.y = y;
  const Ranges rows(p.rows, std::max<int64_t>(1, (int64_t{1} << 16) / std::max<int64_t>(1, p.k)));
  auto task = [&](size_t i) { reference::DequantizeFp8(p, rows.Begin(i), rows.End(i)); };
  return ParallelFor(ctx, static_cast<size_t>(rows.count), task);
}

}  // namespace fp8ops::plugin
