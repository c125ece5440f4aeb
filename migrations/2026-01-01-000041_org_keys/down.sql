ALTER TABLE key_daily_usage DROP CONSTRAINT key_daily_usage_key_fkey;
ALTER TABLE key_daily_usage DROP CONSTRAINT key_daily_usage_pkey;
DROP INDEX api_keys_id_idx;
ALTER TABLE api_keys DROP CONSTRAINT api_keys_pkey;

ALTER TABLE api_keys ADD CONSTRAINT api_keys_pkey PRIMARY KEY (id);
ALTER TABLE api_keys ADD CONSTRAINT api_keys_secret_hash_key UNIQUE (secret_hash);
CREATE INDEX api_keys_org_idx ON api_keys (org_id, id);

ALTER TABLE key_daily_usage ADD CONSTRAINT key_daily_usage_pkey PRIMARY KEY (key_id, day);
ALTER TABLE key_daily_usage ADD CONSTRAINT key_daily_usage_key_id_fkey
    FOREIGN KEY (key_id) REFERENCES api_keys (id) ON DELETE CASCADE;
