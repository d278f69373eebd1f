#!/usr/bin/env bash
# One-run A/B of the weight-only bulk-copy kernel in the whole hidden-2048 model (CUDA graphs,
# seq 1): FP8OPS_CUDA_GEMV_BULK=1 (default) and =0 alternating, FP16 beside each.
# Needs ORT's CUDA provider staged (scripts/cuda_run.sh --stage build-cuda/ort_a{a,b,c}) and
# build/modelpack (fp8ops, fp8ops_demo, fp8ops_gen_models, lib/, ort/ of a --pack).
set -u
P=$PWD/build/modelpack
scripts/cuda_run.sh --run "$P" --no-tests --no-bench > "$OUT/join.log" 2>&1
export LD_LIBRARY_PATH=$P/lib:/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib:/tmp/ortlib
export FP8OPS_CUDA_MODULE=$P/lib/libfp8ops_cuda.so
W=/tmp/m; mkdir -p $W
$P/bin/fp8ops_gen_models --llama $W/f16.onnx --hidden 2048 --heads 16 --intermediate 5632 --layers 4 --external --fp16 > /dev/null
$P/bin/fp8ops rewrite $W/f16.onnx $W/wo.onnx --recipe weight-only --quiet
for r in 1 2; do
  for b in 1 0; do
    echo "== round $r FP8OPS_CUDA_GEMV_BULK=$b"
    FP8OPS_CUDA_GEMV_BULK=$b $P/bin/fp8ops_demo bench --ep cuda-graph --plugin $P/lib/libfp8ops.so \
      --runs 50 --seq 1 --model fp16=$W/f16.onnx --model wo=$W/wo.onnx 2>&1 | grep -E "^fp16 |^wo |speed-up"
  done
done 2>&1 | tee "$OUT/model_ab.txt"
