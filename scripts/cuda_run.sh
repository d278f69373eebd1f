#!/usr/bin/env bash
# Builds, tests and benchmarks the CUDA side of fp8ops in one go.
#
#   scripts/cuda_run.sh                 on a GPU machine with the toolchain: configure + build
#                                       (build-cuda/), then run everything below
#   scripts/cuda_run.sh --pack DIR      build here (no GPU needed) and put the binaries plus the
#                                       non-system shared libraries they need into DIR, to carry to
#                                       a GPU machine that has only the CUDA libraries
#   scripts/cuda_run.sh --run DIR       on the GPU machine: run what --pack put in DIR
#   scripts/cuda_run.sh --stage DIR     on the GPU machine: copy DIR's files into $STAGE (default
#                                       /tmp/fp8ops_stage), for files too large for one call's
#                                       carry (ONNX Runtime's CUDA provider: 3 parts, one per call
#                                       while the machine stays warm); --run joins them
#   scripts/cuda_run.sh --pack-xz FILE  --pack with ONNX Runtime's CUDA provider cut to sm_90
#                                       (scripts/fatbin_keep_arch.py), as one tar.xz: with it one
#                                       call carries everything to a Hopper GPU (about 57 MB)
#   scripts/cuda_run.sh --run-xz FILE   on the GPU machine: unpack FILE into /tmp and --run it
#   scripts/cuda_run.sh --make-ort-parts   here: (re)make those parts from the ORT download:
#                                       build-cuda/ort_aa, ort_ab, ort_ac (xz stream split in 55 MiB
#                                       parts) and build-cuda/ort_core (libonnxruntime.so xz, the
#                                       shared provider library, the parts' sha256) and
#                                       build-cuda/ort_sm90 (the provider cut to sm_90, xz);
#                                       --pack copies ort_core into DIR/ort
#
# One call on a lent Hopper GPU (not yet tried on one): here scripts/cuda_run.sh --make-ort-parts
# (once) and --pack-xz build-cuda/pack.tar.xz; there, carrying that file:
#   RESULTS_DIR=$OUT scripts/cuda_run.sh --run-xz build-cuda/pack.tar.xz --model-bench
# The 4-call sequence on a lent GPU (run tool, 30 s idle limit between calls):
#   carry build-cuda/ort_aa: scripts/cuda_run.sh --stage build-cuda/ort_aa   (same for ort_ab, ort_ac)
#   carry build-cuda/devpack: RESULTS_DIR=$OUT scripts/cuda_run.sh --run build-cuda/devpack --model-bench
#
# What runs: nvidia-smi; the CUDA kernel tests (gtest); compute-sanitizer memcheck on a subset of
# them (if installed); the kernel benchmarks (bench/cuda/fp8_cuda_bench); the in-ONNX-Runtime
# test (tests/cuda/cuda_ort_test) when ONNX Runtime's CUDA provider is available (ORT_CUDA_LIB
# names the folder holding libonnxruntime.so and libonnxruntime_providers_cuda.so).
# Results: RESULTS_DIR (default $OUT when set, else bench/results/) gets the logs and
# cuda_bench_<gpu>_<date>.md with the GPU, the date and the command in its header.
#
# Options: --quick (fewer benchmark shapes), --decode (the decode shapes only), --no-bench, --no-tests, --no-sanitizer,
#   --model-bench (the generated Llama-style decoder, FP16 vs its FP8 rewrites, in ORT's CUDA EP:
#   latency at seq 1 and prefill lengths, output cosine, GPU memory per session; needs ORT),
#   --model-bench-8b (the same at Llama-3-8B widths: hidden 4096, 32 heads, MLP 14336, 4 layers;
#   CUDA-graph EP, seq 1 and 512), --conformance (the conformance suite on the CUDA EP; needs ORT),
#   --peers (bench/session_bench --ep=cuda-graph: chains of projections in FP16, MatMulNBits 8-bit,
#   ONNX Runtime's MatMulBlockQuantizedFp8Weight and fp8ops' ops side by side; needs ORT).
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
DO_MODEL=0
DO_MODEL8B=0
DO_CONF=0
DO_PEERS=0
STAGE=${STAGE:-/tmp/fp8ops_stage}
while [ $# -gt 0 ]; do
  case "$1" in
    --pack) MODE=pack; PACK_DIR=$2; shift ;;
    --run) MODE=run; PACK_DIR=$2; shift ;;
    --quick) QUICK=--quick ;;
    --decode) QUICK=--decode ;;
    --no-bench) DO_BENCH=0 ;;
    --no-tests) DO_TESTS=0 ;;
    --no-sanitizer) DO_SAN=0 ;;
    --model-bench) DO_MODEL=1 ;;
    --model-bench-8b) DO_MODEL8B=1 ;;
    --conformance) DO_CONF=1 ;;
    --peers) DO_PEERS=1 ;;
    --stage) MODE=stage; PACK_DIR=$2; shift ;;
    --pack-xz) MODE=pack_xz; PACK_DIR=$2; shift ;;
    --run-xz) MODE=run_xz; PACK_DIR=$2; shift ;;
    --make-ort-parts) MODE=make_ort_parts ;;
    -h|--help) sed -n '2,40p' "$0"; exit 0 ;;
    *) echo "cuda_run.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

BUILD=${FP8OPS_CUDA_BUILD_DIR:-build-cuda}
TARGETS="fp8ops fp8ops_cuda cuda_kernels_test cuda_ort_test fp8_cuda_bench fp8ops_demo fp8ops_cli_main fp8ops_gen_models session_bench"

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
  cp "$BUILD/models/demo/fp8ops_demo" "$BUILD/graph_pass/fp8ops" "$BUILD/models/gen/fp8ops_gen_models" "$dir/bin/"
  cp "$BUILD/bench/session_bench" "$dir/bin/"
  if [ -d build-cuda/ort_core ]; then cp -r build-cuda/ort_core "$dir/ort"; fi
  if [ "${FP8OPS_PACK_PROVIDER_SM90:-0}" = 1 ] && [ -f build-cuda/ort_sm90/prov_sm90.so.xz ]; then
    cp build-cuda/ort_sm90/prov_sm90.so.xz "$dir/ort/"
  fi
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

# ONNX Runtime with its CUDA provider in /tmp/ortlib from the parts --stage put in $STAGE and the
# pack's ort/ folder (libonnxruntime.so xz, the shared provider library, the parts' sha256).
join_ort() {
  local ort=$1 dst=/tmp/ortlib
  [ -e "$dst/libonnxruntime_providers_cuda.so" ] && { echo "$dst"; return 0; }
  mkdir -p "$dst"
  if [ -f "$ort/prov_sm90.so.xz" ]; then  # the provider cut to sm_90, carried in the pack
    xz -d -T0 -c "$ort/prov_sm90.so.xz" > "$dst/libonnxruntime_providers_cuda.so" || return 1
  else
    ls "$STAGE"/prov.xz.part_* >/dev/null 2>&1 || return 1
    [ -f "$ort/prov.sha256" ] || return 1
    local sum
    sum=$(cat "$STAGE"/prov.xz.part_* | sha256sum | cut -c1-64)
    if [ "$sum" != "$(cut -c1-64 "$ort/prov.sha256")" ]; then
      echo "ORT CUDA provider parts: sha256 mismatch ($sum)" >&2
      return 1
    fi
    cat "$STAGE"/prov.xz.part_* | xz -d -T0 > "$dst/libonnxruntime_providers_cuda.so" || return 1
  fi
  xz -d -c "$ort/libonnxruntime.so.1.29.0.xz" > "$dst/libonnxruntime.so.1.29.0" || return 1
  ln -sf libonnxruntime.so.1.29.0 "$dst/libonnxruntime.so.1"
  ln -sf libonnxruntime.so.1.29.0 "$dst/libonnxruntime.so"
  cp "$ort/libonnxruntime_providers_shared.so" "$dst/"
  echo "$dst"
}

run_all() {
  local bin=$1 bench=$2 lib=$3 plugin=$4
  local results=${RESULTS_DIR:-${OUT:-$ROOT/bench/results}}
  mkdir -p "$results"
  if [ -z "${ORT_CUDA_LIB:-}" ] && [ -d "$lib/../ort" ]; then
    ORT_CUDA_LIB=$(join_ort "$lib/../ort") || ORT_CUDA_LIB=""
    echo "ONNX Runtime + CUDA provider: ${ORT_CUDA_LIB:-not available}"
  fi
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
        --gtest_filter='CudaFp8Gemm.WeightOnlyTensorCoreSmall*:CudaFp8Gemm.BulkCopy*:CudaFp8Gemm.W8A8WgmmaSmall*:CudaQuantizeFp8.FastVariant*:CudaQuantizeFp8.Generic*:CudaQuantizeFp8.Static*:CudaFp8Gemm.Empty*:CudaDequantizeFp8.*:CudaFp8Gemm.LargerM*:CudaFp8Gemm.FusedActivation*' \
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
  if [ "$DO_MODEL" = 1 ]; then
    echo "== whole model in ONNX Runtime's CUDA execution provider"
    model_bench "$bin" "$plugin" "$results" model_bench_cuda_ep.log || status=1
  fi
  if [ "$DO_MODEL8B" = 1 ]; then
    echo "== whole model at Llama-3-8B widths in ONNX Runtime's CUDA execution provider"
    FP8OPS_LLM_HIDDEN=4096 FP8OPS_LLM_HEADS=32 FP8OPS_LLM_INTERMEDIATE=14336 FP8OPS_LLM_LAYERS=4 \
      FP8OPS_MODEL_EPS=${FP8OPS_MODEL_EPS_8B:-cuda-graph} FP8OPS_MODEL_SEQS=${FP8OPS_MODEL_SEQS_8B:-1 512} \
      model_bench "$bin" "$plugin" "$results" model_bench_8b_cuda_ep.log || status=1
  fi
  if [ "$DO_PEERS" = 1 ]; then
    echo "== fp8ops beside ONNX Runtime's own GPU ops (session_bench --ep=cuda-graph)"
    if [ -x "$bin/session_bench" ]; then
      "$bin/session_bench" --ep=cuda-graph --plugin="$plugin" --dir=/tmp > "$results/session_bench_cuda.md" \
        2> "$results/session_bench_cuda.log"
      local rc=$?
      tail -n 14 "$results/session_bench_cuda.md"
      [ "$rc" = 0 ] || status=1
    else
      echo "skipped: no session_bench in $bin"
    fi
  fi
  if [ "$DO_CONF" = 1 ]; then
    echo "== conformance on the CUDA EP"
    "$bin/fp8ops" conformance --plugin "$plugin" --ep cuda "$ROOT/tests/conformance/cases" \
      > "$results/conformance_cuda_ep.log" 2>&1
    local rc=$?
    tail -n 2 "$results/conformance_cuda_ep.log"
    [ "$rc" = 0 ] || status=1
  fi
  return $status
}

# The generated Llama-style decoder (scripts/main_job.sh's LLM section) in FP16 and its FP8
# rewrites (W8A8, W8A8 with fused activation quantization, weight-only), side by side in the CUDA
# EP at decode (seq 1) and prefill lengths.
model_bench() {
  local bin=$1 plugin=$2 results=$3 logname=$4
  local work=${MODEL_WORK:-/tmp/fp8ops_models}
  local hidden=${FP8OPS_LLM_HIDDEN:-2048} heads=${FP8OPS_LLM_HEADS:-16}
  local inter=${FP8OPS_LLM_INTERMEDIATE:-5632} layers=${FP8OPS_LLM_LAYERS:-4}
  local runs=${FP8OPS_MODEL_RUNS:-50}
  mkdir -p "$work"
  local base=$work/llama_h${hidden}_i${inter}_l${layers}
  local log=$results/$logname
  {
    echo "command: $CMDLINE; $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    if [ ! -f "${base}_fp8_wo.onnx" ]; then
      "$bin/fp8ops_gen_models" --llama "${base}_fp16.onnx" --hidden "$hidden" --heads "$heads" \
        --intermediate "$inter" --layers "$layers" --external --fp16 || return 1
      "$bin/fp8ops" rewrite "${base}_fp16.onnx" "${base}_fp8_w8a8.onnx" --recipe w8a8 --quiet || return 1
      "$bin/fp8ops" rewrite "${base}_fp16.onnx" "${base}_fp8_wo.onnx" --recipe weight-only --quiet || return 1
    fi
    if [ ! -f "${base}_fp8_w8a8f.onnx" ]; then
      "$bin/fp8ops" rewrite "${base}_fp16.onnx" "${base}_fp8_w8a8f.onnx" --recipe w8a8 \
        --fuse-activation-quant --quiet || return 1
    fi
    ls -la "$work"
    local seq ep
    for ep in ${FP8OPS_MODEL_EPS:-cuda cuda-graph}; do
      for seq in ${FP8OPS_MODEL_SEQS:-1 128 512}; do
        echo "---- --ep $ep, seq $seq"
        "$bin/fp8ops_demo" bench --ep "$ep" --plugin "$plugin" --runs "$runs" --seq "$seq" \
          --model "fp16=${base}_fp16.onnx" --model "fp8 w8a8=${base}_fp8_w8a8.onnx" \
          --model "fp8 w8a8 fused=${base}_fp8_w8a8f.onnx" --model "fp8 weight-only=${base}_fp8_wo.onnx"
      done
    done
  } > "$log" 2>&1
  local rc=$?
  grep -v "^  running" "$log" | tail -n 60
  return $rc
}

case "$MODE" in
  stage)
    mkdir -p "$STAGE" && cp "$PACK_DIR"/* "$STAGE"/ && ls -la "$STAGE"
    ;;
  make_ort_parts)
    lib=$(scripts/setup.sh --quiet | tail -n 1)/lib
    mkdir -p build-cuda/ort_aa build-cuda/ort_ab build-cuda/ort_ac build-cuda/ort_core
    xz -T0 -c "$lib/libonnxruntime_providers_cuda.so" | split -b 55M - build-cuda/prov.xz.part_
    for p in aa ab ac; do mv "build-cuda/prov.xz.part_$p" "build-cuda/ort_$p/"; done
    cat build-cuda/ort_a?/prov.xz.part_* | sha256sum | cut -c1-64 > build-cuda/ort_core/prov.sha256
    xz -T0 -c "$lib/libonnxruntime.so.1.29.0" > build-cuda/ort_core/libonnxruntime.so.1.29.0.xz
    cp "$lib/libonnxruntime_providers_shared.so" build-cuda/ort_core/
    # The provider cut to sm_90 (Hopper: H100 / H200), small enough to carry in one call.
    mkdir -p build-cuda/ort_sm90
    python3 scripts/fatbin_keep_arch.py "$lib/libonnxruntime_providers_cuda.so" build-cuda/prov_sm90.so 90 &&
      xz -T0 -c build-cuda/prov_sm90.so > build-cuda/ort_sm90/prov_sm90.so.xz && rm -f build-cuda/prov_sm90.so
    du -sh build-cuda/ort_*
    ;;
  pack)
    build || exit 1
    pack "$PACK_DIR"
    ;;
  run)
    run_all "$PACK_DIR/bin" "$PACK_DIR/bin" "$PACK_DIR/lib" "$PACK_DIR/lib/libfp8ops.so"
    ;;
  pack_xz)
    build || exit 1
    [ -f build-cuda/ort_sm90/prov_sm90.so.xz ] || { echo "run --make-ort-parts first" >&2; exit 1; }
    tmp=$(mktemp -d)
    FP8OPS_PACK_PROVIDER_SM90=1 pack "$tmp/fp8ops_pack"
    tar -C "$tmp" -cf - fp8ops_pack | xz -T0 -6 > "$PACK_DIR" || exit 1
    rm -rf "$tmp"
    ls -la "$PACK_DIR"
    ;;
  run_xz)
    rm -rf /tmp/fp8ops_pack && xz -d -T0 -c "$PACK_DIR" | tar -x -C /tmp || exit 1
    run_all /tmp/fp8ops_pack/bin /tmp/fp8ops_pack/bin /tmp/fp8ops_pack/lib /tmp/fp8ops_pack/lib/libfp8ops.so
    ;;
  all)
    build || exit 1
    run_all "$BUILD/tests/cuda" "$BUILD/bench/cuda" "$BUILD" "$BUILD/libfp8ops.so"
    ;;
esac
