DROP TRIGGER project_ttr_bins_follow ON project_ttr_bins;
DROP FUNCTION krafter_org_ttr_bins_follow();
DROP TABLE org_ttr_bins;
DROP TRIGGER project_remediation_totals_follow ON project_remediation_totals;
DROP FUNCTION krafter_org_remediation_totals_follow();
DROP TABLE org_remediation_totals;
DROP TRIGGER project_daily_totals_follow ON project_daily_totals;
DROP FUNCTION krafter_org_daily_totals_follow();
DROP TABLE org_daily_totals;
