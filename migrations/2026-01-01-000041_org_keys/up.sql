-- Keys and their daily counters keyed by organisation first (the distribution column), so
-- they can be distributed by `org_id` and colocated: a key's counters live on its key's shard.
-- Secrets stay unique through `key_secrets` (000040), so `api_keys` no longer needs a unique
-- constraint on the hash alone; ids stay unique through their identity, and the plain index
-- on `id` serves lookups by id alone (admin routes, session tokens that carry the key id).
ALTER TABLE key_daily_usage DROP CONSTRAINT key_daily_usage_key_id_fkey;
ALTER TABLE key_daily_usage DROP CONSTRAINT key_daily_usage_pkey;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_secret_hash_key;
-- The new primary key covers it.
DROP INDEX api_keys_org_idx;

ALTER TABLE api_keys ADD CONSTRAINT api_keys_pkey PRIMARY KEY (org_id, id);
CREATE INDEX api_keys_id_idx ON api_keys (id);

ALTER TABLE key_daily_usage ADD CONSTRAINT key_daily_usage_pkey PRIMARY KEY (org_id, key_id, day);
ALTER TABLE key_daily_usage ADD CONSTRAINT key_daily_usage_key_fkey
    FOREIGN KEY (org_id, key_id) REFERENCES api_keys (org_id, id) ON DELETE CASCADE;
