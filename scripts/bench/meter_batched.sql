-- pgbench custom script: the set-based form of the meter, :batch meters per transaction —
-- the statements tally_store_pg's group commit issues for a batch (crates/store_pg/src/
-- meter.rs meter_batch_tx): resolve the batch's secrets, lock the batch's keys in id order,
-- insert every event in one statement, then the key counters (lifetime and daily, both on the
-- key row since migration 000044) in one statement and the hourly rollups in one. pgbench's tps × :batch is the database's batched ceiling.
--
-- Variables (set by `tally-bench pgbench` with -D): minkey, maxkey (as in meter.sql; equal
-- for the hot-key variant: every meter of the batch on one key), batch.
\set k random(:minkey, :maxkey)
BEGIN;
-- resolve the batch's secrets to their organisation and key (key_secrets, migration 000040).
SELECT org_id, key_id FROM key_secrets
WHERE secret_hash IN (
    SELECT encode(sha256(convert_to('pgbench-key-' || ((:k - :minkey + g) % (:maxkey - :minkey + 1)),
                                    'UTF8')), 'hex')
    FROM generate_series(0, :batch - 1) g);
SELECT id, org_id, secret_hash, alias, name, owner, email, email_hash, user_id, created_at,
       expires_at, active, revoked_at, erased_at, daily_limit, lifetime_limit, lifetime_used,
       sequence, last_caption_at, daily_day, daily_used
FROM api_keys
WHERE org_id = 'org_default' AND id IN (SELECT :minkey + (:k - :minkey + g) % (:maxkey - :minkey + 1)
             FROM generate_series(0, :batch - 1) g)
ORDER BY id FOR UPDATE;
INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name,
    endpoint, method, path, status_code, response_time_ms, model, language, domain, units,
    cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active,
    idempotency_key, created_at)
SELECT now(), gen_random_uuid(), 'org_default', NULL,
    :minkey + (:k - :minkey + g) % (:maxkey - :minkey + 1), NULL, 'request', NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, 1, 0, 0, 0, 0, true, NULL, NULL, NULL, true, NULL, now()
FROM generate_series(0, :batch - 1) g;
WITH v AS (
    SELECT :minkey + (:k - :minkey + g) % (:maxkey - :minkey + 1) AS id, count(*) AS n
    FROM generate_series(0, :batch - 1) g GROUP BY 1),
k AS (
    UPDATE api_keys AS a SET lifetime_used = a.lifetime_used + v.n,
        sequence = a.sequence, last_caption_at = a.last_caption_at,
        daily_day = (now() AT TIME ZONE 'UTC')::date,
        daily_used = CASE WHEN a.daily_day = (now() AT TIME ZONE 'UTC')::date
                          THEN a.daily_used + v.n ELSE v.n END
    FROM v WHERE a.org_id = 'org_default' AND a.id = v.id RETURNING 1)
SELECT count(*) FROM k;
INSERT INTO usage_rollups AS r
    (hour, org_id, user_id, key_id, model, api_name, language, domain, success, api_call,
     status_class, count, units, cost_nanos, tokens, quota, duration_ms)
SELECT date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'org_default', NULL,
    id, NULL, NULL, NULL, NULL, true, false, NULL, n, n, 0, 0, 0, 0
FROM (SELECT :minkey + (:k - :minkey + g) % (:maxkey - :minkey + 1) AS id, count(*) AS n
      FROM generate_series(0, :batch - 1) g GROUP BY 1) v
ORDER BY id
ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, success,
             api_call, status_class)
DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units,
    cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, tokens = r.tokens + EXCLUDED.tokens,
    quota = r.quota + EXCLUDED.quota, duration_ms = r.duration_ms + EXCLUDED.duration_ms;
COMMIT;
