#!/bin/bash
# usage: ab.sh FILTER ROUNDS bin1 bin2 ...
F=$1; R=$2; shift 2
for r in $(seq $R); do for b in "$@"; do
  $b --benchmark_filter="$F" --benchmark_min_time=0.2 2>&1 | grep -E "^BM" | awk -v b=$(basename $b) '{print b, $1, $2}'
done; done | python3 -c '
import sys, collections, statistics
d = collections.defaultdict(list)
for line in sys.stdin:
    b, name, t = line.split()
    d[(name.split("/min_time")[0], b)].append(float(t))
for (n, b), v in sorted(d.items()):
    print(f"{n:50s} {b:10s} min {min(v):8.3f} med {statistics.median(v):8.3f}  n={len(v)}")
'
