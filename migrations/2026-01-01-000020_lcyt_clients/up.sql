-- What lcyt's clients need beyond the seed: the clock offset against YouTube measured by the
-- last sync of a session's primary sender (legacy streamKey mode), in milliseconds, 0 until
-- synced; and the per-day opens of viewer streams, counted for the key whose open session
-- delivers to the viewer key (GET /stats viewerStats).
ALTER TABLE sessions ADD COLUMN sync_offset_ms BIGINT NOT NULL DEFAULT 0;

CREATE TABLE viewer_daily_stats (
    org_id     TEXT COLLATE "C" NOT NULL,
    key_id     BIGINT NOT NULL,
    date       DATE NOT NULL,
    viewer_key TEXT COLLATE "C" NOT NULL,
    views      BIGINT NOT NULL CHECK (views >= 0),
    PRIMARY KEY (org_id, key_id, date, viewer_key)
);

CREATE INDEX viewer_daily_stats_key_idx ON viewer_daily_stats (key_id, date DESC, viewer_key);

-- The session that delivers to a viewer key is found by scanning the open sessions' targets
-- (`targets @> …`), deliberately without an index on them: every caption meter updates its
-- session row, and a GIN index would be written on each of those updates.
