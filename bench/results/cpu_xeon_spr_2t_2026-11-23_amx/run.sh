#!/bin/bash
# AMX final call: tests (kernels, plugin in ONNX Runtime, conformance) with avx512_amx active; kernel
# benchmark isa 2 (FP32 FMA) vs 4 (AMX); session_bench AMX / FMA alternating vs ORT MatMul fp32 and MatMulNBits.
X=$PWD/build-zc/amxpack
export LD_LIBRARY_PATH=$X/lib
mkdir -p /work/main/build-zc && ln -sf $X/lib/libfp8ops.so /work/main/build-zc/libfp8ops.so
{ date -u; lscpu; } > $OUT/env.txt
T="taskset -c 4,5"
{
$T $X/bin/cpu_kernels_test; echo "cpu_kernels_test rc=$?"
$T $X/bin/ops_session_test; echo "ops_session_test rc=$?"
$T $X/bin/plugin_smoke_test; echo "plugin_smoke_test rc=$?"
$T $X/bin/fp8ops_conformance --plugin $X/lib/libfp8ops.so tests/conformance/cases; echo "conformance rc=$?"
} > $OUT/tests.txt 2>&1
grep -E "rc=|PASSED|FAILED|best ISA|passed|failed" $OUT/tests.txt | tail -20
F='BM_Fp8Gemm/M:(1|16|128|512)/N:(4096|14336)/K:4096/isa:(2|4)/a:0/|Peak|DramRead'
FP8OPS_BENCH_THREADS=2 $T $X/bin/cpu_kernels_bench --benchmark_filter="$F" > $OUT/kernels.txt 2>&1
grep -E "^BM_" $OUT/kernels.txt | awk '{print $1, $2, $3, $NF, $(NF-1)}' | sed 's#/min_time:0.300/real_time##'
for isa in avx512_amx avx512 avx512_amx avx512; do
  echo "== FP8OPS_CPU_ISA=$isa $(date -u)" >> $OUT/session.md
  FP8OPS_CPU_ISA=$isa timeout 100 $T $X/bin/session_bench --threads=2 --runs=11 --kinds=fp32,nbits8,fp8_w8a8 \
    --shapes=1x4096x4096,16x4096x4096,128x4096x4096,512x4096x4096,128x4096x14336 --plugin=$X/lib/libfp8ops.so --dir=/tmp >> $OUT/session.md 2>&1
  echo "rc=$?" >> $OUT/session.md
done
grep -E "==|ceilings|^\| [0-9]|rc=" $OUT/session.md
