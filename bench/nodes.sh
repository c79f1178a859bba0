#!/usr/bin/env bash
# Durable consent writes per second and p99, in one run: the embedded store (one node, its data
# folder) beside PostgreSQL with one node and with two nodes sharing one database. Every `201`
# means durable: sled's group commit flushed and fdatasync'ed; PostgreSQL's group commit
# returned (`synchronous_commit = on`, `fsync = on`: PostgreSQL's defaults).
#
# PostgreSQL: a throwaway server from Debian's postgresql-15 (initdb into the temp folder, as
# the `postgres` user when run as root, 127.0.0.1 on a free port), a fresh database per target.
# Load: `wrk -t1 -c64 -d20s --latency` (two nodes: one wrk per node at -c32 each, at the same
# time; req/s summed, p99 the worse of the two). Everything shares this machine's cores: the
# server(s), PostgreSQL and wrk.
#
# Usage: bash bench/nodes.sh        DURATION=20 WARMUP=3 CONNS=64
# Takes about 2 minutes once the release build is done. Load goes only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNS=${CONNS:-64}
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

echo "== build: cargo build --release --bins"
cargo build --release --bins
BIN=target/release/consentry
scripts/setup-postgres-tests
command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }

work=$(mktemp -d "${TMPDIR:-/tmp}/nodes.XXXXXX")
chmod 755 "$work"
SERVER_PIN=()
source bench/lib.sh
pids=()
as_pg() { if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  [[ -d "$work/pg" ]] && as_pg "$PG_BIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

machine_line
echo "== machine: $machine"

# --- PostgreSQL --------------------------------------------------------------------------------
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
mkdir -p "$work/pg" && [[ $(id -u) == 0 ]] && chown postgres:postgres "$work/pg"
as_pg "$PG_BIN/initdb" -D "$work/pg" -U consentry --auth=trust -E UTF8 >/dev/null
as_pg "$PG_BIN/pg_ctl" -D "$work/pg" -l "$work/pg/server.log" -w start \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work/pg -c max_connections=100" >/dev/null
psql_cmd() { as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U consentry -d postgres -qAt -c "$1"; }
echo "== PostgreSQL $(psql_cmd 'SHOW server_version'): fsync $(psql_cmd 'SHOW fsync'), synchronous_commit $(psql_cmd 'SHOW synchronous_commit'), port $port"

BODY='{"action":"accept_all","policy_version":"2026-11-01","url":"https://shop.example/pricing"}'
cat >"$work/post.lua" <<LUA
wrk.method = "POST"
wrk.body = '$BODY'
wrk.headers["Content-Type"] = "application/json"
LUA
printf '[rate_limit]\nburst = 100000000\nper_minute = 100000000\n' >"$work/bench.toml"

to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}

start_node() { # name, data dir, postgres url or "" -> appends to pids, sets url
  local name=$1 data=$2 pg=$3
  if [[ -n "$pg" ]]; then
    CONSENTRY_POSTGRES_URL=$pg start_server "$name" warn "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$work/bench.toml"
  else
    start_server "$name" warn "$BIN" serve --listen 127.0.0.1:0 --data-dir "$data" --config "$work/bench.toml"
  fi
  pids+=("$pid")
}

stop_nodes() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
  pid=""
}

rows=()
errors=0
measure() { # target name, urls...
  local name=$1; shift
  local n=$# per=$((CONNS / $#)) i=0 outs=()
  local loads=()
  for u in "$@"; do
    timeout $((WARMUP + 30)) wrk -t1 -c"$per" -d"${WARMUP}s" -s "$work/post.lua" "$u/api/v1/sites/demo/consents" >/dev/null &
    loads+=($!)
  done
  wait "${loads[@]}"
  loads=()
  for u in "$@"; do
    i=$((i + 1))
    timeout $((DURATION + 30)) wrk -t1 -c"$per" -d"${DURATION}s" --latency -s "$work/post.lua" \
      "$u/api/v1/sites/demo/consents" >"$work/$name-$i.wrk" &
    loads+=($!)
  done
  wait "${loads[@]}"
  local rps=0 p50=0 p99=0 bad=0
  for i in $(seq 1 "$n"); do
    local out="$work/$name-$i.wrk"
    rps=$(awk -v a="$rps" '/^Requests\/sec:/ { printf "%.0f", a + $2 }' "$out")
    p50=$(awk -v a="$p50" -v b="$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$out")")" 'BEGIN { print (b > a ? b : a) }')
    p99=$(awk -v a="$p99" -v b="$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")" 'BEGIN { print (b > a ? b : a) }')
    bad=$((bad + $(awk -F: '/Non-2xx|Socket errors/ { n++ } END { print n + 0 }' "$out")))
  done
  [[ "$bad" == 0 ]] || { errors=1; echo "!! errors in $name:"; grep -hE 'Non-2xx|Socket errors' "$work/$name-"*.wrk; }
  echo "   $name: $rps req/s, p50 $p50 ms, p99 $p99 ms"
  rows+=("$(printf '| %-30s | %5s | %6s | %8s | %8s |' "$name" "$n" "$rps" "$p50" "$p99")")
}

echo "== sled, one node (fresh data folder)"
start_node sled "$work/data-sled" ""
measure "sled, 1 node" "$url"
stop_nodes

psql_cmd "CREATE DATABASE one" && echo "== PostgreSQL, one node (fresh database)"
start_node pg1 "$work/data-pg1" "host=127.0.0.1 port=$port user=consentry dbname=one"
measure "PostgreSQL, 1 node" "$url"
stop_nodes

psql_cmd "CREATE DATABASE two" && echo "== PostgreSQL, two nodes on one database (fresh database)"
start_node pg2a "$work/data-pg2a" "host=127.0.0.1 port=$port user=consentry dbname=two"
a=$url
start_node pg2b "$work/data-pg2b" "host=127.0.0.1 port=$port user=consentry dbname=two"
measure "PostgreSQL, 2 nodes" "$a" "$url"
stop_nodes

entries=$(as_pg "$PG_BIN/psql" -h 127.0.0.1 -p "$port" -U consentry -d two -qAt -c "SELECT count(*) FROM ledger")
echo "== two nodes wrote $entries ledger entries; each site's chain:"
CONSENTRY_POSTGRES_URL="host=127.0.0.1 port=$port user=consentry dbname=two" "$BIN" ledger verify --data-dir "$work/data-pg2a"

echo
echo "wrk -t1 -c$CONNS (split over the nodes) -d${DURATION}s --latency after ${WARMUP}s warm-up; everything on this machine"
printf '| %-30s | %5s | %6s | %8s | %8s |\n' target nodes "req/s" "p50 ms" "p99 ms"
printf '|%s|%s:|%s:|%s:|%s:|\n' -------------------------------- ------ ------- --------- ---------
printf '%s\n' "${rows[@]}"
[[ "$errors" == 0 ]] || { echo "!! SOME RUNS HAD ERRORS: their numbers are not valid"; exit 1; }
