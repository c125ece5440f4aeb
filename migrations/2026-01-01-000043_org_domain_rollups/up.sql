-- The per-site rollup gains the organisation: rows are (org, date, hour, site), so the table
-- can be distributed by `org_id` like every other tenant table, and an organisation's site
-- activity stays on its shard. `peak_sessions` becomes the most sessions of the site open at
-- once within the organisation; `GET /usage` answers a site across organisations with the
-- largest of them (the old value whenever one organisation uses the site, the normal case).
-- Rows written before this migration cannot be attributed: they go to the default
-- organisation, which owned everything before organisations were used.
ALTER TABLE domain_rollups ADD COLUMN org_id TEXT COLLATE "C" NOT NULL DEFAULT 'org_default';
ALTER TABLE domain_rollups ALTER COLUMN org_id DROP DEFAULT;
ALTER TABLE domain_rollups DROP CONSTRAINT domain_rollups_pkey;
ALTER TABLE domain_rollups ADD CONSTRAINT domain_rollups_pkey
    PRIMARY KEY (org_id, date, hour, domain);
-- `GET /usage` reads a date range across organisations.
CREATE INDEX domain_rollups_date_idx ON domain_rollups (date, hour, domain);
