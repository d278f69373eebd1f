#include "ops/plugin/ort_glue.h"

#include "absl/strings/str_cat.h"

namespace fp8ops::plugin {
namespace {

const OrtApi* g_api = nullptr;

// Releases ORT type-info objects at scope exit.
struct TypeInfoPtr {
  OrtTypeInfo* p = nullptr;
  ~TypeInfoPtr() {
    if (p != nullptr) g_api->ReleaseTypeInfo(p);
  }
};
struct TensorInfoPtr {
  OrtTensorTypeAndShapeInfo* p = nullptr;
  ~TensorInfoPtr() {
    if (p != nullptr) g_api->ReleaseTensorTypeAndShapeInfo(p);
  }
};

DType FromOrtType(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return DType::kFloat;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return DType::kFloat16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BFLOAT16: return DType::kBFloat16;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E4M3FN: return DType::kE4M3FN;
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT8E5M2: return DType::kE5M2;
    // NOTE: other types keep their ONNX value (ORT's enum has the same numbers): validation
    // rejects them, and DTypeName names them ("int32") in the error.
    default: return static_cast<DType>(t);
  }
}

absl::StatusOr<TensorDesc> DescFromInfo(const OrtTensorTypeAndShapeInfo* info) {
  TensorDesc d;
  ONNXTensorElementDataType t;
  if (auto s = FromOrt(g_api->GetTensorElementType(info, &t)); !s.ok()) return s;
  d.type = FromOrtType(t);
  size_t rank = 0;
  if (auto s = FromOrt(g_api->GetDimensionsCount(info, &rank)); !s.ok()) return s;
  d.shape.resize(rank);
  if (auto s = FromOrt(g_api->GetDimensions(info, d.shape.data(), rank)); !s.ok()) return s;
  return d;
}

}  // namespace

const OrtApi& Api() { return *g_api; }
void SetApi(const OrtApi* api) { g_api = api; }

absl::Status FromOrt(OrtStatus* s) {
  if (s == nullptr) return absl::OkStatus();
  std::string msg = g_api->GetErrorMessage(s);
  g_api->ReleaseStatus(s);
  return absl::InternalError(msg);
}

OrtStatus* ToOrt(const absl::Status& s, const char* op, const std::string& node) {
  if (s.ok()) return nullptr;
  const OrtErrorCode code =
      s.code() == absl::StatusCode::kInvalidArgument ? ORT_INVALID_ARGUMENT : ORT_FAIL;
  const std::string msg = absl::StrCat("fp8ops ", op, " node '", node, "': ", s.message());
  return g_api->CreateStatus(code, msg.c_str());
}

std::string KernelNodeName(const OrtKernelInfo* info) {
  size_t size = 0;
  if (OrtStatus* s = g_api->KernelInfo_GetNodeName(info, nullptr, &size)) {
    g_api->ReleaseStatus(s);
    return "?";
  }
  std::string name(size, '\0');
  if (OrtStatus* s = g_api->KernelInfo_GetNodeName(info, name.data(), &size)) {
    g_api->ReleaseStatus(s);
    return "?";
  }
  if (!name.empty() && name.back() == '\0') name.pop_back();
  return name;
}

absl::StatusOr<std::optional<int64_t>> OptionalIntAttr(const OrtKernelInfo* info, const char* name) {
  int64_t v = 0;
  if (OrtStatus* s = g_api->KernelInfoGetAttribute_int64(info, name, &v)) {
    g_api->ReleaseStatus(s);
    // Missing, or present with another type: tell the two apart.
    float f;
    if (OrtStatus* sf = g_api->KernelInfoGetAttribute_float(info, name, &f)) {
      g_api->ReleaseStatus(sf);
      size_t size = 0;
      OrtStatus* ss = g_api->KernelInfoGetAttribute_string(info, name, nullptr, &size);
      if (ss != nullptr) {
        g_api->ReleaseStatus(ss);
        return std::nullopt;
      }
    }
    return absl::InvalidArgumentError(absl::StrCat("attribute ", name, " must be an int"));
  }
  return v;
}

absl::StatusOr<int64_t> IntAttr(const OrtKernelInfo* info, const char* name, int64_t fallback) {
  auto v = OptionalIntAttr(info, name);
  if (!v.ok()) return v.status();
  return v->value_or(fallback);
}

absl::StatusOr<std::optional<DType>> KernelInputType(const OrtKernelInfo* info, size_t i) {
  size_t count = 0;
  if (auto s = FromOrt(g_api->KernelInfo_GetInputCount(info, &count)); !s.ok()) return s;
  if (i >= count) return std::nullopt;
  // An optional input left empty ("") is reported with no type info.
  size_t name_size = 0;
  if (auto s = FromOrt(g_api->KernelInfo_GetInputName(info, i, nullptr, &name_size)); !s.ok()) return s;
  if (name_size <= 1) return std::nullopt;
  TypeInfoPtr type_info;
  if (auto s = FromOrt(g_api->KernelInfo_GetInputTypeInfo(info, i, &type_info.p)); !s.ok()) return s;
  const OrtTensorTypeAndShapeInfo* tensor_info = nullptr;
  if (auto s = FromOrt(g_api->CastTypeInfoToTensorInfo(type_info.p, &tensor_info)); !s.ok()) return s;
  if (tensor_info == nullptr) return absl::InvalidArgumentError(absl::StrCat("input ", i, " is not a tensor"));
  ONNXTensorElementDataType t;
  if (auto s = FromOrt(g_api->GetTensorElementType(tensor_info, &t)); !s.ok()) return s;
  return FromOrtType(t);
}

absl::StatusOr<std::optional<InputTensor>> GetInput(OrtKernelContext* ctx, size_t i) {
  size_t count = 0;
  if (auto s = FromOrt(g_api->KernelContext_GetInputCount(ctx, &count)); !s.ok()) return s;
  if (i >= count) return std::nullopt;
  const OrtValue* value = nullptr;
  if (auto s = FromOrt(g_api->KernelContext_GetInput(ctx, i, &value)); !s.ok()) return s;
  if (value == nullptr) return std::nullopt;
  TensorInfoPtr info;
  if (auto s = FromOrt(g_api->GetTensorTypeAndShape(value, &info.p)); !s.ok()) return s;
  auto desc = DescFromInfo(info.p);
  if (!desc.ok()) return desc.status();
  InputTensor t;
  t.desc = *std::move(desc);
  void* data = nullptr;
  if (auto s = FromOrt(g_api->GetTensorMutableData(const_cast<OrtValue*>(value), &data)); !s.ok()) return s;
  t.data = data;
  return t;
}

absl::StatusOr<void*> AllocOutput(OrtKernelContext* ctx, size_t i, const std::vector<int64_t>& shape) {
  OrtValue* value = nullptr;
  if (auto s = FromOrt(g_api->KernelContext_GetOutput(ctx, i, shape.data(), shape.size(), &value)); !s.ok()) {
    return s;
  }
  void* data = nullptr;
  if (auto s = FromOrt(g_api->GetTensorMutableData(value, &data)); !s.ok()) return s;
  return data;
}

}  // namespace fp8ops::plugin
