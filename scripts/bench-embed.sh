#!/usr/bin/env bash
# The embedding benchmark (docs/BENCHMARKS.md, "Embedding"): the example product's route
# behind the metering middleware vs. unmetered vs. through POST /v1/verify over HTTP, on the
# memory store and on a fresh Postgres database. Prints Markdown; short runs by default.
#   scripts/bench-embed.sh [tally-bench options; default --duration 3 --runs 3 --keys 1000]
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $# -eq 0 ]]; then set -- --duration 3 --runs 3 --keys 1000; fi

target_dir=${CARGO_TARGET_DIR:-target}
cargo build --release --locked -p product -p tally-bench >&2
product="$target_dir/release/product"
bench="$target_dir/release/tally-bench"
admin_key=bench-admin-key
port=${EMBED_BENCH_PORT:-18081}
db="tally_embed_bench_$$"
pid=""

stop() {
    if [[ -n $pid ]]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
    pid=""
}
cleanup() {
    stop
    psql -q -h 127.0.0.1 -U postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true
}
trap cleanup EXIT

run_on() { # store-label [DATABASE_URL]
    PRODUCT_ADDR="127.0.0.1:$port" ADMIN_KEY=$admin_key DATABASE_URL="${2:-}" RUST_LOG=warn \
        "$product" 2>"/tmp/bench-embed-$1.log" &
    pid=$!
    for _ in $(seq 1 100); do
        curl -fs "http://127.0.0.1:$port/tally/health" >/dev/null 2>&1 && break
        sleep 0.1
    done
    echo "#### $1 store"
    echo
    "$bench" --target "http://127.0.0.1:$port" --target-pid "$pid" --admin-key "$admin_key" \
        "${@:3}" embed
    stop
}

run_on memory "" "$@"
psql -q -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
run_on postgres "postgres://postgres@127.0.0.1:5432/$db" "$@"
