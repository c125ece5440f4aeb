-- Fold every slot of a site hour into slot 0, then drop the column.
WITH moved AS (
    DELETE FROM domain_rollups WHERE slot <> 0
    RETURNING org_id, date, hour, domain, sessions_started, sessions_ended, captions_sent,
              captions_failed, batches_sent, total_duration_ms, peak_sessions
)
INSERT INTO domain_rollups AS d (org_id, date, hour, domain, slot, sessions_started,
    sessions_ended, captions_sent, captions_failed, batches_sent, total_duration_ms,
    peak_sessions)
SELECT org_id, date, hour, domain, 0, SUM(sessions_started), SUM(sessions_ended),
       SUM(captions_sent), SUM(captions_failed), SUM(batches_sent), SUM(total_duration_ms),
       MAX(peak_sessions)
FROM moved GROUP BY org_id, date, hour, domain
ON CONFLICT (org_id, date, hour, domain, slot) DO UPDATE SET
    sessions_started = d.sessions_started + EXCLUDED.sessions_started,
    sessions_ended = d.sessions_ended + EXCLUDED.sessions_ended,
    captions_sent = d.captions_sent + EXCLUDED.captions_sent,
    captions_failed = d.captions_failed + EXCLUDED.captions_failed,
    batches_sent = d.batches_sent + EXCLUDED.batches_sent,
    total_duration_ms = d.total_duration_ms + EXCLUDED.total_duration_ms,
    peak_sessions = greatest(d.peak_sessions, EXCLUDED.peak_sessions);
ALTER TABLE domain_rollups DROP CONSTRAINT domain_rollups_pkey;
ALTER TABLE domain_rollups DROP COLUMN slot;
ALTER TABLE domain_rollups ADD CONSTRAINT domain_rollups_pkey
    PRIMARY KEY (org_id, date, hour, domain);
DROP DOMAIN rollup_slot;
