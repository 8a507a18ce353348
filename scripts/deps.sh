#!/usr/bin/env bash
# Installs what the project needs and the machine lacks, by name, from the
# ordinary package clients. Safe to run again: it installs only what is missing.
#
#   scripts/deps.sh rust     cargo (checked, never installed here)
#   scripts/deps.sh wasm     a wasm32-unknown-unknown toolchain (rustup target, else Debian's rustc-web)
#   scripts/deps.sh bench    wrk
#   scripts/deps.sh browser  chromium + playwright-core (for widget tests), sqlite3
#   scripts/deps.sh ocr      tesseract-ocr (for the image challenge's OCR report)
#   scripts/deps.sh audio    espeak-ng + sox (for scripts/make-audio-clips.sh)
#   scripts/deps.sh redis    redis-server and redis-cli (the Redis store's tests start their own
#                            servers, Sentinels with `redis-server --sentinel`, and Clusters)
#   scripts/deps.sh fuzz     cargo-fuzz (from crates.io) and a C++ compiler for libFuzzer
set -euo pipefail

log() { printf 'deps: %s\n' "$*" >&2; }

# Builds on the stable toolchain (1.95 here) with `--sanitizer none`.
CARGO_FUZZ_VERSION=0.13.2

apt_updated=0
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    log "please install: ${missing[*]} (no apt-get on this machine)"
    return 1
  fi
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  if [ $apt_updated -eq 0 ]; then
    log "apt-get update"
    $sudo apt-get update -qq
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# Prints the environment that builds for wasm32 (sourced by the Makefile).
# On Debian-like machines: Debian's rustc-web, which builds std from source
# (-Zbuild-std), so panics can abort without formatting code: the smallest
# widget, and it needs no download outside the package registries. Elsewhere
# (a laptop with rustup): the prebuilt wasm32 target.
debian_wasm() {
  apt_install rustc-web cargo-web rust-web-src rust-web-llvm lld-22 >&2
  echo "WASM_CARGO='RUSTC=/usr/bin/rustc RUSTC_BOOTSTRAP=1 /usr/bin/cargo'"
  echo "WASM_FLAGS=-Zbuild-std=std,panic_abort"
  echo "WASM_RUSTFLAGS='-Zunstable-options -Cpanic=immediate-abort'"
}

wasm() {
  if command -v apt-get >/dev/null || [ -d /usr/lib/rustlib/src/rust/library ]; then
    debian_wasm
    return 0
  fi
  if rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || rustup target add wasm32-unknown-unknown >/dev/null 2>&1; then
    echo "WASM_CARGO=cargo"
    echo "WASM_FLAGS="
    echo "WASM_RUSTFLAGS="
    return 0
  fi
  log "no way to build for wasm32: install rustup's wasm32-unknown-unknown target"
  return 1
}

case "${1:-}" in
  rust)
    command -v cargo >/dev/null || { log "cargo is required: install Rust from your distribution or rustup"; exit 1; } ;;
  wasm) wasm ;;
  bench) command -v wrk >/dev/null || apt_install wrk ;;
  browser)
    command -v chromium >/dev/null || apt_install chromium
    # The step-up case reads a challenge's answer from the verifier's store.
    command -v sqlite3 >/dev/null || apt_install sqlite3
    # playwright-core for the widget tests; puppeteer-core and ghost-cursor
    # for the off-the-shelf solver in `make bench` (bench/solvers.sh).
    for m in playwright-core puppeteer-core ghost-cursor; do
      [ -d "node_modules/$m" ] || { npm install --no-audit --no-fund >/dev/null; break; }
    done ;;
  ocr) command -v tesseract >/dev/null || apt_install tesseract-ocr ;;
  audio) command -v espeak-ng >/dev/null && command -v sox >/dev/null || apt_install espeak-ng sox ;;
  redis) command -v redis-server >/dev/null && command -v redis-cli >/dev/null || apt_install redis-server redis-tools ;;
  fuzz)
    command -v c++ >/dev/null || apt_install g++
    # Cargo finds subcommands in ~/.cargo/bin even when it is not on PATH.
    if ! cargo fuzz --version >/dev/null 2>&1; then
      log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
      env -u CARGO_TARGET_DIR cargo install cargo-fuzz --locked --version "$CARGO_FUZZ_VERSION" --quiet
    fi ;;
  *) echo "usage: $0 rust|wasm|bench|browser|ocr|audio|redis|fuzz" >&2; exit 2 ;;
esac
