DROP TABLE domain_rollups;
DROP TABLE caption_errors;
DROP TABLE session_records;
DROP TABLE sessions;
