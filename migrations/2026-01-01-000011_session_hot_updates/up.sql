-- Every caption batch and session request moves `last_activity_at`. With an index on that
-- column no such update could be a HOT update: each one wrote a new entry into all four
-- indexes of `sessions`. The idle sweep (once a minute) is its only reader, and `sessions`
-- holds open sessions only, so the sweep scans the table instead; and pages keep room for
-- the new row versions on the same page.
DROP INDEX sessions_activity_idx;
ALTER TABLE sessions SET (fillfactor = 70);
