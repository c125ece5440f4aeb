-- Postgres evaluates every CHECK constraint of a row on every UPDATE, whichever columns
-- change, and its regular expressions are slow: the meter updates each key row (and, for
-- captions, each session row) once per batch, and these three regex checks were 8 % of
-- Postgres' CPU on the verify benchmark. The same rules without a regex: the right length,
-- and nothing left once the allowed characters are trimmed away.
ALTER TABLE api_keys
    DROP CONSTRAINT api_keys_secret_hash_check,
    DROP CONSTRAINT api_keys_email_hash_check,
    ADD CONSTRAINT api_keys_secret_hash_check
        CHECK (length(secret_hash) = 64 AND ltrim(secret_hash, '0123456789abcdef') = ''),
    ADD CONSTRAINT api_keys_email_hash_check
        CHECK (length(email_hash) = 64 AND ltrim(email_hash, '0123456789abcdef') = '');

ALTER TABLE sessions
    DROP CONSTRAINT sessions_id_check,
    ADD CONSTRAINT sessions_id_check
        CHECK (length(id) = 16 AND ltrim(id, '0123456789abcdef') = '');
