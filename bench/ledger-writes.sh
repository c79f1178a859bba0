#!/usr/bin/env bash
# Durable consent decisions per second through the ledger writer, below HTTP, in one run:
# sled (the data folder, fsync on) beside PostgreSQL 15 with one writer and with two writers
# (as two nodes) on one database. PostgreSQL runs from a throwaway cluster made here (initdb,
# fsync and synchronous_commit on, as on a real server; as the `postgres` user when run as
# root), on a free 127.0.0.1 port, and is stopped and removed at the end.
#   bash bench/ledger-writes.sh            # DURATION=10 (s) IN_FLIGHT=256 by default
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${DURATION:-10}
IN_FLIGHT=${IN_FLIGHT:-256}
scripts/setup-postgres-tests
cargo build --release -q --example ledger_bench
BIN=target/release/examples/ledger_bench
PGBIN=/usr/lib/postgresql/15/bin
work=$(mktemp -d)
as_pg() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
cleanup() {
  as_pg "$PGBIN/pg_ctl" -D "$work/pg" -m fast stop >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
[ "$(id -u)" -eq 0 ] && chown postgres:postgres "$work"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
as_pg "$PGBIN/initdb" -D "$work/pg" -U consentry --auth=trust -E UTF8 >/dev/null
as_pg "$PGBIN/pg_ctl" -D "$work/pg" -l "$work/pg.log" -w \
  -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$work" start >/dev/null
url="host=127.0.0.1 port=$port user=consentry dbname=postgres"

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "each: ${SECONDS_EACH} s, ${IN_FLIGHT} decisions in flight per writer; PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}'), fsync on, synchronous_commit on"
"$BIN" sled "$work/sled" "$SECONDS_EACH" "$IN_FLIGHT"
"$BIN" postgres "$url" "$SECONDS_EACH" "$IN_FLIGHT" 1
as_pg "$PGBIN/psql" -q -h 127.0.0.1 -p "$port" -U consentry -d postgres -c 'TRUNCATE ledger, consents, consent_history, consent_stats' >/dev/null
"$BIN" postgres "$url" "$SECONDS_EACH" "$IN_FLIGHT" 2
