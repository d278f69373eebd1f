#!/usr/bin/env bash
# The short form of run.sh for a call with little device time left: the packed build's CUDA
# tests + memcheck (validates the kernels of 9b32998 / 3784907 and the dispatcher of eebdf94),
# the wgmma A/B probe, and the AMX host's GEMV before / after (2 rounds). One archive in $OUT.
set -u
R=/tmp/call3; rm -rf $R; mkdir -p $R
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv > $R/gpu.txt 2>&1; cat $R/gpu.txt
RESULTS_DIR=$R timeout 200 scripts/cuda_run.sh --run build/devpack --no-bench > $R/tests.txt 2>&1
echo "tests rc $?"; grep -E "PASSED|FAILED|passed|failed|ERROR SUMMARY|exit code" $R/tests.txt | tail -8
timeout 100 ./build/probe2 > $R/probe_ab.txt 2>&1; echo "probe rc $?"; tail -n 24 $R/probe_ab.txt
X=$PWD/build/amxab
export LD_LIBRARY_PATH=$X/lib:$PWD/build/devpack/lib
grep -m1 "model name" /proc/cpuinfo; grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
F='BM_Fp8Gemm/M:(1|2|4|8)/N:4096/K:4096/isa:(2|4)/a:0'
FP8OPS_BENCH_THREADS=2 timeout 80 taskset -c 4,5 bash bench/results/cpu_xeon_2t_2026-12-07_ab.sh \
  "$F" 2 $X/bin/kb_base $X/bin/kb_new > $R/amx_gemv_ab.txt 2>&1
cat $R/amx_gemv_ab.txt
tar -C /tmp -cJf $OUT/call3.tar.xz call3
