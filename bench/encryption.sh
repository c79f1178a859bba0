#!/usr/bin/env bash
# What encryption at rest costs: the same three workloads with `encryption_key_file` set and
# unset, alternated in one run (off, on, off, on) on fresh data folders:
#
#  1. durable consent writes: `POST …/consents`, wrk -t1 -c64 for DURATION s → requests/s
#  2. ingestion: single-event `POST …/events` bodies of 200 consented visitors, wrk -t1 -c64
#     for DURATION s → accepted events/s (/metrics delta, after the writer has drained)
#  3. the dashboard's 30-day set with a country filter, over HTTP (examples/query_bench.rs http,
#     ROUNDS rounds) on a store filled by `demo-data --events EVENTS --days 30` → p50 / p95
#
# Usage: bash bench/encryption.sh      (EVENTS=300000 ROUNDS=10 DURATION=10 ROUNDS_ALT=2)
# Load goes only to 127.0.0.1. Takes about 8 minutes after the release build.
set -euo pipefail
cd "$(dirname "$0")/.."

EVENTS=${EVENTS:-300000}
ROUNDS=${ROUNDS:-10}
DURATION=${DURATION:-10}
ROUNDS_ALT=${ROUNDS_ALT:-2}
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

echo "== build: cargo build --release --bins --examples"
cargo build --release --bins --examples
BIN=target/release/consentry
QB=target/release/examples/query_bench
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

work=$(mktemp -d "${TMPDIR:-/tmp}/encryption.XXXXXX")
source bench/lib.sh
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 130' INT TERM
machine_line
echo "== machine: $machine"
head -c 32 /dev/urandom >"$work/key"
printf 'cache_capacity_mb = 64\n[rate_limit]\nburst = 100000000\nper_minute = 100000000\n[query_rate_limit]\nburst = 100000\nper_minute = 1000000\n' >"$work/bench.toml"
cat >"$work/cycle.lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["User-Agent"] = os.getenv("BENCH_UA")
local reqs, n, i = {}, 0, 0
function init(args)
  for line in io.lines(args[1]) do
    if #line > 0 then n = n + 1; reqs[n] = wrk.format(nil, nil, nil, line) end
  end
  i = math.random(n) - 1
end
function request()
  i = i % n + 1
  return reqs[i]
end
LUA
export BENCH_UA="$UA"
echo '{"action":"accept_all","choices":{},"policy_version":"2026-11-01"}' >"$work/consent.json"

key_env() { # mode -> sets env_kv, the `env` arguments the server and commands get
  if [[ $1 == on ]]; then env_kv=("CONSENTRY_ENCRYPTION_KEY_FILE=$work/key"); else env_kv=(-u CONSENTRY_ENCRYPTION_KEY_FILE); fi
}
metric() { curl -s --max-time 10 "$url/metrics" | awk -v m="$1" '$1 == m { print $2; f=1 } END { if (!f) print 0 }'; }
rps() { awk '/Requests\/sec/ { print $2 }' "$1"; }

declare -A consents events p50 p95
for round in $(seq 1 "$ROUNDS_ALT"); do
  for mode in off on; do
    key_env "$mode"
    data="$work/data-$mode-$round"
    # 1 and 2: one fresh folder
    start_server "writes-$mode" warn env "${env_kv[@]}" "$BIN" serve --config "$work/bench.toml" --listen 127.0.0.1:0 --data-dir "$data"
    wrk -t1 -c64 -d"${DURATION}s" -s "$work/cycle.lua" "$url/api/v1/sites/demo/consents" -- "$work/consent.json" >"$work/w.txt"
    consents[$mode]+="$(rps "$work/w.txt") "
    : >"$work/events.json"
    for _ in $(seq 1 200); do
      id=$(curl -s -H 'content-type: application/json' -d @"$work/consent.json" "$url/api/v1/sites/demo/consents" | sed 's/.*"consent_id":"\([^"]*\)".*/\1/')
      echo "{\"consent_id\":\"$id\",\"name\":\"pageview\",\"url\":\"https://demo.example/pricing?utm_source=bench\"}" >>"$work/events.json"
    done
    before=$(metric consentry_events_accepted_total)
    wrk -t1 -c64 -d"${DURATION}s" -s "$work/cycle.lua" "$url/api/v1/sites/demo/events" -- "$work/events.json" >"$work/e.txt"
    sleep 2
    after=$(metric consentry_events_accepted_total)
    events[$mode]+="$(awk -v a="$after" -v b="$before" -v d="$DURATION" 'BEGIN { printf "%.0f", (a - b) / d }') "
    stop_server
    # 3: a demo-data store
    qdata="$work/query-$mode-$round"
    env "${env_kv[@]}" "$BIN" demo-data --site demo --events "$EVENTS" --days 30 --seed 42 \
      --end "$(date -u +%Y-%m-%dT00:00:00Z)" --data-dir "$qdata" >/dev/null
    key=$(env "${env_kv[@]}" "$BIN" keys create --site demo --label bench --expires-in-days 1 --data-dir "$qdata" 2>/dev/null | sed -n 's/^key: //p')
    start_server "query-$mode" warn env "${env_kv[@]}" "$BIN" serve --config "$work/bench.toml" --listen 127.0.0.1:0 --data-dir "$qdata"
    # The first retention sweep starts 30 s after start and reads every consent: wait until it
    # is done, so the rounds time queries alone (as bench/query.sh does).
    sleep 32
    for _ in $(seq 1 300); do
      before=$(awk '{ print $14 + $15 }' "/proc/$pid/stat"); sleep 2; after=$(awk '{ print $14 + $15 }' "/proc/$pid/stat")
      (( after - before < 10 )) && break
    done
    "$QB" http "$url" "$key" "$ROUNDS" >"$work/q.txt"
    stop_server
    line=$(grep -m1 '^RESULT http country_filter whole_set' "$work/q.txt" || true)
    p50[$mode]+="$(sed -n 's/.*p50_ms=\([0-9.]*\).*/\1/p' <<<"$line") "
    p95[$mode]+="$(sed -n 's/.*p95_ms=\([0-9.]*\).*/\1/p' <<<"$line") "
    echo "== round $round, encryption $mode: consents/s [${consents[$mode]% }] events/s [${events[$mode]% }]; $line"
    rm -rf "$data" "$qdata"
  done
done
echo "== machine: $machine"
for mode in off on; do
  echo "RESULT encryption=$mode consent_writes_per_s=[${consents[$mode]% }] events_per_s=[${events[$mode]% }] dashboard_country_p50_ms=[${p50[$mode]% }] p95_ms=[${p95[$mode]% }]"
done
