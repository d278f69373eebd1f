#!/bin/bash
# Re-check of the committed tree's binaries (9425932) on the Xeon with avx512_amx active.
X=$PWD/build-zc/amxpack
export LD_LIBRARY_PATH=$X/lib
mkdir -p /work/main/build-zc && ln -sf $X/lib/libfp8ops.so /work/main/build-zc/libfp8ops.so
T="taskset -c 4,5"
{
$T $X/bin/cpu_kernels_test; echo "cpu_kernels_test rc=$?"
$T $X/bin/ops_session_test; echo "ops_session_test rc=$?"
$T $X/bin/plugin_smoke_test; echo "plugin_smoke_test rc=$?"
$T $X/bin/fp8ops_conformance --plugin $X/lib/libfp8ops.so tests/conformance/cases; echo "conformance rc=$?"
} > $OUT/recheck_tests.txt 2>&1
grep -E "rc=|PASSED  \]|FAILED|best ISA| passed, " $OUT/recheck_tests.txt
F='BM_Fp8Gemm/M:(16|128|512)/N:4096/K:4096/isa:(2|4)/a:0/|AmxBf16Peak|Fp32FmaPeak'
FP8OPS_BENCH_THREADS=2 $T $X/bin/cpu_kernels_bench --benchmark_filter="$F" > $OUT/recheck_kernels.txt 2>&1
grep -E "^BM_" $OUT/recheck_kernels.txt | awk '{print $1, $2, $3, $NF, $(NF-1)}' | sed 's#/min_time:0.300/real_time##'
