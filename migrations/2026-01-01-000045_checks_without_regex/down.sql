ALTER TABLE sessions
    DROP CONSTRAINT sessions_id_check,
    ADD CONSTRAINT sessions_id_check CHECK (id ~ '^[0-9a-f]{16}$');

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_secret_hash_check,
    DROP CONSTRAINT api_keys_email_hash_check,
    ADD CONSTRAINT api_keys_secret_hash_check CHECK (secret_hash ~ '^[0-9a-f]{64}$'),
    ADD CONSTRAINT api_keys_email_hash_check CHECK (email_hash ~ '^[0-9a-f]{64}$');
