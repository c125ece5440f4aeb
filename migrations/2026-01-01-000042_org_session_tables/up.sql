-- Sessions, their records, caption errors, auth events and erasure receipts keyed by
-- organisation first, so each can be distributed by `org_id` and colocated with its key.
-- Their ids stay unique on their own (session ids derive from the globally unique secret,
-- the others are identities); the plain index on `sessions.id` serves lookups by session id
-- alone (a session token names the session, not its organisation). It leaves the columns a
-- caption batch updates unindexed, so those updates stay HOT (000011).
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (org_id, id);
CREATE INDEX sessions_id_idx ON sessions (id);

ALTER TABLE session_records DROP CONSTRAINT session_records_pkey;
ALTER TABLE session_records ADD CONSTRAINT session_records_pkey PRIMARY KEY (org_id, id);

ALTER TABLE caption_errors DROP CONSTRAINT caption_errors_pkey;
ALTER TABLE caption_errors ADD CONSTRAINT caption_errors_pkey PRIMARY KEY (org_id, id);

ALTER TABLE auth_events DROP CONSTRAINT auth_events_pkey;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_pkey PRIMARY KEY (org_id, id);

ALTER TABLE erasure_receipts DROP CONSTRAINT erasure_receipts_pkey;
ALTER TABLE erasure_receipts ADD CONSTRAINT erasure_receipts_pkey PRIMARY KEY (org_id, id);
