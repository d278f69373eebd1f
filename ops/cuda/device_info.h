// Properties of the current CUDA device that the kernels' launchers ask for, cached per device
// (the first 64 devices; the others are asked at every call).
#ifndef FP8OPS_OPS_CUDA_DEVICE_INFO_H_
#define FP8OPS_OPS_CUDA_DEVICE_INFO_H_

namespace fp8ops::cuda {

// Multiprocessors of the current device; 0 if the runtime cannot tell.
int CurrentSmCount();
// The same, or 132 (an H100's) if the runtime cannot tell: for sizing grids and choosing tiles.
int CurrentSmCountOrDefault();

// Whether the current device runs the sm_90a SASS of these kernels (compute capability 9.0):
// wgmma, setmaxnreg, the bulk copy engine and griddepcontrol. Other GPUs JIT the compute_89 PTX,
// in which those kernels are stubs and the dependent-launch controls are no-ops.
bool CurrentDeviceIsSm90a();

// Programmatic dependent launches of our kernels: sm_90a only (in the PTX build the kernels do not
// wait, and a dependent launch would read its inputs before the kernel ahead wrote them), on
// unless FP8OPS_CUDA_PDL=0 (read at every call, so that a benchmark can compare).
bool PdlEnabled();

// The streaming kernels' bulk-copy variants (sm_90a; GemvMmaBulkKernel, GemvWoBulkKernel): on
// unless FP8OPS_CUDA_GEMV_BULK=0 (read once per process; the launchers ask at every GEMV), so
// that a whole model can be timed with and without them, a process each.
bool GemvBulkEnabled();

}  // namespace fp8ops::cuda

#endif  // FP8OPS_OPS_CUDA_DEVICE_INFO_H_
