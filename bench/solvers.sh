#!/usr/bin/env bash
# An off-the-shelf humanised cursor (ghost-cursor on puppeteer) against the
# demo form, run by `make bench`: see bench/solvers.mjs. Needs the widget
# built (`make widget`) and installs Chromium and the npm packages.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
scripts/deps.sh browser
if [[ -z ${OCULTO_BIN:-} ]]; then
  cargo build --release -q -p oculto-verifier --bin oculto
  export OCULTO_BIN=$ROOT/target/release/oculto
fi
node bench/solvers.mjs
