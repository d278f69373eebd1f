#!/usr/bin/env bash
# Call 4 (stop 18): the weight-only bulk-copy GEMV on a GPU: its tests, memcheck, fp8_cuda_bench --decode.
# Carry build/devpack (scripts/cuda_run.sh --pack, without its ort/ folder). Output in $OUT.
export LD_LIBRARY_PATH=$PWD/build/devpack/lib:/opt/torch/.venv/lib/python3.12/site-packages/nvidia/cu13/lib
B=build/devpack/bin
nvidia-smi --query-gpu=name --format=csv,noheader
timeout 90 $B/cuda_kernels_test --gtest_brief=1 --gtest_filter='CudaFp8Gemm.BulkCopy*:CudaFp8Gemm.DecodeShapes*:CudaFp8Gemm.WeightOnlyTensorCoreSmall*' > $OUT/tests.log 2>&1; echo tests rc $?; grep -E "PASSED|FAILED|Failure" $OUT/tests.log | head -8
timeout 60 compute-sanitizer --tool memcheck --error-exitcode 3 $B/cuda_kernels_test --gtest_brief=1 --gtest_filter='CudaFp8Gemm.BulkCopyWeightOnly' > $OUT/memcheck.log 2>&1; echo memcheck rc $?; grep "ERROR SUMMARY" $OUT/memcheck.log
timeout 60 $B/fp8_cuda_bench --decode --out $OUT/decode.md > $OUT/bench.log 2>&1; echo bench rc $?
grep -E "^\| 1 \|" $OUT/decode.md | grep -E "cuBLAS BF16 \||weight-only" 
