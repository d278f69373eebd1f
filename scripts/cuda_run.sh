#!/usr/bin/env bash
# Builds, tests and benchmarks the CUDA side of fp8ops in one go.
#
#   scripts/cuda_run.sh                 on a GPU machine with the toolchain: configure + build
#                                       (build-cuda/), then run everything below
#   scripts/cuda_run.sh --pack DIR      build here (no GPU needed) and put the binaries plus the
#                                       non-system shared libraries they need into DIR, to carry to
#                                       a GPU machine that has only the CUDA libraries
#   scripts/cuda_run.sh --run DIR       on the GPU machine: run what --pack put in DIR
#
# What runs: nvidia-smi; the CUDA kernel tests (gtest); compute-sanitizer memcheck on a subset of
# them (if installed); the kernel benchmarks (bench/cuda/fp8_cuda_bench); the in-ONNX-Runtime
# test (tests/cuda/cuda_ort_test) when ONNX Runtime's CUDA provider is available (ORT_CUDA_LIB
# names the folder holding libonnxruntime.so and libonnxruntime_providers_cuda.so).
# Results: RESULTS_DIR (default $OUT when set, else bench/results/) gets the logs and
# cuda_bench_<gpu>_<date>.md with the GPU, the date and the command in its header.
#
# Options: --quick (fewer benchmark shapes), --no-bench, --no-tests, --no-sanitizer.
# Environment: CUDA_LIBS (folder with libcudart/libcublas/libcublasLt 13, added to
# LD_LIBRARY_PATH), RESULTS_DIR, ORT_CUDA_LIB.
set -uo pipefail
CMDLINE="scripts/cuda_run.sh $*"
cd "$(dirname "$0")/.."
ROOT=$(pwd)

MODE=all
PACK_DIR=""
QUICK=""
DO_TESTS=1
DO_BENCH=1
DO_SAN=1
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) MODE=pack; PACK_DIR=$2; shift ;;
    --run) MODE=run; PACK_DIR=$2; shift ;;
    --quick) QUICK=--quick ;;
    --no-bench) DO_BENCH=0 ;;
    --no-tests) DO_TESTS=0 ;;
    --no-sanitizer) DO_SAN=0 ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "cuda_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${FP8OPS_CUDA_BUILD_DIR:-build-cuda}
TARGETS="fp8ops fp8ops_cuda cuda_kernels_test cuda_ort_test fp8_cuda_bench"

build() {
  local ort_root
  ort_root=$(scripts/setup.sh --quiet | tail -n 1) || return 1
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$ort_root" \
        -DFP8OPS_WITH_CUDA=ON >/dev/null || return 1
  # shellcheck disable=SC2086
  cmake --build "$BUILD" -j "$(nproc)" --target $TARGETS || return 1
}

# Copies binaries and the shared libraries they need that are neither glibc/libstdc++ nor CUDA
# (those come from the GPU machine) into $1.
pack() {
  local dir=$1
  rm -rf "$dir"; mkdir -p "$dir/bin" "$dir/lib"
  cp "$BUILD/libfp8ops.so" "$BUILD/libfp8ops_cuda.so" "$dir/lib/"
  cp "$BUILD/tests/cuda/cuda_kernels_test" "$BUILD/tests/cuda/cuda_ort_test" "$BUILD/bench/cuda/fp8_cuda_bench" "$dir/bin/"
  local f
  for f in "$dir"/bin/* "$dir"/lib/*.so; do
    ldd "$f" | awk '/=> \// {print $3}'
  done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libdl.so*|librt.so*|libpthread.so*|ld-linux*|libgcc_s.so*|libstdc++.so*) ;;
      libcuda.so*|libcudart.so*|libcublas*|libnvrtc*|libonnxruntime*) ;;
      *) cp -L "$lib" "$dir/lib/" ;;
    esac
  done
  # The test binaries look for the plugin at its build path; the runner passes the packed one.
  echo "$BUILD" > "$dir/build_dir.txt"
  du -sh "$dir"
}

run_all() {
  local bin=$1 bench=$2 lib=$3 plugin=$4
  local results=${RESULTS_DIR:-${OUT:-$ROOT/bench/results}}
  mkdir -p "$results"
  local cuda_libs=${CUDA_LIBS:-}
  if [ -z "$cuda_libs" ]; then
    for d in /opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib /usr/local/cuda/lib64; do
      if [ -e "$d/libcublasLt.so.13" ]; then cuda_libs=$d; break; fi
    done
  fi
  export LD_LIBRARY_PATH="$lib:${cuda_libs}:${ORT_CUDA_LIB:-}:${LD_LIBRARY_PATH:-}"
  export FP8OPS_CUDA_MODULE="$lib/libfp8ops_cuda.so"
  local gpu date status=0
  gpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n1 | tr ' ' '_')
  date=$(date -u +%Y-%m-%d)
  {
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "host: $(uname -a)"
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,clocks.max.mem,power.limit --format=csv 2>&1
    echo "CUDA libraries: ${cuda_libs:-system}"
  } > "$results/cuda_env.txt"
  cat "$results/cuda_env.txt"

  if [ "$DO_TESTS" = 1 ]; then
    echo "== cuda_kernels_test"
    "$bin/cuda_kernels_test" --gtest_brief=1 2>&1 | tee "$results/cuda_kernels_test.log" | tail -n 40
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
    if [ "$DO_SAN" = 1 ] && command -v compute-sanitizer >/dev/null 2>&1; then
      echo "== compute-sanitizer memcheck"
      compute-sanitizer --tool memcheck --error-exitcode 3 \
        "$bin/cuda_kernels_test" --gtest_brief=1 \
        --gtest_filter='CudaQuantizeFp8.FastVariant*:CudaQuantizeFp8.Generic*:CudaQuantizeFp8.Static*:CudaFp8Gemm.Empty*:CudaDequantizeFp8.*:CudaFp8Gemm.LargerM*' \
        > "$results/cuda_memcheck.log" 2>&1
      local rc=$?
      tail -n 8 "$results/cuda_memcheck.log"
      echo "memcheck exit code: $rc"
      [ "$rc" = 0 ] || status=1
    fi
    echo "== cuda_ort_test"
    if ldd "$bin/cuda_ort_test" | grep -q "not found"; then
      echo "skipped: ONNX Runtime not found (set ORT_CUDA_LIB)" | tee "$results/cuda_ort_test.log"
    else
      FP8OPS_TEST_PLUGIN="$plugin" "$bin/cuda_ort_test" --gtest_brief=1 2>&1 | tee "$results/cuda_ort_test.log" | tail -n 30
      [ "${PIPESTATUS[0]}" = 0 ] || status=1
    fi
  fi
  if [ "$DO_BENCH" = 1 ]; then
    echo "== fp8_cuda_bench"
    local md="$results/cuda_bench_${gpu:-gpu}_${date}.md"
    {
      echo "<!-- command: $CMDLINE (runs: fp8_cuda_bench $QUICK); $(head -n1 "$results/cuda_env.txt") -->"
    } > "$md.head"
    "$bench/fp8_cuda_bench" $QUICK --out "$md.body" > "$results/cuda_bench.log" 2>&1
    local rc=$?
    cat "$md.head" "$md.body" > "$md" 2>/dev/null; rm -f "$md.head" "$md.body"
    tail -n 30 "$results/cuda_bench.log"
    [ "$rc" = 0 ] || status=1
  fi
  return $status
}

case "$MODE" in
  pack)
    build || exit 1
    pack "$PACK_DIR"
    ;;
  run)
    run_all "$PACK_DIR/bin" "$PACK_DIR/bin" "$PACK_DIR/lib" "$PACK_DIR/lib/libfp8ops.so"
    ;;
  all)
    build || exit 1
    run_all "$BUILD/tests/cuda" "$BUILD/bench/cuda" "$BUILD" "$BUILD/libfp8ops.so"
    ;;
esac
