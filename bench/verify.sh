#!/usr/bin/env bash
# /verify throughput on loopback (issues 2 and 6), run by `make bench`.
#
# Builds `oculto` in release and measures /verify in four set-ups:
#
#   sqlite         one node, SQLite, synchronous = normal (the default)
#   sqlite-full    one node, SQLite, synchronous = full
#   redis          one node on Redis
#   redis-2nodes   two nodes sharing one Redis, half the load on each
#   redis-cluster  one node on a Redis Cluster of three masters on this machine
#                  (not run unless BENCH_RUNS names it)
#
# For each store it starts a verifier on a fresh store, registers a site and
# mints distinct verdict tokens through the real /init -> /score path (wrk +
# bench/mint.lua), then keeps that store as a template (SQLite: the file;
# Redis: an RDB snapshot). Each run starts from a copy of its template and
# runs wrk against /verify (bench/verify.lua), every token verified exactly
# once across wrk's threads (and nodes). Afterwards it kills a verifier with
# SIGKILL, starts it again on the same store and re-verifies a sample of the
# used tokens: all must answer 409 (single use recorded durably). Redis runs
# with `appendonly yes` and `appendfsync everysec`, the counterpart of
# SQLite's synchronous = normal (a killed process loses nothing it answered;
# a power cut may lose the last second).
#
# It prints figures and never judges timing. It fails only on wrong answers:
# a non-200 during a run, or a re-verified token that is not 409.
#
# Settings (environment):
#   BENCH_RUNS         the set-ups to run (default "sqlite sqlite-full redis redis-2nodes")
#   BENCH_TOKENS       tokens to mint per store (default 400000)
#   BENCH_DURATION     wrk duration per run (default 10s)
#   BENCH_CONNECTIONS  wrk connections, all nodes together (default 64)
#   BENCH_THREADS      wrk threads, all nodes together (default 2)
#   BENCH_SAMPLE       tokens re-verified after the kill (default 200)
#   BENCH_WORKERS      HTTP workers of each verifier (default 0: one per core)
#   BENCH_KEEP         1 keeps the temporary folder (logs, stores, tokens)
#   BENCH_BIN          an `oculto` binary to measure instead of building one
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH="$ROOT/bench"
RUNS=${BENCH_RUNS:-sqlite sqlite-full redis redis-2nodes}
TOKENS=${BENCH_TOKENS:-400000}
DURATION=${BENCH_DURATION:-10s}
CONNECTIONS=${BENCH_CONNECTIONS:-64}
THREADS=${BENCH_THREADS:-2}
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
if [[ $RUNS == *redis* ]]; then
  "$ROOT/scripts/deps.sh" redis
  need redis-cli redis-tools
fi

if [[ -n ${BENCH_BIN:-} ]]; then
  OCULTO=$(realpath "$BENCH_BIN")
else
  say "building oculto (release)"
  cargo build --release --quiet -p oculto-verifier --manifest-path "$ROOT/Cargo.toml"
  OCULTO="${CARGO_TARGET_DIR:-$ROOT/target}/release/oculto"
fi

LOAD_START=$(cut -d' ' -f1 /proc/loadavg)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/oculto-bench.XXXXXX")
# Every process this script starts, by pid, killed on exit.
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -9 "$pid" 2>/dev/null || true; done
  if [[ ${BENCH_KEEP:-0} == 1 ]]; then say "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The verifier's settings for every run: quiet logs, a token lifetime that
# outlasts minting and the runs, and, for minting from one address, no proof
# of work and rate limits out of the way. /verify has no rate limit anyway.
export RUST_LOG=warn OCULTO_LOG=warn OCULTO_TOKEN_TTL_SECS=3600 \
  OCULTO_POW__DIFFICULTY=0 OCULTO_POW__FLOOD_EXTRA=0 \
  OCULTO_RATE_LIMIT__INIT_PER_MIN=1000000000 OCULTO_RATE_LIMIT__SCORE_PER_MIN=1000000000 \
  OCULTO_RATE_LIMIT__SOFT_PER_MIN=1000000000 OCULTO_RATE_LIMIT__SITE_SOFT_PER_MIN=1000000000 \
  OCULTO_WORKERS=${BENCH_WORKERS:-0}

# pid_of NAME, port_of NAME: verifier NAME's process and port.
pid_of() { local v="PID_${1//-/_}"; echo "${!v}"; }
port_of() { local v="PORT_${1//-/_}"; echo "${!v}"; }

# start NAME STORE [SYNCHRONOUS]: starts verifier NAME on port 0 (logging to
# $WORK/NAME.log), for pid_of and port_of.
start() {
  local name=${1//-/_} store=$2 sync=${3:-normal} log="$WORK/$1.log" port= pid
  # Emptied here, not by the background job's redirection, which may come
  # after the first read below (a restart would read the old port).
  : >"$log"
  OCULTO_SQLITE__SYNCHRONOUS=$sync "$OCULTO" serve --addr 127.0.0.1:0 --store "$store" >>"$log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  for _ in $(seq 300); do
    port=$(sed -n 's|^oculto listening on http://127\.0\.0\.1:\([0-9]*\)$|\1|p' "$log")
    if [[ -n $port ]]; then
      printf -v "PID_$name" '%s' "$pid"
      printf -v "PORT_$name" '%s' "$port"
      return
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "verifier $name did not start"; }
    sleep 0.1
  done
  die "verifier $name did not say which port it listens on"
}

# stop PID [SIGNAL]: stops a process (gracefully by default) and waits for it.
stop() {
  kill "-${2:-TERM}" "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# redis_start DIR [OPTION...]: starts redis-server on a free port with its
# files in DIR (loading DIR/dump.rdb if there is one), with more options if
# given, and sets REDIS_PID and REDIS_PORT.
redis_start() {
  local dir=$1 port pid
  shift
  mkdir -p "$dir"
  for _ in $(seq 20); do
    port=$((20000 + RANDOM % 40000))
    redis-server --port "$port" --bind 127.0.0.1 --dir "$dir" --save '' --appendonly no \
      --logfile "$dir/redis.log" --daemonize no "$@" >/dev/null 2>&1 &
    pid=$!
    for _ in $(seq 600); do
      if redis-cli -p "$port" INFO server 2>/dev/null | grep -q "^process_id:$pid"; then
        # Loaded (a snapshot takes a moment) and ours.
        until [[ $(redis-cli -p "$port" INFO persistence | sed -n 's/^loading:\([0-9]\).*/\1/p') == 0 ]]; do
          sleep 0.1
        done
        PIDS+=("$pid")
        REDIS_PID=$pid
        REDIS_PORT=$port
        return
      fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.05
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  cat "$dir/redis.log" >&2
  die "redis-server did not start"
}

# redis_durable: turns on the append-only file (everysec) and waits for its
# first rewrite, so that the run measures Redis as the README asks to run it.
redis_durable() {
  redis-cli -p "$REDIS_PORT" CONFIG SET appendfsync everysec >/dev/null
  redis-cli -p "$REDIS_PORT" CONFIG SET appendonly yes >/dev/null
  until redis-cli -p "$REDIS_PORT" INFO persistence | grep -q '^aof_rewrite_in_progress:0' &&
    redis-cli -p "$REDIS_PORT" INFO persistence | grep -q '^aof_enabled:1' &&
    redis-cli -p "$REDIS_PORT" INFO persistence | grep -q '^aof_rewrite_scheduled:0'; do
    sleep 0.1
  done
}

# field NAME LINE: the value of NAME=... in a RESULT/MINT line.
field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<" $2"; }

# mint KIND STORE: registers a site in STORE and mints $TOKENS tokens through
# a verifier on it; writes $WORK/KIND.site.json and $WORK/KIND.tokens (one a
# line, in the order they were minted).
mint() {
  local kind=$1 store=$2 json pid port wrk_pid started secs minted
  json=$("$OCULTO" site add --name bench --origin "$ORIGIN" --json --store "$store" | tee "$WORK/$kind.site.json")
  SITE_KEY=$(sed -n 's/.*"site_key": *"\([^"]*\)".*/\1/p' <<<"$json")
  [[ -n $SITE_KEY ]] || die "cannot read the site key from: $json"
  start "mint-$kind" "$store"
  pid=$(pid_of "mint-$kind")
  port=$(port_of "mint-$kind")
  say "$kind: minting $TOKENS tokens through /init + /score"
  mkdir "$WORK/minted-$kind"
  started=$(date +%s.%N)
  wrk -t "$THREADS" -c "$CONNECTIONS" -d 3600s --timeout 10s -s "$BENCH/mint.lua" "http://127.0.0.1:$port" \
    -- "$SITE_KEY" "$ORIGIN" "$WORK/minted-$kind" "$(((TOKENS + THREADS - 1) / THREADS))" \
    >"$WORK/mint-$kind-wrk.log" 2>&1 &
  wrk_pid=$!
  PIDS+=("$wrk_pid")
  # wrk runs until its duration is over even when every thread has stopped:
  # SIGINT makes it finish (and print) once each thread has left its marker.
  until [[ $(find "$WORK/minted-$kind" -name 'done.*' | wc -l) -ge $THREADS ]]; do
    kill -0 "$wrk_pid" 2>/dev/null || { cat "$WORK/mint-$kind-wrk.log" >&2; die "minting failed"; }
    kill -0 "$pid" 2>/dev/null || { cat "$WORK/mint-$kind.log" >&2; die "the verifier stopped while minting"; }
    sleep 0.2
  done
  kill -INT "$wrk_pid"
  wait "$wrk_pid" || { cat "$WORK/mint-$kind-wrk.log" >&2; die "minting failed"; }
  secs=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  stop "$pid"
  local line
  line=$(grep '^MINT ' "$WORK/mint-$kind-wrk.log") || { cat "$WORK/mint-$kind-wrk.log" >&2; die "no mint summary"; }
  [[ $(field failed "$line") == 0 ]] || say "warning: $(field failed "$line") /init or /score answers were not 200"
  # Interleaved in the order they were minted (as a site's backends would
  # present them, seconds after /score), duplicates dropped.
  paste -d '\n' "$WORK/minted-$kind"/tokens.* | awk 'NF && !seen[$0]++' >"$WORK/$kind.tokens"
  minted=$(wc -l <"$WORK/$kind.tokens")
  ((minted >= TOKENS)) || die "minted only $minted distinct tokens of $TOKENS"
  say "$kind: minted $minted distinct tokens in $secs s ($(awk -v n="$minted" -v s="$secs" 'BEGIN { printf "%d", n / s }') tokens/s)"
  MINTED_SECS+=("$kind $secs")
}

# split KIND PARTS PREFIX: deals $WORK/KIND.tokens round-robin into
# PREFIX.0 .. PREFIX.(PARTS-1): each wrk thread only ever sends its own.
split_tokens() {
  awk -v n="$2" -v p="$3" '{ print > (p "." ((NR - 1) % n)) }' "$WORK/$1.tokens"
}

# recheck NAME STORE SENT_PREFIX TOKENS_PREFIX THREADS CONNS: kills verifier
# NAME, starts it again on STORE and re-verifies a sample of the tokens its
# wrk threads surely sent; sets CHECKED and REPLAYED.
recheck() {
  local name=$1 store=$2 sent_prefix=$3 tokens_prefix=$4 threads=$5 conns=$6 port t sent sure code
  stop "$(pid_of "$name")" KILL
  start "$name" "$store"
  port=$(port_of "$name")
  for ((t = 0; t < threads; t++)); do
    sent=$(cat "$sent_prefix.$t")
    # The last request of each connection may have been cut by wrk's stop.
    sure=$((sent - conns))
    ((sure > 0)) || continue
    awk -v n="$sure" -v k="$((SAMPLE / threads))" 'NR > n { exit } (NR - 1) % int(n / k + 1) == 0' "$tokens_prefix.$t"
  done >"$WORK/$name-sample"
  CHECKED=0
  REPLAYED=0
  while read -r token; do
    code=$(curl -s --noproxy '*' -o /dev/null -w '%{http_code}' -H 'Content-Type: application/json' \
      --data "{\"api_key\":\"$API_KEY\",\"token\":\"$token\"}" "http://127.0.0.1:$port/verify" || true)
    CHECKED=$((CHECKED + 1))
    echo "$code $token" >>"$WORK/$name-recheck"
    [[ $code == 409 ]] && REPLAYED=$((REPLAYED + 1))
  done <"$WORK/$name-sample"
  stop "$(pid_of "$name")"
}

peak_kb() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"; }
# ticks PID...: CPU time (user + system) the processes have used, in clock ticks.
ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{ print $14 + $15 }' "/proc/$p/stat"))); done; echo "$t"; }
CLK_TCK=$(getconf CLK_TCK)

FAILED=0
ROWS=()
RATES=()
MINTED_SECS=()

# row RUN NODES OCULTO_KB REDIS_KB OCULTO_TICKS REDIS_TICKS RESULT_LINES...:
# checks the wrk results of a run and adds its row. Throughput adds up over
# the nodes' wrk processes; p50 is their mean and p99 the worst of them. The
# CPU time the verifiers and Redis used during the run, per verify, says
# what each costs whatever else the machine was doing.
row() {
  local run=$1 nodes=$2 oculto_kb=$3 redis_kb=$4 oculto_t=$5 redis_t=$6 requests=0 seconds=0 p50=0 p99=0 non200=0 errs=0 ran_out=0 r n=0
  shift 6
  for r in "$@"; do
    requests=$((requests + $(field requests "$r")))
    seconds=$(awk -v a="$seconds" -v b="$(field seconds "$r")" 'BEGIN { print (b > a ? b : a) }')
    p50=$((p50 + $(field p50_us "$r")))
    p99=$(($(field p99_us "$r") > p99 ? $(field p99_us "$r") : p99))
    non200=$((non200 + $(field non2xx "$r")))
    errs=$((errs + $(field connect "$r") + $(field read "$r") + $(field write "$r") + $(field timeout "$r")))
    ran_out=$((ran_out + $(field ran_out "$r")))
    n=$((n + 1))
  done
  local rate
  rate=$(awk -v r="$requests" -v s="$seconds" 'BEGIN { printf "%.0f", r / s }')
  RATES+=("$run=$rate")
  ROWS+=("$(awk -v m="$run" -v nodes="$nodes" -v rate="$rate" -v p50="$((p50 / n))" -v p99="$p99" -v nn="$non200" \
    -v e="$errs" -v o="$oculto_kb" -v rd="$redis_kb" -v c="$CHECKED" -v ok="$REPLAYED" -v ot="$oculto_t" \
    -v rt="$redis_t" -v req="$requests" -v hz="$CLK_TCK" 'BEGIN {
      cpu = sprintf("%d", ot * 1e6 / hz / req)
      if (rt != "") cpu = cpu sprintf(" + %d", rt * 1e6 / hz / req)
      printf "%-13s %5d %11d %8.2f ms %8.2f ms %7d %6d %9.1f MB %9s %14s %9s\n", m, nodes, rate, p50 / 1000,
        p99 / 1000, nn, e, o / 1024, (rd == "" ? "-" : sprintf("%.1f MB", rd / 1024)), cpu " us", ok "/" c " 409"
    }')")
  if ((non200 > 0 || errs > 0)); then
    say "$run: $non200 non-200 answers and $errs socket errors or timeouts"
    FAILED=1
  fi
  if ((ran_out > 0)); then
    say "$run: tokens ran out before the end: the rate above is low; raise BENCH_TOKENS"
  fi
  if ((CHECKED == 0 || REPLAYED != CHECKED)); then
    say "$run: only $REPLAYED of $CHECKED used tokens answered 409 after a restart;" \
      "answers: $(cut -d' ' -f1 "$WORK/"*-recheck | sort | uniq -c | xargs)"
    FAILED=1
  fi
}

# wrk_verify PORT THREADS CONNS TOKENS_PREFIX SENT_PREFIX LOG: one wrk against
# /verify of one node, in the background; sets WRK_PID.
wrk_verify() {
  wrk -t "$2" -c "$3" -d "$DURATION" --latency -s "$BENCH/verify.lua" "http://127.0.0.1:$1" \
    -- "$4" "$API_KEY" "$5" >"$6" 2>&1 &
  WRK_PID=$!
  PIDS+=("$WRK_PID")
}

result_of() { grep '^RESULT ' "$1" || { cat "$1" >&2; die "wrk printed no result ($1)"; }; }

# one_node RUN STORE SYNC MINTED [STORE_PID...]: one verifier on STORE (SQLite
# synchronous mode SYNC), one wrk against it with the tokens minted under
# MINTED; then single use, durably: the verifier is killed outright, started
# again on the same store and presented a sample of the tokens it accepted;
# then the table's row. The store's processes, when given, are measured too
# (their CPU time and peak RSS added up).
one_node() {
  local run=$1 store=$2 sync=$3 minted=$4 t0 r0 oculto_t oculto_kb redis_t= redis_kb= r pid
  shift 4
  split_tokens "$minted" "$THREADS" "$WORK/$run-tokens"
  start "$run" "$store" "$sync"
  say "$run: wrk -t$THREADS -c$CONNECTIONS -d$DURATION --latency POST /verify"
  t0=$(ticks "$(pid_of "$run")")
  (($#)) && r0=$(ticks "$@")
  wrk_verify "$(port_of "$run")" "$THREADS" "$CONNECTIONS" "$WORK/$run-tokens" "$WORK/$run-sent" "$WORK/$run-wrk.log"
  wait "$WRK_PID" || { cat "$WORK/$run-wrk.log" >&2; die "wrk failed"; }
  oculto_t=$(($(ticks "$(pid_of "$run")") - t0))
  oculto_kb=$(peak_kb "$(pid_of "$run")")
  if (($#)); then
    redis_t=$(($(ticks "$@") - r0))
    redis_kb=0
    for pid in "$@"; do redis_kb=$((redis_kb + $(peak_kb "$pid"))); done
  fi
  r=$(result_of "$WORK/$run-wrk.log")
  cp "$WORK/$run-wrk.log" "$WORK/last-wrk.log"
  recheck "$run" "$store" "$WORK/$run-sent" "$WORK/$run-tokens" "$THREADS" "$CONNECTIONS"
  row "$run" 1 "$oculto_kb" "$redis_kb" "$oculto_t" "$redis_t" "$r"
}

# SQLite: one database, copied for each mode, so that both modes verify the
# same kind of tokens against the same amount of stored state.
if [[ $RUNS == *sqlite* ]]; then
  mint sqlite "sqlite://$WORK/base.db"
fi
for RUN in $RUNS; do
  [[ $RUN == sqlite || $RUN == sqlite-full ]] || continue
  MODE=normal
  [[ $RUN == sqlite-full ]] && MODE=full
  API_KEY=$(sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p' "$WORK/sqlite.site.json")
  DB="$WORK/$RUN.db"
  for f in base.db base.db-wal base.db-shm; do
    [[ -e $WORK/$f ]] && cp "$WORK/$f" "$DB${f#base.db}"
  done
  one_node "$RUN" "sqlite://$DB" "$MODE" sqlite
done

# Redis: one snapshot, loaded by a fresh redis-server for each run.
if [[ " $RUNS " == *" redis "* || " $RUNS " == *" redis-2nodes "* ]]; then
  redis_start "$WORK/redis-mint"
  mint redis "redis://127.0.0.1:$REDIS_PORT"
  redis-cli -p "$REDIS_PORT" SAVE >/dev/null
  stop "$REDIS_PID"
fi
for RUN in $RUNS; do
  [[ $RUN == redis || $RUN == redis-2nodes ]] || continue
  API_KEY=$(sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p' "$WORK/redis.site.json")
  mkdir -p "$WORK/$RUN-redis"
  cp "$WORK/redis-mint/dump.rdb" "$WORK/$RUN-redis/"
  redis_start "$WORK/$RUN-redis"
  redis_durable
  STORE="redis://127.0.0.1:$REDIS_PORT"
  if [[ $RUN == redis ]]; then
    one_node "$RUN" "$STORE" normal redis "$REDIS_PID"
  else
    # Two nodes, each with its own wrk, half the threads and connections,
    # and its own half of the tokens (so no token goes to both).
    T2=$(((THREADS + 1) / 2))
    C2=$(((CONNECTIONS + 1) / 2))
    split_tokens redis 2 "$WORK/$RUN-half"
    for N in a b; do
      I=0
      [[ $N == b ]] && I=1
      awk -v n="$T2" -v p="$WORK/$RUN-tokens-$N" '{ print > (p "." ((NR - 1) % n)) }' "$WORK/$RUN-half.$I"
      start "$RUN-$N" "$STORE"
    done
    say "$RUN: two wrk -t$T2 -c$C2 -d$DURATION --latency POST /verify, one per node"
    T0=$(ticks "$(pid_of "$RUN-a")" "$(pid_of "$RUN-b")")
    R0=$(ticks "$REDIS_PID")
    wrk_verify "$(port_of "$RUN-a")" "$T2" "$C2" "$WORK/$RUN-tokens-a" "$WORK/$RUN-sent-a" "$WORK/$RUN-wrk-a.log"
    WA=$WRK_PID
    wrk_verify "$(port_of "$RUN-b")" "$T2" "$C2" "$WORK/$RUN-tokens-b" "$WORK/$RUN-sent-b" "$WORK/$RUN-wrk-b.log"
    WB=$WRK_PID
    wait "$WA" || { cat "$WORK/$RUN-wrk-a.log" >&2; die "wrk failed"; }
    wait "$WB" || { cat "$WORK/$RUN-wrk-b.log" >&2; die "wrk failed"; }
    OCULTO_T=$(($(ticks "$(pid_of "$RUN-a")" "$(pid_of "$RUN-b")") - T0))
    REDIS_T=$(($(ticks "$REDIS_PID") - R0))
    OCULTO_KB=$(($(peak_kb "$(pid_of "$RUN-a")") + $(peak_kb "$(pid_of "$RUN-b")")))
    REDIS_KB=$(peak_kb "$REDIS_PID")
    RA=$(result_of "$WORK/$RUN-wrk-a.log")
    RB=$(result_of "$WORK/$RUN-wrk-b.log")
    cp "$WORK/$RUN-wrk-a.log" "$WORK/last-wrk.log"
    # Node A is killed; node B goes on, then both are stopped.
    recheck "$RUN-a" "$STORE" "$WORK/$RUN-sent-a" "$WORK/$RUN-tokens-a" "$T2" "$C2"
    stop "$(pid_of "$RUN-b")"
    row "$RUN" 2 "$OCULTO_KB" "$REDIS_KB" "$OCULTO_T" "$REDIS_T" "$RA" "$RB"
  fi
  stop "$REDIS_PID"
done

# Redis Cluster: three masters (append-only file, everysec), made with
# redis-cli --cluster create; the tokens are minted into it, then one node
# verifies them. Spending a token there is two steps (SET NX on the token
# id's slot, then the stats on {oculto}'s): see the README's Redis section.
if [[ " $RUNS " == *" redis-cluster "* ]]; then
  RUN=redis-cluster
  CLUSTER_PIDS=()
  HOSTS=()
  for n in 0 1 2; do
    redis_start "$WORK/$RUN-$n" --cluster-enabled yes --cluster-config-file nodes.conf \
      --appendonly yes --appendfsync everysec
    CLUSTER_PIDS+=("$REDIS_PID")
    HOSTS+=("127.0.0.1:$REDIS_PORT")
  done
  redis-cli --cluster create "${HOSTS[@]}" --cluster-replicas 0 --cluster-yes >"$WORK/$RUN-create.log" 2>&1 ||
    { cat "$WORK/$RUN-create.log" >&2; die "redis-cli --cluster create failed"; }
  for h in "${HOSTS[@]}"; do
    until redis-cli -p "${h##*:}" CLUSTER INFO | grep -q '^cluster_state:ok'; do sleep 0.1; done
  done
  STORE="redis+cluster://$(IFS=,; echo "${HOSTS[*]}")"
  mint "$RUN" "$STORE"
  API_KEY=$(sed -n 's/.*"api_key": *"\([^"]*\)".*/\1/p' "$WORK/$RUN.site.json")
  one_node "$RUN" "$STORE" normal "$RUN" "${CLUSTER_PIDS[@]}"
  for pid in "${CLUSTER_PIDS[@]}"; do stop "$pid"; done
fi

rate() { for r in "${RATES[@]}"; do [[ ${r%%=*} == "$1" ]] && echo "${r#*=}"; done; }
ratio() {
  local a b
  a=$(rate "$1")
  b=$(rate "$2")
  [[ -n $a && -n $b ]] && awk -v a="$a" -v b="$b" 'BEGIN { printf "%.2f", a / b }'
}

cat <<EOF

/verify on loopback: wrk, $CONNECTIONS connections and $THREADS threads in all, $DURATION per run; each token
(minted through /init + /score: ${MINTED_SECS[*]} s) verified at most once; $(nproc) cores, verifiers, Redis and wrk
on the same machine; load average (1 min) before the bench: $LOAD_START (the bench's own processes add about 3;
more says that others were using the machine and the figures are low). Peak RSS is VmHWM: the verifier (both nodes added up) and redis-server. CPU is
the CPU time the verifiers (+ Redis) used during the run, per verify.

run           nodes  verifies/s        p50        p99 non-200 errors  oculto RSS  redis RSS  CPU per verify  re-verify after kill -9
$(printf '%s\n' "${ROWS[@]}")

redis / sqlite (one node):      $(ratio redis sqlite)   (target >= 0.70)
two nodes / one node (redis):   $(ratio redis-2nodes redis)   (target >= 1.00)
cluster / one server (redis):   $(ratio redis-cluster redis)   (redis-cluster: three masters, all on this machine)
targets: p99 < 10 ms with Redis; >= 25,000 verifies/s and p99 < 5 ms on SQLite; peak RSS < 64 MB
reference (wrk -c64, 10 s, same kind of machine): Cap's Node server with single use 16,900/s, p99 12 ms
wrk's own report of the last run:
$(sed -n '/Latency Distribution/,/^Requests\/sec/p' "$WORK/last-wrk.log")
EOF
exit "$FAILED"
