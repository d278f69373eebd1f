#include "host/ort_session.h"

#include <onnxruntime_cxx_api.h>

#include <mutex>

#include "absl/strings/str_cat.h"

namespace fp8ops::host {
namespace {

Ort::Env& GlobalEnv() {
  static Ort::Env* env = new Ort::Env(ORT_LOGGING_LEVEL_ERROR, "fp8ops");  // one per process, never freed
  return *env;
}

}  // namespace

int64_t HostTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int HostTensor::ElementSize(int32_t t) {
  switch (t) {
    case 1: case 6: case 12: return 4;              // float, int32, uint32
    case 7: case 11: case 13: return 8;             // int64, double, uint64
    case 10: case 16: case 5: case 4: return 2;     // float16, bfloat16, int16, uint16
    case 2: case 3: case 9: case 17: case 18: case 19: case 20: return 1;
    default: return 0;
  }
}

struct Session::Impl {
  Ort::Session session{nullptr};
  Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

absl::StatusOr<std::unique_ptr<Session>> Session::FromFile(const std::string& path, const SessionOptions& o) {
  return Create(&path, nullptr, o);
}

absl::StatusOr<std::unique_ptr<Session>> Session::FromBytes(const std::string& bytes, const SessionOptions& o) {
  return Create(nullptr, &bytes, o);
}

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const std::string* path, const std::string* bytes,
                                                         const SessionOptions& o) {
  try {
    // NOTE: the Env (and its default logger) must exist before an execution provider is appended:
    // ORT's CUDA provider factory logs through it.
    Ort::Env& env = GlobalEnv();
    Ort::SessionOptions so;
    so.SetIntraOpNumThreads(o.intra_op_threads);
    so.SetGraphOptimizationLevel(o.optimize ? GraphOptimizationLevel::ORT_ENABLE_ALL
                                            : GraphOptimizationLevel::ORT_ENABLE_BASIC);
    if (!o.plugin_path.empty()) so.RegisterCustomOpsLibrary(o.plugin_path.c_str());
    if (o.execution_provider == "cuda") {
      OrtCUDAProviderOptions cuda{};
      so.AppendExecutionProvider_CUDA(cuda);
    } else if (o.execution_provider != "cpu") {
      return absl::InvalidArgumentError(absl::StrCat("unknown execution provider '", o.execution_provider, "'"));
    }
    auto impl = std::make_unique<Impl>();
    if (path != nullptr) {
      impl->session = Ort::Session(env, path->c_str(), so);
    } else {
      impl->session = Ort::Session(env, bytes->data(), bytes->size(), so);
    }
    std::unique_ptr<Session> s(new Session(std::move(impl)));
    Ort::AllocatorWithDefaultOptions alloc;
    for (size_t i = 0; i < s->impl_->session.GetInputCount(); ++i) {
      s->input_names_.push_back(s->impl_->session.GetInputNameAllocated(i, alloc).get());
    }
    for (size_t i = 0; i < s->impl_->session.GetOutputCount(); ++i) {
      s->output_names_.push_back(s->impl_->session.GetOutputNameAllocated(i, alloc).get());
    }
    return s;
  } catch (const Ort::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

absl::StatusOr<std::vector<HostTensor>> Session::Run(
    const std::vector<std::pair<std::string, HostTensor>>& inputs) {
  try {
    std::vector<const char*> in_names, out_names;
    std::vector<Ort::Value> in_values;
    for (const auto& [name, t] : inputs) {
      in_names.push_back(name.c_str());
      in_values.push_back(Ort::Value::CreateTensor(
          impl_->cpu, const_cast<uint8_t*>(t.bytes.data()), t.bytes.size(), t.shape.data(), t.shape.size(),
          static_cast<ONNXTensorElementDataType>(t.elem_type)));
    }
    for (const auto& n : output_names_) out_names.push_back(n.c_str());
    auto outs = impl_->session.Run(Ort::RunOptions{nullptr}, in_names.data(), in_values.data(), in_values.size(),
                                   out_names.data(), out_names.size());
    std::vector<HostTensor> result;
    for (auto& v : outs) {
      auto info = v.GetTensorTypeAndShapeInfo();
      HostTensor t;
      t.elem_type = static_cast<int32_t>(info.GetElementType());
      t.shape = info.GetShape();
      const int esize = HostTensor::ElementSize(t.elem_type);
      if (esize == 0) return absl::UnimplementedError(absl::StrCat("output element type ", t.elem_type));
      t.bytes.resize(static_cast<size_t>(t.NumElements()) * esize);
      if (!t.bytes.empty()) std::memcpy(t.bytes.data(), v.GetTensorRawData(), t.bytes.size());
      result.push_back(std::move(t));
    }
    return result;
  } catch (const Ort::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace fp8ops::host
