#include "fp8ops/dtype.h"

#include <cstring>

namespace fp8ops {

const char* DTypeName(DType t) {
  switch (t) {
    case DType::kFloat:
      return "float";
    case DType::kFloat16:
      return "float16";
    case DType::kBFloat16:
      return "bfloat16";
    case DType::kE4M3FN:
      return "float8e4m3fn";
    case DType::kE5M2:
      return "float8e5m2";
    default:
      break;
  }
  // Other ONNX element types, which the plugin passes through so that type errors can name them.
  switch (static_cast<int32_t>(t)) {
    case 2:
      return "uint8";
    case 3:
      return "int8";
    case 4:
      return "uint16";
    case 5:
      return "int16";
    case 6:
      return "int32";
    case 7:
      return "int64";
    case 8:
      return "string";
    case 9:
      return "bool";
    case 11:
      return "double";
    case 12:
      return "uint32";
    case 13:
      return "uint64";
    case 18:
      return "float8e4m3fnuz";
    case 20:
      return "float8e5m2fnuz";
    default:
      return "unsupported";
  }
}

int OnnxElementSize(int32_t onnx_type) {
  switch (onnx_type) {
    case 2:
    case 3:
    case 9:
    case 17:
    case 18:
    case 19:
    case 20:
      return 1;  // (u)int8, bool, FP8
    case 4:
    case 5:
    case 10:
    case 16:
      return 2;  // (u)int16, float16, bfloat16
    case 1:
    case 6:
    case 12:
      return 4;  // float, (u)int32
    case 7:
    case 11:
    case 13:
    case 14:
      return 8;  // (u)int64, double, complex64
    case 15:
      return 16;  // complex128
    default:
      return 0;
  }
}

void LoadAsFloat(const void* src, DType t, int64_t n, float* dst) {
  if (n <= 0) return;  // empty tensors may come with null pointers
  if (t == DType::kFloat) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  } else if (t == DType::kFloat16) {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = HalfToFloat(s[i]);
  } else {
    const auto* s = static_cast<const uint16_t*>(src);
    for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(s[i]);
  }
}

void StoreFromFloat(const float* src, int64_t n, DType t, void* dst) {
  if (n <= 0) return;
  if (t == DType::kFloat) {
    std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
  } else if (t == DType::kFloat16) {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = FloatToHalf(src[i]);
  } else {
    auto* d = static_cast<uint16_t*>(dst);
    for (int64_t i = 0; i < n; ++i) d[i] = FloatToBf16(src[i]);
  }
}

}  // namespace fp8ops
