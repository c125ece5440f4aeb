-- The site rollup row of an hour is written by every caption batch and every delivery report
-- of that site, so concurrent meter batches waited on each other's row lock until commit
-- (docs/BENCHMARKS.md, session 10). Each site hour becomes up to 16 rows, one per `slot`;
-- a transaction writes the slot of its backend (`pg_backend_pid() % 16`), so two writers
-- rarely share a row. Readers sum the slots (and take the largest `peak_sessions`), as
-- `GET /usage` already did across organisations. Existing rows become slot 0.
CREATE DOMAIN rollup_slot AS smallint CHECK (VALUE BETWEEN 0 AND 15);
ALTER TABLE domain_rollups ADD COLUMN slot rollup_slot NOT NULL DEFAULT 0;
ALTER TABLE domain_rollups DROP CONSTRAINT domain_rollups_pkey;
ALTER TABLE domain_rollups ADD CONSTRAINT domain_rollups_pkey
    PRIMARY KEY (org_id, date, hour, domain, slot);
