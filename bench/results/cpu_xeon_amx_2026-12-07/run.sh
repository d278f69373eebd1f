#!/bin/bash
# On the GPU host's Xeon (AMX): this stop's CPU kernels (build/amxpack: bin/, lib/) against the
# previous build (2ff936e, build/amxpack/base/): tests with every ISA level the CPU has, kernel
# benchmark (min / median of 3 alternating calls), session_bench alternating. Results into $OUT.
X=$PWD/build/amxpack
export LD_LIBRARY_PATH=$X/lib
# The ORT tests load the plugin from the build folder compiled into them.
mkdir -p /work/main/build && ln -sf $X/lib/libfp8ops.so /work/main/build/libfp8ops.so
# Distinct names: the A/B script labels rows by file name.
ln -sf $X/base/cpu_kernels_bench /tmp/kb_base; ln -sf $X/bin/cpu_kernels_bench /tmp/kb_new
{ date -u; lscpu; nvidia-smi -L; } > $OUT/env.txt 2>&1
grep -m1 "model name" /proc/cpuinfo; grep -o 'amx[a-z_0-9]*' /proc/cpuinfo | sort -u | tr '\n' ' '; echo
T="taskset -c 4,5"
{
$T timeout 120 $X/bin/cpu_kernels_test; echo "cpu_kernels_test rc=$?"
$T timeout 120 $X/bin/ops_session_test; echo "ops_session_test rc=$?"
$T timeout 60 $X/bin/plugin_smoke_test; echo "plugin_smoke_test rc=$?"
$T timeout 120 $X/bin/fp8ops_conformance --plugin $X/lib/libfp8ops.so tests/conformance/cases; echo "conformance rc=$?"
} > $OUT/tests.txt 2>&1
grep -E "rc=|PASSED|FAILED|SKIPPED|passed|failed" $OUT/tests.txt | tail -12
F='BM_Fp8Gemm/M:(1|16|128|512)/N:(4096|14336)/K:4096/isa:(2|4)/a:0|BM_Fp32FmaPeak|BM_AmxBf16Peak'
FP8OPS_BENCH_THREADS=2 timeout 200 $T bash bench/results/cpu_xeon_2t_2026-12-07_ab.sh "$F" 3 \
  /tmp/kb_base /tmp/kb_new > $OUT/kernels_ab.txt 2>&1
cat $OUT/kernels_ab.txt
[ "$1" = --no-session ] && exit 0
S=1x4096x4096,1x4096x14336,16x4096x4096,128x4096x4096,512x4096x4096
for r in 1 2; do
  for v in base new; do
    if [ $v = base ]; then B=$X/base/session_bench; L=$X/base/libfp8ops.so; else B=$X/bin/session_bench; L=$X/lib/libfp8ops.so; fi
    echo "== $v round $r $(date -u +%T)" >> $OUT/session.md
    timeout 110 $T $B --threads=2 --runs=11 --kinds=fp32,nbits8,fp8_w8a8 --shapes=$S --plugin=$L --dir=/tmp >> $OUT/session.md 2>&1
    echo "rc=$?" >> $OUT/session.md
  done
done
grep -E "==|ceilings|kernels:|^\| [0-9]|rc=" $OUT/session.md
