#!/usr/bin/env bash
# Marketer queries over a large store: the dashboard's whole 30-day set and 12-month series,
# answered from rollups, beside the same queries answered by scanning raw events, in one run.
#
#  1. fill a data dir with EVENTS consented events over DAYS days (`consentry demo-data`,
#     seed 42), unless DATA already holds such a store (a marker file records what it holds)
#  2. store size on disk (`du -sb`)
#  3. in-process (examples/query_bench.rs store): every query of the set ROUNDS times from
#     rollups and RAW_ROUNDS times from raw events (forced), p50/p95 per query and per set
#  4. over HTTP (examples/query_bench.rs http): the server on that data dir, the same set
#     ROUNDS times one query at a time, p50/p95; the server's RSS after
#
# Usage: bash bench/query.sh
#   EVENTS=10000000 DAYS=90 ROUNDS=20 RAW_ROUNDS=3
#   DATA=/tmp/consentry-bench-query   (reused between runs; delete it to regenerate)
# Generating 10 M events takes the longest part (see BENCHMARKS.md); the queries take a few
# minutes, most of it the raw-event scans. Everything stays on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-90}
ROUNDS=${ROUNDS:-20}
RAW_ROUNDS=${RAW_ROUNDS:-3}
DATA=${DATA:-/tmp/consentry-bench-query}

echo "== build: cargo build --release --bins --examples"
cargo build --release --bins --examples
BIN=target/release/consentry
QB=target/release/examples/query_bench

work=$(mktemp -d "${TMPDIR:-/tmp}/query.XXXXXX")
source bench/lib.sh
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
mkdir -p "$DATA"
machine_line
echo "== machine: $machine"
echo "== load before the run: $(uptime | sed 's/.*load average/load average/')"

marker="$DATA/.bench-query"
want="events=$EVENTS days=$DAYS seed=42"
if [[ "$(cat "$marker" 2>/dev/null || true)" != "$want" ]]; then
  echo "== 1. generating: $BIN demo-data --site demo --events $EVENTS --days $DAYS --seed 42 --data-dir $DATA"
  rm -rf "$DATA"/sled "$DATA"/ledger.anchor
  start=$(date +%s)
  printf 'cache_capacity_mb = 1024\n' >"$work/gen.toml"
  "$BIN" demo-data --config "$work/gen.toml" --site demo --events "$EVENTS" --days "$DAYS" --seed 42 \
    --end "$(date -u +%Y-%m-%dT00:00:00Z)" --data-dir "$DATA" | tee "$work/gen.txt"
  echo "== generated in $(( $(date +%s) - start )) s"
  echo "$want" >"$marker"
else
  echo "== 1. reusing $DATA ($want)"
fi

echo "== 2. store size: $(du -sb "$DATA" | awk '{ printf "%.1f MiB", $1 / 1048576 }') for $EVENTS events ($(du -sb "$DATA" | awk -v n="$EVENTS" '{ printf "%.0f", $1 / n }') B/event, ledger and consent state included)"

echo "== 3. in-process: $QB store $DATA $ROUNDS $RAW_ROUNDS"
"$QB" store "$DATA" "$ROUNDS" "$RAW_ROUNDS" | tee "$work/store.txt"

echo "== 4. over HTTP"
key=$("$BIN" keys create --site demo --label bench --expires-in-days 1 --data-dir "$DATA" 2>/dev/null | sed -n 's/^key: //p')
printf 'cache_capacity_mb = 256\n[query_rate_limit]\nburst = 100000\nper_minute = 1000000\n' >"$work/bench.toml"
start_server consentry warn "$BIN" serve --config "$work/bench.toml" --listen 127.0.0.1:0 --data-dir "$DATA"
"$QB" http "$url" "$key" "$ROUNDS" | tee "$work/http.txt"
echo "== server memory after the HTTP rounds: $(memory)"
stop_server
echo "== machine: $machine"
grep -h '^RESULT' "$work/store.txt" "$work/http.txt"
