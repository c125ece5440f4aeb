-- The instances whose bus listener is connected, by origin, with their last heartbeat. A bus
-- sends its notifications only while another origin has been seen recently: one instance
-- alone does not pay Postgres to notify nobody. (Not tied to an organisation: on Citus a
-- local table of the coordinator.)
CREATE TABLE bus_listeners (
    origin  TEXT PRIMARY KEY,
    seen_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
