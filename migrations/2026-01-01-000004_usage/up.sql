-- Usage events, their idempotency keys and the hourly rollups analytics read.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Raw events. The primary key leads with `occurred_at` so the table can be turned into one
-- range-partitioned by time (`PARTITION BY RANGE (occurred_at)`) without changing any key:
-- a partitioned table's unique constraints must include the partition column. For the same
-- reason uniqueness of idempotency keys lives in `idempotency_keys`, not here. Lookups by id
-- alone use `usage_events_id_idx`. No foreign keys, so partitions can be detached and the
-- table distributed by `org_id`.
CREATE TABLE usage_events (
    occurred_at      TIMESTAMPTZ NOT NULL,
    id               UUID NOT NULL,
    org_id           TEXT COLLATE "C" NOT NULL,
    user_id          UUID,
    key_id           BIGINT,
    session_id       TEXT,
    kind             TEXT NOT NULL CHECK (kind IN ('request', 'job', 'caption', 'usage')),
    api_name         TEXT,
    endpoint         TEXT,
    method           TEXT,
    path             TEXT,
    status_code      INTEGER CHECK (status_code BETWEEN 100 AND 599),
    response_time_ms BIGINT CHECK (response_time_ms >= 0),
    model            TEXT,
    language         TEXT,
    domain           TEXT,
    units            BIGINT NOT NULL CHECK (units >= 0),
    cost_nanos       BIGINT NOT NULL CHECK (cost_nanos >= 0),
    tokens           BIGINT NOT NULL CHECK (tokens >= 0),
    quota            BIGINT NOT NULL CHECK (quota >= 0),
    duration_ms      BIGINT NOT NULL CHECK (duration_ms >= 0),
    success          BOOLEAN NOT NULL,
    error            TEXT,
    ip               TEXT,
    user_agent       TEXT,
    active           BOOLEAN NOT NULL DEFAULT TRUE,
    idempotency_key  TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (occurred_at, id)
);

-- Log filters (api-logs): newest first within a scope, then method / status / path.
CREATE INDEX usage_events_id_idx ON usage_events (id);
CREATE INDEX usage_events_org_time_idx ON usage_events (org_id, occurred_at DESC, id DESC);
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

-- Idempotency keys, unique per organisation. Points at the event it first produced.
CREATE TABLE idempotency_keys (
    org_id            TEXT COLLATE "C" NOT NULL,
    idempotency_key   TEXT NOT NULL,
    event_id          UUID NOT NULL,
    event_occurred_at TIMESTAMPTZ NOT NULL,
    -- The event's key, so a key's hard delete can remove its records.
    key_id            BIGINT,
    PRIMARY KEY (org_id, idempotency_key)
);

CREATE INDEX idempotency_keys_event_idx ON idempotency_keys (event_id);
CREATE INDEX idempotency_keys_key_idx ON idempotency_keys (key_id) WHERE key_id IS NOT NULL;

-- Hourly sums per every analytics dimension. NULL is a real value of a dimension (no user,
-- no key, no model...), hence NULLS NOT DISTINCT (PostgreSQL 15). Sums are signed, as the
-- domain's `Totals`: corrections are applied as differences.
CREATE TABLE usage_rollups (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hour        TIMESTAMPTZ NOT NULL,
    org_id      TEXT COLLATE "C" NOT NULL,
    user_id     UUID,
    key_id      BIGINT,
    model       TEXT,
    api_name    TEXT,
    language    TEXT,
    domain      TEXT,
    success     BOOLEAN NOT NULL,
    -- Whether the events had an HTTP method (were API calls).
    api_call    BOOLEAN NOT NULL,
    -- HTTP status class (2 for 2xx ...), when the events had a status.
    status_class SMALLINT CHECK (status_class BETWEEN 1 AND 5),
    count       BIGINT NOT NULL,
    units       BIGINT NOT NULL,
    cost_nanos  BIGINT NOT NULL,
    tokens      BIGINT NOT NULL,
    quota       BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    CONSTRAINT usage_rollups_dims_key UNIQUE NULLS NOT DISTINCT
        (hour, org_id, user_id, key_id, model, api_name, language, domain, success, api_call,
         status_class)
);

CREATE INDEX usage_rollups_org_hour_idx ON usage_rollups (org_id, hour);
CREATE INDEX usage_rollups_key_idx ON usage_rollups (key_id, hour) WHERE key_id IS NOT NULL;
CREATE INDEX usage_rollups_user_idx ON usage_rollups (user_id, hour) WHERE user_id IS NOT NULL;
