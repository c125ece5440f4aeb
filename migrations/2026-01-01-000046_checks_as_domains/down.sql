ALTER TABLE domain_rollups
    ALTER COLUMN hour TYPE smallint,
    ALTER COLUMN sessions_started TYPE bigint,
    ALTER COLUMN sessions_ended TYPE bigint,
    ALTER COLUMN captions_sent TYPE bigint,
    ALTER COLUMN captions_failed TYPE bigint,
    ALTER COLUMN batches_sent TYPE bigint,
    ALTER COLUMN total_duration_ms TYPE bigint,
    ALTER COLUMN peak_sessions TYPE bigint,
    ADD CONSTRAINT domain_rollups_hour_check CHECK (hour BETWEEN 0 AND 23),
    ADD CONSTRAINT domain_rollups_sessions_started_check CHECK (sessions_started >= 0),
    ADD CONSTRAINT domain_rollups_sessions_ended_check CHECK (sessions_ended >= 0),
    ADD CONSTRAINT domain_rollups_captions_sent_check CHECK (captions_sent >= 0),
    ADD CONSTRAINT domain_rollups_captions_failed_check CHECK (captions_failed >= 0),
    ADD CONSTRAINT domain_rollups_batches_sent_check CHECK (batches_sent >= 0),
    ADD CONSTRAINT domain_rollups_total_duration_ms_check CHECK (total_duration_ms >= 0),
    ADD CONSTRAINT domain_rollups_peak_sessions_check CHECK (peak_sessions >= 0);

ALTER TABLE sessions
    ALTER COLUMN id TYPE text COLLATE "C",
    ALTER COLUMN sequence TYPE bigint,
    ALTER COLUMN captions_sent TYPE bigint,
    ALTER COLUMN captions_failed TYPE bigint,
    ADD CONSTRAINT sessions_id_check CHECK (length(id) = 16 AND ltrim(id, '0123456789abcdef') = ''),
    ADD CONSTRAINT sessions_sequence_check CHECK (sequence >= 0),
    ADD CONSTRAINT sessions_captions_sent_check CHECK (captions_sent >= 0),
    ADD CONSTRAINT sessions_captions_failed_check CHECK (captions_failed >= 0);

ALTER TABLE api_keys
    ALTER COLUMN secret_hash TYPE text,
    ALTER COLUMN email_hash TYPE text,
    ALTER COLUMN daily_used TYPE bigint,
    ALTER COLUMN daily_limit TYPE bigint,
    ALTER COLUMN lifetime_limit TYPE bigint,
    ALTER COLUMN lifetime_used TYPE bigint,
    ALTER COLUMN sequence TYPE bigint,
    ADD CONSTRAINT api_keys_secret_hash_check
        CHECK (length(secret_hash) = 64 AND ltrim(secret_hash, '0123456789abcdef') = ''),
    ADD CONSTRAINT api_keys_email_hash_check
        CHECK (length(email_hash) = 64 AND ltrim(email_hash, '0123456789abcdef') = ''),
    ADD CONSTRAINT api_keys_daily_used_check CHECK (daily_used >= 0),
    ADD CONSTRAINT api_keys_daily_limit_check CHECK (daily_limit >= 0),
    ADD CONSTRAINT api_keys_lifetime_limit_check CHECK (lifetime_limit >= 0),
    ADD CONSTRAINT api_keys_lifetime_used_check CHECK (lifetime_used >= 0),
    ADD CONSTRAINT api_keys_sequence_check CHECK (sequence >= 0);

DROP DOMAIN hour_of_day;
DROP DOMAIN non_negative;
DROP DOMAIN session_hex;
DROP DOMAIN sha256_hex;
