ALTER TABLE erasure_receipts DROP CONSTRAINT erasure_receipts_pkey;
ALTER TABLE erasure_receipts ADD CONSTRAINT erasure_receipts_pkey PRIMARY KEY (id);

ALTER TABLE auth_events DROP CONSTRAINT auth_events_pkey;
ALTER TABLE auth_events ADD CONSTRAINT auth_events_pkey PRIMARY KEY (id);

ALTER TABLE caption_errors DROP CONSTRAINT caption_errors_pkey;
ALTER TABLE caption_errors ADD CONSTRAINT caption_errors_pkey PRIMARY KEY (id);

ALTER TABLE session_records DROP CONSTRAINT session_records_pkey;
ALTER TABLE session_records ADD CONSTRAINT session_records_pkey PRIMARY KEY (id);

DROP INDEX sessions_id_idx;
ALTER TABLE sessions DROP CONSTRAINT sessions_pkey;
ALTER TABLE sessions ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);
