// Element types fp8ops handles, with ONNX TensorProto values, and row conversions to and from
// float32 (the compute type of every reference kernel).
#ifndef FP8OPS_DTYPE_H_
#define FP8OPS_DTYPE_H_

#include <cstdint>

#include "fp8ops/float16.h"
#include "fp8ops/fp8.h"

namespace fp8ops {

enum class DType : int32_t {
  kUndefined = 0,
  kFloat = 1,
  kFloat16 = 10,
  kBFloat16 = 16,
  kE4M3FN = 17,
  kE5M2 = 19,
};

inline bool IsFloatDType(DType t) {
  return t == DType::kFloat || t == DType::kFloat16 || t == DType::kBFloat16;
}
inline bool IsFp8DType(DType t) { return t == DType::kE4M3FN || t == DType::kE5M2; }
inline Fp8Format ToFp8Format(DType t) { return static_cast<Fp8Format>(static_cast<int32_t>(t)); }
inline DType ToDType(Fp8Format f) { return static_cast<DType>(static_cast<int32_t>(f)); }
inline int DTypeSize(DType t) {
  return t == DType::kFloat ? 4 : (t == DType::kFloat16 || t == DType::kBFloat16) ? 2 : 1;
}
const char* DTypeName(DType t);
// Bytes per element of an ONNX tensor element type (TensorProto::DataType, the same numbers as
// ONNX Runtime's ONNXTensorElementDataType); 0 for string, 4-bit and unknown types.
int OnnxElementSize(int32_t onnx_type);

// Converts n elements of type t (float, float16 or bfloat16) to float32.
void LoadAsFloat(const void* src, DType t, int64_t n, float* dst);
// Rounds n float32 values once to type t (float, float16 or bfloat16).
void StoreFromFloat(const float* src, int64_t n, DType t, void* dst);

}  // namespace fp8ops

#endif  // FP8OPS_DTYPE_H_
