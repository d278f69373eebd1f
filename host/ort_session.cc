#include "host/ort_session.h"

#include <dlfcn.h>
#include <onnxruntime_cxx_api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <unordered_map>

#include "absl/strings/str_cat.h"
#include "fp8ops/dtype.h"

namespace fp8ops::host {
namespace {

// FP8OPS_HOST_TRACE=1: steps of session creation and CUDA-graph runs on stderr (diagnostics on
// machines without a debugger).
void Trace(const char* what) {
  static const bool on = [] {
    const char* v = std::getenv("FP8OPS_HOST_TRACE");
    return v != nullptr && std::strcmp(v, "1") == 0;
  }();
  if (on) std::fprintf(stderr, "fp8ops host: %s\n", what);
}

Ort::Env& GlobalEnv() {
  static Ort::Env* env =
      new Ort::Env(ORT_LOGGING_LEVEL_ERROR, "fp8ops");  // one per process, never freed
  return *env;
}

// ORT's CUDA provider library registered once as an execution-provider library, and its device
// 0 entry. The library is looked for beside libonnxruntime.so (FP8OPS_ORT_CUDA_PROVIDER: its path).
absl::StatusOr<std::vector<Ort::ConstEpDevice>> CudaEpDevices(Ort::Env& env) {
  static std::mutex mu;
  static bool registered = false;
  std::lock_guard<std::mutex> lock(mu);
  if (!registered) {
    std::string path;
    if (const char* p = std::getenv("FP8OPS_ORT_CUDA_PROVIDER"); p != nullptr && *p != '\0') {
      path = p;
    } else {
      Dl_info info{};
      if (dladdr(reinterpret_cast<const void*>(&OrtGetApiBase), &info) == 0 ||
          info.dli_fname == nullptr) {
        return absl::NotFoundError(
            "cannot locate libonnxruntime.so (set FP8OPS_ORT_CUDA_PROVIDER)");
      }
      path = info.dli_fname;
      path = path.substr(0, path.rfind('/') + 1) + "libonnxruntime_providers_cuda.so";
    }
    Trace(("registering " + path).c_str());
    env.RegisterExecutionProviderLibrary("fp8ops_cuda", path);
    registered = true;
  }
  std::vector<Ort::ConstEpDevice> out;
  for (const auto& d : env.GetEpDevices()) {
    Trace((std::string("EP device: ") + d.EpName()).c_str());
    if (std::string(d.EpName()) == "CUDAExecutionProvider") {
      out.push_back(d);
      break;  // device 0
    }
  }
  if (out.empty()) return absl::NotFoundError("the CUDA provider library offers no CUDA device");
  return out;
}

// The few CUDA runtime entry points the host uses, from a dlopen()ed libcudart (never linked).
struct CudaRt {
  int (*mem_get_info)(size_t*, size_t*) = nullptr;
  int (*memcpy)(void*, const void*, size_t, int) = nullptr;  // kind: 1 H2D, 2 D2H
};
const CudaRt& Rt() {
  static const CudaRt rt = [] {
    CudaRt r;
    for (const char* name : {"libcudart.so.13", "libcudart.so.12", "libcudart.so"}) {
      if (void* h = dlopen(name, RTLD_NOW | RTLD_GLOBAL); h != nullptr) {
        r.mem_get_info = reinterpret_cast<int (*)(size_t*, size_t*)>(dlsym(h, "cudaMemGetInfo"));
        r.memcpy =
            reinterpret_cast<int (*)(void*, const void*, size_t, int)>(dlsym(h, "cudaMemcpy"));
        break;
      }
    }
    return r;
  }();
  return rt;
}

// A session output as a HostTensor: its bytes copied from host memory, or from the device with
// cudaMemcpy (on_device: outputs bound on the GPU for CUDA graphs).
absl::StatusOr<HostTensor> ToHost(const Ort::Value& v, bool on_device) {
  auto info = v.GetTensorTypeAndShapeInfo();
  HostTensor t;
  t.elem_type = static_cast<int32_t>(info.GetElementType());
  t.shape = info.GetShape();
  const int esize = HostTensor::ElementSize(t.elem_type);
  if (esize == 0)
    return absl::UnimplementedError(absl::StrCat("output element type ", t.elem_type));
  t.bytes.resize(static_cast<size_t>(t.NumElements()) * esize);
  if (t.bytes.empty()) return t;
  if (!on_device) {
    std::memcpy(t.bytes.data(), v.GetTensorRawData(), t.bytes.size());
  } else if (int e = Rt().memcpy(t.bytes.data(), v.GetTensorRawData(), t.bytes.size(), 2); e != 0) {
    return absl::InternalError(absl::StrCat("cudaMemcpy (output): error ", e));
  }
  return t;
}

}  // namespace

absl::StatusOr<DeviceMemory> CudaDeviceMemory() {
  if (Rt().mem_get_info == nullptr)
    return absl::UnavailableError("no CUDA runtime (libcudart) found");
  size_t free_b = 0, total_b = 0;
  if (int e = Rt().mem_get_info(&free_b, &total_b); e != 0) {
    return absl::UnavailableError(absl::StrCat("cudaMemGetInfo: error ", e));
  }
  return DeviceMemory{static_cast<int64_t>(free_b), static_cast<int64_t>(total_b)};
}

int64_t HostTensor::NumElements() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int HostTensor::ElementSize(int32_t t) { return OnnxElementSize(t); }

struct Session::Impl {
  Ort::Session session{nullptr};
  Ort::MemoryInfo cpu = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  // CUDA graph mode: device buffers bound once; outputs bound after the first run (ORT allocates
  // them then; the same buffers serve every later run, as graph replay requires).
  bool cuda_graph = false;
  Ort::IoBinding binding{nullptr};
  Ort::Allocator device_alloc{nullptr};  // owns device_inputs' memory: must outlive them
  std::vector<Ort::Value> device_inputs, device_outputs;
  std::vector<std::vector<int64_t>> input_shapes;

  absl::StatusOr<std::vector<HostTensor>> RunGraph(
      const std::vector<std::string>& output_names,
      const std::vector<std::pair<std::string, HostTensor>>& inputs);
};

Session::Session(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Session::~Session() = default;

absl::StatusOr<std::unique_ptr<Session>> Session::FromFile(const std::string& path,
                                                           const SessionOptions& o) {
  return Create(&path, nullptr, o);
}

absl::StatusOr<std::unique_ptr<Session>> Session::FromBytes(const std::string& bytes,
                                                            const SessionOptions& o) {
  return Create(nullptr, &bytes, o);
}

absl::StatusOr<std::unique_ptr<Session>> Session::Create(const std::string* path,
                                                         const std::string* bytes,
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
    if (!o.optimized_model_path.empty()) {
      so.SetOptimizedModelFilePath(o.optimized_model_path.c_str());
      // NOTE: the weights go to a data file beside it: an LLM's would pass protobuf's 2 GB limit.
      const std::string data = o.optimized_model_path + ".data";
      so.AddConfigEntry("session.optimized_model_external_initializers_file_name",
                        data.substr(data.rfind('/') + 1).c_str());
      so.AddConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
    }
    if (o.execution_provider == "cuda" && o.cuda_graph) {
      // NOTE: enable_cuda_graph exists only in the V2 options, which a CPU build of the ORT core
      // library cannot create ("not enabled in this build"); the CUDA provider library is loaded
      // as an execution-provider library instead (its CreateEpFactories), which takes them.
      auto devices = CudaEpDevices(env);
      if (!devices.ok()) return devices.status();
      Trace("appending the CUDA EP (V2 options, enable_cuda_graph)");
      so.AddConfigEntry("session.use_device_allocator_for_initializers", "1");
      so.AppendExecutionProvider_V2(
          env, *devices,
          std::unordered_map<std::string, std::string>{
              {"enable_cuda_graph", "1"}, {"arena_extend_strategy", "kSameAsRequested"}});
    } else if (o.execution_provider == "cuda") {
      OrtCUDAProviderOptions cuda{};
      // NOTE: arena growth by request size and initializers from the plain device allocator, so
      // that the device memory a session holds is what it needs (the default power-of-two arena
      // growth would hide the weight bytes that FP8 saves behind rounding).
      cuda.arena_extend_strategy = 1;  // kSameAsRequested
      so.AddConfigEntry("session.use_device_allocator_for_initializers", "1");
      so.AppendExecutionProvider_CUDA(cuda);
    } else if (o.execution_provider != "cpu") {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown execution provider '", o.execution_provider, "'"));
    }
    auto impl = std::make_unique<Impl>();
    Trace("creating the session");
    if (path != nullptr) {
      impl->session = Ort::Session(env, path->c_str(), so);
    } else {
      impl->session = Ort::Session(env, bytes->data(), bytes->size(), so);
    }
    impl->cuda_graph = o.execution_provider == "cuda" && o.cuda_graph;
    std::unique_ptr<Session> s(new Session(std::move(impl)));
    Ort::AllocatorWithDefaultOptions alloc;
    auto elem_type = [](const Ort::TypeInfo& info) -> int32_t {
      return info.GetONNXType() == ONNX_TYPE_TENSOR
                 ? static_cast<int32_t>(info.GetTensorTypeAndShapeInfo().GetElementType())
                 : 0;
    };
    Ort::Session& session = s->impl_->session;
    for (size_t i = 0; i < session.GetInputCount(); ++i) {
      s->input_names_.push_back(session.GetInputNameAllocated(i, alloc).get());
      s->input_types_.push_back(elem_type(session.GetInputTypeInfo(i)));
    }
    for (size_t i = 0; i < session.GetOutputCount(); ++i) {
      s->output_names_.push_back(session.GetOutputNameAllocated(i, alloc).get());
      s->output_types_.push_back(elem_type(session.GetOutputTypeInfo(i)));
    }
    return s;
  } catch (const Ort::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

absl::StatusOr<std::vector<HostTensor>> Session::Impl::RunGraph(
    const std::vector<std::string>& output_names,
    const std::vector<std::pair<std::string, HostTensor>>& inputs) {
  if (Rt().memcpy == nullptr) return absl::UnavailableError("no CUDA runtime (libcudart) found");
  const bool first = device_inputs.empty();
  if (first) {
    Trace("binding device inputs");
    binding = Ort::IoBinding(session);
    Ort::MemoryInfo cuda("Cuda", OrtDeviceAllocator, 0, OrtMemTypeDefault);
    device_alloc = Ort::Allocator(session, cuda);
    for (const auto& [name, t] : inputs) {
      device_inputs.push_back(
          Ort::Value::CreateTensor(device_alloc, t.shape.data(), t.shape.size(),
                                   static_cast<ONNXTensorElementDataType>(t.elem_type)));
      input_shapes.push_back(t.shape);
      binding.BindInput(name.c_str(), device_inputs.back());
    }
    for (const auto& n : output_names) binding.BindOutput(n.c_str(), cuda);
  }
  if (inputs.size() != device_inputs.size())
    return absl::InvalidArgumentError("CUDA graph runs need the same inputs");
  for (size_t i = 0; i < inputs.size(); ++i) {
    const HostTensor& t = inputs[i].second;
    if (t.shape != input_shapes[i])
      return absl::InvalidArgumentError("CUDA graph runs need the same input shapes");
    if (!t.bytes.empty()) {
      if (int e = Rt().memcpy(device_inputs[i].GetTensorMutableRawData(), t.bytes.data(),
                              t.bytes.size(), 1);
          e != 0) {
        return absl::InternalError(absl::StrCat("cudaMemcpy (input): error ", e));
      }
    }
  }
  Trace("run");
  session.Run(Ort::RunOptions{nullptr}, binding);
  binding.SynchronizeOutputs();
  Trace("run done");
  if (first) {  // keep ORT's output buffers and bind them for every later run
    device_outputs = binding.GetOutputValues();
    binding.ClearBoundOutputs();
    for (size_t i = 0; i < output_names.size(); ++i)
      binding.BindOutput(output_names[i].c_str(), device_outputs[i]);
  }
  std::vector<HostTensor> result;
  for (const auto& v : device_outputs) {
    auto t = ToHost(v, /*on_device=*/true);
    if (!t.ok()) return t.status();
    result.push_back(*std::move(t));
  }
  return result;
}

absl::Status Session::RunResident() {
  if (!impl_->cuda_graph || impl_->device_outputs.empty()) {
    return absl::FailedPreconditionError(
        "RunResident needs a CUDA graph session after a first Run");
  }
  try {
    impl_->session.Run(Ort::RunOptions{nullptr}, impl_->binding);
    impl_->binding.SynchronizeOutputs();
    return absl::OkStatus();
  } catch (const Ort::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

absl::StatusOr<std::vector<HostTensor>> Session::Run(
    const std::vector<std::pair<std::string, HostTensor>>& inputs) {
  // The element types must be the model's (a float32 tensor handed to a float16 input would be
  // read as the wrong bytes on the CUDA graph path): say which input differs.
  for (const auto& [name, t] : inputs) {
    const int esize = HostTensor::ElementSize(t.elem_type);
    if (esize != 0 && static_cast<int64_t>(t.bytes.size()) != t.NumElements() * esize) {
      return absl::InvalidArgumentError(
          absl::StrCat("input '", name, "': ", t.bytes.size(), " bytes for its shape and type"));
    }
    for (size_t i = 0; i < input_names_.size(); ++i) {
      if (input_names_[i] == name && input_types_[i] != 0 && input_types_[i] != t.elem_type) {
        return absl::InvalidArgumentError(absl::StrCat("input '", name, "' has element type ",
                                                       t.elem_type, ", the model declares ",
                                                       input_types_[i]));
      }
    }
  }
  try {
    if (impl_->cuda_graph) return impl_->RunGraph(output_names_, inputs);
    std::vector<const char*> in_names, out_names;
    std::vector<Ort::Value> in_values;
    for (const auto& [name, t] : inputs) {
      in_names.push_back(name.c_str());
      in_values.push_back(Ort::Value::CreateTensor(
          impl_->cpu, const_cast<uint8_t*>(t.bytes.data()), t.bytes.size(), t.shape.data(),
          t.shape.size(), static_cast<ONNXTensorElementDataType>(t.elem_type)));
    }
    for (const auto& n : output_names_) out_names.push_back(n.c_str());
    auto outs = impl_->session.Run(Ort::RunOptions{nullptr}, in_names.data(), in_values.data(),
                                   in_values.size(), out_names.data(), out_names.size());
    std::vector<HostTensor> result;
    for (const auto& v : outs) {
      auto t = ToHost(v, /*on_device=*/false);
      if (!t.ok()) return t.status();
      result.push_back(*std::move(t));
    }
    return result;
  } catch (const Ort::Exception& e) {
    return absl::InvalidArgumentError(e.what());
  } catch (const std::exception& e) {
    return absl::InternalError(e.what());
  }
}

}  // namespace fp8ops::host
