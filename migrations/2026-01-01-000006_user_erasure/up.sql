-- Erasing a user anonymises the user row too; the stamp rejects their tokens from then on.
ALTER TABLE users ADD COLUMN erased_at timestamptz;
