// Reading and writing conformance cases in the ONNX node-test layout:
//   <case>/model.onnx
//   <case>/test_data_set_0/input_<i>.pb    serialized onnx.TensorProto, named after graph input i
//   <case>/test_data_set_0/output_<i>.pb   serialized onnx.TensorProto, named after graph output i
// Used by the runner and by the generator (tests/conformance/generator/).
#ifndef FP8OPS_TESTS_CONFORMANCE_CASE_IO_H_
#define FP8OPS_TESTS_CONFORMANCE_CASE_IO_H_

#include <onnx/onnx_pb.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "host/ort_session.h"

namespace fp8ops::conformance {

using host::HostTensor;
using NamedTensor = std::pair<std::string, HostTensor>;

// One case as stored on disk.
struct CaseData {
  std::string name;  // directory name
  std::string dir;   // directory path
  onnx::ModelProto model;
  std::vector<NamedTensor> inputs;   // in graph input order
  std::vector<NamedTensor> outputs;  // expected, in graph output order
};

// TensorProto <-> HostTensor. Reads raw_data or the typed fields (float_data for float,
// int32_data for float16 / bfloat16 / FP8 bit patterns); external data is not supported.
absl::StatusOr<HostTensor> FromTensorProto(const onnx::TensorProto& t);
// Writes raw_data (little-endian, as every ONNX tool does).
onnx::TensorProto ToTensorProto(const std::string& name, const HostTensor& t);

absl::StatusOr<std::string> ReadFileBytes(const std::string& path);
// Writes the whole file (creating parent directories).
absl::Status WriteFileBytes(const std::string& path, const std::string& bytes);

// Sorted names of the subdirectories of `root` that hold a model.onnx.
absl::StatusOr<std::vector<std::string>> ListCases(const std::string& root);

// Loads model.onnx and test_data_set_0 of the case in `dir`.
absl::StatusOr<CaseData> LoadCase(const std::string& dir);

// Writes a case (model + test_data_set_0) into root/name, replacing what was there.
absl::Status WriteCase(const std::string& root, const std::string& name,
                       const onnx::ModelProto& model, const std::vector<onnx::TensorProto>& inputs,
                       const std::vector<onnx::TensorProto>& outputs);

}  // namespace fp8ops::conformance

#endif  // FP8OPS_TESTS_CONFORMANCE_CASE_IO_H_
