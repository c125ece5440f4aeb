#!/usr/bin/env bash
# The crash proof (issue 9, item 6; `just crash-test`). Not part of the test suite: it kills
# processes and restarts the local Postgres.
#
# Two runs, each on a fresh throwaway database on 127.0.0.1:5432 (trust auth, user postgres)
# and a release `tally` on it, under verify and caption load from scripts/crash-client.py,
# which logs every attempt and its answer:
#   kill -9           tally is killed with SIGKILL mid-load (CRASH_KILLS times) and restarted;
#   postgres restart  Postgres is stopped with a fast shutdown mid-load and started again
#                     after CRASH_PG_DOWNTIME seconds; tally keeps running.
# After each run the client checks the log against the database: every acknowledged meter
# stored exactly once, and api_keys.lifetime_used, the daily counters and usage_rollups equal to
# the sums over usage_events. One summary line per run; exit status 1 on any loss, duplicate,
# inconsistency or 5xx other than 503 (see docs/OPERATIONS.md).
#
# Knobs (environment): CRASH_SKIP_PG_RESTART=1 (only the kill -9 run, leaves Postgres alone),
# CRASH_KILLS (2), CRASH_SEGMENT (s of load before/between/after disturbances, 3),
# CRASH_PG_DOWNTIME (s between the end of the stop and the start, 1), CRASH_VERIFY_THREADS (8), CRASH_CAPTION_THREADS (4, at most 4),
# CRASH_KEEP=1 (keep the databases and the work directory), TALLY_BIN (skip the build),
# CARGO_TARGET_DIR, PGVERSION (the cluster to restart; default: the newest in /etc/postgresql).
set -euo pipefail
cd "$(dirname "$0")/.."

kills=${CRASH_KILLS:-2}
segment=${CRASH_SEGMENT:-3}
downtime=${CRASH_PG_DOWNTIME:-1}
vthreads=${CRASH_VERIFY_THREADS:-8}
cthreads=${CRASH_CAPTION_THREADS:-4}
pg=(-h 127.0.0.1 -p 5432 -U postgres)
admin_key="crash-admin-$RANDOM$RANDOM"
client=scripts/crash-client.py

say() { echo "crash-test: $*" >&2; }
as_root() { if [[ $(id -u) -eq 0 ]]; then "$@"; else sudo "$@"; fi; }

work=$(mktemp -d "${TMPDIR:-/tmp}/tally-crash.XXXXXX")
run_id="tally_crash_$(date +%s)_$$"
dbs=() tally_pid="" load_pid="" pg_stopped="" failed=""

cleanup() {
    local rc=$?
    set +e
    [[ -n "$load_pid" ]] && { touch "$work/stop"; kill "$load_pid" 2>/dev/null; wait "$load_pid" 2>/dev/null; }
    [[ -n "$tally_pid" ]] && { kill -9 "$tally_pid" 2>/dev/null; wait "$tally_pid" 2>/dev/null; }
    if [[ -n "$pg_stopped" ]]; then
        say "starting Postgres again"
        as_root pg_ctlcluster --skip-systemctl-redirect "$pgversion" main start
    fi
    if [[ -z "${CRASH_KEEP:-}" ]]; then
        for db in "${dbs[@]}"; do dropdb "${pg[@]}" --if-exists --force "$db" 2>/dev/null; done
        if [[ $rc -eq 0 ]]; then rm -rf "$work"; else say "logs kept in $work"; fi
    else
        say "kept: databases ${dbs[*]}, work directory $work"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

pg_isready -q "${pg[@]}" || { say "Postgres on 127.0.0.1:5432 is not answering"; exit 2; }
pgversion=${PGVERSION:-$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n 1)}

if [[ -n "${TALLY_BIN:-}" ]]; then
    bin=$TALLY_BIN
else
    say "building the release binary"
    cargo build --release --locked -p tally >&2
    bin=${CARGO_TARGET_DIR:-target}/release/tally
fi
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
base="http://127.0.0.1:$port"

now_us() { python3 -c 'import time; print(time.time_ns() // 1000)'; }

# start_tally DB LOG: starts tally on DB, waits until /health answers 200 (≤ 30 s).
start_tally() {
    DATABASE_URL="postgres://postgres@127.0.0.1:5432/$1" ADMIN_KEY="$admin_key" \
        JWT_SECRET="crash-test-secret-$run_id" ALLOWED_DOMAINS=localhost \
        TALLY_HTTP__HOST=127.0.0.1 TALLY_HTTP__PORT="$port" RUST_LOG=warn \
        "$bin" serve >>"$2" 2>&1 &
    tally_pid=$!
    for _ in $(seq 1 300); do
        if curl -fsS -o /dev/null "$base/health" 2>/dev/null; then return 0; fi
        kill -0 "$tally_pid" 2>/dev/null || { say "tally exited; see $2"; tail -n 20 "$2" >&2; exit 1; }
        sleep 0.1
    done
    say "tally did not become healthy in 30 s; see $2"
    exit 1
}

stop_tally() {
    kill -TERM "$tally_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$tally_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$tally_pid" 2>/dev/null || true
    wait "$tally_pid" 2>/dev/null || true
    tally_pid=""
}

# begin PHASE: fresh database, tally on it, keys and sessions, load running.
begin() {
    local phase=$1 db="${run_id}_$1"
    createdb "${pg[@]}" "$db"
    dbs+=("$db")
    : >"$work/$phase.marks"
    rm -f "$work/stop" "$work/ready"
    start_tally "$db" "$work/tally-$phase.log"
    python3 "$client" setup --base "$base" --admin-key "$admin_key" \
        --state "$work/$phase.state" --caption-threads "$cthreads"
    python3 "$client" load --base "$base" --admin-key "$admin_key" --state "$work/$phase.state" \
        --log "$work/$phase.log" --ready "$work/ready" --stop "$work/stop" \
        --verify-threads "$vthreads" --max-seconds 120 &
    load_pid=$!
    for _ in $(seq 1 100); do [[ -e "$work/ready" ]] && break; sleep 0.1; done
}

# finish PHASE LABEL: stop the load, stop tally, check.
finish() {
    touch "$work/stop"
    wait "$load_pid"
    load_pid=""
    stop_tally
    python3 "$client" check --state "$work/$1.state" --log "$work/$1.log" --db "${run_id}_$1" \
        --phase "$1" --label "$2" --marks "$work/$1.marks" || failed=1
}

say "kill -9 run: ${segment} s of load, then $kills × (kill -9, restart, ${segment} s of load)"
begin kill9
sleep "$segment"
for _ in $(seq 1 "$kills"); do
    t0=$(now_us)
    kill -9 "$tally_pid"
    wait "$tally_pid" 2>/dev/null || true
    echo "kill $t0" >>"$work/kill9.marks"
    start_tally "${run_id}_kill9" "$work/tally-kill9.log"
    echo "restart $(($(now_us) - t0))" >>"$work/kill9.marks"
    sleep "$segment"
done
finish kill9 "kill -9"

if [[ -z "${CRASH_SKIP_PG_RESTART:-}" ]]; then
    say "postgres restart run: ${segment} s of load, Postgres $pgversion stopped (fast shutdown) for ${downtime} s, $((segment + 2)) s of load"
    begin pgrestart
    sleep "$segment"
    pid_before=$tally_pid
    echo "pg_down $(now_us)" >>"$work/pgrestart.marks"
    pg_stopped=1
    as_root pg_ctlcluster --skip-systemctl-redirect "$pgversion" main stop -m fast
    sleep "$downtime"
    # pg_ctlcluster returns a while after Postgres accepts connections: poll meanwhile.
    as_root pg_ctlcluster --skip-systemctl-redirect "$pgversion" main start &
    start_pid=$!
    for _ in $(seq 1 300); do pg_isready -q "${pg[@]}" && break; sleep 0.05; done
    echo "pg_up $(now_us)" >>"$work/pgrestart.marks"
    wait "$start_pid"
    pg_stopped=""
    sleep "$((segment + 2))"
    if ! kill -0 "$pid_before" 2>/dev/null || [[ "$tally_pid" != "$pid_before" ]]; then
        echo "tally_restarted 1" >>"$work/pgrestart.marks"
    fi
    finish pgrestart "postgres restart"
fi

if [[ -n "$failed" ]]; then
    say "FAILED"
    exit 1
fi
say "passed"
