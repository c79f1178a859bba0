#!/usr/bin/env bash
# Crash soak: SIGKILL the release binary CYCLES times (default 300) under a seeded, concurrent
# mix of new consents, renewals, withdrawals, erasures and events, all against one data folder,
# and after every kill check what the server promised (examples/crash_soak.rs says what):
# `consentry ledger verify` and `consentry store check` exit 0 while it is down; after the
# restart every acknowledged consent reads its last acknowledged receipt, no erased id is
# readable, every exported event is its visitor's own and was accepted; at the end the
# marketer counts match the stored events and, once every id is erased, count nothing.
#
# Usage: bash bench/crash-soak.sh
#   CYCLES=300   SIGKILL cycles
#   SEED=N       replay a run's choices (the seed is printed; kill timing still varies)
#   KEEP=1       keep the temp dir (data folder, server stderr) even when the run passes
# Takes about 10-15 minutes for 300 cycles after the release build. Only 127.0.0.1 is used.
# Exits 1 on any violation, and then keeps the temp dir to look at.
set -euo pipefail
cd "$(dirname "$0")/.."

CYCLES=${CYCLES:-300}
SEED=${SEED:-$(( (RANDOM << 30) ^ (RANDOM << 15) ^ RANDOM ))}
KEEP=${KEEP:-0}

echo "== build: cargo build --release --bins --examples"
cargo build --release --bins --examples
CONSENTRY_BIN=target/release/consentry
SOAK_BIN=target/release/examples/crash_soak

work=$(mktemp -d "${TMPDIR:-/tmp}/crash-soak.XXXXXX")
rc=1
cleanup() {
  if [[ "$rc" == 0 && "$KEEP" != 1 ]]; then
    rm -rf "$work"
  else
    echo "== kept $work (data folder, server stderr)"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
source bench/lib.sh

machine_line
echo "== machine: $machine"
echo "== seed: $SEED (replay: SEED=$SEED CYCLES=$CYCLES bash bench/crash-soak.sh)"

start=$(date +%s)
set +e
"$SOAK_BIN" --bin "$CONSENTRY_BIN" --cycles "$CYCLES" --seed "$SEED" --dir "$work"
rc=$?
set -e
echo "== wall time: $(( $(date +%s) - start )) s"
if [[ "$rc" != 0 ]]; then
  echo "!!!!!! CRASH SOAK FAILED (exit $rc, seed $SEED): see the violations above !!!!!!"
  exit 1
fi
echo "== crash soak passed: $CYCLES cycles, seed $SEED"
