// Fast CPU FP8GEMM: B packed once for the kernels of one ISA level, then GEMMs against it.
//
// Y[m, n] = sum_k dequant(A)[m, k] * dequant(B)[n, k] (+ bias[n]) as in
// ops/reference/reference_kernels.h, float32 accumulation (summation order differs from the
// reference: K is summed per block of the scales, then scaled; docs/OPERATORS.md 1.5 bounds it).
//
// Kernel choice per call: M <= 4 streams B once and decodes it in registers (GEMV); larger M
// decodes B a panel tile at a time into L1/L2 and runs a register-blocked microkernel over all
// rows (12x32 on AVX-512, 6x16 on AVX2). On avx512_bf16, FP8 and bfloat16 activations use
// vdpbf16ps (exact products: FP8 values are exact in bfloat16); float and float16 activations use
// FP32 FMA.
#ifndef FP8OPS_OPS_CPU_FP8_GEMM_H_
#define FP8OPS_OPS_CPU_FP8_GEMM_H_

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "fp8ops/dtype.h"
#include "ops/cpu/isa.h"

namespace fp8ops::cpu {

// Runs task(i) for i in [0, n), possibly in parallel (the plugin passes ONNX Runtime's intra-op
// pool); returns the pool's error, if any.
using ParallelFn = absl::FunctionRef<absl::Status(size_t n, absl::FunctionRef<void(size_t)> task)>;
// Runs the tasks one after another on the calling thread.
absl::Status RunSerial(size_t n, absl::FunctionRef<void(size_t)> task);

struct FreeDeleter {
  void operator()(void* p) const { std::free(p); }
};

// B of one FP8GEMM node in the layout of one ISA level's kernels (ops/cpu/kernel_abi.h).
struct PackedB {
  Isa isa = Isa::kScalar;  // kScalar: row-major copy for the reference kernels
  int64_t n = 0, k = 0;
  Fp8Format format = Fp8Format::kE4M3FN;
  int64_t block_n = 128, block_k = 128;
  // SIMD layout.
  int nr = 0, kgroup = 1;
  int64_t kpad = 0, npanels = 0;
  int64_t kseg_b = 1, nseg_b = 1;                // B's K blocks
  std::unique_ptr<uint8_t, FreeDeleter> codes;   // npanels * kpad * nr
  std::unique_ptr<float, FreeDeleter> colscale;  // npanels * nseg_b * nr
  std::unique_ptr<uint8_t, FreeDeleter> flags;   // npanels * kpad / kgroup, if the ISA uses them
  // Reference layout.
  std::vector<uint8_t> rowmajor;  // [n, k]
  std::vector<float> b_scale;     // as the input

  // Bytes this object holds.
  size_t MemoryBytes() const;
};

struct PackBSource {
  const uint8_t* b = nullptr;  // [n, k] FP8 codes
  int64_t n = 0, k = 0;
  Fp8Format format = Fp8Format::kE4M3FN;
  const float* b_scale = nullptr;  // [NumBlocks(n, block_n), NumBlocks(k, block_k)] or 1 value
  int64_t b_scale_count = 0;
  int64_t block_n = 128, block_k = 128;
  int64_t a_block = 128;  // the node's attribute: it decides whether the SIMD layout fits
};

// Packs B for `isa` (lowered to what the CPU supports). Falls back to the reference layout where
// the SIMD layout does not fit (a K block that is not a multiple of the kernel's K group, e.g.
// block_k = 3 on AVX-512). Inputs must be valid (ops/common/op_validation.h).
std::unique_ptr<PackedB> PackB(const PackBSource& src, Isa isa, ParallelFn parallel = RunSerial);

// The activation side of one call.
struct GemmInput {
  int64_t m = 0;
  const void* a = nullptr;  // [m, k]: FP8 codes or float / float16 / bfloat16
  DType a_type = DType::kE4M3FN;
  const float* a_scale = nullptr;  // [m, NumBlocks(k, a_block)] for FP8 A
  int64_t a_block = 128;
  const void* bias = nullptr;  // [n] of out_type or nullptr
  DType out_type = DType::kFloat;
  void* y = nullptr;  // [m, n] of out_type
};

absl::Status Fp8Gemm(const PackedB& b, const GemmInput& in, ParallelFn parallel = RunSerial);

}  // namespace fp8ops::cpu

#endif  // FP8OPS_OPS_CPU_FP8_GEMM_H_
