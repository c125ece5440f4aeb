-- A key's daily counter lives on its key row: the meter already locks and updates that row,
-- so counting the day there costs no row of its own (before, every meter also upserted a
-- `key_daily_usage` row and every batch read them back with a statement of its own).
-- `key_daily_usage` keeps the days before each key's latest one, written once, when a key's
-- day turns; nothing on the hot path reads it.
ALTER TABLE api_keys
    ADD COLUMN daily_day date,
    ADD COLUMN daily_used bigint NOT NULL DEFAULT 0 CHECK (daily_used >= 0);

UPDATE api_keys AS a
SET daily_day = d.day, daily_used = d.used
FROM (SELECT DISTINCT ON (org_id, key_id) org_id, key_id, day, used
      FROM key_daily_usage
      ORDER BY org_id, key_id, day DESC) AS d
WHERE a.org_id = d.org_id AND a.id = d.key_id;

DELETE FROM key_daily_usage AS k
USING api_keys AS a
WHERE a.org_id = k.org_id AND a.id = k.key_id AND a.daily_day = k.day;

-- Room on each page for the counters' new row versions, so the meter's update stays HOT.
ALTER TABLE api_keys SET (fillfactor = 80);
