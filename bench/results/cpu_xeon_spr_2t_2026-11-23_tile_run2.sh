#!/bin/bash
# H2 second Xeon call: tile-path variants interleaved (FMA path, 2 pinned cores, 3 rounds), then
# session_bench with each plugin variant vs ORT MatMul fp32 in the same call.
X=$PWD/build-zc/h2pack
export LD_LIBRARY_PATH=$X/lib
{ date -u; lscpu | head -30; } > $OUT/env.txt
F='BM_Fp8Gemm/M:(16|128|512)/N:4096/K:4096/isa:2/a:0/|BM_Fp32FmaPeak'
for i in 1 2 3; do
  for b in base v1 t256 t512 t1024 t256pf j128 j256; do
    FP8OPS_BENCH_THREADS=2 taskset -c 4,5 $X/bin/ckb_$b --benchmark_filter="$F" 2>&1 | grep -E "^BM_" | awk -v b=$b -v i=$i '{print i, b, $1, $2, $3, $NF, $(NF-1)}' | sed 's#/min_time:0.300/real_time##; s#/N:4096/K:4096/isa:2/a:0##'
  done
  date -u
done > $OUT/grid.txt 2>&1
for pl in t256 base t1024 t512 t256 base; do
  echo "== plugin $pl" >> $OUT/session.md
  timeout 30 taskset -c 4,5 $X/bin/session_bench --threads=2 --runs=11 --kinds=fp32,fp8_w8a8 \
    --shapes=128x4096x4096,512x4096x4096,128x4096x14336 --plugin=$X/lib/libfp8ops_$pl.so --dir=/tmp >> $OUT/session.md 2>&1
  echo "rc=$? $(date -u)" >> $OUT/session.md
done
cat $OUT/grid.txt | awk '{print $1,$2,$3,$4}'; grep -E "plugin|ceilings|^\| [0-9]|rc=" $OUT/session.md
