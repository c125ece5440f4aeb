-- Erasure receipts, and the overflow table of the LISTEN/NOTIFY bus.

CREATE TABLE erasure_receipts (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id       BIGINT NOT NULL,
    org_id       TEXT COLLATE "C" NOT NULL,
    erased_at    TIMESTAMPTZ NOT NULL,
    rows_deleted BIGINT NOT NULL CHECK (rows_deleted >= 0)
);

CREATE INDEX erasure_receipts_time_idx ON erasure_receipts (erased_at, id);

-- A live-event envelope too large for a NOTIFY payload (8000 bytes) is stored here and the
-- notification carries its id. Rows are transient (swept after a few minutes) and hold no
-- tenant data of their own beyond the event, hence no org id.
CREATE TABLE bus_payloads (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    payload    TEXT NOT NULL
);
