#!/usr/bin/env bash
# The shortest form (a few device minutes left): the CUDA kernel tests and the wgmma A/B probe.
set -u
P=$PWD/build/devpack
export LD_LIBRARY_PATH="$P/lib:/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib:${LD_LIBRARY_PATH:-}"
export FP8OPS_CUDA_MODULE="$P/lib/libfp8ops_cuda.so"
nvidia-smi --query-gpu=name,clocks.max.sm --format=csv,noheader
timeout 90 $P/bin/cuda_kernels_test --gtest_brief=1 > $OUT/cuda_kernels_test.log 2>&1; echo "tests rc $?"
grep -E "^\[  (PASSED|FAILED|SKIPPED)|tests ran" $OUT/cuda_kernels_test.log | tail -6
timeout 60 ./build/probe2 > $OUT/probe_ab.txt 2>&1; echo "probe rc $?"; tail -n 30 $OUT/probe_ab.txt
