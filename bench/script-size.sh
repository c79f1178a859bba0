#!/usr/bin/env bash
# Size of the banner bundle as served at GET /consent.js (JS + CSS after build_bundle), raw,
# gzip -9 and brotli -q 11, next to the anchors from shared/reference/anchors.md.
# Budget: gzip -9 <= 8704 bytes (the script exits 1 when it is over). It was 8192 until cookie
# and tracker detection (issue 13) added 368 B; see BENCHMARKS.md.
#
# Usage: bench/script-size.sh            (builds with `cargo build --release`)
#        CONSENTRY_BIN=target/debug/consentry bench/script-size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUDGET=8704

if [[ -z "${CONSENTRY_BIN:-}" ]]; then
  cargo build --release --quiet
  CONSENTRY_BIN=target/release/consentry
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }

# brotli: the CLI, else python3's brotli module (installed with pip when missing).
if command -v brotli >/dev/null; then
  br_size() { brotli -c -q 11 "$1" | wc -c; }
else
  python3 -c 'import brotli' 2>/dev/null || python3 -m pip install --quiet brotli >/dev/null
  br_size() { python3 -c 'import brotli,sys; print(len(brotli.compress(open(sys.argv[1],"rb").read(), quality=11)))' "$1"; }
fi

work=$(mktemp -d)
pid=""
cleanup() {
  if [[ -n "$pid" ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

"$CONSENTRY_BIN" serve --listen 127.0.0.1:0 --data-dir "$work/data" >"$work/out" 2>"$work/err" &
pid=$!
url=""
for _ in $(seq 1 300); do
  url=$(grep -o 'consentry: listening on http://127\.0\.0\.1:[0-9]*' "$work/out" | head -1 | sed 's/consentry: listening on //') || true
  [[ -n "$url" ]] && break
  kill -0 "$pid" 2>/dev/null || { echo "server exited:"; cat "$work/err"; exit 1; }
  sleep 0.1
done
[[ -n "$url" ]] || { echo "server did not start"; cat "$work/err"; exit 1; }

curl -fsS -H 'Accept-Encoding: identity' "$url/consent.js" -o "$work/consent.js"
raw=$(wc -c <"$work/consent.js")
gz=$(gzip -9 -c "$work/consent.js" | wc -c)
br=$(br_size "$work/consent.js")
# What the server itself sends on the wire when asked for compression (0 if it does not).
wire() {
  local enc=$1 hdr
  hdr=$(curl -fsS -H "Accept-Encoding: $enc" -D - -o "$work/wire.$enc" "$url/consent.js" | tr -d '\r' | grep -i '^content-encoding:' || true)
  if [[ -n "$hdr" ]]; then wc -c <"$work/wire.$enc"; else echo 0; fi
}
wire_gz=$(wire gzip)
wire_br=$(wire br)

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1fx", a / b }'; }
printf '%-52s %9s %9s %9s\n' "GET /consent.js (bytes)" raw "gzip -9" brotli
printf '%-52s %9d %9d %9d\n' "Consentry (JS + CSS as served)" "$raw" "$gz" "$br"
printf '%-52s %9d %9d %9d   (%s / %s / %s larger)\n' "orestbida cookieconsent v3.1.0 (UMD JS + CSS)" 55666 15513 13783 \
  "$(ratio 55666 "$raw")" "$(ratio 15513 "$gz")" "$(ratio 13783 "$br")"
printf '%-52s %9d %9d %9d   (%s / %s / %s larger)\n' "Klaro 0.7.22 (JS + CSS + 25 languages)" 235942 68892 59197 \
  "$(ratio 235942 "$raw")" "$(ratio 68892 "$gz")" "$(ratio 59197 "$br")"
echo "served by the server itself: gzip $wire_gz B, br $wire_br B (0 = not compressed on request)"
if (( gz > BUDGET )); then
  echo "OVER BUDGET: gzip -9 $gz B > $BUDGET B"
  exit 1
fi
echo "budget: gzip -9 $gz B <= $BUDGET B ($(( BUDGET - gz )) B to spare)"
