ALTER TABLE sessions RESET (fillfactor);
CREATE INDEX sessions_activity_idx ON sessions (last_activity_at);
