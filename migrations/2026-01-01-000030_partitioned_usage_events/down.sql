-- Back to one unpartitioned events table with the keys and indexes of 000004..000008; every
-- row is kept, numbers included.
DROP INDEX usage_rollups_hour_idx;
ALTER TABLE usage_rollups DROP CONSTRAINT usage_rollups_pkey;
ALTER TABLE usage_rollups ADD CONSTRAINT usage_rollups_pkey PRIMARY KEY (id);
DROP INDEX idempotency_keys_time_idx;

ALTER TABLE usage_events RENAME TO usage_events_partitioned;
CREATE TABLE usage_events (LIKE usage_events_partitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE usage_events ALTER COLUMN number ADD GENERATED ALWAYS AS IDENTITY;
INSERT INTO usage_events OVERRIDING SYSTEM VALUE SELECT * FROM usage_events_partitioned;
SELECT setval(pg_get_serial_sequence('usage_events', 'number'),
              COALESCE((SELECT max(number) FROM usage_events_partitioned), 0) + 1, false);
DROP TABLE usage_events_partitioned;
DO $$
BEGIN
    EXECUTE format('ALTER SEQUENCE %s RENAME TO usage_events_number_seq',
                   pg_get_serial_sequence('usage_events', 'number'));
END $$;

ALTER TABLE usage_events ADD CONSTRAINT usage_events_pkey PRIMARY KEY (occurred_at, id);
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
CREATE INDEX usage_events_user_calls_idx ON usage_events (user_id, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;
CREATE INDEX usage_events_key_calls_idx ON usage_events (key_id, occurred_at DESC, id DESC)
    WHERE key_id IS NOT NULL AND method IS NOT NULL AND active;
CREATE INDEX usage_events_user_status_idx
    ON usage_events (user_id, status_code, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;
