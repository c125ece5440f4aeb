ALTER TABLE usage_events DROP COLUMN number;
ALTER TABLE users DROP COLUMN number;
