-- pgbench custom script: the database work of one `POST /captions` (a batch of 5 captions on a
-- session without targets) on Tally's real schema, as one transaction per request —
-- statement for statement what tally_store_pg issued before group commit: authorise the
-- token (read the key, record the session's activity), then the meter (lock the key, insert
-- the event, advance the session's sequence and delivered count, count the key and its day —
-- on the key row since migration 000044 —, the hourly rollup and the site's rollup). The
-- single-transaction baseline of the captions scenario.
--
-- Variables (set by `tally-bench pgbench` with -D): minkey, maxkey — ids of keys created by
-- tally_store_pg::bulk::seed_keys, each with an open session (bulk::seed_caption_sessions).
\set k random(:minkey, :maxkey)
-- authorise: the key, then the session's activity (committed without waiting for the WAL).
SELECT id, org_id, secret_hash, alias, name, owner, email, email_hash, user_id, created_at,
       expires_at, active, revoked_at, erased_at, daily_limit, lifetime_limit, lifetime_used,
       sequence, last_caption_at
FROM api_keys WHERE org_id = 'org_default' AND id = :k LIMIT 1;
BEGIN;
SET LOCAL synchronous_commit = off;
UPDATE sessions SET last_activity_at = greatest(last_activity_at, now())
WHERE org_id = 'org_default' AND id = lpad(to_hex(:k), 16, '0')
RETURNING id, key_id, org_id, domain, stream_key, sequence, targets, started_at,
    last_activity_at, captions_sent, captions_failed, mic_holder, sync_offset_ms;
COMMIT;
BEGIN;
SELECT id, org_id, secret_hash, alias, name, owner, email, email_hash, user_id, created_at,
       expires_at, active, revoked_at, erased_at, daily_limit, lifetime_limit, lifetime_used,
       sequence, last_caption_at, daily_day, daily_used
FROM api_keys WHERE org_id = 'org_default' AND id = :k LIMIT 1 FOR UPDATE;
INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name,
    endpoint, method, path, status_code, response_time_ms, model, language, domain, units,
    cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active,
    idempotency_key, created_at)
VALUES (now(), gen_random_uuid(), 'org_default', NULL, :k, lpad(to_hex(:k), 16, '0'), 'caption',
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'https://bench.example', 5, 0, 0, 0, 0, true,
    NULL, NULL, NULL, true, NULL, now());
UPDATE sessions SET sequence = sequence + 1, captions_sent = captions_sent + 5,
    last_activity_at = greatest(last_activity_at, now())
WHERE org_id = 'org_default' AND id = lpad(to_hex(:k), 16, '0') RETURNING id, sequence;
WITH k AS (
    UPDATE api_keys SET lifetime_used = lifetime_used + 5, sequence = sequence + 1,
        last_caption_at = now(), daily_day = (now() AT TIME ZONE 'UTC')::date,
        daily_used = CASE WHEN daily_day = (now() AT TIME ZONE 'UTC')::date
                          THEN daily_used + 5 ELSE 5 END
    WHERE org_id = 'org_default' AND id = :k RETURNING 1)
INSERT INTO usage_rollups AS r
    (hour, org_id, user_id, key_id, model, api_name, language, domain, success, api_call,
     status_class, count, units, cost_nanos, tokens, quota, duration_ms)
VALUES (date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'org_default', NULL,
    :k, NULL, NULL, NULL, 'https://bench.example', true, false, NULL, 1, 5, 0, 0, 0, 0)
ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, success,
             api_call, status_class)
DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units;
INSERT INTO domain_rollups AS dr (org_id, date, hour, domain, slot, captions_sent, batches_sent)
VALUES ('org_default', (now() AT TIME ZONE 'UTC')::date, extract(hour FROM now() AT TIME ZONE 'UTC')::smallint,
    'https://bench.example', (pg_backend_pid() % 16)::smallint, 5, 1)
ON CONFLICT (org_id, date, hour, domain, slot) DO UPDATE SET captions_sent = dr.captions_sent + 5,
    batches_sent = dr.batches_sent + 1;
COMMIT;
