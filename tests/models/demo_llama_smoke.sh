#!/usr/bin/env bash
# The main job's Llama section at toy size: generate the float32 and float16 decoders (external
# data), rewrite both to W8A8, run `fp8ops_demo bench` on all four (each model gets the random input
# in the type it declares: float32 or float16) and `fp8ops_demo optimized`. Every output cosine
# against the float32 model must be >= 0.99, and ONNX Runtime must fuse every RMSNorm.
# Usage: demo_llama_smoke.sh DEMO CLI PLUGIN GEN WORK_DIR
set -euo pipefail
DEMO=$1 CLI=$2 PLUGIN=$3 GEN=$4 WORK=$5
rm -rf "$WORK"
mkdir -p "$WORK"
for v in fp32 fp16; do
  flag=""
  [ "$v" = fp16 ] && flag=--fp16
  "$GEN" --llama "$WORK/llama_$v.onnx" --hidden 256 --heads 4 --intermediate 512 --layers 2 \
    --external $flag >/dev/null
done
"$CLI" rewrite "$WORK/llama_fp32.onnx" "$WORK/llama_fp8.onnx" --recipe w8a8 --quiet
"$CLI" rewrite "$WORK/llama_fp16.onnx" "$WORK/llama_fp16_fp8.onnx" --recipe w8a8 --quiet
models=(--model "fp32=$WORK/llama_fp32.onnx" --model "fp8=$WORK/llama_fp8.onnx"
  --model "fp16=$WORK/llama_fp16.onnx" --model "fp16 -> fp8=$WORK/llama_fp16_fp8.onnx")
out=$("$DEMO" bench --plugin "$PLUGIN" --runs 1 --seq 5 "${models[@]}" --vs "fp16 -> fp8=fp16" 2>&1)
echo "$out"
# Three cosines (fp8, fp16, fp16 -> fp8 against fp32), each >= 0.99.
cosines=$(sed -n 's/^  .* output 0: cosine \([0-9.]*\),.*/\1/p' <<<"$out")
[ "$(wc -l <<<"$cosines")" = 3 ]
awk '$1 < 0.99 { bad = 1 } END { exit bad }' <<<"$cosines"
grep -q 'fp16 -> fp8 vs fp16: GEMM weights x0.5' <<<"$out"
out=$("$DEMO" optimized --plugin "$PLUGIN" "${models[@]}" 2>&1)
echo "$out"
# 2 layers x 2 RMSNorms, each fused in every model.
grep -qE '^SimplifiedLayerNormalization +0 -> 4 +0 -> 4 +0 -> 4 +0 -> 4$' <<<"$out"
