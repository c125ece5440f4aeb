DROP TABLE viewer_daily_stats;
ALTER TABLE sessions DROP COLUMN sync_offset_ms;
