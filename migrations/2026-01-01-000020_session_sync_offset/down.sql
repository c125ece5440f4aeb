ALTER TABLE sessions DROP COLUMN sync_offset_ms;
