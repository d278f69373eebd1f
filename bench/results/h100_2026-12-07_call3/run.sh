#!/usr/bin/env bash
# One device call (H100 host), everything into one archive ($OUT/call3.tar.xz):
#  1. the packed build's CUDA tests + memcheck, fp8_cuda_bench --w8a8 and --interleaved
#     (bench/results/cuda_2026-12-07_wgmma_probe/run.sh);
#  2. the one-run A/B of the wgmma changes (probe.cu built as build/probe2);
#  3. the host Xeon's (AMX) CPU GEMV before / after this session's changes: cpu_kernels_bench of
#     3784907 (kb_base) and of this tree (kb_new) alternating, W8A8, M = 1-8, levels avx512 / amx.
# Here first: FP8OPS_CUDA_BUILD_DIR=build scripts/cuda_run.sh --pack build/devpack; nvcc ... probe2;
# build/amxab/{bin/kb_base,bin/kb_new,lib/libbenchmark.so.1debian}. Carry build/devpack,
# build/probe2, build/amxab.
set -u
R=/tmp/call3; rm -rf $R; mkdir -p $R
nvidia-smi --query-gpu=name,clocks.max.sm,clocks.sm --format=csv > $R/gpu.txt 2>&1
OUT=$R bash bench/results/cuda_2026-12-07_wgmma_probe/run.sh build/devpack > $R/run.txt 2>&1
tail -n 30 $R/run.txt
timeout 200 ./build/probe2 > $R/probe_ab.txt 2>&1; echo "probe rc $?"; tail -n 30 $R/probe_ab.txt
X=$PWD/build/amxab
export LD_LIBRARY_PATH=$X/lib:$PWD/build/devpack/lib
{ lscpu; grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo; } > $R/cpu_env.txt 2>&1
F='BM_Fp8Gemm/M:(1|2|4|8)/N:(4096|14336)/K:4096/isa:(2|4)/a:0'
FP8OPS_BENCH_THREADS=2 timeout 240 taskset -c 4,5 bash bench/results/cpu_xeon_2t_2026-12-07_ab.sh \
  "$F" 3 $X/bin/kb_base $X/bin/kb_new > $R/amx_gemv_ab.txt 2>&1
cat $R/amx_gemv_ab.txt
tar -C /tmp -cJf $OUT/call3.tar.xz call3
