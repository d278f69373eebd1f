#!/bin/bash
B=/tmp/base/build/bench/session_bench; N=/work/main/build/bench/session_bench
S=1x4096x4096,16x4096x4096,128x4096x4096,512x4096x4096,1x4096x14336,128x4096x14336,1x4096x14336x10
for r in 1 2; do
  for b in $B $N; do
    echo "## $b round $r $(date +%T)"
    $b --threads=2 --runs=11 --shapes=$S --kinds=fp32,nbits8,fp8_w8a8,fp8_wo 2>&1 | grep -E "^\||ceilings"
  done
done
echo "## full table (new) $(date +%T)"
$N --threads=2 --runs=11 2>&1 | grep -E "^\||ceilings|kernels"
echo done
