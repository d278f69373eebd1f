// Glue between ONNX Runtime's C API and fp8ops' absl::Status world. Nothing here throws.
#ifndef FP8OPS_OPS_PLUGIN_ORT_GLUE_H_
#define FP8OPS_OPS_PLUGIN_ORT_GLUE_H_

#include <onnxruntime_c_api.h>

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "ops/common/op_validation.h"

namespace fp8ops::plugin {

// The API table ONNX Runtime handed to RegisterCustomOps.
const OrtApi& Api();
void SetApi(const OrtApi* api);

// Converts (and releases) an OrtStatus; nullptr is OK.
absl::Status FromOrt(OrtStatus* s);
// Builds an OrtStatus "fp8ops <op> node '<node>': <message>" (nullptr for OK).
OrtStatus* ToOrt(const absl::Status& s, const char* op, const std::string& node);

std::string KernelNodeName(const OrtKernelInfo* info);

// Integer attribute, or `fallback` when the node does not set it. An attribute of another
// type is an error.
absl::StatusOr<int64_t> IntAttr(const OrtKernelInfo* info, const char* name, int64_t fallback);
absl::StatusOr<std::optional<int64_t>> OptionalIntAttr(const OrtKernelInfo* info, const char* name);

// Element type of input i as declared in the graph; nullopt if the optional input is absent.
absl::StatusOr<std::optional<DType>> KernelInputType(const OrtKernelInfo* info, size_t i);

// An input tensor of one Compute call.
struct InputTensor {
  TensorDesc desc;
  const void* data = nullptr;
};
absl::StatusOr<std::optional<InputTensor>> GetInput(OrtKernelContext* ctx, size_t i);
absl::StatusOr<void*> AllocOutput(OrtKernelContext* ctx, size_t i, const std::vector<int64_t>& shape);

// Runs fn(i) for i in [0, total) on ONNX Runtime's intra-op thread pool.
template <typename Fn>
absl::Status ParallelFor(OrtKernelContext* ctx, size_t total, Fn& fn) {
  if (total == 0) return absl::OkStatus();
  if (total == 1) {
    fn(size_t{0});
    return absl::OkStatus();
  }
  auto trampoline = [](void* data, size_t i) { (*static_cast<Fn*>(data))(i); };
  return FromOrt(Api().KernelContext_ParallelFor(ctx, trampoline, total, 0, &fn));
}

}  // namespace fp8ops::plugin

#endif  // FP8OPS_OPS_PLUGIN_ORT_GLUE_H_
