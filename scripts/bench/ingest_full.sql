-- pgbench custom script: 100 API-call events per transaction, every field a request log
-- carries (user, key, method, path, status — 1 in 20 a 500 —, model, language), so every
-- index of usage_events is written, partial ones included. Used by scripts/index-costs.sh.
\set b random(0, 1000000000)
INSERT INTO usage_events (occurred_at, id, org_id, user_id, key_id, session_id, kind, api_name,
    endpoint, method, path, status_code, response_time_ms, model, language, domain, units,
    cost_nanos, tokens, quota, duration_ms, success, error, ip, user_agent, active,
    idempotency_key, created_at)
SELECT now(), gen_random_uuid(), 'org_default',
    ('00000000-0000-4000-8000-' || lpad(((:b + g) % 10)::text, 12, '0'))::uuid,
    (:b + g) % 1000, NULL, 'request', 'bots', '/api/v1/bots', 'GET',
    '/api/v1/bots/' || ((:b + g) % 5000), CASE WHEN (:b + g) % 20 = 0 THEN 500 ELSE 200 END,
    40, 'gpt-4', 'en', NULL, 1, 1000, 10, 10, 0, (:b + g) % 20 <> 0, NULL, '10.0.0.1',
    'bench', true, NULL, now()
FROM generate_series(1, 100) g;
