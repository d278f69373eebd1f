#!/usr/bin/env bash
# The main job's core as a test: rewrite the PaddleOCR recogniser with the fp8ops CLI and run
# `fp8ops_demo ocr --check` (each model in its own process); the demo must pass and print the tables.
# Usage: demo_smoke.sh DEMO CLI PLUGIN SOURCE_DIR WORK_DIR
set -euo pipefail
DEMO=$1 CLI=$2 PLUGIN=$3 SRC=$4 WORK=$5
CACHE=${FP8OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fp8ops}
OCR=$CACHE/models/ocr-models-1.4.2
mkdir -p "$WORK"
"$CLI" rewrite "$OCR/ch_PP-OCRv4_rec_infer.onnx" "$WORK/rec_fp8.onnx" --recipe w8a8 >/dev/null
out=$("$DEMO" ocr --check --runs 1 --plugin "$PLUGIN" --keys "$OCR/ppocr_keys_v1.txt" --images "$SRC/models/paddleocr/images" \
  --model "fp32=$OCR/ch_PP-OCRv4_rec_infer.onnx" --model "fp8=$WORK/rec_fp8.onnx" 2>&1)
echo "$out"
grep -q '^fp8 .*: PASS$' <<<"$out"
grep -q 'peak RSS' <<<"$out"
grep -q '"价格128元" ' <<<"$out"
