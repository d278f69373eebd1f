#!/usr/bin/env python3
"""Per-kernel time of one ONNX Runtime run from an `ncu --csv --page raw --metrics
gpu__time_duration.sum` log (run.sh step 3): kernels grouped into GEMMs (cuBLAS / cuBLASLt,
fp8ops' FP8GEMM kernels), fp8ops' QuantizeFP8, and everything else (ONNX Runtime's own kernels).
A run is the kernel sequence between two launches of the same first kernel; the last complete
run is reported (graph replays: every node timed alone, serialized, so no launch overlap).
Usage: ncu_breakdown.py FILE.csv [FILE.csv ...]"""
import csv
import re
import sys
from collections import OrderedDict, defaultdict


def rows(path):
    with open(path, newline="") as f:
        lines = [l for l in f if not l.startswith("==")]
    r = list(csv.reader(lines))
    hdr = next(i for i, x in enumerate(r) if "Kernel Name" in x)
    cols = r[hdr]
    ki, ti = cols.index("Kernel Name"), cols.index("gpu__time_duration.sum")
    unit = r[hdr + 1][ti] if len(r) > hdr + 1 else ""
    scale = {"nsecond": 1e-3, "usecond": 1.0, "msecond": 1e3, "ns": 1e-3, "us": 1.0}.get(unit, 1.0)
    out = []
    for x in r[hdr + 2:]:
        if len(x) <= max(ki, ti) or not x[ti]:
            continue
        try:
            out.append((x[ki], float(x[ti].replace(",", "")) * scale))
        except ValueError:
            pass
    return out


# fp8ops' kernels (ops/cuda/*.cu, namespace fp8ops::cuda): QuantizeFP8's, FP8GEMM's (the GEMV,
# weight-only and wgmma kernels, the scale re-layouts ahead of cuBLASLt) and the rest.
FP8OPS_QUANTIZE = ("QuantizeVecKernel", "QuantizeGenericKernel")
FP8OPS_GEMM = ("GemvMmaBulkKernel", "GemvMmaKernel", "GemvScalarKernel", "GemvVecKernel",
               "GemvWoBulkKernel", "W8A8WgmmaKernel", "WoMma2Kernel", "WoMmaKernel",
               "WoWgmmaKernel", "TransposeF32Kernel", "ExpandBlocksKernel")


def category(name):
    if any(k in name for k in FP8OPS_QUANTIZE):
        return "QuantizeFP8"
    if any(k in name for k in FP8OPS_GEMM):
        return "FP8GEMM (fp8ops)"
    if "fp8ops" in name:
        return "other fp8ops"
    n = name.lower()
    # cuBLAS / cuBLASLt (FP16 MatMul, and FP8GEMM's cuBLASLt path): gemm, gemv, xmma, cutlass
    # kernels; split-K reductions are cuBLAS's too.
    if any(k in n for k in ("gemm", "gemv", "xmma", "cutlass", "splitkreduce", "sm90_", "sm80_")):
        return "GEMM (cuBLAS)"
    return "other (ONNX Runtime)"


def short(name):
    name = name.replace("(anonymous namespace)::", "")
    if name.startswith("void "):
        name = name[5:]
    return re.sub(r"\(.*", "", name)[:90]


for path in sys.argv[1:]:
    ks = rows(path)
    if not ks:
        print(f"{path}: no kernels")
        continue
    # One run = the shortest period p (>= 8 kernels) with which the sequence's tail repeats
    # (the last p kernel names equal the p before them): the timed runs are identical.
    seq = [k for k, _ in ks]
    period = next((p for p in range(8, len(seq) // 2 + 1) if seq[-p:] == seq[-2 * p:-p]), len(seq))
    run = ks[-period:]
    total = sum(t for _, t in run)
    cats = defaultdict(float)
    counts = defaultdict(int)
    per = OrderedDict()
    for k, t in run:
        c = category(k)
        cats[c] += t
        counts[c] += 1
        key = (c, short(k))
        per[key] = per.get(key, 0.0) + t
    print(f"\n## {path}: {len(run)} kernels in the last run, {total:.1f} us summed")
    for c in sorted(cats, key=lambda c: -cats[c]):
        print(f"  {c:24s} {counts[c]:4d} kernels {cats[c]:8.1f} us  {100 * cats[c] / total:5.1f}%")
    print("  top kernels:")
    for (c, k), t in sorted(per.items(), key=lambda kv: -kv[1])[:12]:
        print(f"    {t:8.1f} us  {c:22s} {k}")
