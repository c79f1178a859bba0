#!/usr/bin/env bash
# Clean release build time, in a fresh clone with its own empty target folder (crates already
# downloaded are reused). With EXTRA_DEP='name = "…"' (a Cargo.toml dependency line), it builds
# a second time with that dependency added, to measure what adopting it would cost. With
# BASE=<commit>, it first builds that commit, to measure what a dependency already adopted
# since then costs (both builds in the same run).
#   bash bench/build-time.sh
#   BASE=e033042^ bash bench/build-time.sh
#   EXTRA_DEP='tokio-postgres = { version = "0.7", default-features = false, features = ["runtime"] }' bash bench/build-time.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(rustc --version)"
git clone -q "$repo" "$work/src"
cd "$work/src"
echo "commit: $(git rev-parse --short HEAD)"

build() {
    rm -rf target
    local start end
    start=$(date +%s.%N)
    cargo build --release -q
    end=$(date +%s.%N)
    printf '%-40s %6.0f s   %d crates in the normal tree\n' "$1" "$(echo "$end - $start" | bc)" \
        "$(cargo tree -e normal --prefix none 2>/dev/null | sort -u | wc -l)"
}

if [[ -n "${BASE:-}" ]]; then
    head=$(git rev-parse HEAD)
    git checkout -q "$BASE"
    build "clean release at $(git rev-parse --short HEAD)"
    git checkout -q "$head"
fi
build "clean release"
if [[ -n "${EXTRA_DEP:-}" ]]; then
    sed -i "/^\[dependencies\]/a $EXTRA_DEP" Cargo.toml
    build "clean release with ${EXTRA_DEP%% =*}"
fi
