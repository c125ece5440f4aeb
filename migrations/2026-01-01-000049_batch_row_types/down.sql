DROP TYPE session_change_row;
DROP TYPE key_counter_row;
DROP TYPE session_version_row;
DROP TYPE key_version_row;
DROP TYPE domain_rollup_row;
DROP TYPE usage_rollup_row;
DROP TYPE usage_event_row;
