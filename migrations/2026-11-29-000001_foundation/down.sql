-- Drops everything up.sql created, children first.
DROP TABLE project_daily_totals;
DROP TABLE regressions;
DROP TABLE verifications;
DROP TABLE finding_events;
DROP TABLE findings;
DROP TABLE api_keys;
DROP TABLE projects;
DROP TABLE organisations;
