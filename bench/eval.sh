#!/usr/bin/env bash
# How well the scorer tells people from bots (issue 5), run by `make bench`.
#
# Builds `oculto` in release, generates bot units in every family
# (`oculto eval bots`), neutralises the recorders (`oculto eval prepare`:
# re-timed onto a 60 Hz browser clock, idle gaps capped, cut into click
# sequences) and scores everything with the production scorer
# (`oculto eval`). Three comparisons, each printed as a table:
#
#   (a) click-sequence units: Balabit and DELBOT humans against the generated
#       bots, both neutralised the same way;
#   (b) the same page: DELBOT humans against DELBOT bots, neutralised whole;
#   (c) the files as given, without neutralising (across recorders: the
#       AUC here says more about the recorders than about people);
#   (d) held out: the units of (a) and (b) again, each group (a person, a
#       device, a bot family) scored by a model fitted, as `make fit` fits,
#       on everything but that group (`oculto eval heldout`): how the model
#       does on people and bot families it never saw. (a) and (b) score
#       with the shipped model, fitted on these very people.
#
# The data is read from ../shared/data (or OCULTO_DATA) and never copied into
# the project; without it, only the generated bots are scored.
#
# It prints figures and never judges them.
#
# Settings (environment):
#   OCULTO_DATA        the data folder (default ../shared/data)
#   BENCH_PER_FAMILY   generated units per bot family (default 200)
#   BENCH_SEED         seed of the generators and the neutraliser (default 1)
#   BENCH_EVAL_OUT     a folder to also write each comparison's JSON report,
#                      the units and their payloads (--payloads) into
#   BENCH_BIN          an `oculto` binary to run instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DATA=${OCULTO_DATA:-$ROOT/../shared/data}
PER_FAMILY=${BENCH_PER_FAMILY:-200}
SEED=${BENCH_SEED:-1}
OUT=${BENCH_EVAL_OUT:-}

say() { printf 'bench: %s\n' "$*" >&2; }

start=$SECONDS
if [[ -n ${BENCH_BIN:-} ]]; then
  BIN=$BENCH_BIN
else
  (cd "$ROOT" && cargo build --release -q -p oculto-verifier --bin oculto)
  BIN=$ROOT/target/release/oculto
fi

if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  WORK=$OUT
else
  WORK=$(mktemp -d)
  trap 'rm -rf "$WORK"' EXIT
fi

# compare NAME TITLE ARGS...: prints the table; with BENCH_EVAL_OUT, also
# writes NAME.json and NAME.payloads.jsonl.
compare() {
  local name=$1 title=$2
  shift 2
  printf '\n== %s\n' "$title"
  "$BIN" eval "$@"
  if [[ -n $OUT ]]; then
    "$BIN" eval "$@" --json --payloads "$OUT/$name.payloads.jsonl" >"$OUT/$name.json"
  fi
}

"$BIN" eval bots --per-family "$PER_FAMILY" --seed "$SEED" --out "$WORK/bots.jsonl"
"$BIN" eval prepare --in "$WORK/bots.jsonl" --mode clicks --seed "$((SEED + 1))" --out "$WORK/bot-units.jsonl"

BALABIT=$DATA/human-traces/balabit.jsonl
DELBOT=$DATA/bot-traces/delbot.jsonl
if [[ -f $BALABIT && -f $DELBOT ]]; then
  "$BIN" eval prepare --in "$BALABIT" --in "$DELBOT" --label human --mode clicks --seed "$SEED" \
    --out "$WORK/human-units.jsonl"
  "$BIN" eval prepare --in "$DELBOT" --mode whole --seed "$SEED" --out "$WORK/delbot-whole.jsonl"
  compare clicks "(a) click-sequence units, neutralised: Balabit + DELBOT humans vs generated bots" \
    --human "$WORK/human-units.jsonl" --bot "$WORK/bot-units.jsonl"
  compare same-page "(b) same page, neutralised: DELBOT humans vs DELBOT bots" \
    --human "$WORK/delbot-whole.jsonl" --bot "$WORK/delbot-whole.jsonl"
  compare raw "(c) files as given, not neutralised (across recorders: not a measure of the scorer)" \
    --human "$BALABIT" --human "$DELBOT" --bot "$DELBOT" --bot "$WORK/bots.jsonl"
  printf '\n== %s\n' "(d) held out: each person, device and bot family scored by a model fitted without it"
  heldout=(--human "$WORK/human-units.jsonl" --human "$WORK/delbot-whole.jsonl"
    --bot "$WORK/bot-units.jsonl" --bot "$WORK/delbot-whole.jsonl")
  "$BIN" eval heldout "${heldout[@]}" 2>/dev/null
  if [[ -n $OUT ]]; then
    "$BIN" eval heldout "${heldout[@]}" --json 2>/dev/null >"$OUT/heldout.json"
  fi
else
  say "no data at $DATA (human-traces/balabit.jsonl, bot-traces/delbot.jsonl): scoring the generated bots alone"
  compare bots "generated bots, neutralised (no human units: no AUC)" --bot "$WORK/bot-units.jsonl"
fi
printf '\nbench: eval took %d s\n' "$((SECONDS - start))"
