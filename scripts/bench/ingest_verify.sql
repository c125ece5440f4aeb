-- pgbench custom script: 100 events per transaction shaped as `POST /v1/verify` records them
-- (a key and one unit, no request fields), so only the indexes a verify event feeds are
-- written. Used by scripts/index-costs.sh.
\set b random(0, 1000000000)
INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name,
    endpoint, method, path, status_code, response_time_ms, model, language, domain, units,
    cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active,
    idempotency_key, created_at)
SELECT now(), gen_random_uuid(), 'org_default', NULL, (:b + g) % 10000, NULL, 'request', NULL,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 1, 0, 0, 0, 0, true, NULL, NULL, NULL, true,
    NULL, now()
FROM generate_series(1, 100) g;
