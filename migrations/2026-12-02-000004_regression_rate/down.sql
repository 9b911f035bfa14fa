-- Undoes up.sql. An all-zero day means nothing; removing them removes the days that only the
-- returned findings had moved.
ALTER TABLE project_daily_totals DROP COLUMN returned_findings;
DELETE FROM project_daily_totals
 WHERE (open_risk_score, open_findings, terminal_findings, open_regressions, verifications,
        verifications_passed) = (0, 0, 0, 0, 0, 0);
