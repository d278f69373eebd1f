// Model-file utilities of the demo: what a model holds (weight bytes by kind, node counts) and the
// FP16 copy of an FP32 model that serves as the usual starting point for FP8.
#ifndef FP8OPS_MODELS_DEMO_MODEL_TOOLS_H_
#define FP8OPS_MODELS_DEMO_MODEL_TOOLS_H_

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace fp8ops::demo {

// Parses an ONNX file (external data is not loaded; its byte counts come from the external_data
// entries).
absl::StatusOr<onnx::ModelProto> LoadModel(const std::string& path);

struct ModelSummary {
  int64_t file_bytes = 0;      // the .onnx file plus external data files it names
  int64_t constant_bytes = 0;  // every initializer and Constant-node tensor, all subgraphs included
  int64_t gemm_weight_bytes = 0;  // tensors that are GEMM weights: MatMul/Gemm input B (also behind
                                  // a Cast), FP8GEMM B and B_scale
  std::map<std::string, int>
      op_counts;  // "domain:op" (domain omitted for ONNX) -> count, main graph
};
absl::StatusOr<ModelSummary> Summarize(const std::string& path);

// The FP16 copy: every float32 tensor constant of at least `min_elements` elements (initializers
// and Constant nodes, main graph) is stored as float16. MatMul and Gemm nodes whose weight is such
// a constant compute in float16 (Cast of the activation to float16 before, Cast of the result to
// float32 after), as an FP16-exported transformer does; every other consumer reads the constant
// through a Cast to float32, so the rest of the graph and the model's inputs and outputs keep their
// types. Smaller constants (scalars, epsilons) stay float32. NOTE: ORT CPU folds those Casts at
// session load, so the non-GEMM weights are float32 again at run time: the copy saves file size,
// not run-time memory.
struct Fp16Stats {
  int constants_converted = 0;
  int gemms_in_fp16 = 0;
};
absl::StatusOr<Fp16Stats> ConvertToFp16(onnx::ModelProto& model, int64_t min_elements = 16);
absl::Status ConvertFileToFp16(const std::string& in, const std::string& out,
                               Fp16Stats* stats = nullptr);

}  // namespace fp8ops::demo

#endif  // FP8OPS_MODELS_DEMO_MODEL_TOOLS_H_
