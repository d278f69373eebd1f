#include "ops/cuda/device_info.h"

#include <cuda_runtime_api.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

namespace fp8ops::cuda {
namespace {

constexpr int kMaxCached = 64;

struct DeviceProps {
  int sm_count = 0;
  bool sm90a = false;
};

DeviceProps Query(int dev) {
  DeviceProps p;
  int major = 0, minor = 0, sms = 0;
  if (cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev) == cudaSuccess && sms > 0) {
    p.sm_count = sms;
  }
  p.sm90a = cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) == cudaSuccess &&
            cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, dev) == cudaSuccess &&
            major == 9 && minor == 0;
  return p;
}

// Packed as sm_count * 2 + sm90a, plus 1 so that 0 means "not asked yet".
DeviceProps Current() {
  static std::atomic<int> cached[kMaxCached];
  int dev = 0;
  if (cudaGetDevice(&dev) != cudaSuccess || dev < 0) return {};
  if (dev >= kMaxCached) return Query(dev);
  int v = cached[dev].load();
  if (v == 0) {
    const DeviceProps p = Query(dev);
    v = 1 + p.sm_count * 2 + (p.sm90a ? 1 : 0);
    cached[dev].store(v);
  }
  DeviceProps p;
  p.sm_count = (v - 1) / 2;
  p.sm90a = ((v - 1) & 1) != 0;
  return p;
}

}  // namespace

int CurrentSmCount() { return Current().sm_count; }

int CurrentSmCountOrDefault() {
  const int n = CurrentSmCount();
  return n > 0 ? n : 132;
}

bool CurrentDeviceIsSm90a() { return Current().sm90a; }

bool PdlEnabled() {
  if (!CurrentDeviceIsSm90a()) return false;
  const char* v = std::getenv("FP8OPS_CUDA_PDL");
  return v == nullptr || std::strcmp(v, "0") != 0;
}

bool GemvBulkEnabled() {
  static const bool allowed = [] {
    const char* v = std::getenv("FP8OPS_CUDA_GEMV_BULK");
    return v == nullptr || std::strcmp(v, "0") != 0;
  }();
  return allowed && CurrentDeviceIsSm90a();
}

}  // namespace fp8ops::cuda
