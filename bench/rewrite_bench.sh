#!/usr/bin/env bash
# Rewrite benchmark: throughput (GB/s of FP16 weights) and peak memory of `fp8ops rewrite` on a
# generated Llama-style FP16 model of 2+ GB held as external data (nothing is committed; the model
# is generated in a scratch folder and deleted at the end).
#
#   bench/rewrite_bench.sh [BUILD_DIR]      (default: build)
#
# Environment: FP8OPS_BENCH_DIR (scratch folder, default: a new folder under /tmp; needs ~4 GB),
# LAYERS (default 6: 6 x 404 MB = 2.42 GB of weights), HIDDEN (4096), INTERMEDIATE (11008),
# RUNS (timed runs after one warm-up, default 3).
#
# What it reports: the wall time of each `fp8ops rewrite` run (parse, quantize, write, fsync,
# rename: the whole command), the weights' FP16 bytes per second, and the peak RSS the CLI
# measures itself (VmHWM), against the bound "3 x the largest weight + the graph". The input's
# data file is in the page cache after the first run (as after any download); the output is
# written to the same disk.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
GEN="$BUILD/models/gen/fp8ops_gen_models"
CLI="$BUILD/graph_pass/fp8ops"
for b in "$GEN" "$CLI"; do
  [[ -x "$b" ]] || { echo "missing $b: build the targets fp8ops_gen_models and fp8ops_cli_main first" >&2; exit 1; }
done
LAYERS=${LAYERS:-6}
HIDDEN=${HIDDEN:-4096}
INTERMEDIATE=${INTERMEDIATE:-11008}
RUNS=${RUNS:-3}
if [[ -n "${FP8OPS_BENCH_DIR:-}" ]]; then
  DIR="$FP8OPS_BENCH_DIR"
  mkdir -p "$DIR"
else
  DIR=$(mktemp -d /tmp/fp8ops_rewrite_bench.XXXXXX)
  trap 'rm -rf "$DIR"' EXIT
fi

echo "== generating: $LAYERS layers, hidden $HIDDEN, intermediate $INTERMEDIATE, FP16, external data"
"$GEN" --llama "$DIR/model.onnx" --hidden "$HIDDEN" --heads 32 --intermediate "$INTERMEDIATE" \
  --layers "$LAYERS" --fp16 --external
WEIGHT_BYTES=$(stat -c %s "$DIR/model.onnx.data")
GRAPH_BYTES=$(stat -c %s "$DIR/model.onnx")
LARGEST=$((HIDDEN * INTERMEDIATE * 2))
BOUND=$((3 * LARGEST + GRAPH_BYTES))

calc() { awk "BEGIN { print $* }"; }
json_field() { sed -n "s/.*\"$1\": \([0-9.e+-]*\).*/\1/p" "$2" | tail -n 1; }

echo "== $(nproc) cores; $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$CLI" rewrite "$DIR/model.onnx" "$DIR/out.onnx" --quiet >/dev/null  # warm-up (page cache)
best=""
for i in $(seq 1 "$RUNS"); do
  rm -f "$DIR/out.onnx" "$DIR/out.onnx.data"
  t0=$(date +%s.%N)
  "$CLI" rewrite "$DIR/model.onnx" "$DIR/out.onnx" --quiet --report "$DIR/report.json"
  t1=$(date +%s.%N)
  secs=$(calc "$t1 - $t0")
  rss=$(json_field peak_rss_bytes "$DIR/report.json")
  gbs=$(calc "$WEIGHT_BYTES / $secs / 1000000000")
  printf "run %d: %.2f s, %.2f GB/s of FP16 weights, peak RSS %.0f MB\n" "$i" "$secs" "$gbs" "$(calc "$rss / 1000000")"
  if [[ -z "$best" ]] || (( $(calc "$secs < $best") )); then best=$secs; best_rss=$rss; fi
done
OUT_BYTES=$(stat -c %s "$DIR/out.onnx.data")
printf "\nweights:          %.3f GB FP16 (%d weights; largest %.1f MB), graph %.1f KB\n" \
  "$(calc "$WEIGHT_BYTES / 1000000000")" "$((LAYERS * 7))" "$(calc "$LARGEST / 1000000")" \
  "$(calc "$GRAPH_BYTES / 1000")"
printf "output:           %.3f GB (FP8 codes + scales)\n" "$(calc "$OUT_BYTES / 1000000000")"
printf "best throughput:  %.2f GB/s (target >= 1 GB/s)\n" "$(calc "$WEIGHT_BYTES / $best / 1000000000")"
printf "peak RSS:         %.0f MB (bound 3 x largest weight + graph = %.0f MB; %s)\n" \
  "$(calc "$best_rss / 1000000")" "$(calc "$BOUND / 1000000")" \
  "$( (( best_rss < BOUND )) && echo within || echo EXCEEDED)"
