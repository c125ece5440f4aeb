#!/usr/bin/env bash
# What each index of usage_events costs the writes (issue 9, item 4): on a fresh migrated
# database, pgbench inserts events — 100 per transaction, as `POST /v1/events` batches do —
# with every index, then with each index dropped in turn (recreated after), and prints events/s
# per configuration as a markdown table. Two event shapes: full request logs
# (scripts/bench/ingest_full.sql: every index written, partial ones included) and the events
# `POST /v1/verify` records (scripts/bench/ingest_verify.sql: a key and a unit only). The
# primary key is not dropped (it carries the partition key and serves replays).
#
# Knobs: INDEX_COST_SECONDS (per configuration, 8), INDEX_COST_CLIENTS (8),
# TALLY_BIN (target/release/tally). Needs Postgres on 127.0.0.1:5432 (trust, user postgres)
# and pgbench. Figures are noisy on a shared machine: read them as ratios within one run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${INDEX_COST_SECONDS:-8}
clients=${INDEX_COST_CLIENTS:-8}
bin=${TALLY_BIN:-target/release/tally}
pgbench=${PGBENCH:-$(command -v pgbench || ls /usr/lib/postgresql/*/bin/pgbench | sort -V | tail -n 1)}
db=tally_index_costs_$$
base=postgres://postgres@127.0.0.1:5432
psql() { command psql -h 127.0.0.1 -U postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
psql -c "CREATE DATABASE $db"
trap 'psql -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
DATABASE_URL=$base/$db "$bin" migrate >/dev/null 2>&1

run() { # script → events/s (100 per transaction)
    psql -d "$db" -c "TRUNCATE usage_events" -c "CHECKPOINT"
    "$pgbench" -h 127.0.0.1 -U postgres -n -c "$clients" -j 2 -T "$secs" -f "$1" "$db" 2>/dev/null \
        | awk '/^tps/ {printf "%d", $3 * 100}'
}
indexes=$(psql -d "$db" -c "SELECT indexname FROM pg_indexes WHERE tablename = 'usage_events' \
    AND indexname <> 'usage_events_pkey' ORDER BY indexname")
all_full=$(run scripts/bench/ingest_full.sql)
all_verify=$(run scripts/bench/ingest_verify.sql)
echo "| configuration | full request events/s | vs all | verify events/s | vs all |"
echo "|---|---:|---:|---:|---:|"
echo "| all indexes | $all_full | 100 % | $all_verify | 100 % |"
for ix in $indexes; do
    # The partitioned parent's definition reads `ON ONLY`: recreate it on every partition.
    def=$(psql -d "$db" -c "SELECT replace(indexdef, ' ON ONLY ', ' ON ') FROM pg_indexes \
        WHERE indexname = '$ix' AND tablename = 'usage_events'")
    psql -d "$db" -c "DROP INDEX $ix"
    full=$(run scripts/bench/ingest_full.sql)
    verify=$(run scripts/bench/ingest_verify.sql)
    psql -d "$db" -c "$def"
    echo "| without \`$ix\` | $full | $((full * 100 / all_full)) % | $verify | $((verify * 100 / all_verify)) % |"
done
rest=$(psql -d "$db" -c "SELECT string_agg(indexname, ' ') FROM pg_indexes \
    WHERE tablename = 'usage_events' AND indexname <> 'usage_events_pkey'")
for ix in $rest; do psql -d "$db" -c "DROP INDEX $ix"; done
full=$(run scripts/bench/ingest_full.sql)
verify=$(run scripts/bench/ingest_verify.sql)
echo "| primary key only | $full | $((full * 100 / all_full)) % | $verify | $((verify * 100 / all_verify)) % |"
