#!/usr/bin/env bash
# /verify throughput on loopback (issue 2), run by `make bench`.
#
# Builds `oculto` in release, starts it on a free loopback port with a fresh
# database, registers a site and mints distinct verdict tokens through the real
# /init -> /score path (wrk + bench/mint.lua). Then, for each SQLite
# synchronous mode, it starts a verifier on a copy of that database and runs
# wrk against /verify (bench/verify.lua), every token verified exactly once
# across wrk's threads. Afterwards it kills the verifier with SIGKILL, starts it
# again on the same file and re-verifies a sample of the used tokens: all must
# answer 409 (single use recorded durably).
#
# It prints figures and never judges timing. It fails only on wrong answers:
# a non-200 during the run, or a re-verified token that is not 409.
#
# Settings (environment):
#   BENCH_TOKENS       tokens to mint, shared by the modes (default 400000)
#   BENCH_DURATION     wrk duration per mode (default 10s)
#   BENCH_CONNECTIONS  wrk connections (default 64)
#   BENCH_THREADS      wrk threads (default 2)
#   BENCH_MODES        SQLite synchronous modes to run (default "normal full")
#   BENCH_SAMPLE       tokens re-verified after the kill (default 200)
#   BENCH_WORKERS      verifier HTTP workers (default 0: one per core)
#   BENCH_KEEP         1 keeps the temporary folder (logs, databases, tokens)
#   BENCH_BIN          an `oculto` binary to measure instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
TOKENS=${BENCH_TOKENS:-400000}
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
MODES=${BENCH_MODES:-normal full}
SAMPLE=${BENCH_SAMPLE:-200}
ORIGIN=http://bench.test

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

need() {
  command -v "$1" >/dev/null && return
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing $2 (Debian)"
    apt-get install -y -qq "$2" >/dev/null || { apt-get update -qq && apt-get install -y -qq "$2" >/dev/null; }
  fi
  command -v "$1" >/dev/null || die "$1 is needed: apt-get install $2"
}
need wrk wrk
need curl curl

if [[ -n ${BENCH_BIN:-} ]]; then
  OCULTO=$(realpath "$BENCH_BIN")
else
  say "building oculto (release)"
  cargo build --release --quiet -p oculto-verifier --manifest-path "$ROOT/Cargo.toml"
  OCULTO="$ROOT/target/release/oculto"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/oculto-bench.XXXXXX")
SERVER_PID=
WRK_PID=
cleanup() {
  if [[ -n $WRK_PID ]]; then kill -9 "$WRK_PID" 2>/dev/null || true; fi
  if [[ -n $SERVER_PID ]]; then kill -9 "$SERVER_PID" 2>/dev/null || true; fi
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The verifier's settings for every run: quiet logs, a token lifetime that
# outlasts minting and both runs, and, for minting from one address, no proof
# of work and rate limits out of the way. /verify has no rate limit anyway.
export RUST_LOG=warn OCULTO_LOG=warn OCULTO_TOKEN_TTL_SECS=3600 \
  OCULTO_POW__DIFFICULTY=0 OCULTO_POW__FLOOD_EXTRA=0 \
  OCULTO_RATE_LIMIT__INIT_PER_MIN=1000000000 OCULTO_RATE_LIMIT__SCORE_PER_MIN=1000000000 \
  OCULTO_RATE_LIMIT__SOFT_PER_MIN=1000000000 OCULTO_WORKERS=${BENCH_WORKERS:-0}

# start DB MODE LOG: starts a verifier on port 0 and sets SERVER_PID and PORT.
start() {
  OCULTO_SQLITE__SYNCHRONOUS=$2 "$OCULTO" serve --addr 127.0.0.1:0 --store "sqlite://$1" >"$3" 2>&1 &
  SERVER_PID=$!
  PORT=
  for _ in $(seq 300); do
    PORT=$(sed -n 's|^oculto listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$3")
    [[ -n $PORT ]] && return
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$3" >&2; die "the verifier did not start"; }
    sleep 0.1
  done
  die "the verifier did not say which port it listens on"
}

# stop [SIGNAL]: stops the verifier (gracefully by default) and waits for it.
stop() {
  kill "-${1:-TERM}" "$SERVER_PID"
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=
}

# field NAME LINE: the value of NAME=... in a RESULT/MINT line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# Mint: one database, copied for each mode, so both modes verify the same
# kind of tokens against the same amount of stored state.
say "registering a site"
SITE_JSON=$("$OCULTO" site add --name bench --origin "$ORIGIN" --json --store "sqlite://$WORK/base.db" | tee "$WORK/site.json")
SITE_KEY=$(sed -n 's/.*"site_key": *"\([^"]*\)".*/\1/p' <<<"$SITE_JSON")
API_KEY=$(sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p' <<<"$SITE_JSON")
[[ -n $SITE_KEY && -n $API_KEY ]] || die "cannot read the site's keys from: $SITE_JSON"

start "$WORK/base.db" normal "$WORK/mint-server.log"
say "minting $TOKENS tokens through /init + /score"
PER_THREAD=$(((TOKENS + THREADS - 1) / THREADS))
mkdir "$WORK/minted"
MINT_START=$(date +%s.%N)
wrk -t "$THREADS" -c "$CONNECTIONS" -d 3600s --timeout 10s -s "$BENCH/mint.lua" "http://127.0.0.1:$PORT" \
  -- "$SITE_KEY" "$ORIGIN" "$WORK/minted" "$PER_THREAD" >"$WORK/mint-wrk.log" 2>&1 &
WRK_PID=$!
# wrk runs until its duration is over even when every thread has stopped:
# SIGINT makes it finish (and print) once each thread has left its marker.
until [[ $(find "$WORK/minted" -name 'done.*' | wc -l) -ge $THREADS ]]; do
  kill -0 "$WRK_PID" 2>/dev/null || { cat "$WORK/mint-wrk.log" >&2; die "minting failed"; }
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/mint-server.log" >&2; die "the verifier stopped while minting"; }
  sleep 0.2
done
kill -INT "$WRK_PID"
wait "$WRK_PID" || { cat "$WORK/mint-wrk.log" >&2; die "minting failed"; }
WRK_PID=
MINT_SECS=$(awk -v a="$MINT_START" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
stop
MINT=$(grep '^MINT ' "$WORK/mint-wrk.log") || { cat "$WORK/mint-wrk.log" >&2; die "minting printed no summary"; }
# Interleaved in the order they were minted (as a site's backends would
# present them, seconds after /score), duplicates dropped.
paste -d '\n' "$WORK"/minted/tokens.* | awk 'NF && !seen[$0]++' >"$WORK/all"
MINTED=$(wc -l <"$WORK/all")
[[ $(field failed "$MINT") == 0 ]] || say "warning: $(field failed "$MINT") /init or /score answers were not 200"
((MINTED >= TOKENS)) || die "minted only $MINTED distinct tokens of $TOKENS"
say "minted $MINTED distinct tokens in $MINT_SECS s ($(awk -v n="$MINTED" -v s="$MINT_SECS" 'BEGIN { printf "%d", n / s }') tokens/s)"
# One file per wrk thread: thread N only ever sends tokens of tokens.N.
awk -v n="$THREADS" -v p="$WORK/tokens" '{ print > (p "." ((NR - 1) % n)) }' "$WORK/all"

FAILED=0
ROWS=()
for MODE in $MODES; do
  DB="$WORK/$MODE.db"
  for f in base.db base.db-wal base.db-shm; do
    [[ -e $WORK/$f ]] && cp "$WORK/$f" "$DB${f#base.db}"
  done
  start "$DB" "$MODE" "$WORK/$MODE-server.log"
  say "synchronous=$MODE: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency POST /verify"
  wrk -t "$THREADS" -c "$CONNECTIONS" -d "$DURATION" --latency -s "$BENCH/verify.lua" "http://127.0.0.1:$PORT" \
    -- "$WORK/tokens" "$API_KEY" "$WORK/$MODE-sent" >"$WORK/$MODE-wrk.log" 2>&1 \
    || { cat "$WORK/$MODE-wrk.log" >&2; die "wrk failed"; }
  RSS_KB=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
  R=$(grep '^RESULT ' "$WORK/$MODE-wrk.log") || { cat "$WORK/$MODE-wrk.log" >&2; die "wrk printed no result"; }
  cp "$WORK/$MODE-wrk.log" "$WORK/last-wrk.log"

  # Single use, durably: kill the verifier outright, start it again on the
  # same file and present a sample of the tokens it accepted.
  stop KILL
  start "$DB" "$MODE" "$WORK/$MODE-restart.log"
  for ((t = 0; t < THREADS; t++)); do
    SENT=$(cat "$WORK/$MODE-sent.$t")
    # The last request of each connection may have been cut by wrk's stop.
    SURE=$((SENT - CONNECTIONS))
    ((SURE > 0)) || continue
    awk -v n="$SURE" -v k="$((SAMPLE / THREADS))" 'NR > n { exit } (NR - 1) % int(n / k + 1) == 0' "$WORK/tokens.$t"
  done >"$WORK/$MODE-sample"
  CHECKED=0
  REPLAYED=0
  while read -r TOKEN; do
    CODE=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      --data "{\"api_key\":\"$API_KEY\",\"token\":\"$TOKEN\"}" "http://127.0.0.1:$PORT/verify")
    CHECKED=$((CHECKED + 1))
    echo "$CODE $TOKEN" >>"$WORK/$MODE-recheck"
    [[ $CODE == 409 ]] && REPLAYED=$((REPLAYED + 1))
  done <"$WORK/$MODE-sample"
  stop

  REQS=$(field requests "$R")
  SECS=$(field seconds "$R")
  NON200=$(field non2xx "$R")
  ERRS=$(($(field connect "$R") + $(field read "$R") + $(field write "$R") + $(field timeout "$R")))
  RAN_OUT=$(field ran_out "$R")
  ROWS+=("$(awk -v m="$MODE" -v r="$REQS" -v s="$SECS" -v p50="$(field p50_us "$R")" -v p99="$(field p99_us "$R")" \
    -v n="$NON200" -v e="$ERRS" -v rss="$RSS_KB" -v c="$CHECKED" -v ok="$REPLAYED" 'BEGIN {
      printf "%-8s %10.0f %9.2f ms %8.2f ms %8d %7d %8.1f MB %9s\n",
        m, r / s, p50 / 1000, p99 / 1000, n, e, rss / 1024, ok "/" c " 409"
    }')")
  if ((NON200 > 0 || ERRS > 0)); then
    say "synchronous=$MODE: $NON200 non-200 answers and $ERRS socket errors or timeouts"
    FAILED=1
  fi
  if ((RAN_OUT > 0)); then
    say "synchronous=$MODE: tokens ran out before the end: the rate above is low; raise BENCH_TOKENS"
  fi
  if ((CHECKED == 0 || REPLAYED != CHECKED)); then
    say "synchronous=$MODE: only $REPLAYED of $CHECKED used tokens answered 409 after a restart;" \
      "answers: $(cut -d' ' -f1 "$WORK/$MODE-recheck" | sort | uniq -c | xargs)"
    FAILED=1
  fi
done

cat <<EOF

/verify on loopback: wrk -t$THREADS -c$CONNECTIONS -d$DURATION, each of $MINTED tokens (minted through
/init + /score, $MINT_SECS s) verified at most once; $(nproc) cores, verifier and wrk on the same machine.

mode       verifies/s        p50        p99  non-200  errors  peak RSS  re-verify after kill -9
$(printf '%s\n' "${ROWS[@]}")

reference (wrk -c64, 10 s, same kind of machine): Cap's Node server with single use 16,900/s, p99 12 ms
target: >= 25,000 verifies/s, p99 < 5 ms, peak RSS < 64 MB
wrk's own report of the last run:
$(sed -n '/Latency Distribution/,/^Requests\/sec/p' "$WORK/last-wrk.log")
EOF
exit "$FAILED"
