#!/usr/bin/env bash
# The consent audit export on a filled data folder: `ledger export` (JSON Lines and CSV) and
# `ledger verify --file`, each timed with its peak memory (GNU time), with the file sizes.
#
# Usage: bash bench/ledger-export.sh            (EVENTS=200000 DAYS=90 by default; release build)
#        EVENTS=1000000 bash bench/ledger-export.sh
set -euo pipefail
cd "$(dirname "$0")/.."
EVENTS=${EVENTS:-200000}
DAYS=${DAYS:-90}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# shellcheck source=bench/lib.sh
source bench/lib.sh
cargo build --release --quiet
bin=target/release/consentry
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
