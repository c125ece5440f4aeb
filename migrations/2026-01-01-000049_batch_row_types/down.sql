DROP TYPE domain_rollup_row;
DROP TYPE usage_rollup_row;
DROP TYPE usage_event_row;
