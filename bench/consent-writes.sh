#!/usr/bin/env bash
# Durable consent writes per second: `POST /api/v1/sites/demo/consents` answered 201 only after
# the ledger's group commit has flushed, next to a bare actix-web handler that parses the same
# JSON and answers 201 (examples/bare_json.rs), measured in the same run on the same machine.
#
# For each target: a fresh server (and a fresh temp data dir), 3 s warm-up, then
# `wrk -t1 -cN -d20s --latency`. Consentry runs at -c16, -c64 and -c256 with RUST_LOG=warn
# (no access log line per request) and the default `fsync = true` (each group commit is
# fdatasync'ed after sled's flush), then at -c64 and -c256 with `fsync = false` (sled's
# sync_file_range only: survives a process crash, not a power loss), plus once at -c64 with
# RUST_LOG=info to show what the access log costs. After each consentry run /metrics gives entries per group commit.
# Also: a raw fsync baseline (python3, 1,000 x write 4 KiB + os.fsync) on the data disk.
#
# Usage: bash bench/consent-writes.sh
#   PIN=1      pin the server to core 0 and wrk to core 1 (default: unpinned, sharing both cores)
#   DURATION=20 WARMUP=3   seconds per measured run / warm-up
# Takes about 2.5 minutes once the release build is done. Load goes only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
PIN=${PIN:-0}

echo "== build: cargo build --release --bins --examples"
cargo build --release --bins --examples
CONSENTRY_BIN=target/release/consentry
BARE_BIN=target/release/examples/bare_json

if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

work=$(mktemp -d "${TMPDIR:-/tmp}/consent-writes.XXXXXX")
cleanup() { stop_server; rm -rf "$work"; }
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/lib.sh

if [[ "$PIN" == 1 ]]; then
  SERVER_PIN=(taskset -c 0); WRK_PIN=(taskset -c 1); PINNING="server on core 0, wrk on core 1 (taskset)"
else
  SERVER_PIN=(); WRK_PIN=(); PINNING="unpinned: server and wrk share both cores"
fi

BODY='{"action":"accept_all","policy_version":"2026-11-01","url":"https://shop.example/pricing"}'
PATH_API=/api/v1/sites/demo/consents
cat >"$work/post.lua" <<EOF
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
EOF
printf '[rate_limit]\nburst = 100000000\nper_minute = 100000000\n' >"$work/bench.toml"
{ printf 'fsync = false\n'; cat "$work/bench.toml"; } >"$work/bench-nofsync.toml"

# --- machine ---------------------------------------------------------------------------------
machine_line
echo "== machine: $machine"
echo "== pinning: $PINNING"

# --- raw fsync baseline on the data disk -------------------------------------------------------
fsync_rate=$(python3 - "$work/fsync.bin" <<'PY'
import os, sys, time
path = sys.argv[1]
buf = os.urandom(4096)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
n = 1000
t = time.perf_counter()
for _ in range(n):
    os.write(fd, buf)
    os.fsync(fd)
dt = time.perf_counter() - t
os.close(fd)
os.unlink(path)
print(f"{n / dt:.0f}")
PY
)
echo "== raw fsync baseline: ${fsync_rate} fsyncs/s (1,000 x write 4 KiB + os.fsync, $work)"

# --- helpers -------------------------------------------------------------------------------------

metric() { # name -> value from /metrics (0 when absent)
  curl -s --max-time 10 "$url/metrics" | awk -v m="$1" '$1 == m { print $2; found=1 } END { if (!found) print 0 }'
}

to_ms() { # wrk latency like 812.00us / 1.23ms / 2.01s -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

rows=()
errors=0
bare_rps=""
run_wrk() { # name, connections, entries-per-commit flag
  local name=$1 conns=$2 consentry=$3
  "${WRK_PIN[@]}" timeout $((WARMUP + 30)) wrk -t1 -c"$conns" -d"${WARMUP}s" -s "$work/post.lua" "$url$PATH_API" >/dev/null
  local c0=0 e0=0
  if [[ "$consentry" == 1 ]]; then
    c0=$(metric consentry_ledger_group_commits_total); e0=$(metric consentry_ledger_entries_total)
  fi
  local out="$work/$name-c$conns.wrk"
  "${WRK_PIN[@]}" timeout $((DURATION + 30)) wrk -t1 -c"$conns" -d"${DURATION}s" --latency \
    -s "$work/post.lua" "$url$PATH_API" >"$out"
  local rps p50 p99 non2xx sock
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")
  non2xx=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$out")
  non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i += 2) { gsub(/,/, "", $(i+1)); s += $(i+1) } print s }' "$out")
  sock=${sock:-0}
  local per_commit="-" ratio="-"
  if [[ "$consentry" == 1 ]]; then
    local c1 e1
    c1=$(metric consentry_ledger_group_commits_total); e1=$(metric consentry_ledger_entries_total)
    per_commit=$(awk -v c=$((c1 - c0)) -v e=$((e1 - e0)) 'BEGIN { if (c > 0) printf "%.1f (%d/%d)", e / c, e, c; else print "n/a" }')
    ratio=$(awk -v a="$rps" -v b="$bare_rps" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }')
  else
    bare_rps=$rps
  fi
  if [[ "$non2xx" != 0 || "$sock" != 0 ]]; then
    errors=1
    echo "!!!!!! ERRORS in $name -c$conns: $non2xx non-2xx responses, $sock socket errors !!!!!!"
    grep -E 'Non-2xx|Socket errors' "$out" || true
  fi
  echo "   $name -c$conns: $rps req/s, p50 ${p50} ms, p99 ${p99} ms"
  rows+=("$(printf '| %-34s | %5s | %8s | %8s | %8s | %7s | %7s | %-20s | %6s |' \
    "$name" "$conns" "$rps" "$p50" "$p99" "$non2xx" "$sock" "$per_commit" "$ratio")")
}

# --- runs ----------------------------------------------------------------------------------------
echo "== bare handler (examples/bare_json.rs)"
start_server bare warn "$BARE_BIN" 127.0.0.1:0
run_wrk "bare handler" 64 0
stop_server

for spec in "warn 16 fsync" "warn 64 fsync" "warn 256 fsync" "warn 64 nofsync" "warn 256 nofsync" "info 64 fsync"; do
  read -r level conns sync <<<"$spec"
  name="consentry $sync RUST_LOG=$level"
  config="$work/bench.toml"
  [[ "$sync" == nofsync ]] && config="$work/bench-nofsync.toml"
  echo "== $name, -c$conns (fresh data dir)"
  data="$work/data-$level-$conns-$sync"
  start_server "consentry-$level-$conns-$sync" "$level" "$CONSENTRY_BIN" serve --listen 127.0.0.1:0 \
    --data-dir "$data" --config "$config"
  run_wrk "$name" "$conns" 1
  limited=$(metric consentry_rate_limited_total)
  [[ "$limited" == 0 ]] || echo "!! rate limiter refused $limited requests"
  stop_server
  rm -rf "$data"
done

# --- table ---------------------------------------------------------------------------------------
echo
echo "wrk -t1 -cN -d${DURATION}s --latency after ${WARMUP}s warm-up; $PINNING; raw fsync ${fsync_rate}/s"
printf '| %-34s | %5s | %8s | %8s | %8s | %7s | %7s | %-20s | %6s |\n' \
  target conns "req/s" "p50 ms" "p99 ms" non-2xx sockerr "entries/commit" "/bare"
printf '|%s|%s:|%s:|%s:|%s:|%s:|%s:|%s|%s:|\n' ------------------------------------ ------ --------- --------- \
  --------- -------- -------- ---------------------- -------
printf '%s\n' "${rows[@]}"
if [[ "$errors" != 0 ]]; then
  echo
  echo "!!!!!! SOME RUNS HAD ERRORS (non-2xx responses or socket errors): their req/s are not valid !!!!!!"
  exit 1
fi
