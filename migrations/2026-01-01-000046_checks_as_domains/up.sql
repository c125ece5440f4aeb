-- Postgres evaluates every CHECK constraint of a table on every UPDATE of a row, whichever
-- columns change, and parses them again for every statement that writes the table. The
-- meter updates each key row once per batch (and, for captions, each session row and the
-- site's hourly row): on the captions benchmark these constraints were a tenth of Postgres'
-- CPU, most of it the two hex checks of the key's hashes, which never change. A domain's
-- constraint runs only when a value is stored in a column of that domain, and a connection
-- keeps it compiled: the same rules, paid only by the columns a statement writes.
--
-- usage_events and usage_rollups keep their table constraints: their rows are inserted and
-- summed, the checks are cheap, and changing their columns' types would rewrite the whole
-- history.
CREATE DOMAIN sha256_hex AS text
    CHECK (length(VALUE) = 64 AND ltrim(VALUE, '0123456789abcdef') = '');
CREATE DOMAIN session_hex AS text
    CHECK (length(VALUE) = 16 AND ltrim(VALUE, '0123456789abcdef') = '');
CREATE DOMAIN non_negative AS bigint CHECK (VALUE >= 0);
CREATE DOMAIN hour_of_day AS smallint CHECK (VALUE BETWEEN 0 AND 23);

ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_secret_hash_check,
    DROP CONSTRAINT api_keys_email_hash_check,
    DROP CONSTRAINT api_keys_daily_used_check,
    DROP CONSTRAINT api_keys_daily_limit_check,
    DROP CONSTRAINT api_keys_lifetime_limit_check,
    DROP CONSTRAINT api_keys_lifetime_used_check,
    DROP CONSTRAINT api_keys_sequence_check,
    ALTER COLUMN secret_hash TYPE sha256_hex,
    ALTER COLUMN email_hash TYPE sha256_hex,
    ALTER COLUMN daily_used TYPE non_negative,
    ALTER COLUMN daily_limit TYPE non_negative,
    ALTER COLUMN lifetime_limit TYPE non_negative,
    ALTER COLUMN lifetime_used TYPE non_negative,
    ALTER COLUMN sequence TYPE non_negative;

ALTER TABLE sessions
    DROP CONSTRAINT sessions_id_check,
    DROP CONSTRAINT sessions_sequence_check,
    DROP CONSTRAINT sessions_captions_sent_check,
    DROP CONSTRAINT sessions_captions_failed_check,
    ALTER COLUMN id TYPE session_hex COLLATE "C",
    ALTER COLUMN sequence TYPE non_negative,
    ALTER COLUMN captions_sent TYPE non_negative,
    ALTER COLUMN captions_failed TYPE non_negative;

ALTER TABLE domain_rollups
    DROP CONSTRAINT domain_rollups_hour_check,
    DROP CONSTRAINT domain_rollups_sessions_started_check,
    DROP CONSTRAINT domain_rollups_sessions_ended_check,
    DROP CONSTRAINT domain_rollups_captions_sent_check,
    DROP CONSTRAINT domain_rollups_captions_failed_check,
    DROP CONSTRAINT domain_rollups_batches_sent_check,
    DROP CONSTRAINT domain_rollups_total_duration_ms_check,
    DROP CONSTRAINT domain_rollups_peak_sessions_check,
    ALTER COLUMN hour TYPE hour_of_day,
    ALTER COLUMN sessions_started TYPE non_negative,
    ALTER COLUMN sessions_ended TYPE non_negative,
    ALTER COLUMN captions_sent TYPE non_negative,
    ALTER COLUMN captions_failed TYPE non_negative,
    ALTER COLUMN batches_sent TYPE non_negative,
    ALTER COLUMN total_duration_ms TYPE non_negative,
    ALTER COLUMN peak_sessions TYPE non_negative;
