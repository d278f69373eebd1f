// Attribute and input checks shared by the CPU and CUDA kernels, so both backends reject the same
// inputs with the same words. Messages name the problem; the plugin layer prefixes the node.
#ifndef FP8OPS_OPS_COMMON_OP_VALIDATION_H_
#define FP8OPS_OPS_COMMON_OP_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "fp8ops/dtype.h"

namespace fp8ops {

// Named input/output indices (docs/OPERATORS.md).
namespace quantize_io {
constexpr int kX = 0, kScale = 1;
constexpr int kY = 0, kYScale = 1;
}  // namespace quantize_io
namespace gemm_io {
constexpr int kA = 0, kAScale = 1, kB = 2, kBScale = 3, kBias = 4;
constexpr int kY = 0;
}  // namespace gemm_io
namespace dequantize_io {
constexpr int kX = 0, kScale = 1;
constexpr int kY = 0;
}  // namespace dequantize_io

// Type and shape of one input as the kernel sees it; nullopt for an absent optional input.
struct TensorDesc {
  DType type = DType::kUndefined;
  std::vector<int64_t> shape;
  int64_t NumElements() const;
};

struct QuantizeAttrs {
  int64_t block_size = 128;
  int64_t fp8_type = 17;
  int64_t saturate = 1;
  int64_t scale_pow2 = 0;
};
struct GemmAttrs {
  int64_t block_n = 128;
  int64_t block_k = 128;
  int64_t a_block = 128;
  int64_t out_type = 1;
  // 17 / 19: A (float, float16 or bfloat16) is quantized inside the op as QuantizeFP8 would
  // (block_size = a_block, saturate = 1, scale_pow2 = 0), then the W8A8 product. 0: A as given.
  int64_t a_quant_type = 0;
};
struct DequantizeAttrs {
  std::optional<int64_t> block_size;  // set: last-axis groups; unset: 2-D blocks
  int64_t block_n = 128;
  int64_t block_k = 128;
  int64_t out_type = 1;
};

absl::Status ValidateQuantizeAttrs(const QuantizeAttrs& a);
absl::Status ValidateGemmAttrs(const GemmAttrs& a);
absl::Status ValidateDequantizeAttrs(const DequantizeAttrs& a);

// Checks element types only (known when the kernel is created).
absl::Status ValidateQuantizeTypes(DType x, std::optional<DType> scale);
absl::Status ValidateGemmTypes(const GemmAttrs& a, DType a_type, std::optional<DType> a_scale,
                               DType b, DType b_scale, std::optional<DType> bias);
absl::Status ValidateDequantizeTypes(DType x, DType scale);

// Full checks of one call. `scale`/`a_scale`/`bias` are nullopt when absent.
absl::Status ValidateQuantizeInputs(const QuantizeAttrs& a, const TensorDesc& x,
                                    const std::optional<TensorDesc>& scale);
absl::Status ValidateGemmInputs(const GemmAttrs& a, const TensorDesc& A,
                                const std::optional<TensorDesc>& a_scale, const TensorDesc& b,
                                const TensorDesc& b_scale, const std::optional<TensorDesc>& bias);
absl::Status ValidateDequantizeInputs(const DequantizeAttrs& a, const TensorDesc& x,
                                      const TensorDesc& scale);

// Values of a static scale input (QuantizeFP8's `scale`): each must be finite and > 0. Read on
// the host by both backends (the CUDA kernel takes `scale` in CPU memory).
absl::Status ValidateStaticScaleValues(const float* s, int64_t n, const char* name);

// Shape of QuantizeFP8's Y_scale for X of shape x_shape.
std::vector<int64_t> QuantizeScaleShape(const std::vector<int64_t>& x_shape, int64_t block_size);

}  // namespace fp8ops

#endif  // FP8OPS_OPS_COMMON_OP_VALIDATION_H_
