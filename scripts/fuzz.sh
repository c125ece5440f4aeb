#!/usr/bin/env bash
# The API fuzzer (issue 12; `just fuzz`, and a bounded run in .ci/run): schemathesis generates
# requests from GET /openapi.json of a spawned `tally` and checks every answer against the
# document — no 5xx, every status documented, every body valid against its schema, the declared
# content type and headers.
#
#   scripts/fuzz.sh [--store memory|postgres|both] [--examples N] [--time S] [-- schemathesis args]
#
# Each store gets a fresh server (Postgres: a throwaway database on 127.0.0.1:5432, dropped
# afterwards) seeded with an org, a user with a key, and an open session; then three passes, one
# per principal (the admin key, the user's token, the session's token), so the routes behind
# each credential are reached, not only their 401. The SSE routes (`/events`, `/events/stream`,
# `/viewer/{key}`, `/v1/sessions/events`) are left out: their answers never end, and the
# black-box suite covers them.
# Exit status 1 when any check fails. The spec itself is validated as OpenAPI 3.1 first
# (openapi-spec-validator).
#
# Defaults: --store both, --examples 15, --time 0 (no budget; otherwise seconds per pass, for
# `just fuzz`). Reports (JUnit and NDJSON) go to target/fuzz/<store>-<principal>/.
# Tools are pinned in scripts/fuzz-requirements.txt and installed into target/fuzz-venv.
set -euo pipefail
cd "$(dirname "$0")/.."

store=both examples=15 budget=0 extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --store) store=$2; shift 2 ;;
        --examples) examples=$2; shift 2 ;;
        --time) budget=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        *) echo "fuzz: unknown argument $1" >&2; exit 2 ;;
    esac
done

say() { echo "fuzz: $*" >&2; }
target=${CARGO_TARGET_DIR:-target}
venv="$target/fuzz-venv"
if [[ ! -x "$venv/bin/schemathesis" ]] || ! cmp -s scripts/fuzz-requirements.txt "$venv/requirements.txt"; then
    say "installing schemathesis into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check -r scripts/fuzz-requirements.txt
    cp scripts/fuzz-requirements.txt "$venv/requirements.txt"
fi

cargo build -q -p tally --locked
bin="$target/debug/tally"
pg=(-h 127.0.0.1 -p 5432 -U postgres)
admin_key="fuzz-admin-$RANDOM$RANDOM"
work=$(mktemp -d "${TMPDIR:-/tmp}/tally-fuzz.XXXXXX")
server_pid="" db="" failed=0

stop_server() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=""
    fi
    if [[ -n "$db" ]]; then
        dropdb "${pg[@]}" --if-exists --force "$db" 2>/dev/null || true
        db=""
    fi
}
trap 'stop_server; rm -rf "$work"' EXIT

json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }

start_server() {
    local kind=$1 port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    base="http://127.0.0.1:$port"
    local env=(ADMIN_KEY="$admin_key" JWT_SECRET="fuzz-secret-$RANDOM$RANDOM" ALLOWED_DOMAINS='*'
        TALLY_HTTP__HOST=127.0.0.1 TALLY_HTTP__PORT="$port" RUST_LOG=warn)
    if [[ $kind == postgres ]]; then
        db="tally_fuzz_$(date +%s)_$$"
        createdb "${pg[@]}" "$db"
        env+=(DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db")
    fi
    env "${env[@]}" "$bin" serve >"$work/server-$kind.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        curl -fsS "$base/health" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    say "server on $kind did not start:"; cat "$work/server-$kind.log" >&2
    exit 1
}

# An org, a user with a key and a token, and an open session of that key.
seed() {
    local admin=(-H "X-Admin-Key: $admin_key" -H 'Content-Type: application/json')
    curl -fsS "${admin[@]}" -d '{"id":"org_fuzz","name":"Fuzz"}' "$base/v1/orgs" >/dev/null
    user_id=$(curl -fsS "${admin[@]}" -d '{"username":"fuzz-user","org_id":"org_fuzz"}' \
        "$base/v1/users" | json '["id"]')
    user_token=$(curl -fsS "${admin[@]}" -d '{}' "$base/v1/users/$user_id/tokens" | json '["token"]')
    api_key=$(curl -fsS "${admin[@]}" -d "{\"user_id\":\"$user_id\",\"daily_limit\":100000}" \
        "$base/v1/keys" | json '["key"]')
    session_token=$(curl -fsS -H 'Content-Type: application/json' \
        -d "{\"apiKey\":\"$api_key\",\"domain\":\"https://fuzz.example\"}" "$base/live" | json '["token"]')
}

pass() {
    local kind=$1 who=$2; shift 2
    local dir="$target/fuzz/$kind-$who" args=()
    rm -rf "$dir"; mkdir -p "$dir"
    [[ $budget -gt 0 ]] && args+=(--max-time "$budget" --phases examples,coverage,fuzzing,stateful)
    [[ $budget -eq 0 ]] && args+=(--phases examples,coverage,fuzzing)
    say "$kind store, as $who: schemathesis (max $examples examples per operation)"
    if ! "$venv/bin/schemathesis" run "$base/openapi.json" \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance \
        --exclude-path-regex '^/(events|viewer/|v1/sessions/events)' \
        --max-examples "$examples" --seed 20261201 --workers 1 --request-timeout 10 \
        --suppress-health-check all --warnings off --no-color \
        --report junit,ndjson --report-dir "$dir" \
        "$@" "${args[@]}" ${extra[@]+"${extra[@]}"} >"$dir/output.txt" 2>&1; then
        failed=1
        say "FAILED: $kind as $who (full output: $dir/output.txt)"
        sed -n '/FAILURES/,$p' "$dir/output.txt" | head -200 >&2
    fi
    local cases
    cases=$(grep -A1 '^Test cases:' "$dir/output.txt" | tail -n 1 | sed 's/^ *//')
    say "$kind as $who: ${cases:-no summary (see $dir/output.txt)}"
}

run_store() {
    local kind=$1
    start_server "$kind"
    curl -fsS "$base/openapi.json" >"$work/openapi.json"
    if [[ $kind == memory || $store == postgres ]]; then
        say "validating the document as OpenAPI 3.1"
        "$venv/bin/openapi-spec-validator" "$work/openapi.json" >&2
    fi
    seed
    pass "$kind" admin -H "X-Admin-Key: $admin_key"
    pass "$kind" user -H "Authorization: Bearer $user_token"
    pass "$kind" session -H "Authorization: Bearer $session_token"
    if grep -E '\bpanicked\b' "$work/server-$kind.log" >&2; then
        say "FAILED: the $kind server panicked"; failed=1
    fi
    stop_server
}

case "$store" in
    memory|postgres) run_store "$store" ;;
    both) run_store memory; run_store postgres ;;
    *) say "--store must be memory, postgres or both"; exit 2 ;;
esac
if [[ $failed -ne 0 ]]; then say "failures found"; exit 1; fi
say "no server errors, no schema violations"
