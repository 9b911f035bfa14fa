-- What the code relies on, enforced by the database too: a report's error only once it failed;
-- the repeated organisation and project columns agreeing with the rows they name; names that are
-- text; the export quota within what `krafter quota set` takes.

-- Before this, nothing wrote an error on a report that had not failed; should a row of an older
-- version hold one, it was never shown (the API shows it for failed reports only).
UPDATE reports SET error = NULL WHERE error IS NOT NULL AND status <> 4;
ALTER TABLE reports
    ADD CONSTRAINT reports_error_only_when_failed CHECK (error IS NULL OR status = 4);

-- A report, a share: of a project of their organisation. A share: of a report of its project.
ALTER TABLE projects ADD CONSTRAINT projects_org_id_id_key UNIQUE (org_id, id);
ALTER TABLE reports
    ADD CONSTRAINT reports_project_in_org_fk
        FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id),
    ADD CONSTRAINT reports_project_id_id_key UNIQUE (project_id, id);
ALTER TABLE shares
    ADD CONSTRAINT shares_project_in_org_fk
        FOREIGN KEY (org_id, project_id) REFERENCES projects (org_id, id),
    ADD CONSTRAINT shares_report_in_project_fk
        FOREIGN KEY (project_id, report_id) REFERENCES reports (project_id, id);

-- A verification, a regression: of a finding of their project.
ALTER TABLE findings ADD CONSTRAINT findings_project_id_id_key UNIQUE (project_id, id);
ALTER TABLE verifications
    ADD CONSTRAINT verifications_finding_in_project_fk
        FOREIGN KEY (project_id, finding_id) REFERENCES findings (project_id, id);
ALTER TABLE regressions
    ADD CONSTRAINT regressions_finding_in_project_fk
        FOREIGN KEY (project_id, finding_id) REFERENCES findings (project_id, id);

-- Names as the domain takes them: 1 to 200 characters, not blank.
ALTER TABLE organisations
    ADD CONSTRAINT organisations_name_text
        CHECK (char_length(name) BETWEEN 1 AND 200 AND btrim(name) <> '');
ALTER TABLE projects
    ADD CONSTRAINT projects_name_text
        CHECK (char_length(name) BETWEEN 1 AND 200 AND btrim(name) <> '');

ALTER TABLE organisations
    ADD CONSTRAINT organisations_export_quota_bound CHECK (export_quota <= 1000000);
