-- Undoes up.sql: delivery jobs go with the deliveries; the job queue is the export queue again.
DELETE FROM jobs WHERE kind <> 0;
DROP TABLE deliveries;
DROP TABLE shares;
ALTER TABLE reports DROP COLUMN charged;
DROP INDEX jobs_report_waiting_idx;
ALTER TABLE jobs
    DROP CONSTRAINT jobs_export_is_its_report,
    DROP CONSTRAINT jobs_kind_range,
    DROP CONSTRAINT jobs_report_fk;
ALTER TABLE jobs DROP COLUMN report_id;
ALTER TABLE jobs DROP COLUMN kind;
ALTER TABLE jobs RENAME CONSTRAINT jobs_lease_while_running TO export_jobs_lease_while_running;
ALTER TABLE jobs RENAME CONSTRAINT jobs_attempts_range TO export_jobs_attempts_range;
ALTER TABLE jobs RENAME CONSTRAINT jobs_state_range TO export_jobs_state_range;
ALTER INDEX jobs_due_idx RENAME TO export_jobs_due_idx;
ALTER INDEX jobs_pkey RENAME TO export_jobs_pkey;
ALTER TABLE jobs RENAME COLUMN id TO report_id;
ALTER TABLE jobs ADD CONSTRAINT export_jobs_report_fk FOREIGN KEY (report_id) REFERENCES reports (id);
ALTER TABLE jobs RENAME TO export_jobs;
