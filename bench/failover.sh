#!/usr/bin/env bash
# Failover under load (not in CI): PostgreSQL with automatic failover (pg_auto_failover from
# Debian: a monitor, a primary and a synchronous standby), two Consentry nodes whose
# `postgres_url` names both databases (`target_session_attrs=read-write`: a broken connection is
# opened anew to whichever is primary), HAProxy in front of the two nodes, and a concurrent
# consent load through HAProxy. After LOAD_BEFORE seconds the primary is killed (SIGKILL of its
# keeper and its postgres). At the end, every acknowledged consent (every 201, with its receipt)
# is read back through HAProxy, the ledger is verified, and the longest time between two 201s
# is reported as the time writes were unavailable (with when the failed requests began and
# ended).
#
# Usage: bash bench/failover.sh      LOAD_BEFORE=15 LOAD_AFTER=60 CLIENTS=16 DEMOTE_MS=6000
# Installs postgresql-15, postgresql-15-auto-failover, pg-auto-failover-cli and haproxy if
# missing. Everything listens on 127.0.0.1 only; runs as root (PostgreSQL as `postgres`).
set -euo pipefail
cd "$(dirname "$0")/.."

LOAD_BEFORE=${LOAD_BEFORE:-15}
LOAD_AFTER=${LOAD_AFTER:-60}
CLIENTS=${CLIENTS:-16}
PG_BIN=/usr/lib/postgresql/15/bin

need=()
[[ -x $PG_BIN/initdb ]] || need+=(postgresql-15)
command -v pg_autoctl >/dev/null || need+=(postgresql-15-auto-failover pg-auto-failover-cli)
command -v haproxy >/dev/null || need+=(haproxy)
if ((${#need[@]})); then
  echo "== installing ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi
echo "== build: cargo build --release --bins"
cargo build --release --bins
BIN=$PWD/target/release/consentry

work=$(mktemp -d /tmp/failover.XXXXXX)
chmod 755 "$work"
chown postgres:postgres "$work"
keepers=()
nodes=()
haproxy_pid=""
as_pg() { runuser -u postgres -- env PATH="$PG_BIN:$PATH" "$@"; }
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
cleanup() {
  for p in "${nodes[@]}" $haproxy_pid; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${keepers[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  sleep 2
  pkill -u postgres -f "$work" 2>/dev/null || true
  sleep 1
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

monitor_port=$(free_port); p1=$(free_port); p2=$(free_port)
monitor="postgres://autoctl_node@127.0.0.1:$monitor_port/pg_auto_failover?sslmode=disable"
echo "== monitor on $monitor_port, databases on $p1 and $p2"

as_pg pg_autoctl create monitor --pgdata "$work/monitor" --pgport "$monitor_port" \
  --hostname 127.0.0.1 --auth trust --no-ssl >"$work/monitor.create.log" 2>&1
as_pg pg_autoctl run --pgdata "$work/monitor" >"$work/monitor.log" 2>&1 &
keepers+=($!)
sleep 3
# Fail over sooner than the defaults (20 s before a node counts as unhealthy).
# The monitor's defaults take about 40 s here: most of it is `primary_demote_timeout` (30 s),
# how long the monitor waits for an unreachable primary to demote itself before promoting the
# standby. Each data node's keeper demotes its own primary once it has been cut off for
# `timeout.network_partition_timeout` (set to 4 s below, before the monitor's 6 s), so the old
# primary has stopped before the new one starts; and with the standby synchronous, an isolated
# old primary could not acknowledge a commit anyway.
DEMOTE_MS=${DEMOTE_MS:-6000}
for setting in health_check_period=1000 health_check_timeout=1000 health_check_max_retries=1 \
  health_check_retry_delay=500 node_considered_unhealthy_timeout=4000 \
  primary_demote_timeout="$DEMOTE_MS"; do
  as_pg psql -h 127.0.0.1 -p "$monitor_port" -d pg_auto_failover -qAt \
    -c "ALTER SYSTEM SET pgautofailover.${setting%%=*} = ${setting#*=}" >/dev/null
done
as_pg psql -h 127.0.0.1 -p "$monitor_port" -d pg_auto_failover -qAt -c "SELECT pg_reload_conf()" >/dev/null

start_db() { # name, port
  as_pg pg_autoctl create postgres --pgdata "$work/$1" --pgport "$2" --hostname 127.0.0.1 \
    --name "$1" --auth trust --no-ssl --dbname consentry --monitor "$monitor" \
    >"$work/$1.create.log" 2>&1
  as_pg pg_autoctl config set --pgdata "$work/$1" timeout.network_partition_timeout 4 >/dev/null
  as_pg pg_autoctl run --pgdata "$work/$1" >"$work/$1.log" 2>&1 &
  keepers+=($!)
}
start_db db1 "$p1"
for _ in $(seq 1 60); do
  as_pg pg_autoctl show state --pgdata "$work/monitor" 2>/dev/null | grep -q "single" && break
  sleep 1
done
start_db db2 "$p2"
for _ in $(seq 1 120); do
  state=$(as_pg pg_autoctl show state --pgdata "$work/monitor" 2>/dev/null || true)
  [[ $(grep -c "primary\|secondary" <<<"$state") -ge 2 ]] && grep -q " secondary " <<<"$state" && break
  sleep 1
done
echo "$state"
as_pg psql -h 127.0.0.1 -p "$p1" -d consentry -qAt -c "SHOW synchronous_standby_names" |
  sed 's/^/== synchronous_standby_names on db1: /'

url="host=127.0.0.1,127.0.0.1 port=$p1,$p2 user=postgres dbname=consentry target_session_attrs=read-write connect_timeout=2"
printf '[rate_limit]\nburst = 100000000\nper_minute = 100000000\n' >"$work/bench.toml"
node_ports=()
for n in 1 2; do
  port=$(free_port)
  CONSENTRY_POSTGRES_URL=$url RUST_LOG=warn "$BIN" serve --listen "127.0.0.1:$port" \
    --data-dir "$work/node$n" --config "$work/bench.toml" >"$work/node$n.out" 2>"$work/node$n.err" &
  nodes+=($!)
  node_ports+=("$port")
done
for port in "${node_ports[@]}"; do
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.2; done
done

lb=$(free_port)
cat >"$work/haproxy.cfg" <<CFG
global
    maxconn 1000
defaults
    mode http
    timeout connect 2s
    timeout client 30s
    timeout server 30s
    retries 0
frontend consentry
    bind 127.0.0.1:$lb
    default_backend nodes
backend nodes
    balance roundrobin
    option httpchk GET /healthz
    server node1 127.0.0.1:${node_ports[0]} check inter 1s
    server node2 127.0.0.1:${node_ports[1]} check inter 1s
CFG
haproxy -f "$work/haproxy.cfg" -db >"$work/haproxy.log" 2>&1 &
haproxy_pid=$!
sleep 1
echo "== two nodes on ${node_ports[*]} behind HAProxy on $lb; load: $CLIENTS clients for $((LOAD_BEFORE + LOAD_AFTER)) s"

python3 - "$lb" "$CLIENTS" "$((LOAD_BEFORE + LOAD_AFTER))" "$work/acks.txt" "$work/fails.txt" <<'PY' &
import http.client, json, sys, threading, time
port, clients, seconds, acks_path, fails_path = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4], sys.argv[5]
body = json.dumps({"action": "accept_all", "policy_version": "2026-11-01"})
stop = time.time() + seconds
lock = threading.Lock()
acks, fails = [], []
def client():
    conn = None
    while time.time() < stop:
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            conn.request("POST", "/api/v1/sites/demo/consents", body, {"content-type": "application/json"})
            res = conn.getresponse()
            data = res.read()
            now = time.time()
            if res.status == 201:
                d = json.loads(data)
                with lock:
                    acks.append((now, d["consent_id"], d["receipt"]))
            else:
                with lock:
                    fails.append((now, res.status))
                time.sleep(0.05)
        except Exception as e:
            with lock:
                fails.append((time.time(), type(e).__name__))
            conn = None
            time.sleep(0.05)
threads = [threading.Thread(target=client) for _ in range(clients)]
for t in threads: t.start()
for t in threads: t.join()
with open(acks_path, "w") as f:
    for a in acks: f.write(f"{a[0]:.3f} {a[1]} {a[2]}\n")
with open(fails_path, "w") as f:
    for x in fails: f.write(f"{x[0]:.3f} {x[1]}\n")
PY
load=$!
sleep "$LOAD_BEFORE"
primary=$(as_pg pg_autoctl show state --pgdata "$work/monitor" | awk '$0 ~ / primary / { print $1 }' | head -1)
echo "== $(date -u +%T.%N | cut -c1-12) killing the primary, $primary (its keeper and its postgres, SIGKILL)"
killed_at=$(date +%s.%N)
pkill -9 -u postgres -f "pg_autoctl.*$work/$primary" || true
pkill -9 -u postgres -f "postgres.*-D $work/$primary" || true
pkill -9 -u postgres -f "$work/$primary" || true
wait "$load"
echo "== load done; state now:"
as_pg pg_autoctl show state --pgdata "$work/monitor" || true

python3 - "$work/acks.txt" "$work/fails.txt" "$killed_at" "$lb" <<'PY'
import collections, http.client, json, sys
acks = [l.split() for l in open(sys.argv[1])]
fails = [l.split() for l in open(sys.argv[2])]
killed = float(sys.argv[3]); port = int(sys.argv[4])
times = sorted(float(a[0]) for a in acks)
before = [t for t in times if t < killed]
print(f"== acknowledged consents: {len(acks)} ({len(before)} before the kill, {len(times) - len(before)} after)")
print(f"== failed requests: {len(fails)} ({dict(collections.Counter(f[1] for f in fails))})")
gap, start = max((b - a, a) for a, b in zip(times, times[1:]))
print(f"== writes unavailable: {gap:.1f} s without a 201, from {start - killed:+.1f} s after the kill")
if fails:
    ft = sorted(float(f[0]) for f in fails)
    print(f"== failed requests from {ft[0] - killed:+.1f} s to {ft[-1] - killed:+.1f} s after the kill")
conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
lost, wrong = 0, 0
for _, cid, receipt in acks:
    conn.request("GET", f"/api/v1/sites/demo/consents/{cid}")
    res = conn.getresponse(); data = res.read()
    if res.status != 200:
        lost += 1
    elif json.loads(data).get("receipt") != receipt:
        wrong += 1
print(f"== acknowledged consents read back: {len(acks) - lost - wrong} of {len(acks)}; lost {lost}, another receipt {wrong}")
PY
echo "== ledger verify (through the new primary):"
CONSENTRY_POSTGRES_URL=$url "$BIN" ledger verify --data-dir "$work/node1"
