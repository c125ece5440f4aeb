-- The request-log page (`/v1/users/me/api-logs`, `recentRequests`): a user's or a key's
-- active API calls, newest first. Partial on exactly the page query's fixed predicates, so
-- the first page is read straight off the index however long the history (the broader
-- `usage_events_*_time_idx` indexes also hold events that are no API call or refunded, which
-- the page would have to skip one by one).
CREATE INDEX usage_events_user_calls_idx ON usage_events (user_id, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;
CREATE INDEX usage_events_key_calls_idx ON usage_events (key_id, occurred_at DESC, id DESC)
    WHERE key_id IS NOT NULL AND method IS NOT NULL AND active;
-- The status filter of a user's log (rare statuses such as 500 would otherwise be found by
-- walking the user's calls); its bounded count reads the same index.
CREATE INDEX usage_events_user_status_idx
    ON usage_events (user_id, status_code, occurred_at DESC, id DESC)
    WHERE user_id IS NOT NULL AND method IS NOT NULL AND active;
