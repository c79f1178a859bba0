#!/usr/bin/env bash
# Event ingestion: `POST /api/v1/sites/demo/events` (one event, or a batch of 10), next to a bare
# actix-web handler that parses the same JSON and answers 202 (examples/bare_json.rs), on an
# empty store and again once the store holds >= 1,000,000 events, all in one run.
#
#  1. bare handler: wrk -t1 -c64 -d20s, single-event bodies, then 10-event batches
#  2. consentry, empty store (after 2,000 accepted consents): the same two loads
#  3. prefill to >= 1,000,000 stored events (wrk, 50-event batches; counted by /metrics
#     consentry_events_accepted_total), wait 2 s, the same two loads again
#  4. constant rate (examples/rate_load.rs, open loop, latency from the intended send time) at
#     half the single-event req/s of step 2, for 20 s, on the >= 1M store
#  5. bytes on disk per event: `du -sb` of the data dir after SIGTERM (the server flushes) / events
#  6. memory: VmHWM and VmRSS of the server after the prefill and at the end
#
# Every event body carries a consent id with an accepted consent and wrk sends a browser
# User-Agent, so events pass the gate; a sampled answer with `accepted` 0 stops the run.
# events/s = accepted events per second (/metrics delta for consentry, req/s x batch for bare).
#
# Usage: bash bench/ingest.sh
#   PIN=1      pin the server to core 0 and wrk to core 1 (default: unpinned, sharing both cores)
#   DURATION=20 WARMUP=3 PREFILL=1000000 CONSENTS=2000
#   KEEP=1     keep the temp dir with the final data dir (to inspect the sled trees)
# Takes about 4 minutes once the release build is done (at most ~8: the prefill stops after 200 s at the
# latest). Load goes only to 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
PIN=${PIN:-0}
PREFILL=${PREFILL:-1000000}
CONSENTS=${CONSENTS:-2000}
PREFILL_MAX_SECS=200
UA='Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'

echo "== build: cargo build --release --bins --examples"
cargo build --release --bins --examples
CONSENTRY_BIN=target/release/consentry
BARE_BIN=target/release/examples/bare_json
RATE_BIN=target/release/examples/rate_load

if ! command -v wrk >/dev/null; then
  echo "== installing wrk"
  apt-get update -qq && apt-get install -y -qq wrk >/dev/null
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

work=$(mktemp -d "${TMPDIR:-/tmp}/ingest.XXXXXX")
cleanup() {
  stop_server
  if [[ "${KEEP:-0}" == 1 ]]; then echo "== KEEP=1: left $work (data dir: $work/data)"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/lib.sh

if [[ "$PIN" == 1 ]]; then
  SERVER_PIN=(taskset -c 0); WRK_PIN=(taskset -c 1); PINNING="server on core 0, wrk on core 1 (taskset)"
else
  SERVER_PIN=(); WRK_PIN=(); PINNING="unpinned: server and wrk share both cores"
fi

PATH_EVENTS=/api/v1/sites/demo/events
PATH_CONSENTS=/api/v1/sites/demo/consents
printf 'cache_capacity_mb = 64\n\n[rate_limit]\nburst = 100000000\nper_minute = 100000000\n' >"$work/bench.toml"

# wrk script: POSTs the lines of the file given after `--`, cycling through them.
cat >"$work/cycle.lua" <<'EOF'
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
EOF
export BENCH_UA="$UA"

# --- machine ---------------------------------------------------------------------------------
machine_line
echo "== machine: $machine"
echo "== load before the run: $(uptime | sed 's/.*load average/load average/')"
echo "== pinning: $PINNING"

# --- helpers -------------------------------------------------------------------------------------

metric() { # name -> value from /metrics (0 when absent)
  curl -s --max-time 10 "$url/metrics" | awk -v m="$1" '$1 == m { print $2; found=1 } END { if (!found) print 0 }'
}


cpu_ticks() { # -> user + system clock ticks of the server so far
  awk '{ sub(/^.*\) /, ""); print $12 + $13 }' "/proc/$pid/stat"
}

quiesce() { # max seconds -> waits until the server uses < 5% of a core over 1 s (the event
  # writer has drained its queue and sled is idle); sets $waited
  local max=$1 a b hz
  hz=$(getconf CLK_TCK)
  waited=0
  a=$(cpu_ticks)
  while (( waited < max )); do
    sleep 1
    waited=$((waited + 1))
    b=$(cpu_ticks)
    (( (b - a) * 100 < hz * 5 )) && return 0
    a=$b
  done
  echo "!! the server was still busy after ${max} s of waiting"
}

threads_cpu() { # CPU seconds per thread name of the server, busiest first
  local hz; hz=$(getconf CLK_TCK)
  for t in /proc/"$pid"/task/*; do
    awk -v hz="$hz" '{ c = $0; sub(/^[^(]*\(/, "", c); sub(/\).*$/, "", c); r = $0; sub(/^.*\) /, "", r)
      split(r, f, " "); printf "%s\t%.1f\n", c, (f[12] + f[13]) / hz }' "$t/stat"
  done | awk -F'\t' '{ s[$1] += $2; n[$1]++ } END { for (k in s) printf "%.1f s  %s (x%d)\n", s[k], k, n[k] }' |
    sort -rn | head -8 | sed 's/^/     /'
}

to_ms() { # wrk latency like 812.00us / 1.23ms / 2.01s -> milliseconds
  awk -v v="$1" 'BEGIN {
    n = v + 0
    if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /m$/) n *= 60000; else if (v ~ /s$/) n *= 1000
    printf "%.2f", n }'
}

sample() { # body file, events per body -> fails loudly unless 202 with accepted == n
  local file=$1 n=$2 code accepted
  code=$(head -1 "$file" | curl -s -o "$work/sample.json" -w '%{http_code}' -X POST \
    -H 'Content-Type: application/json' -H "User-Agent: $UA" --data-binary @- --max-time 10 "$url$PATH_EVENTS")
  accepted=$(grep -o '"accepted":[0-9]*' "$work/sample.json" | cut -d: -f2 || true)
  if [[ "$code" != 202 || "${accepted:-0}" != "$n" ]]; then
    echo "!!!!!! sample POST of $n event(s) answered $code $(head -c 300 "$work/sample.json"): want 202 with accepted $n !!!!!!"
    exit 1
  fi
  echo "   sample $n-event POST: $code $(head -c 120 "$work/sample.json")"
}

rows=()
errors=0
declare -A EPS RPS
run_wrk() { # key, target name, load name, body file, events per body, consentry?
  local key=$1 name=$2 load=$3 file=$4 per=$5 consentry=$6
  "${WRK_PIN[@]}" timeout $((WARMUP + 30)) wrk -t1 -c64 -d"${WARMUP}s" -s "$work/cycle.lua" \
    "$url$PATH_EVENTS" -- "$file" >/dev/null
  local a0=0
  if [[ "$consentry" == 1 ]]; then
    quiesce 60
    a0=$(metric consentry_events_accepted_total)
  fi
  local out="$work/$key.wrk"
  "${WRK_PIN[@]}" timeout $((DURATION + 30)) wrk -t1 -c64 -d"${DURATION}s" --latency \
    -s "$work/cycle.lua" "$url$PATH_EVENTS" -- "$file" >"$out"
  local rps reqs secs p50 p99 non2xx sock eps
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' "$out")
  reqs=$(awk '/requests in/ { print $1; exit }' "$out")
  secs=$(awk '/requests in/ { sub(/s,?$/, "", $4); print $4; exit }' "$out")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2; exit }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2; exit }' "$out")")
  non2xx=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$out")
  non2xx=${non2xx:-0}
  sock=$(awk '/Socket errors:/ { s = 0; for (i = 3; i <= NF; i += 2) { gsub(/,/, "", $(i+1)); s += $(i+1) } print s }' "$out")
  sock=${sock:-0}
  if [[ "$consentry" == 1 ]]; then
    local a1 accepted
    a1=$(metric consentry_events_accepted_total)
    accepted=$((a1 - a0))
    eps=$(awk -v a="$accepted" -v s="$secs" 'BEGIN { printf "%.0f", a / s }')
    local want=$((reqs * per))
    if (( accepted * 100 < want * 99 )); then
      echo "!! $name $load: only $accepted of $want events sent were accepted"
      errors=1
    fi
  else
    eps=$((rps * per))
  fi
  EPS[$key]=$eps
  RPS[$key]=$rps
  if [[ "$non2xx" != 0 || "$sock" != 0 ]]; then
    errors=1
    echo "!!!!!! ERRORS in $name $load: $non2xx non-2xx responses, $sock socket errors !!!!!!"
    grep -E 'Non-2xx|Socket errors' "$out" || true
  fi
  local drain=""
  if [[ "$consentry" == 1 ]]; then
    quiesce 60
    drain=" (server busy for ${waited} s after the run: writer backlog)"
  fi
  echo "   $name, $load: $rps req/s, $eps events/s, p50 ${p50} ms, p99 ${p99} ms$drain"
  rows+=("$(printf '| %-23s | %-26s | %8s | %9s | %8s | %8s | %10s |' \
    "$name" "$load" "$rps" "$eps" "$p50" "$p99" "$non2xx/$sock")")
}

# --- bodies ----------------------------------------------------------------------------------------
make_bodies() { # consent id file -> single.txt, batch10.txt, batch50.txt
  python3 - "$1" "$work" <<'PY'
import json, sys
ids = [l.strip() for l in open(sys.argv[1]) if l.strip()]
out = sys.argv[2]
paths = ["/", "/pricing", "/docs", "/docs/api", "/docs/webhooks", "/blog", "/blog/rates-2026",
         "/blog/customs-guide", "/signup", "/login", "/features/tracking", "/features/labels",
         "/integrations/shopify", "/integrations/woocommerce", "/about", "/contact", "/careers",
         "/legal/imprint", "/status", "/changelog"]
refs = ["https://www.google.com/", "https://www.bing.com/", "https://news.ycombinator.com/", ""]
def ev(cid, k):
    e = {"consent_id": cid, "name": "pageview",
         "url": "https://parcelwise.example" + paths[k % len(paths)]}
    r = refs[k % len(refs)] if k % 3 == 0 else "https://www.google.com/"
    if r:
        e["referrer"] = r
    return e
sep = (",", ":")
with open(f"{out}/single.txt", "w") as f:
    for k, cid in enumerate(ids):
        f.write(json.dumps(ev(cid, k), separators=sep) + "\n")
for n in (10, 50):
    with open(f"{out}/batch{n}.txt", "w") as f:
        for k, cid in enumerate(ids):
            f.write(json.dumps([ev(cid, k + j) for j in range(n)], separators=sep) + "\n")
PY
}

# --- 1. bare handler ------------------------------------------------------------------------------
echo "== bare handler (examples/bare_json.rs)"
python3 -c "
import uuid
for _ in range($CONSENTS): print(uuid.uuid4().hex)" >"$work/bare-ids.txt"
make_bodies "$work/bare-ids.txt"
start_server bare warn "$BARE_BIN" 127.0.0.1:0
sample "$work/single.txt" 1
sample "$work/batch10.txt" 10
run_wrk bare1 "bare handler" "1 event/request" "$work/single.txt" 1 0
run_wrk bare10 "bare handler" "10-event batches" "$work/batch10.txt" 10 0
stop_server

# --- 2. consentry, empty store ----------------------------------------------------------------------
data=""
fresh_consentry() { # data dir name: a fresh server and data dir with $CONSENTS accepted consents
  data="$work/$1"
  start_server "consentry-$1" warn "$CONSENTRY_BIN" serve --listen 127.0.0.1:0 --data-dir "$data" \
    --config "$work/bench.toml"
  python3 - "$url" "$PATH_CONSENTS" "$CONSENTS" "$work/ids.txt" <<'PY'
import http.client, json, sys, threading, urllib.parse
base, path, total, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
u = urllib.parse.urlparse(base)
body = json.dumps({"action": "accept_all", "policy_version": "2026-11-01"})
ids, fails, lock = [], [], threading.Lock()
def worker(n):
    c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    for _ in range(n):
        c.request("POST", path, body, {"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        with lock:
            if r.status == 201:
                ids.append(json.loads(data)["consent_id"])
            else:
                fails.append((r.status, data[:200]))
threads = [threading.Thread(target=worker, args=(total // 16 + (i < total % 16),)) for i in range(16)]
for t in threads: t.start()
for t in threads: t.join()
if fails or len(ids) != total:
    sys.exit(f"!! consent creation: {len(ids)} of {total} answered 201; first failure: {fails[:1]}")
open(out, "w").write("\n".join(ids) + "\n")
PY
  echo "   $(wc -l <"$work/ids.txt") consents stored in $data"
  make_bodies "$work/ids.txt"
  sample "$work/single.txt" 1
  sample "$work/batch10.txt" 10
  sample "$work/batch50.txt" 50
}
# Each empty-store load gets its own fresh server and data dir (the sampled POSTs leave 61 events).
echo "== consentry, fresh data dir, $CONSENTS accepted consents, single events"
fresh_consentry data-empty1
run_wrk empty1 "consentry, empty store" "1 event/request" "$work/single.txt" 1 1
stop_server
rm -rf "$data"
echo "== consentry, fresh data dir, $CONSENTS accepted consents, 10-event batches (this server goes on to step 3)"
fresh_consentry data
run_wrk empty10 "consentry, empty store" "10-event batches" "$work/batch10.txt" 10 1

# --- 3. prefill to >= PREFILL events, then the same loads -----------------------------------------
echo "== prefill to >= $PREFILL events with 50-event batches (wrk -c64, 10 s rounds)"
t0=$(date +%s)
p0=$(metric consentry_events_accepted_total)
prefill_non2xx=0
while :; do
  n=$(metric consentry_events_accepted_total)
  (( n >= PREFILL )) && break
  if (( $(date +%s) - t0 >= PREFILL_MAX_SECS )); then
    echo "!!!!!! prefill stopped after ${PREFILL_MAX_SECS} s at $n events (< $PREFILL) !!!!!!"
    errors=1
    break
  fi
  "${WRK_PIN[@]}" timeout 40 wrk -t1 -c64 -d10s -s "$work/cycle.lua" "$url$PATH_EVENTS" -- \
    "$work/batch50.txt" >"$work/prefill.wrk"
  x=$(awk -F: '/Non-2xx or 3xx responses/ { gsub(/ /, "", $2); print $2 }' "$work/prefill.wrk")
  prefill_non2xx=$((prefill_non2xx + ${x:-0}))
  echo "   $(metric consentry_events_accepted_total) events accepted so far"
done
t1=$(date +%s)
p1=$(metric consentry_events_accepted_total)
prefill_rate=$(awk -v e=$((p1 - p0)) -v s=$((t1 - t0)) 'BEGIN { printf "%.0f", e / (s > 0 ? s : 1) }')
echo "   prefill: $((p1 - p0)) events in $((t1 - t0)) s (~$prefill_rate events/s incl. metric polling); non-2xx $prefill_non2xx"
mem_prefill=$(memory)
echo "   memory right after the prefill load: $mem_prefill"
quiesce 150
t2=$(date +%s)
sustained=$(awk -v e=$((p1 - p0)) -v s=$((t2 - t0)) 'BEGIN { printf "%.0f", e / (s > 0 ? s : 1) }')
echo "   the server was busy ${waited} s more after the prefill load (writer backlog): ~$sustained events/s written end to end"
sleep 2
mem_drained=$(memory)
echo "   memory once idle: $mem_drained"
run_wrk full1 "consentry, >= 1M events" "1 event/request" "$work/single.txt" 1 1
run_wrk full10 "consentry, >= 1M events" "10-event batches" "$work/batch10.txt" 10 1

# --- 4. constant rate ------------------------------------------------------------------------------
half=$(( ${RPS[empty1]} / 2 ))
quiesce 60
echo "== constant rate: $half req/s (half of the empty-store single-event req/s) for ${DURATION} s, single events, >= 1M store"
"${WRK_PIN[@]}" timeout $((DURATION + 40)) "$RATE_BIN" "$url$PATH_EVENTS" "$half" "$DURATION" \
  "$work/single.txt" 64 "User-Agent:$UA" | tee "$work/rate.out"
rate_line=$(grep '^RESULT ' "$work/rate.out")
rl() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$rate_line"; }
rows+=("$(printf '| %-23s | %-26s | %8s | %9s | %8s | %8s | %10s |' \
  "consentry, >= 1M events" "open loop at $half req/s" "$(rl rate)" "$(rl rate)" "$(rl p50)" "$(rl p99)" \
  "$(rl non2xx)/$(rl errors)")")
if [[ "$(rl non2xx)" != 0 || "$(rl errors)" != 0 || "$(rl unsent)" != 0 ]]; then
  errors=1
  echo "!!!!!! ERRORS in the constant-rate run: $(rl non2xx) non-2xx, $(rl errors) errors, $(rl unsent) unsent !!!!!!"
fi

# --- 5, 6. memory at the end, bytes on disk -------------------------------------------------------
quiesce 60
mem_end=$(memory)
echo "== CPU time per server thread over the whole run"
threads_cpu
accepted_total=$(metric consentry_events_accepted_total)
dropped=$(curl -s --max-time 10 "$url/metrics" | awk '/^consentry_events_dropped_total/ { s += $2 } END { print s + 0 }')
echo "== stopping consentry with SIGTERM (it flushes)"
stop_server
disk=$(du -sb "$data" | cut -f1)
bpe=$(awk -v d="$disk" -v n="$accepted_total" 'BEGIN { printf "%.1f", d / n }')
echo "   data dir files:"
(cd "$data" && find . -type f -printf '%s\t%p\n' | sort -rn | head -12 | awk '{ printf "     %12d  %s\n", $1, $2 }')

# --- table ---------------------------------------------------------------------------------------
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
echo
echo "== machine: $machine"
echo "wrk -t1 -c64 -d${DURATION}s --latency after ${WARMUP}s warm-up; $PINNING; RUST_LOG=warn; cache_capacity_mb = 64"
printf '| %-23s | %-26s | %8s | %9s | %8s | %8s | %10s |\n' target load "req/s" "events/s" "p50 ms" "p99 ms" "non2xx/err"
printf '|%s|%s|%s:|%s:|%s:|%s:|%s:|\n' ------------------------- ---------------------------- --------- \
  ---------- --------- --------- -----------
printf '%s\n' "${rows[@]}"
echo
echo "consentry / bare events/s: empty store $(ratio "${EPS[empty1]}" "${EPS[bare1]}") (1 event), $(ratio "${EPS[empty10]}" "${EPS[bare10]}") (10-event batches);" \
  ">= 1M store $(ratio "${EPS[full1]}" "${EPS[bare1]}") (1 event), $(ratio "${EPS[full10]}" "${EPS[bare10]}") (10-event batches)"
echo ">= 1M / empty events/s: $(ratio "${EPS[full1]}" "${EPS[empty1]}") (1 event), $(ratio "${EPS[full10]}" "${EPS[empty10]}") (10-event batches)"
echo "prefill: ~$prefill_rate events/s accepted with 50-event batches ($prefill_non2xx non-2xx); ~$sustained events/s written counting the backlog drain"
echo "events accepted: $accepted_total (dropped: $dropped); data dir after SIGTERM: $disk bytes = $bpe bytes/event (incl. rollups, indexes and the $CONSENTS-consent ledger)"
echo "memory: right after the prefill load $mem_prefill; once idle after it $mem_drained; at the end $mem_end"
if [[ "$errors" != 0 ]]; then
  echo
  echo "!!!!!! SOME RUNS HAD ERRORS (non-2xx, socket errors, unaccepted events or a short prefill): see above !!!!!!"
  exit 1
fi
