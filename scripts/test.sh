#!/usr/bin/env bash
# Builds fp8ops and runs every test (ctest). Installs what is missing first (scripts/setup.sh).
# Usage: scripts/test.sh [extra ctest args]
set -euo pipefail
cd "$(dirname "$0")/.."
ORT_ROOT=$(scripts/setup.sh --quiet | tail -n 1)
BUILD=${FP8OPS_BUILD_DIR:-build}
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DONNXRUNTIME_ROOT="$ORT_ROOT" >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
cd "$BUILD"
ctest --output-on-failure -j "$(nproc)" "$@"
