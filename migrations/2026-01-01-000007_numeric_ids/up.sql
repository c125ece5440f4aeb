-- Stable numeric identities for users and usage events, shown where a seed document shows a
-- number (new-api's `user_id`, meetbot's log `id`). UUIDs stay the native identity. Identity
-- columns: assigned by the database at insert (so no insert names them), increasing, never
-- reused. Existing rows are numbered as the column is added.
ALTER TABLE users ADD COLUMN number BIGINT GENERATED ALWAYS AS IDENTITY;
ALTER TABLE users ADD CONSTRAINT users_number_key UNIQUE (number);

-- Events are only shown by number, never looked up by it, so no index: the identity makes the
-- numbers unique, and a unique index on them alone could not exist on a table partitioned by
-- time (its unique keys must include `occurred_at`).
ALTER TABLE usage_events ADD COLUMN number BIGINT GENERATED ALWAYS AS IDENTITY;
