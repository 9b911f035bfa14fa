DROP TABLE remediation_backfill;
DROP TABLE project_ttr_bins;
DROP TABLE project_remediation_totals;
ALTER TABLE findings DROP COLUMN due_on;
DROP TABLE sla_policies;
