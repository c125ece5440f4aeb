-- Usage events become a table range-partitioned by `occurred_at`, one partition per UTC
-- calendar month (`usage_events_pYYYYMM`), so retention drops whole months of raw events
-- instead of deleting rows, and a query bounded in time reads only its months. Tally creates
-- the partitions ahead of time itself (start-up and every maintenance run, see
-- crates/store_pg/src/partitions.rs); events dated where no partition exists yet land in
-- `usage_events_default`, from which maintenance moves them into their month.
--
-- Every primary and unique key of the tables here includes `org_id` (the Citus distribution
-- column); the events' key also includes the partition column, as Postgres requires.
--
-- The existing rows are copied, numbers included, and the event-number identity continues
-- after the largest one.

ALTER TABLE usage_events RENAME TO usage_events_unpartitioned;

CREATE TABLE usage_events (
    occurred_at      TIMESTAMPTZ NOT NULL,
    id               UUID NOT NULL,
    org_id           TEXT COLLATE "C" NOT NULL,
    user_id          UUID,
    key_id           BIGINT,
    session_id       TEXT,
    kind             TEXT NOT NULL CONSTRAINT usage_events_kind_check CHECK (kind IN ('request', 'job', 'caption', 'usage')),
    api_name         TEXT,
    endpoint         TEXT,
    method           TEXT,
    path             TEXT,
    status_code      INTEGER CONSTRAINT usage_events_status_code_check CHECK (status_code BETWEEN 100 AND 599),
    response_time_ms BIGINT CONSTRAINT usage_events_response_time_ms_check CHECK (response_time_ms >= 0),
    model            TEXT,
    language         TEXT,
    domain           TEXT,
    units            BIGINT NOT NULL CONSTRAINT usage_events_units_check CHECK (units >= 0),
    cost_nanos       BIGINT NOT NULL CONSTRAINT usage_events_cost_nanos_check CHECK (cost_nanos >= 0),
    tokens           BIGINT NOT NULL CONSTRAINT usage_events_tokens_check CHECK (tokens >= 0),
    quota            BIGINT NOT NULL CONSTRAINT usage_events_quota_check CHECK (quota >= 0),
    duration_ms      BIGINT NOT NULL CONSTRAINT usage_events_duration_ms_check CHECK (duration_ms >= 0),
    success          BOOLEAN NOT NULL,
    error            TEXT,
    ip               TEXT,
    user_agent       TEXT,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    idempotency_key  TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    number           BIGINT GENERATED ALWAYS AS IDENTITY
) PARTITION BY RANGE (occurred_at);

CREATE TABLE usage_events_default PARTITION OF usage_events DEFAULT;

-- One partition for every month that holds events, and for this month and the next two.
DO $$
DECLARE
    month timestamp;
BEGIN
    FOR month IN
        SELECT date_trunc('month', occurred_at AT TIME ZONE 'UTC') FROM usage_events_unpartitioned
        UNION
        SELECT date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => n)
        FROM generate_series(0, 2) AS n
    LOOP
        EXECUTE format(
            'CREATE TABLE %I PARTITION OF usage_events FOR VALUES FROM (%L) TO (%L)',
            'usage_events_p' || to_char(month, 'YYYYMM'),
            month AT TIME ZONE 'UTC',
            (month + interval '1 month') AT TIME ZONE 'UTC');
    END LOOP;
END $$;

INSERT INTO usage_events OVERRIDING SYSTEM VALUE
SELECT occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name, endpoint, method,
       path, status_code, response_time_ms, model, language, domain, units, cost_nanos, tokens,
       quota, duration_ms, success, error, ip, user_agent, active, idempotency_key, created_at,
       number
FROM usage_events_unpartitioned;

SELECT setval(pg_get_serial_sequence('usage_events', 'number'),
              COALESCE((SELECT max(number) FROM usage_events_unpartitioned), 0) + 1, false);

DROP TABLE usage_events_unpartitioned;
-- The new identity's sequence was named around the old one's; give it the usual name.
DO $$
BEGIN
    EXECUTE format('ALTER SEQUENCE %s RENAME TO usage_events_number_seq',
                   pg_get_serial_sequence('usage_events', 'number'));
END $$;

-- The key leads with the organisation (Citus) and holds the partition column (Postgres); it
-- also serves the organisation's newest-first log, which had an index of its own before.
ALTER TABLE usage_events ADD CONSTRAINT usage_events_pkey PRIMARY KEY (org_id, occurred_at, id);
CREATE INDEX usage_events_id_idx ON usage_events (id);
CREATE INDEX usage_events_key_time_idx ON usage_events (key_id, occurred_at DESC, id DESC)
    WHERE key_id IS NOT NULL;
CREATE INDEX usage_events_user_time_idx ON usage_events (user_id, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL;
CREATE INDEX usage_events_method_idx ON usage_events (org_id, method, occurred_at DESC)
    WHERE method IS NOT NULL;
CREATE INDEX usage_events_status_idx ON usage_events (org_id, status_code, occurred_at DESC)
    WHERE status_code IS NOT NULL;
CREATE INDEX usage_events_path_trgm_idx ON usage_events USING gin (path gin_trgm_ops)
    WHERE path IS NOT NULL;
CREATE INDEX usage_events_user_calls_idx ON usage_events (user_id, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;
CREATE INDEX usage_events_key_calls_idx ON usage_events (key_id, occurred_at DESC, id DESC)
    WHERE key_id IS NOT NULL AND method IS NOT NULL AND active;
CREATE INDEX usage_events_user_status_idx
    ON usage_events (user_id, status_code, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;

-- Idempotency records stay one unpartitioned table: uniqueness per (org, key) must hold
-- across months. Retention deletes the records of the months it drops, by this index.
CREATE INDEX idempotency_keys_time_idx ON idempotency_keys (event_occurred_at);

-- Rollup rows: the key includes the organisation (Citus). Compaction re-keys the hourly rows
-- older than the hourly window to their day's midnight (a daily row) and finds them by hour.
ALTER TABLE usage_rollups DROP CONSTRAINT usage_rollups_pkey;
ALTER TABLE usage_rollups ADD CONSTRAINT usage_rollups_pkey PRIMARY KEY (org_id, id);
CREATE INDEX usage_rollups_hour_idx ON usage_rollups (hour);
