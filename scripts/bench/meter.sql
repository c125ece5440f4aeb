-- pgbench custom script: the database work of one `POST /v1/verify` on Tally's real schema as
-- one transaction per meter — the statements of one meter as tally_store_pg issued them before
-- group commit (find the key by hash, lock it, insert the event, count), on today's schema (the
-- daily counter on the key row, migration 000044) — the single-transaction baseline the
-- batched figures (meter_batched.sql) are compared with.
--
-- Variables (set by `tally-bench pgbench` with -D): minkey, maxkey — ids of keys created by
-- tally_store_pg::bulk::seed_keys with secrets 'pgbench-key-<id - minkey>'. minkey = maxkey
-- is the hot-key variant.
\set k random(:minkey, :maxkey)
-- find_key: the presented secret's hash (outside the transaction, like the service), resolved
-- to its organisation and key through key_secrets (migration 000040).
SELECT a.id, a.org_id, a.secret_hash, a.alias, a.name, a.owner, a.email, a.email_hash,
       a.user_id, a.created_at, a.expires_at, a.active, a.revoked_at, a.erased_at, a.daily_limit,
       a.lifetime_limit, a.lifetime_used, a.sequence, a.last_caption_at, a.daily_day, a.daily_used
FROM key_secrets s JOIN api_keys a ON a.org_id = s.org_id AND a.id = s.key_id
WHERE s.secret_hash = encode(sha256(convert_to('pgbench-key-' || (:k - :minkey), 'UTF8')), 'hex')
LIMIT 1;
BEGIN;
-- lock_key: the row lock that serialises a key's meters.
SELECT id, org_id, secret_hash, alias, name, owner, email, email_hash, user_id, created_at,
       expires_at, active, revoked_at, erased_at, daily_limit, lifetime_limit, lifetime_used,
       sequence, last_caption_at, daily_day, daily_used
FROM api_keys WHERE org_id = 'org_default' AND id = :k LIMIT 1 FOR UPDATE;
-- insert_event ... RETURNING (a verify without event fields: kind request, 1 unit).
INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name,
    endpoint, method, path, status_code, response_time_ms, model, language, domain, units,
    cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active,
    idempotency_key, created_at)
VALUES (now(), gen_random_uuid(), 'org_default', NULL, :k, NULL, 'request', NULL, NULL, NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, 1, 0, 0, 0, 0, true, NULL, NULL, NULL, true, NULL, now())
RETURNING occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name, endpoint, method,
    path, status_code, response_time_ms, model, language, domain, units, cost_nanos, tokens,
    quota, duration_ms, success, error, ip, user_agent, active, idempotency_key, created_at;
-- count: the key's counters (lifetime and the day's) and the hourly rollup in one statement.
WITH k AS (
    UPDATE api_keys SET lifetime_used = lifetime_used + 1, sequence = sequence,
        last_caption_at = last_caption_at, daily_day = (now() AT TIME ZONE 'UTC')::date,
        daily_used = CASE WHEN daily_day = (now() AT TIME ZONE 'UTC')::date
                          THEN daily_used + 1 ELSE 1 END
    WHERE org_id = 'org_default' AND id = :k RETURNING 1)
INSERT INTO usage_rollups AS r
    (hour, org_id, user_id, key_id, model, api_name, language, domain, success, api_call,
     status_class, count, units, cost_nanos, tokens, quota, duration_ms)
VALUES (date_trunc('hour', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', 'org_default', NULL,
    :k, NULL, NULL, NULL, NULL, true, false, NULL, 1, 1, 0, 0, 0, 0)
ON CONFLICT (hour, org_id, user_id, key_id, model, api_name, language, domain, success,
             api_call, status_class)
DO UPDATE SET count = r.count + EXCLUDED.count, units = r.units + EXCLUDED.units,
    cost_nanos = r.cost_nanos + EXCLUDED.cost_nanos, tokens = r.tokens + EXCLUDED.tokens,
    quota = r.quota + EXCLUDED.quota, duration_ms = r.duration_ms + EXCLUDED.duration_ms;
COMMIT;
