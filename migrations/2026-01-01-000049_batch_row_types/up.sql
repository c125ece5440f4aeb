-- The rows a meter batch writes, as the store sends them (tally_store_pg::records): each table's
-- rows travel as one array of one of these types instead of one array per column. Postgres
-- runs one set-returning function per array parameter, each with its own set-up and tuple
-- store, and a batch's write statement had 56 of them for these three tables.
-- Each type's fields are, in order and type, the column list of its insert in
-- tally_store_pg::columnar.
CREATE TYPE usage_event_row AS (
    occurred_at timestamptz,
    id uuid,
    org_id text,
    user_id uuid,
    key_id bigint,
    session_id text,
    kind text,
    api_name text,
    endpoint text,
    method text,
    path text,
    status_code integer,
    response_time_ms bigint,
    model text,
    language text,
    domain text,
    units bigint,
    cost_nanos bigint,
    tokens bigint,
    quota bigint,
    duration_ms bigint,
    success boolean,
    error text,
    ip text,
    user_agent text,
    active boolean,
    idempotency_key text,
    created_at timestamptz
);

CREATE TYPE usage_rollup_row AS (
    hour timestamptz,
    org_id text,
    user_id uuid,
    key_id bigint,
    model text,
    api_name text,
    language text,
    domain text,
    success boolean,
    api_call boolean,
    status_class smallint,
    count bigint,
    units bigint,
    cost_nanos bigint,
    tokens bigint,
    quota bigint,
    duration_ms bigint
);

CREATE TYPE domain_rollup_row AS (
    org_id text,
    date date,
    hour smallint,
    domain text,
    sessions_started bigint,
    sessions_ended bigint,
    captions_sent bigint,
    captions_failed bigint,
    batches_sent bigint,
    total_duration_ms bigint,
    peak_sessions bigint
);

-- What an optimistic batch checks and changes in place (tally_store_pg::meter): the versions it
-- decided from, and the keys' and sessions' new counters.
CREATE TYPE key_version_row AS (org_id text, id bigint, version bigint);

CREATE TYPE session_version_row AS (org_id text, id text, version bigint);

CREATE TYPE key_counter_row AS (
    org_id text,
    id bigint,
    added bigint,
    sequence bigint,
    caption_at timestamptz,
    daily_day date,
    daily_used bigint
);

CREATE TYPE session_change_row AS (
    org_id text,
    id text,
    sequence bigint,
    sent bigint,
    at timestamptz
);
