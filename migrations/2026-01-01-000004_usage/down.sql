DROP TABLE usage_rollups;
DROP TABLE idempotency_keys;
DROP TABLE usage_events;
-- pg_trgm is left installed: other schemas in the database may use it.
