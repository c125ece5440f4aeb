-- API keys, their per-day counters and their auth events.

CREATE TABLE api_keys (
    id              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id          TEXT COLLATE "C" NOT NULL REFERENCES orgs (id),
    -- SHA-256 of the secret, lower-case hex. Only the hash is ever stored.
    secret_hash     TEXT NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    alias           TEXT NOT NULL,
    name            TEXT,
    owner           TEXT NOT NULL,
    email           TEXT,
    -- SHA-256 of the normalised e-mail, kept after erasure (fraud prevention).
    email_hash      TEXT CHECK (email_hash ~ '^[0-9a-f]{64}$'),
    -- Deliberately no foreign key: a key may name a user of another store or one not yet
    -- created; the domain decides, the store keeps what it is given.
    user_id         UUID,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ,
    active          BOOLEAN NOT NULL DEFAULT TRUE,
    revoked_at      TIMESTAMPTZ,
    erased_at       TIMESTAMPTZ,
    daily_limit     BIGINT CHECK (daily_limit >= 0),
    lifetime_limit  BIGINT CHECK (lifetime_limit >= 0),
    lifetime_used   BIGINT NOT NULL DEFAULT 0 CHECK (lifetime_used >= 0),
    sequence        BIGINT NOT NULL DEFAULT 0 CHECK (sequence >= 0),
    last_caption_at TIMESTAMPTZ,
    CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash)
);

CREATE INDEX api_keys_org_idx ON api_keys (org_id, id);
CREATE INDEX api_keys_user_idx ON api_keys (user_id, id) WHERE user_id IS NOT NULL;
CREATE INDEX api_keys_email_hash_idx ON api_keys (email_hash) WHERE email_hash IS NOT NULL;

-- Units counted per key and UTC day. Written only by the meter, under the key's row lock.
CREATE TABLE key_daily_usage (
    key_id BIGINT NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    day    DATE NOT NULL,
    org_id TEXT COLLATE "C" NOT NULL,
    used   BIGINT NOT NULL CHECK (used >= 0),
    PRIMARY KEY (key_id, day)
);

CREATE TABLE auth_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    -- NULL for a refusal of an unknown key (the presented secret is never stored).
    key_id      BIGINT,
    org_id      TEXT COLLATE "C" NOT NULL,
    kind        TEXT NOT NULL,
    domain      TEXT,
    occurred_at TIMESTAMPTZ NOT NULL
);

CREATE INDEX auth_events_key_idx ON auth_events (key_id, occurred_at DESC, id DESC);
