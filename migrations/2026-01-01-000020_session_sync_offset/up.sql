-- The clock offset against YouTube measured by the last sync of a session's primary sender
-- (lcyt's legacy streamKey mode), in milliseconds; 0 until synced.
ALTER TABLE sessions ADD COLUMN sync_offset_ms BIGINT NOT NULL DEFAULT 0;
