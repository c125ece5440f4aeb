ALTER TABLE api_keys RESET (fillfactor);

INSERT INTO key_daily_usage (key_id, day, org_id, used)
SELECT id, daily_day, org_id, daily_used FROM api_keys WHERE daily_day IS NOT NULL
ON CONFLICT (org_id, key_id, day) DO UPDATE SET used = EXCLUDED.used;

ALTER TABLE api_keys DROP COLUMN daily_used, DROP COLUMN daily_day;
