#!/usr/bin/env bash
# OCR resistance of the image challenges (issue 4).
#
# Installs Tesseract (Debian's tesseract-ocr) if it is missing, builds
# `oculto` in release and runs `oculto challenge ocr`: it renders OCR_N
# challenges of each CaptchEtat kind and reads them with Tesseract, raw and
# cleaned up (grey, 2x, median, Otsu threshold), with --psm 7 and 13 and the
# kind's alphabet as whitelist, then prints the exact solve rate and the
# per-character accuracy per kind. About 2 minutes for 500 per kind on 2 cores.
# The sample sheet in docs/ comes from the same command: OCR_N=0 OCR_SHEET=docs/challenge-samples.png.
#
# It prints figures and never judges them; the target is under 1% exact
# solves on every kind.
#
# Settings (environment):
#   OCR_N      challenges per kind (default 500)
#   OCR_JOBS   Tesseract processes at once (default: the number of cores)
#   OCR_KEEP   a folder to keep the images and readings.tsv in
#   OCR_JSON   1 prints one JSON object instead of the table
#   OCR_SHEET  also write a sample sheet (4 challenges per kind) to this PNG
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

scripts/deps.sh ocr
cargo build --release -p oculto-verifier >&2

bin=target/release/oculto
"$bin" challenge ocr --help >/dev/null 2>&1 \
  || { echo "ocr: $bin has no 'challenge ocr' subcommand (main.rs calls challenge::ocr::run)" >&2; exit 1; }

args=(--per-kind "${OCR_N:-500}" --jobs "${OCR_JOBS:-$(nproc 2>/dev/null || echo 2)}")
[[ -n ${OCR_KEEP:-} ]] && args+=(--keep "$OCR_KEEP")
[[ ${OCR_JSON:-0} == 1 ]] && args+=(--json)
[[ -n ${OCR_SHEET:-} ]] && args+=(--sheet "$OCR_SHEET")
exec "$bin" challenge ocr "${args[@]}"
