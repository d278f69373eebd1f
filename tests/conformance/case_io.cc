#include "tests/conformance/case_io.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>

#include "absl/strings/str_cat.h"

namespace fp8ops::conformance {
namespace fs = std::filesystem;

absl::StatusOr<HostTensor> FromTensorProto(const onnx::TensorProto& t) {
  HostTensor h;
  h.elem_type = t.data_type();
  for (int64_t d : t.dims()) h.shape.push_back(d);
  const int esize = HostTensor::ElementSize(h.elem_type);
  if (esize == 0) {
    return absl::UnimplementedError(
        absl::StrCat("tensor '", t.name(), "': element type ", h.elem_type));
  }
  if (t.data_location() == onnx::TensorProto::EXTERNAL) {
    return absl::UnimplementedError(absl::StrCat("tensor '", t.name(), "': external data"));
  }
  const int64_t n = h.NumElements();
  if (n < 0)
    return absl::InvalidArgumentError(absl::StrCat("tensor '", t.name(), "': negative dimension"));
  h.bytes.resize(static_cast<size_t>(n) * esize);
  auto size_error = [&](int64_t got) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor '", t.name(), "': ", got, " values stored for ", n, " elements"));
  };
  if (t.has_raw_data()) {
    if (t.raw_data().size() != h.bytes.size())
      return size_error(static_cast<int64_t>(t.raw_data().size()) / esize);
    if (!h.bytes.empty()) std::memcpy(h.bytes.data(), t.raw_data().data(), h.bytes.size());
    return h;
  }
  switch (h.elem_type) {
    case 1:
      if (t.float_data_size() != n) return size_error(t.float_data_size());
      if (n > 0) std::memcpy(h.bytes.data(), t.float_data().data(), h.bytes.size());
      return h;
    case 10:
    case 16:
    case 17:
    case 19:
      // float16 / bfloat16 / FP8 bit patterns are stored one per int32.
      if (t.int32_data_size() != n) return size_error(t.int32_data_size());
      for (int64_t i = 0; i < n; ++i) {
        const auto v = static_cast<uint32_t>(t.int32_data(static_cast<int>(i)));
        if (esize == 2) {
          const auto b = static_cast<uint16_t>(v);
          std::memcpy(h.bytes.data() + 2 * i, &b, 2);
        } else {
          h.bytes[static_cast<size_t>(i)] = static_cast<uint8_t>(v);
        }
      }
      return h;
    default:
      if (n == 0) return h;
      return absl::UnimplementedError(
          absl::StrCat("tensor '", t.name(), "': typed storage of element type ", h.elem_type));
  }
}

onnx::TensorProto ToTensorProto(const std::string& name, const HostTensor& t) {
  onnx::TensorProto p;
  p.set_name(name);
  p.set_data_type(t.elem_type);
  for (int64_t d : t.shape) p.add_dims(d);
  p.set_raw_data(std::string(reinterpret_cast<const char*>(t.bytes.data()), t.bytes.size()));
  return p;
}

absl::StatusOr<std::string> ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open '", path, "'"));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return absl::DataLossError(absl::StrCat("cannot read '", path, "'"));
  return ss.str();
}

absl::Status WriteFileBytes(const std::string& path, const std::string& bytes) {
  std::error_code ec;
  const fs::path p(path);
  if (p.has_parent_path()) fs::create_directories(p.parent_path(), ec);
  if (ec)
    return absl::InternalError(
        absl::StrCat("cannot create directory for '", path, "': ", ec.message()));
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write '", path, "'"));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<std::string>> ListCases(const std::string& root) {
  std::error_code ec;
  if (!fs::is_directory(root, ec))
    return absl::NotFoundError(absl::StrCat("'", root, "' is not a directory"));
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    if (entry.is_directory() && fs::exists(entry.path() / "model.onnx")) {
      names.push_back(entry.path().filename().string());
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("cannot list '", root, "': ", ec.message()));
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

absl::StatusOr<onnx::TensorProto> ReadTensorFile(const std::string& path) {
  auto bytes = ReadFileBytes(path);
  if (!bytes.ok()) return bytes.status();
  onnx::TensorProto t;
  if (!t.ParseFromString(*bytes))
    return absl::DataLossError(absl::StrCat("'", path, "' is not a TensorProto"));
  return t;
}

// Reads <prefix>_0.pb, <prefix>_1.pb, ... while they exist.
absl::Status ReadTensorSeries(const fs::path& dir, const std::string& prefix,
                              const std::vector<std::string>& graph_names,
                              std::vector<NamedTensor>* out) {
  for (size_t i = 0;; ++i) {
    const fs::path p = dir / absl::StrCat(prefix, "_", i, ".pb");
    if (!fs::exists(p)) break;
    auto t = ReadTensorFile(p.string());
    if (!t.ok()) return t.status();
    auto h = FromTensorProto(*t);
    if (!h.ok())
      return absl::Status(h.status().code(), absl::StrCat(p.string(), ": ", h.status().message()));
    // The node-test layout names each tensor after the graph's value; fall back to the order.
    std::string name = t->name();
    if (name.empty() && i < graph_names.size()) name = graph_names[i];
    out->emplace_back(name, *std::move(h));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<CaseData> LoadCase(const std::string& dir) {
  CaseData c;
  c.dir = dir;
  c.name = fs::path(dir).filename().string();
  auto bytes = ReadFileBytes((fs::path(dir) / "model.onnx").string());
  if (!bytes.ok()) return bytes.status();
  if (!c.model.ParseFromString(*bytes))
    return absl::DataLossError(absl::StrCat(dir, "/model.onnx is not a ModelProto"));

  std::vector<std::string> inputs, outputs;
  std::vector<std::string> initializers;
  for (const auto& init : c.model.graph().initializer()) initializers.push_back(init.name());
  for (const auto& vi : c.model.graph().input()) {
    if (std::find(initializers.begin(), initializers.end(), vi.name()) == initializers.end()) {
      inputs.push_back(vi.name());
    }
  }
  for (const auto& vi : c.model.graph().output()) outputs.push_back(vi.name());

  const fs::path data = fs::path(dir) / "test_data_set_0";
  if (auto s = ReadTensorSeries(data, "input", inputs, &c.inputs); !s.ok()) return s;
  if (auto s = ReadTensorSeries(data, "output", outputs, &c.outputs); !s.ok()) return s;
  if (c.inputs.size() != inputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        data.string(), ": ", c.inputs.size(), " input files for ", inputs.size(), " graph inputs"));
  }
  if (c.outputs.size() != outputs.size()) {
    return absl::InvalidArgumentError(absl::StrCat(data.string(), ": ", c.outputs.size(),
                                                   " output files for ", outputs.size(),
                                                   " graph outputs"));
  }
  return c;
}

absl::Status WriteCase(const std::string& root, const std::string& name,
                       const onnx::ModelProto& model, const std::vector<onnx::TensorProto>& inputs,
                       const std::vector<onnx::TensorProto>& outputs) {
  const fs::path dir = fs::path(root) / name;
  std::error_code ec;
  fs::remove_all(dir, ec);
  if (ec)
    return absl::InternalError(absl::StrCat("cannot remove '", dir.string(), "': ", ec.message()));
  std::string bytes;
  if (!model.SerializeToString(&bytes))
    return absl::InternalError("cannot serialize the model of " + name);
  if (auto s = WriteFileBytes((dir / "model.onnx").string(), bytes); !s.ok()) return s;
  const fs::path data = dir / "test_data_set_0";
  for (size_t i = 0; i < inputs.size(); ++i) {
    inputs[i].SerializeToString(&bytes);
    if (auto s = WriteFileBytes((data / absl::StrCat("input_", i, ".pb")).string(), bytes); !s.ok())
      return s;
  }
  for (size_t i = 0; i < outputs.size(); ++i) {
    outputs[i].SerializeToString(&bytes);
    if (auto s = WriteFileBytes((data / absl::StrCat("output_", i, ".pb")).string(), bytes);
        !s.ok())
      return s;
  }
  return absl::OkStatus();
}

}  // namespace fp8ops::conformance
