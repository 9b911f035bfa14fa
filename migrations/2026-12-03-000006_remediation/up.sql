-- Remediation metrics and SLAs (the domain's metrics::remediation): the organisations' SLA
-- policies, each finding's due date, and per project, UTC day and severity the remediation
-- deltas every ledger write adds in its own transaction (flows on the day of the event, levels as
-- steps, overdue and aging thresholds dated in the future), with the time-to-resolve histogram
-- bins beside them. Severity is the domain's stable code (0 info … 4 critical).

-- Every policy an organisation stored, each in force from effective_from until the next one.
-- Days per severity from 1 to 3650; NULL: no SLA for that severity.
CREATE TABLE sla_policies (
    org_id         uuid        NOT NULL REFERENCES organisations (id),
    effective_from timestamptz NOT NULL,
    critical_days  smallint,
    high_days      smallint,
    medium_days    smallint,
    low_days       smallint,
    info_days      smallint,
    PRIMARY KEY (org_id, effective_from),
    CONSTRAINT sla_policies_days_range CHECK (
        coalesce(critical_days, 1) BETWEEN 1 AND 3650
        AND coalesce(high_days, 1) BETWEEN 1 AND 3650
        AND coalesce(medium_days, 1) BETWEEN 1 AND 3650
        AND coalesce(low_days, 1) BETWEEN 1 AND 3650
        AND coalesce(info_days, 1) BETWEEN 1 AND 3650
    )
);

-- Fixed at creation under the policy in force then; NULL without an SLA. Existing findings were
-- all created under the default policy (no organisation could store one before this).
ALTER TABLE findings ADD COLUMN due_on date;
UPDATE findings
   SET due_on = (created_at AT TIME ZONE 'UTC')::date
              + CASE severity WHEN 4 THEN 7 WHEN 3 THEN 30 WHEN 2 THEN 90 WHEN 1 THEN 120 END
 WHERE severity BETWEEN 1 AND 4;

CREATE TABLE project_remediation_totals (
    project_id          uuid     NOT NULL REFERENCES projects (id),
    day                 date     NOT NULL,
    severity            smallint NOT NULL,
    opened              bigint   NOT NULL DEFAULT 0,
    reopened            bigint   NOT NULL DEFAULT 0,
    resolved            bigint   NOT NULL DEFAULT 0,
    dismissed           bigint   NOT NULL DEFAULT 0,
    resolved_with_sla   bigint   NOT NULL DEFAULT 0,
    resolved_within_sla bigint   NOT NULL DEFAULT 0,
    ttr_count           bigint   NOT NULL DEFAULT 0,
    ttr_sum_seconds     bigint   NOT NULL DEFAULT 0,
    open                bigint   NOT NULL DEFAULT 0,
    overdue             bigint   NOT NULL DEFAULT 0,
    aged_0_7            bigint   NOT NULL DEFAULT 0,
    aged_8_30           bigint   NOT NULL DEFAULT 0,
    aged_31_90          bigint   NOT NULL DEFAULT 0,
    aged_91_180         bigint   NOT NULL DEFAULT 0,
    aged_181            bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, day, severity),
    CONSTRAINT project_remediation_totals_severity_range CHECK (severity BETWEEN 0 AND 4)
);

-- The time-to-resolve histogram (domain bins 0 … 606) of the resolutions of a project, day and
-- severity.
CREATE TABLE project_ttr_bins (
    project_id uuid     NOT NULL REFERENCES projects (id),
    day        date     NOT NULL,
    severity   smallint NOT NULL,
    bin        smallint NOT NULL,
    count      bigint   NOT NULL,
    PRIMARY KEY (project_id, day, severity, bin),
    CONSTRAINT project_ttr_bins_severity_range CHECK (severity BETWEEN 0 AND 4),
    CONSTRAINT project_ttr_bins_bin_range CHECK (bin >= 0)
);

-- Projects whose remediation totals are still to be computed from their history (every project
-- that exists now): `krafter migrate` (krafter_postgres::run_migrations) does it right after the
-- migrations, one project per transaction, removing the project's row in the same transaction,
-- so that an interrupted backfill resumes where it stopped.
CREATE TABLE remediation_backfill (
    project_id uuid PRIMARY KEY REFERENCES projects (id)
);
INSERT INTO remediation_backfill (project_id) SELECT id FROM projects;
