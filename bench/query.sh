#!/usr/bin/env bash
# Marketer questions over a large store, answered by the analytics engine.
#
#  1. fill a data dir with EVENTS consented events over DAYS days (`consentry demo-data`,
#     seed 42), unless DATA already holds such a store (a marker file records what it holds)
#  2. size on disk: the whole folder, the sealed days (`events/`) and sled, per event
#  3. over HTTP (examples/query_bench.rs http): the server on that data dir; the dashboard's
#     whole 30-day set sent in parallel as the dashboard sends it, without a filter and with a
#     country filter, ROUNDS times (after the first retention sweep is done); a three-step funnel over 30 days; twelve months by day
#     under a filter; the server's peak RSS after all of it
#  4. in-process (examples/query_bench.rs scan): one filter and one breakdown over the whole
#     store on one thread, as events per second
#
# Usage: bash bench/query.sh
#   EVENTS=10000000 DAYS=90 ROUNDS=20
#   DATA=/tmp/consentry-bench-query   (reused between runs; delete it to regenerate)
#   PG_URL='host=… dbname=…'          the same against PostgreSQL (an empty database: it is
#                                     always generated; steps 2 and 4, the data folder's size and
#                                     the in-process scan, are skipped)
#   CH_URL='http://127.0.0.1:8123' CH_DATABASE=bench   with PG_URL: the events in ClickHouse
#                                     (an empty or missing database: it is always generated)
# Generating 10 M events takes the longest part (see BENCHMARKS.md). Everything stays on
# 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-10000000}
DAYS=${DAYS:-90}
ROUNDS=${ROUNDS:-20}
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
if [[ -n "${PG_URL:-}" ]]; then
  export CONSENTRY_POSTGRES_URL=$PG_URL
  rm -f "$marker"
  echo "== on PostgreSQL: $(sed 's/password=[^ ]*/password=…/' <<<"$PG_URL")"
fi
if [[ -n "${CH_URL:-}" ]]; then
  [[ -n "${PG_URL:-}" ]] || { echo "CH_URL needs PG_URL" >&2; exit 2; }
  export CONSENTRY_CLICKHOUSE_URL=$CH_URL
  printf 'clickhouse_database = "%s"\n' "${CH_DATABASE:-consentry}" >"$work/ch.toml"
  echo "== events in ClickHouse: $(sed 's#//[^@]*@#//…@#' <<<"$CH_URL") database ${CH_DATABASE:-consentry}"
fi
ch_setting() { cat "$work/ch.toml" 2>/dev/null || true; }
if [[ "$(cat "$marker" 2>/dev/null || true)" != "$want" ]]; then
  echo "== 1. generating: $BIN demo-data --site demo --events $EVENTS --days $DAYS --seed 42 --data-dir $DATA"
  rm -rf "$DATA"/sled "$DATA"/ledger.anchor "$DATA"/events
  start=$(date +%s)
  { printf 'cache_capacity_mb = 1024\n'; ch_setting; } >"$work/gen.toml"
  "$BIN" demo-data --config "$work/gen.toml" --site demo --events "$EVENTS" --days "$DAYS" --seed 42 \
    --end "$(date -u +%Y-%m-%dT00:00:00Z)" --data-dir "$DATA" | tee "$work/gen.txt"
  echo "== generated in $(( $(date +%s) - start )) s"
  echo "$want" >"$marker"
else
  echo "== 1. reusing $DATA ($want)"
fi

size() { du -sb "$1" 2>/dev/null | awk -v n="$EVENTS" '{ printf "%.1f MiB (%.1f B/event)", $1 / 1048576, $1 / n }'; }
[[ -n "${PG_URL:-}" ]] || echo "== 2. on disk: whole folder $(size "$DATA"); sealed days (events/) $(size "$DATA/events"); sled (consents, ledger, write buffer) $(size "$DATA/sled")"

echo "== 3. over HTTP"
{ printf 'cache_capacity_mb = 64\n'; ch_setting; printf '[query_rate_limit]\nburst = 100000\nper_minute = 1000000\n'; } >"$work/bench.toml"
key=$("$BIN" keys create --config "$work/bench.toml" --site demo --label bench --expires-in-days 1 --data-dir "$DATA" 2>/dev/null | sed -n 's/^key: //p')
start_server consentry warn "$BIN" serve --config "$work/bench.toml" --listen 127.0.0.1:0 --data-dir "$DATA"
echo "== server memory at start: $(memory)"
# The first retention sweep starts 30 s after start and reads every consent (about a minute
# of one core on the 10 M store): wait until it is done, so the rounds time queries alone.
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; }
sleep 32
swept_at=$(date +%s)
for _ in $(seq 1 300); do
  before=$(cpu_ticks); sleep 2; after=$(cpu_ticks)
  (( after - before < 10 )) && break
done
echo "== the first retention sweep took about $(( $(date +%s) - swept_at )) s; server memory after it: $(memory)"
"$QB" http "$url" "$key" "$ROUNDS" | tee "$work/http.txt"
echo "== server memory after the HTTP rounds: $(memory)"
stop_server

if [[ -z "${PG_URL:-}" ]]; then
  echo "== 4. in-process scan: $QB scan $DATA 5"
  "$QB" scan "$DATA" 5 | tee "$work/scan.txt"
fi
echo "== machine: $machine"
grep -h '^RESULT' "$work/http.txt" "$work/scan.txt" 2>/dev/null || true
