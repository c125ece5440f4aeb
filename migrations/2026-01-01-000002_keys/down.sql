DROP TABLE auth_events;
DROP TABLE key_daily_usage;
DROP TABLE api_keys;
