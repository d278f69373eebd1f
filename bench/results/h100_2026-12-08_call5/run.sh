#!/usr/bin/env bash
# Call 5 (stop 19, 2026-12-08). Carry build/call5: pack.tar.xz (`FP8OPS_CUDA_BUILD_DIR=build
# scripts/cuda_run.sh --pack-xz build/call5/pack.tar.xz`: the binaries with ONNX Runtime's CUDA
# provider cut to sm_90) and probe2 (built from bench/results/cuda_2026-12-07_wgmma_probe/probe.cu).
#  1. cuda_kernels_test (all), memcheck (now with both bulk-copy tests), cuda_ort_test: the
#     binaries of d5362a4 (the bulk-copy test refactor, compiled only so far).
#  2. Whole hidden-2048 model, CUDA graphs, seq 1: FP8OPS_CUDA_GEMV_BULK=1 / 0 alternating, FP16
#     beside each (is the weight-only bulk-copy kernel a gain in the graph?).
#  3. Nsight Compute, one metric (gpu__time_duration) for every kernel of the graph (FP16, W8A8,
#     weight-only; seq 1 and 128): where the model's time goes, GEMMs against the rest.
#  4. Nsight Compute --set full on the W8A8 wgmma product loop (probe2 "E") at 4096^3: stall
#     reasons for the M >= 1024 gap to cuBLASLt.
#  5. fp8ops beside ONNX Runtime's own GPU ops (cuda_run.sh --peers: session_bench --ep=cuda-graph,
#     FP16 MatMul, MatMulNBits 8-bit, MatMulBlockQuantizedFp8Weight; never measured before).
# Usage: run.sh 1 (steps 1-3), then on the warm machine run.sh 2 (the 8B-width profile and step 4)
# and run.sh 3 (step 5, about 5 min).
set -u
PART=${1:-1}
C=$PWD/build/call5
R=$OUT/call5
mkdir -p "$R"
P=/tmp/fp8ops_pack
# The pack (scripts/cuda_run.sh --pack-xz) holds ONNX Runtime's CUDA provider cut to sm_90; its
# --run-xz unpacks it into $P and joins ONNX Runtime into /tmp/ortlib.
if [ ! -d $P ]; then
  RESULTS_DIR=$R/unpack scripts/cuda_run.sh --run-xz "$C/pack.tar.xz" --no-tests --no-bench > "$R/unpack.txt" 2>&1
  grep -i "onnx runtime" "$R/unpack.txt"
fi
export ORT_CUDA_LIB=/tmp/ortlib
NCU=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n1)
echo "ncu: $NCU"
if [ "$PART" = 1 ]; then
RESULTS_DIR=$R scripts/cuda_run.sh --run $P --no-bench > "$R/run.txt" 2>&1
echo "tests rc=$?" | tee -a "$R/run.txt"
grep -E "PASSED|FAILED|passed|failed|memcheck exit|ERROR SUMMARY|skipped" "$R/run.txt" | head -20
fi
if [ "$PART" = 3 ]; then
  RESULTS_DIR=$R scripts/cuda_run.sh --run $P --no-tests --no-bench --peers 2>&1 | tail -n 16
  exit 0
fi
if [ "$PART" = 2 ]; then
timeout 150 "$NCU" --kernel-name regex:Kern --launch-skip 9 --launch-count 1 --set full \
  --import-source no --clock-control none -o "$R/wg_e" "$C/probe2" ncu > "$R/wg_e.app.txt" 2>&1
echo "ncu full rc=$?"
"$NCU" --import "$R/wg_e.ncu-rep" --page details > "$R/wg_e_details.txt" 2>&1
"$NCU" --import "$R/wg_e.ncu-rep" --page source --csv --print-source sass > "$R/wg_e_sass.csv" 2>&1
echo "details $(wc -l < "$R/wg_e_details.txt") sass $(wc -l < "$R/wg_e_sass.csv")"
fi
export LD_LIBRARY_PATH=$P/lib:/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib:/tmp/ortlib
export FP8OPS_CUDA_MODULE=$P/lib/libfp8ops_cuda.so
W=/tmp/m; mkdir -p $W
if [ ! -f $W/wo.onnx ]; then
  $P/bin/fp8ops_gen_models --llama $W/f16.onnx --hidden 2048 --heads 16 --intermediate 5632 --layers 4 --external --fp16 > /dev/null
  $P/bin/fp8ops rewrite $W/f16.onnx $W/w8a8.onnx --recipe w8a8 --quiet
  $P/bin/fp8ops rewrite $W/f16.onnx $W/wo.onnx --recipe weight-only --quiet
fi
DEMO="$P/bin/fp8ops_demo bench --ep cuda-graph --plugin $P/lib/libfp8ops.so"
if [ "$PART" = 1 ]; then
for r in 1 2 3; do
  for b in 1 0; do
    echo "== round $r FP8OPS_CUDA_GEMV_BULK=$b"
    FP8OPS_CUDA_GEMV_BULK=$b $DEMO --runs 200 --seq 1 --model fp16=$W/f16.onnx \
      --model w8a8=$W/w8a8.onnx --model wo=$W/wo.onnx 2>&1 | grep -E "^(fp16|w8a8|wo) |speed-up"
  done
done > "$R/model_ab.txt" 2>&1
tail -n 40 "$R/model_ab.txt"
for m in f16 w8a8 wo; do
  for s in 1 128; do
    [ "$m" = w8a8 ] && [ "$s" = 128 ] && continue
    timeout 60 "$NCU" --csv --page raw --metrics gpu__time_duration.sum --graph-profiling node \
      --target-processes all --clock-control none --cache-control none \
      --log-file "$R/ncu_${m}_s$s.csv" $DEMO --runs 3 --seq $s --model x=$W/$m.onnx > "$R/ncu_${m}_s$s.app.txt" 2>&1
    echo "ncu $m seq $s rc=$? lines $(wc -l < "$R/ncu_${m}_s$s.csv")"
  done
done
exit 0
fi
# The same at Llama-3-8B widths (FP16 and W8A8 only, seq 1): W8A8 decode is x1.48 there.
W8=/tmp/m8; mkdir -p $W8
if [ ! -f $W8/w8a8.onnx ]; then
  $P/bin/fp8ops_gen_models --llama $W8/f16.onnx --hidden 4096 --heads 32 --intermediate 14336 --layers 4 --external --fp16 > /dev/null
  $P/bin/fp8ops rewrite $W8/f16.onnx $W8/w8a8.onnx --recipe w8a8 --quiet
fi
for m in f16 w8a8; do
  timeout 120 "$NCU" --csv --page raw --metrics gpu__time_duration.sum --graph-profiling node \
    --target-processes all --clock-control none --cache-control none \
    --log-file "$R/ncu8b_${m}_s1.csv" $DEMO --runs 3 --seq 1 --model x=$W8/$m.onnx > "$R/ncu8b_${m}_s1.app.txt" 2>&1
  echo "ncu 8b $m rc=$? lines $(wc -l < "$R/ncu8b_${m}_s1.csv")"
done
