#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ for a bounded time each, on the
# stable toolchain.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     default: 60 s for every target
#
# One build for all targets, into fuzz/target: libFuzzer's coverage
# instrumentation and debug assertions (overflow checks), no sanitizer
# (`--sanitizer none`): cargo-fuzz's default, AddressSanitizer, needs the
# unstable -Zsanitizer, and the code it runs is safe Rust. FUZZ_SANITIZER=address
# builds with it anyway, on stable through RUSTC_BOOTSTRAP=1 (a second,
# separate build). FUZZ_BUILD=dev builds without optimizations: half the
# build time, a tenth of the speed, enough for a smoke run.
#
# Each target starts from the seeds in fuzz/corpus/<target> (committed) and
# keeps what it finds in fuzz/target/corpus/<target> (not committed), so
# later runs go on from there; with FUZZ_FRESH=1, from the seeds alone, and
# what it finds is thrown away (a smoke run: a grown corpus takes minutes
# just to load in a dev build). A panic, a 5xx or a timeout writes the input
# to fuzz/artifacts/<target>/ and fails the run; the target's full log is in
# fuzz/target/fuzz-<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

secs=${1:-60}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(token signals score bodies http)

scripts/deps.sh fuzz
# Never the main workspace's target folder: other RUSTFLAGS would make each
# build throw away the other's.
export CARGO_TARGET_DIR="$PWD/fuzz/target"
sanitizer=${FUZZ_SANITIZER:-none}
[ "$sanitizer" = none ] || export RUSTC_BOOTSTRAP=1
flags=(--sanitizer "$sanitizer" --debug-assertions)
case ${FUZZ_BUILD:-release} in
  release) ;;
  dev) flags+=(--dev) ;;
  *) echo "fuzz: FUZZ_BUILD is release or dev, not $FUZZ_BUILD" >&2; exit 2 ;;
esac

work=fuzz/target/corpus
if [ "${FUZZ_FRESH:-0}" = 1 ]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
fi

start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "fuzz: targets built in $((SECONDS - start)) s"

for t in "${targets[@]}"; do
  case $t in
    http) dict=(-dict=fuzz/dict/http.dict) ;;
    signals | bodies) dict=(-dict=fuzz/dict/json.dict) ;;
    *) dict=() ;;
  esac
  mkdir -p "$work/$t"
  log=fuzz/target/fuzz-$t.log
  if ! cargo fuzz run "${flags[@]}" "$t" "$work/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -timeout=20 -print_final_stats=1 "${dict[@]}" >"$log" 2>&1; then
    grep -v -E '^#[0-9]+ +(NEW|REDUCE|pulse)|NEW_FUNC|# Uses:' "$log" | tail -n 60
    echo "fuzz: $t FAILED: the input is in fuzz/artifacts/$t/, the log in $log" >&2
    exit 1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
  cov=$(grep -o 'cov: [0-9]* ft: [0-9]* corp: [0-9]*/[0-9a-zA-Z]*' "$log" | tail -n 1)
  printf 'fuzz: %-8s %3s s  %9s runs  %7s/s  %s\n' "$t" "$secs" "$runs" "$rate" "$cov"
done
