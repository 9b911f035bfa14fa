-- Drops everything up.sql created, children first.
DROP TABLE idempotency_keys;
DROP TABLE export_jobs;
DROP TABLE reports;
DROP TABLE quota_usage;
ALTER TABLE organisations DROP COLUMN export_quota;
