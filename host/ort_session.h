// A small host for ONNX Runtime sessions with the fp8ops plugin registered: used by the tests, the
// conformance runner, the CLI's demo and the whole-session benchmarks. Errors come back as
// absl::Status (ORT exceptions never escape).
#ifndef FP8OPS_HOST_ORT_SESSION_H_
#define FP8OPS_HOST_ORT_SESSION_H_

#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace fp8ops::host {

// A dense tensor on the host: ONNX element type (TensorProto value), shape, raw bytes.
struct HostTensor {
  int32_t elem_type = 1;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t NumElements() const;
  static int ElementSize(int32_t elem_type);  // 0 for unsupported types
  template <typename T>
  const T* data() const {
    return reinterpret_cast<const T*>(bytes.data());
  }
  template <typename T>
  T* mutable_data() {
    return reinterpret_cast<T*>(bytes.data());
  }
  template <typename T>
  static HostTensor From(int32_t elem_type, std::vector<int64_t> shape,
                         const std::vector<T>& values);
};

struct SessionOptions {
  std::string plugin_path;                 // libfp8ops.so (or another implementation); empty = none
  std::string execution_provider = "cpu";  // "cpu" or "cuda"
  int intra_op_threads = 1;                // 0 = ORT default
  bool optimize = true;                    // ORT graph optimizations (ORT_ENABLE_ALL) vs basic
  // CUDA provider only: capture the whole run as a CUDA graph (ORT's enable_cuda_graph) and replay
  // it; inputs and outputs then live in device buffers bound once (IoBinding), refilled from and
  // copied back to the host tensors at every Run. Every Run must have the same input shapes.
  bool cuda_graph = false;
  // Non-empty: ONNX Runtime writes the graph it runs (after its optimizations and fusions, for the
  // chosen execution provider) to this path; weights of 1 KiB or more go to `path` + ".data".
  std::string optimized_model_path;
};

// Free and total memory of the current CUDA device (cudaMemGetInfo through a dlopen()ed CUDA
// runtime, so that the host never links CUDA: it must run on machines without a GPU). The first
// call creates the device's primary context, the one ONNX Runtime's CUDA provider uses.
// Unavailable (error) without a CUDA runtime or a GPU.
struct DeviceMemory {
  int64_t free_bytes = 0, total_bytes = 0;
};
absl::StatusOr<DeviceMemory> CudaDeviceMemory();

class Session {
 public:
  ~Session();
  // From a file (external data resolved relative to it) or from serialized bytes.
  static absl::StatusOr<std::unique_ptr<Session>> FromFile(const std::string& path,
                                                           const SessionOptions& o);
  static absl::StatusOr<std::unique_ptr<Session>> FromBytes(const std::string& bytes,
                                                            const SessionOptions& o);

  const std::vector<std::string>& input_names() const { return input_names_; }
  const std::vector<std::string>& output_names() const { return output_names_; }
  // ONNX element types (TensorProto values) the model declares for its inputs and outputs, in the
  // order of the names; 0 for a non-tensor.
  const std::vector<int32_t>& input_types() const { return input_types_; }
  const std::vector<int32_t>& output_types() const { return output_types_; }

  // Runs with the given named inputs (each of the type the model declares for it); returns every
  // graph output in order, each of its own element type.
  absl::StatusOr<std::vector<HostTensor>> Run(
      const std::vector<std::pair<std::string, HostTensor>>& inputs);
  // CUDA graph sessions, after a first Run: runs again on the inputs already in the device buffers
  // and waits for it, without the host copies (inputs and outputs resident on the GPU, as in
  // decoding loops); the outputs stay on the device.
  absl::Status RunResident();

 private:
  struct Impl;
  explicit Session(std::unique_ptr<Impl> impl);
  static absl::StatusOr<std::unique_ptr<Session>> Create(const std::string* path,
                                                         const std::string* bytes,
                                                         const SessionOptions& o);
  std::unique_ptr<Impl> impl_;
  std::vector<std::string> input_names_, output_names_;
  std::vector<int32_t> input_types_, output_types_;
};

template <typename T>
HostTensor HostTensor::From(int32_t elem_type, std::vector<int64_t> shape,
                            const std::vector<T>& values) {
  HostTensor t;
  t.elem_type = elem_type;
  t.shape = std::move(shape);
  t.bytes.resize(values.size() * sizeof(T));
  if (!values.empty()) std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

}  // namespace fp8ops::host

#endif  // FP8OPS_HOST_ORT_SESSION_H_
