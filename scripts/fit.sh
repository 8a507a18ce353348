#!/usr/bin/env bash
# Re-fits the behaviour model (`make fit`) and writes verifier/src/model.json,
# which the verifier embeds. Deterministic: the same data and seeds give the
# same file.
#
# Training units, all neutralised the same way (`oculto eval prepare`:
# re-timed onto a 60 Hz browser clock, idle gaps capped):
#   humans: Balabit and DELBOT humans cut into click sequences, and DELBOT
#           humans whole (the same page as its bots);
#   bots:   generated units of every family (`oculto eval bots`), with a seed
#           that `make bench` does not use, and DELBOT bots whole.
# The data is read from ../shared/data (or OCULTO_DATA), never copied.
#
# Settings (environment): OCULTO_DATA, FIT_PER_FAMILY (default 300),
# FIT_SEED (default 1001), FIT_OUT (default verifier/src/model.json).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${OCULTO_DATA:-$ROOT/../shared/data}
PER_FAMILY=${FIT_PER_FAMILY:-300}
SEED=${FIT_SEED:-1001}
OUT=${FIT_OUT:-$ROOT/verifier/src/model.json}
BALABIT=$DATA/human-traces/balabit.jsonl
DELBOT=$DATA/bot-traces/delbot.jsonl
if [[ ! -f $BALABIT || ! -f $DELBOT ]]; then
  echo "fit: needs $BALABIT and $DELBOT (set OCULTO_DATA)" >&2
  exit 1
fi

(cd "$ROOT" && cargo build --release -q -p oculto-verifier --bin oculto)
BIN=$ROOT/target/release/oculto
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

"$BIN" eval bots --per-family "$PER_FAMILY" --seed "$SEED" --out "$WORK/bots.jsonl"
"$BIN" eval prepare --in "$WORK/bots.jsonl" --mode clicks --seed "$((SEED + 1))" --out "$WORK/bot-units.jsonl"
"$BIN" eval prepare --in "$BALABIT" --in "$DELBOT" --label human --mode clicks --seed "$SEED" \
  --out "$WORK/human-units.jsonl"
"$BIN" eval prepare --in "$DELBOT" --mode whole --seed "$SEED" --out "$WORK/delbot-whole.jsonl"
"$BIN" eval fit --human "$WORK/human-units.jsonl" --human "$WORK/delbot-whole.jsonl" \
  --bot "$WORK/bot-units.jsonl" --bot "$WORK/delbot-whole.jsonl" --out "$OUT" ${FIT_ARGS:-}
