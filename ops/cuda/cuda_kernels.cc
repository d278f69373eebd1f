#include "ops/cuda/cuda_kernels.h"

#include <cuda_runtime_api.h>

#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "ops/cuda/fp8_gemm_cuda.h"
#include "ops/cuda/launch.h"
#include "ops/plugin/kernel_setup.h"
#include "ops/plugin/ort_glue.h"
#include "ops/plugin/status_macros.h"

namespace fp8ops::cuda {
namespace {

using plugin::AllocOutput;
using plugin::Api;
using plugin::FromOrt;
using plugin::GetInput;
using plugin::ReadDequantizeKernel;
using plugin::ReadGemmKernel;
using plugin::ReadQuantizeKernel;

absl::Status FromGpu(const GpuStatus& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::InternalError(GpuStatusMessage(s));
}
absl::Status FromCuda(cudaError_t e, const char* where) { return FromGpu(CudaStatus(e, where)); }

int64_t LeadingRows(const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t i = 0; i + 1 < shape.size(); ++i) rows *= shape[i];
  return rows;
}

absl::StatusOr<cudaStream_t> ComputeStream(OrtKernelContext* ctx) {
  void* s = nullptr;
  FP8OPS_RETURN_IF_ERROR(FromOrt(Api().KernelContext_GetGPUComputeStream(ctx, &s)));
  return static_cast<cudaStream_t>(s);
}

// Makes `device` current for the scope (ONNX Runtime normally already has), restoring the
// previous one.
class DeviceScope {
 public:
  explicit DeviceScope(int device) {
    if (cudaGetDevice(&prev_) == cudaSuccess && prev_ != device) {
      status_ = cudaSetDevice(device);
      restore_ = status_ == cudaSuccess;
    }
  }
  ~DeviceScope() {
    if (restore_) cudaSetDevice(prev_);
  }
  cudaError_t status() const { return status_; }

 private:
  int prev_ = 0;
  bool restore_ = false;
  cudaError_t status_ = cudaSuccess;
};

// Device memory from ONNX Runtime's allocator, returned at scope exit. NOTE: freeing right after
// the launches is safe because the memory is only reused by work ordered after ours on the same
// compute stream (as ONNX Runtime's own CUDA kernels do with their scratch buffers).
class Workspace {
 public:
  Workspace(OrtAllocator* alloc, size_t bytes) : alloc_(alloc) {
    if (bytes > 0) ptr_ = alloc_->Alloc(alloc_, bytes);
  }
  ~Workspace() {
    if (ptr_ != nullptr) alloc_->Free(alloc_, ptr_);
  }
  void* get() const { return ptr_; }

 private:
  OrtAllocator* alloc_;
  void* ptr_ = nullptr;
};

}  // namespace

// ---------------------------------------------------------------------------- DeviceAllocator

absl::StatusOr<std::unique_ptr<DeviceAllocator>> DeviceAllocator::ForKernel(const OrtKernelInfo* info) {
  auto a = std::make_unique<DeviceAllocator>();
  FP8OPS_RETURN_IF_ERROR(FromOrt(Api().KernelInfoGetAllocator(info, OrtMemTypeDefault, &a->alloc_)));
  if (a->alloc_ == nullptr) return absl::InternalError("ONNX Runtime returned no device allocator");
  const OrtMemoryInfo* mem = nullptr;
  FP8OPS_RETURN_IF_ERROR(FromOrt(Api().AllocatorGetInfo(a->alloc_, &mem)));
  FP8OPS_RETURN_IF_ERROR(FromOrt(Api().MemoryInfoGetId(mem, &a->device_)));
  return a;
}

DeviceAllocator::~DeviceAllocator() {
  if (alloc_ != nullptr) Api().ReleaseAllocator(alloc_);
}

// -------------------------------------------------------------------------------- QuantizeFP8

absl::StatusOr<std::unique_ptr<QuantizeFp8CudaKernel>> QuantizeFp8CudaKernel::Create(const OrtKernelInfo* info) {
  auto k = std::make_unique<QuantizeFp8CudaKernel>();
  FP8OPS_ASSIGN_OR_RETURN(attrs, ReadQuantizeKernel(info));
  k->attrs_ = attrs;
  FP8OPS_ASSIGN_OR_RETURN(alloc, DeviceAllocator::ForKernel(info));
  k->alloc_ = std::move(alloc);
  return k;
}

absl::Status QuantizeFp8CudaKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(x, GetInput(ctx, quantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale, GetInput(ctx, quantize_io::kScale));  // CPU memory
  if (!x) return absl::InvalidArgumentError("input X is missing");
  std::optional<TensorDesc> scale_desc;
  if (scale) scale_desc = scale->desc;
  FP8OPS_RETURN_IF_ERROR(ValidateQuantizeInputs(attrs_, x->desc, scale_desc));
  const float* host_scale = scale ? static_cast<const float*>(scale->data) : nullptr;
  const int64_t scale_count = scale ? scale->desc.NumElements() : 0;
  if (scale) FP8OPS_RETURN_IF_ERROR(ValidateStaticScaleValues(host_scale, scale_count, "scale"));

  QuantizeLaunchArgs a;
  a.k = x->desc.shape.back();
  a.rows = LeadingRows(x->desc.shape);
  a.x = x->data;
  a.x_type = x->desc.type;
  a.block_size = attrs_.block_size;
  a.params = {static_cast<Fp8Format>(attrs_.fp8_type), attrs_.saturate != 0, attrs_.scale_pow2 != 0};
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, quantize_io::kY, x->desc.shape));
  FP8OPS_ASSIGN_OR_RETURN(
      y_scale, AllocOutput(ctx, quantize_io::kYScale, QuantizeScaleShape(x->desc.shape, attrs_.block_size)));
  a.y = static_cast<uint8_t*>(y);
  a.y_scale = static_cast<float*>(y_scale);

  DeviceScope device(alloc_->device());
  FP8OPS_RETURN_IF_ERROR(FromCuda(device.status(), "cudaSetDevice"));
  FP8OPS_ASSIGN_OR_RETURN(stream, ComputeStream(ctx));
  const bool per_group = scale && scale_count != 1;
  Workspace ws(alloc_->get(), per_group ? sizeof(float) * scale_count : 0);
  if (scale) {
    a.has_static_scale = true;
    if (per_group) {
      if (ws.get() == nullptr) return absl::ResourceExhaustedError("cannot allocate the static scale on the device");
      // From pageable memory: returns once the source has been read.
      FP8OPS_RETURN_IF_ERROR(FromCuda(
          cudaMemcpyAsync(ws.get(), host_scale, sizeof(float) * scale_count, cudaMemcpyHostToDevice, stream),
          "cudaMemcpyAsync (static scale)"));
      a.static_scale = static_cast<const float*>(ws.get());
    } else {
      a.static_scale_value = host_scale[0];
    }
  }
  return FromCuda(LaunchQuantizeFp8(a, stream), "LaunchQuantizeFp8");
}

// ------------------------------------------------------------------------------------ FP8GEMM

absl::StatusOr<std::unique_ptr<Fp8GemmCudaKernel>> Fp8GemmCudaKernel::Create(const OrtKernelInfo* info) {
  auto k = std::make_unique<Fp8GemmCudaKernel>();
  FP8OPS_ASSIGN_OR_RETURN(setup, ReadGemmKernel(info));
  k->attrs_ = setup.attrs;
  FP8OPS_ASSIGN_OR_RETURN(alloc, DeviceAllocator::ForKernel(info));
  k->alloc_ = std::move(alloc);
  return k;
}

absl::Status Fp8GemmCudaKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(A, GetInput(ctx, gemm_io::kA));
  FP8OPS_ASSIGN_OR_RETURN(a_scale, GetInput(ctx, gemm_io::kAScale));
  FP8OPS_ASSIGN_OR_RETURN(b, GetInput(ctx, gemm_io::kB));
  FP8OPS_ASSIGN_OR_RETURN(b_scale, GetInput(ctx, gemm_io::kBScale));
  FP8OPS_ASSIGN_OR_RETURN(bias, GetInput(ctx, gemm_io::kBias));
  if (!A || !b || !b_scale) return absl::InvalidArgumentError("inputs A, B and B_scale are required");
  std::optional<TensorDesc> a_scale_desc, bias_desc;
  if (a_scale) a_scale_desc = a_scale->desc;
  if (bias) bias_desc = bias->desc;
  FP8OPS_RETURN_IF_ERROR(ValidateGemmInputs(attrs_, A->desc, a_scale_desc, b->desc, b_scale->desc, bias_desc));

  GemmLaunchArgs g;
  g.k = A->desc.shape.back();
  g.m = LeadingRows(A->desc.shape);
  g.n = b->desc.shape[0];
  g.a = A->data;
  g.a_type = A->desc.type;
  g.a_scale = a_scale ? static_cast<const float*>(a_scale->data) : nullptr;
  g.a_block = attrs_.a_block;
  g.quantize_a = attrs_.a_quant_type != 0;
  g.a_quant_format = static_cast<Fp8Format>(attrs_.a_quant_type);
  g.b = static_cast<const uint8_t*>(b->data);
  g.b_format = ToFp8Format(b->desc.type);
  g.b_scale = static_cast<const float*>(b_scale->data);
  g.block_n = attrs_.block_n;
  g.block_k = attrs_.block_k;
  g.bias = bias ? bias->data : nullptr;
  g.out_type = static_cast<DType>(attrs_.out_type);
  std::vector<int64_t> y_shape = A->desc.shape;
  y_shape.back() = g.n;
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, gemm_io::kY, y_shape));
  g.y = y;
  if (g.m == 0 || g.n == 0) return absl::OkStatus();

  DeviceScope device(alloc_->device());
  FP8OPS_RETURN_IF_ERROR(FromCuda(device.status(), "cudaSetDevice"));
  FP8OPS_ASSIGN_OR_RETURN(stream, ComputeStream(ctx));
  static const GemmOptions options = GemmOptions::FromEnv();
  GemmPlan plan;
  FP8OPS_RETURN_IF_ERROR(FromGpu(PlanFp8Gemm(g, options, &plan)));
  Workspace ws(alloc_->get(), plan.workspace_bytes);
  if (plan.workspace_bytes > 0 && ws.get() == nullptr) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot allocate ", plan.workspace_bytes, " workspace bytes"));
  }
  return FromGpu(RunFp8Gemm(g, plan, ws.get(), plan.workspace_bytes, stream));
}

// ------------------------------------------------------------------------------ DequantizeFP8

absl::StatusOr<std::unique_ptr<DequantizeFp8CudaKernel>> DequantizeFp8CudaKernel::Create(
    const OrtKernelInfo* info) {
  auto k = std::make_unique<DequantizeFp8CudaKernel>();
  FP8OPS_ASSIGN_OR_RETURN(attrs, ReadDequantizeKernel(info));
  k->attrs_ = attrs;
  return k;
}

absl::Status DequantizeFp8CudaKernel::Compute(OrtKernelContext* ctx) const {
  FP8OPS_ASSIGN_OR_RETURN(x, GetInput(ctx, dequantize_io::kX));
  FP8OPS_ASSIGN_OR_RETURN(scale, GetInput(ctx, dequantize_io::kScale));
  if (!x || !scale) return absl::InvalidArgumentError("inputs X and scale are required");
  FP8OPS_RETURN_IF_ERROR(ValidateDequantizeInputs(attrs_, x->desc, scale->desc));
  DequantizeLaunchArgs a;
  a.k = x->desc.shape.empty() ? 1 : x->desc.shape.back();
  a.rows = LeadingRows(x->desc.shape);
  a.x = static_cast<const uint8_t*>(x->data);
  a.format = ToFp8Format(x->desc.type);
  a.scale = static_cast<const float*>(scale->data);
  a.scale_count = scale->desc.NumElements();
  a.last_axis_groups = attrs_.block_size.has_value();
  a.block_size = attrs_.block_size.value_or(0);
  a.block_n = attrs_.block_n;
  a.block_k = attrs_.block_k;
  a.out_type = static_cast<DType>(attrs_.out_type);
  FP8OPS_ASSIGN_OR_RETURN(y, AllocOutput(ctx, dequantize_io::kY, x->desc.shape));
  a.y = y;
  FP8OPS_ASSIGN_OR_RETURN(stream, ComputeStream(ctx));
  return FromCuda(LaunchDequantizeFp8(a, stream), "LaunchDequantizeFp8");
}

}  // namespace fp8ops::cuda
