#!/usr/bin/env bash
# One device call: the packed build's CUDA tests (+ memcheck), the W8A8 tile section and the
# interleaved large-M comparison with cuBLAS BF16 (the dispatcher: cuBLASLt at large M).
#   carry build/devpack; bash bench/results/cuda_2026-12-07_wgmma_probe/run.sh build/devpack
set -u
PACK=$1
OUTD=${OUT:-/tmp/out}
mkdir -p "$OUTD"
RESULTS_DIR=$OUTD timeout 300 scripts/cuda_run.sh --run "$PACK" --no-bench 2>&1 | tail -n 25
export LD_LIBRARY_PATH="$PACK/lib:/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}"
export FP8OPS_CUDA_MODULE="$PACK/lib/libfp8ops_cuda.so"
echo "== --w8a8"
timeout 200 "$PACK/bin/fp8_cuda_bench" --w8a8 --out "$OUTD/w8a8.md" > "$OUTD/w8a8.log" 2>&1; echo "rc $?"
echo "== --interleaved (dispatcher default)"
timeout 150 "$PACK/bin/fp8_cuda_bench" --interleaved --out "$OUTD/interleaved_default.md" > "$OUTD/interleaved_default.log" 2>&1; echo "rc $?"
grep -E "^\| (1024|4096|8192) " "$OUTD/w8a8.md" | head -20
grep -E "interleaved" "$OUTD/interleaved_default.md" | grep FP8GEMM | head -10
