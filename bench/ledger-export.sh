#!/usr/bin/env bash
# The consent audit export on a filled data folder: `ledger export` (JSON Lines and CSV) and
# `ledger verify --file`, each timed with its peak memory (GNU time), with the file sizes; then
# the same export over HTTP (`GET /api/v1/admin/sites/demo/ledger/export`) from a running
# server: its wall time, the server's peak RSS (VmHWM) before and after, and whether the file
# is the command's, byte for byte.
#
# Usage: bash bench/ledger-export.sh            (EVENTS=200000 DAYS=90 by default; release build)
#        EVENTS=1000000 bash bench/ledger-export.sh
#        SKIP_BUILD=1 CARGO_TARGET_DIR=/elsewhere bash bench/ledger-export.sh   (built already)
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
DAYS=${DAYS:-90}
work=$(mktemp -d)
# shellcheck source=bench/lib.sh
source bench/lib.sh
trap 'stop_server; rm -rf "$work"' EXIT
[[ -n "${SKIP_BUILD:-}" ]] || cargo build --release --quiet
bin=${CARGO_TARGET_DIR:-target}/release/consentry
machine_line
echo "machine: $machine"
"$bin" demo-data --data-dir "$work/data" --events "$EVENTS" --days "$DAYS" --seed 7 >"$work/demo.out" 2>&1
grep -E '^(decisions|events appended):' "$work/demo.out"

measure() { # label, command... -> "label: wall s, peak RSS MB"
  local label=$1; shift
  /usr/bin/time -f '%e %M' -o "$work/time" "$@" >"$work/$label.out" 2>"$work/$label.err"
  read -r wall rss <"$work/time"
  printf '%-28s %7.2f s  %7.1f MB peak RSS\n' "$label" "$wall" "$(echo "$rss / 1024" | bc -l)"
}

measure "export (JSON Lines)" "$bin" ledger export --data-dir "$work/data" --site demo --out "$work/export.jsonl"
measure "export (CSV)" "$bin" ledger export --data-dir "$work/data" --site demo --format csv --out "$work/export.csv"
measure "verify --file" "$bin" ledger verify --file "$work/export.jsonl"
measure "ledger verify (the store)" "$bin" ledger verify --data-dir "$work/data"
cat "$work/export (JSON Lines).err"
cat "$work/verify --file.out"
printf 'files: JSON Lines %.1f MB, CSV %.1f MB\n' \
  "$(echo "$(stat -c %s "$work/export.jsonl") / 1000000" | bc -l)" \
  "$(echo "$(stat -c %s "$work/export.csv") / 1000000" | bc -l)"

# Over HTTP: the server holds the data folder; an operator token configured by its SHA-256.
token=bench-operator-token
digest=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
CONSENTRY_ADMIN_TOKEN_SHA256=$digest start_server server warn \
  "$bin" serve --data-dir "$work/data" --listen 127.0.0.1:0
echo "server after start: $(memory)"
for format in jsonl csv; do
  /usr/bin/time -f '%e' -o "$work/time" curl -sf -H "Authorization: Bearer $token" \
    -o "$work/served.$format" "$url/api/v1/admin/sites/demo/ledger/export?format=$format"
  ext=$format; [[ $format == csv ]] || ext=jsonl
  same=differs; cmp -s "$work/served.$format" "$work/export.$ext" && same="the command's bytes"
  printf '%-28s %7.2f s  server %s; %s\n' "GET …/ledger/export ($format)" "$(cat "$work/time")" "$(memory)" "$same"
done
stop_server
