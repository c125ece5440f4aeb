-- Back to one row per (date, hour, site): organisations' rows of one site are merged
-- (counters added, the largest peak kept, as `GET /usage` reads them).
DROP INDEX domain_rollups_date_idx;
CREATE TEMPORARY TABLE domain_rollups_merged AS
SELECT date, hour, domain,
       SUM(sessions_started)::bigint AS sessions_started,
       SUM(sessions_ended)::bigint AS sessions_ended,
       SUM(captions_sent)::bigint AS captions_sent,
       SUM(captions_failed)::bigint AS captions_failed,
       SUM(batches_sent)::bigint AS batches_sent,
       SUM(total_duration_ms)::bigint AS total_duration_ms,
       MAX(peak_sessions)::bigint AS peak_sessions
FROM domain_rollups
GROUP BY date, hour, domain;
DELETE FROM domain_rollups;
ALTER TABLE domain_rollups DROP CONSTRAINT domain_rollups_pkey;
ALTER TABLE domain_rollups DROP COLUMN org_id;
ALTER TABLE domain_rollups ADD CONSTRAINT domain_rollups_pkey PRIMARY KEY (date, hour, domain);
INSERT INTO domain_rollups (date, hour, domain, sessions_started, sessions_ended, captions_sent,
                            captions_failed, batches_sent, total_duration_ms, peak_sessions)
SELECT date, hour, domain, sessions_started, sessions_ended, captions_sent, captions_failed,
       batches_sent, total_duration_ms, peak_sessions
FROM domain_rollups_merged;
DROP TABLE domain_rollups_merged;
