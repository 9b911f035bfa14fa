ALTER TABLE organisations DROP CONSTRAINT organisations_export_quota_bound;
ALTER TABLE projects DROP CONSTRAINT projects_name_text;
ALTER TABLE organisations DROP CONSTRAINT organisations_name_text;
ALTER TABLE regressions DROP CONSTRAINT regressions_finding_in_project_fk;
ALTER TABLE verifications DROP CONSTRAINT verifications_finding_in_project_fk;
ALTER TABLE findings DROP CONSTRAINT findings_project_id_id_key;
ALTER TABLE shares
    DROP CONSTRAINT shares_report_in_project_fk,
    DROP CONSTRAINT shares_project_in_org_fk;
ALTER TABLE reports
    DROP CONSTRAINT reports_project_id_id_key,
    DROP CONSTRAINT reports_project_in_org_fk;
ALTER TABLE projects DROP CONSTRAINT projects_org_id_id_key;
ALTER TABLE reports DROP CONSTRAINT reports_error_only_when_failed;
