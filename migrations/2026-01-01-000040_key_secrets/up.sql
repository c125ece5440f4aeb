-- Where each secret belongs. The hot path looks a key up by the hash of the presented secret,
-- before it knows the organisation; on a schema distributed by `org_id` that lookup would ask
-- every shard, and a unique constraint on the hash alone could not exist on `api_keys`. This
-- small table answers "which org and key" with its own primary key, which also keeps secrets
-- unique across organisations. On Citus it is a reference table (a copy on every node: a
-- local read; written only when a key is created, imported or hard-deleted). Backfilled here
-- from the keys already stored.
CREATE TABLE key_secrets (
    secret_hash TEXT NOT NULL CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    org_id      TEXT COLLATE "C" NOT NULL,
    key_id      BIGINT NOT NULL,
    CONSTRAINT key_secrets_pkey PRIMARY KEY (secret_hash)
);

INSERT INTO key_secrets (secret_hash, org_id, key_id)
SELECT secret_hash, org_id, id FROM api_keys;
