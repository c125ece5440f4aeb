-- Open sessions, the records ended sessions leave, caption delivery errors and the lcyt
-- domain rollup.

CREATE TABLE sessions (
    id               TEXT COLLATE "C" PRIMARY KEY CHECK (id ~ '^[0-9a-f]{16}$'),
    key_id           BIGINT NOT NULL,
    org_id           TEXT COLLATE "C" NOT NULL,
    domain           TEXT NOT NULL,
    stream_key       TEXT,
    sequence         BIGINT NOT NULL CHECK (sequence >= 0),
    -- The domain's `Vec<Target>` as JSON (`[{"type":"viewer","viewerKey":"room-1"}]`).
    targets          JSONB NOT NULL DEFAULT '[]',
    started_at       TIMESTAMPTZ NOT NULL,
    last_activity_at TIMESTAMPTZ NOT NULL,
    captions_sent    BIGINT NOT NULL DEFAULT 0 CHECK (captions_sent >= 0),
    captions_failed  BIGINT NOT NULL DEFAULT 0 CHECK (captions_failed >= 0),
    mic_holder       TEXT
);

CREATE INDEX sessions_key_idx ON sessions (key_id, started_at, id);
CREATE INDEX sessions_domain_idx ON sessions (domain);
CREATE INDEX sessions_activity_idx ON sessions (last_activity_at);

CREATE TABLE session_records (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id      TEXT NOT NULL,
    key_id          BIGINT NOT NULL,
    org_id          TEXT COLLATE "C" NOT NULL,
    domain          TEXT NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ NOT NULL,
    duration_ms     BIGINT NOT NULL CHECK (duration_ms >= 0),
    captions_sent   BIGINT NOT NULL CHECK (captions_sent >= 0),
    captions_failed BIGINT NOT NULL CHECK (captions_failed >= 0),
    final_sequence  BIGINT NOT NULL CHECK (final_sequence >= 0),
    ended_by        TEXT NOT NULL CHECK (ended_by IN ('client', 'ttl', 'revoked', 'erased'))
);

CREATE INDEX session_records_key_idx ON session_records (key_id, ended_at DESC, id DESC);

CREATE TABLE caption_errors (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  TEXT NOT NULL,
    key_id      BIGINT NOT NULL,
    org_id      TEXT COLLATE "C" NOT NULL,
    error       TEXT NOT NULL,
    status_code INTEGER,
    occurred_at TIMESTAMPTZ NOT NULL,
    batch_size  BIGINT NOT NULL CHECK (batch_size >= 0)
);

CREATE INDEX caption_errors_key_idx ON caption_errors (key_id, occurred_at DESC, id DESC);

-- Per (UTC date, hour, site) counters. A site-level aggregate across organisations: the
-- domain model keys it by site only (peak = sessions of the site open at once, whoever owns
-- them), so it is the one table without an org id.
CREATE TABLE domain_rollups (
    date              DATE NOT NULL,
    hour              SMALLINT NOT NULL CHECK (hour BETWEEN 0 AND 23),
    domain            TEXT NOT NULL,
    sessions_started  BIGINT NOT NULL DEFAULT 0 CHECK (sessions_started >= 0),
    sessions_ended    BIGINT NOT NULL DEFAULT 0 CHECK (sessions_ended >= 0),
    captions_sent     BIGINT NOT NULL DEFAULT 0 CHECK (captions_sent >= 0),
    captions_failed   BIGINT NOT NULL DEFAULT 0 CHECK (captions_failed >= 0),
    batches_sent      BIGINT NOT NULL DEFAULT 0 CHECK (batches_sent >= 0),
    total_duration_ms BIGINT NOT NULL DEFAULT 0 CHECK (total_duration_ms >= 0),
    peak_sessions     BIGINT NOT NULL DEFAULT 0 CHECK (peak_sessions >= 0),
    PRIMARY KEY (date, hour, domain)
);
