-- Each organisation's totals: the sum over its projects of the project totals, per day (and
-- severity, and bin), so that the organisation's summary and remediation read at most as many
-- rows as one project's, whatever the number of projects.
--
-- Kept by triggers on the project tables, in the transaction of every change to them (ledger
-- writes, rebuilds, backfills alike): each changed row adds its difference to the organisation's
-- row. Project rows are written in ascending key order, so the organisation's rows are locked in
-- that order too.

CREATE TABLE org_daily_totals (
    org_id              uuid     NOT NULL REFERENCES organisations (id),
    day                 date     NOT NULL,
    open_risk_score     bigint   NOT NULL DEFAULT 0,
    open_findings       bigint   NOT NULL DEFAULT 0,
    terminal_findings   bigint   NOT NULL DEFAULT 0,
    open_regressions    bigint   NOT NULL DEFAULT 0,
    verifications       bigint   NOT NULL DEFAULT 0,
    verifications_passed bigint   NOT NULL DEFAULT 0,
    returned_findings   bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day)
);

CREATE TABLE org_remediation_totals (
    org_id              uuid     NOT NULL REFERENCES organisations (id),
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
    PRIMARY KEY (org_id, day, severity),
    CONSTRAINT org_remediation_totals_severity_range CHECK (severity BETWEEN 0 AND 4)
);

CREATE TABLE org_ttr_bins (
    org_id              uuid     NOT NULL REFERENCES organisations (id),
    day                 date     NOT NULL,
    severity            smallint NOT NULL,
    bin                 smallint NOT NULL,
    count               bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, severity, bin),
    CONSTRAINT org_ttr_bins_severity_range CHECK (severity BETWEEN 0 AND 4),
    CONSTRAINT org_ttr_bins_bin_range CHECK (bin >= 0)
);

-- What the projects hold now.
INSERT INTO org_daily_totals (org_id, day, open_risk_score, open_findings, terminal_findings, open_regressions, verifications, verifications_passed, returned_findings)
SELECT p.org_id, t.day, sum(t.open_risk_score), sum(t.open_findings), sum(t.terminal_findings), sum(t.open_regressions), sum(t.verifications), sum(t.verifications_passed), sum(t.returned_findings)
  FROM project_daily_totals t JOIN projects p ON p.id = t.project_id
 GROUP BY p.org_id, t.day;

INSERT INTO org_remediation_totals (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181)
SELECT p.org_id, t.day, t.severity, sum(t.opened), sum(t.reopened), sum(t.resolved), sum(t.dismissed), sum(t.resolved_with_sla), sum(t.resolved_within_sla), sum(t.ttr_count), sum(t.ttr_sum_seconds), sum(t.open), sum(t.overdue), sum(t.aged_0_7), sum(t.aged_8_30), sum(t.aged_31_90), sum(t.aged_91_180), sum(t.aged_181)
  FROM project_remediation_totals t JOIN projects p ON p.id = t.project_id
 GROUP BY p.org_id, t.day, t.severity;

INSERT INTO org_ttr_bins (org_id, day, severity, bin, count)
SELECT p.org_id, t.day, t.severity, t.bin, sum(t.count)
  FROM project_ttr_bins t JOIN projects p ON p.id = t.project_id
 GROUP BY p.org_id, t.day, t.severity, t.bin;

-- And every change from now on.
CREATE FUNCTION krafter_org_daily_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id = OLD.project_id AND NEW.day = OLD.day THEN
        INSERT INTO org_daily_totals AS o (org_id, day, open_risk_score, open_findings, terminal_findings, open_regressions, verifications, verifications_passed, returned_findings)
        SELECT p.org_id, NEW.day, NEW.open_risk_score - OLD.open_risk_score, NEW.open_findings - OLD.open_findings, NEW.terminal_findings - OLD.terminal_findings, NEW.open_regressions - OLD.open_regressions, NEW.verifications - OLD.verifications, NEW.verifications_passed - OLD.verifications_passed, NEW.returned_findings - OLD.returned_findings FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day) DO UPDATE SET
               open_risk_score = o.open_risk_score + excluded.open_risk_score,
               open_findings = o.open_findings + excluded.open_findings,
               terminal_findings = o.terminal_findings + excluded.terminal_findings,
               open_regressions = o.open_regressions + excluded.open_regressions,
               verifications = o.verifications + excluded.verifications,
               verifications_passed = o.verifications_passed + excluded.verifications_passed,
               returned_findings = o.returned_findings + excluded.returned_findings;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO org_daily_totals AS o (org_id, day, open_risk_score, open_findings, terminal_findings, open_regressions, verifications, verifications_passed, returned_findings)
        SELECT p.org_id, OLD.day, -OLD.open_risk_score, -OLD.open_findings, -OLD.terminal_findings, -OLD.open_regressions, -OLD.verifications, -OLD.verifications_passed, -OLD.returned_findings FROM projects p WHERE p.id = OLD.project_id
        ON CONFLICT (org_id, day) DO UPDATE SET
               open_risk_score = o.open_risk_score + excluded.open_risk_score,
               open_findings = o.open_findings + excluded.open_findings,
               terminal_findings = o.terminal_findings + excluded.terminal_findings,
               open_regressions = o.open_regressions + excluded.open_regressions,
               verifications = o.verifications + excluded.verifications,
               verifications_passed = o.verifications_passed + excluded.verifications_passed,
               returned_findings = o.returned_findings + excluded.returned_findings;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO org_daily_totals AS o (org_id, day, open_risk_score, open_findings, terminal_findings, open_regressions, verifications, verifications_passed, returned_findings)
        SELECT p.org_id, NEW.day, NEW.open_risk_score, NEW.open_findings, NEW.terminal_findings, NEW.open_regressions, NEW.verifications, NEW.verifications_passed, NEW.returned_findings FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day) DO UPDATE SET
               open_risk_score = o.open_risk_score + excluded.open_risk_score,
               open_findings = o.open_findings + excluded.open_findings,
               terminal_findings = o.terminal_findings + excluded.terminal_findings,
               open_regressions = o.open_regressions + excluded.open_regressions,
               verifications = o.verifications + excluded.verifications,
               verifications_passed = o.verifications_passed + excluded.verifications_passed,
               returned_findings = o.returned_findings + excluded.returned_findings;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_daily_totals_follow AFTER INSERT OR UPDATE OR DELETE ON project_daily_totals
    FOR EACH ROW EXECUTE FUNCTION krafter_org_daily_totals_follow();

CREATE FUNCTION krafter_org_remediation_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id = OLD.project_id AND NEW.day = OLD.day AND NEW.severity = OLD.severity THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.opened - OLD.opened, NEW.reopened - OLD.reopened, NEW.resolved - OLD.resolved, NEW.dismissed - OLD.dismissed, NEW.resolved_with_sla - OLD.resolved_with_sla, NEW.resolved_within_sla - OLD.resolved_within_sla, NEW.ttr_count - OLD.ttr_count, NEW.ttr_sum_seconds - OLD.ttr_sum_seconds, NEW.open - OLD.open, NEW.overdue - OLD.overdue, NEW.aged_0_7 - OLD.aged_0_7, NEW.aged_8_30 - OLD.aged_8_30, NEW.aged_31_90 - OLD.aged_31_90, NEW.aged_91_180 - OLD.aged_91_180, NEW.aged_181 - OLD.aged_181 FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day, severity) DO UPDATE SET
               opened = o.opened + excluded.opened,
               reopened = o.reopened + excluded.reopened,
               resolved = o.resolved + excluded.resolved,
               dismissed = o.dismissed + excluded.dismissed,
               resolved_with_sla = o.resolved_with_sla + excluded.resolved_with_sla,
               resolved_within_sla = o.resolved_within_sla + excluded.resolved_within_sla,
               ttr_count = o.ttr_count + excluded.ttr_count,
               ttr_sum_seconds = o.ttr_sum_seconds + excluded.ttr_sum_seconds,
               open = o.open + excluded.open,
               overdue = o.overdue + excluded.overdue,
               aged_0_7 = o.aged_0_7 + excluded.aged_0_7,
               aged_8_30 = o.aged_8_30 + excluded.aged_8_30,
               aged_31_90 = o.aged_31_90 + excluded.aged_31_90,
               aged_91_180 = o.aged_91_180 + excluded.aged_91_180,
               aged_181 = o.aged_181 + excluded.aged_181;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181)
        SELECT p.org_id, OLD.day, OLD.severity, -OLD.opened, -OLD.reopened, -OLD.resolved, -OLD.dismissed, -OLD.resolved_with_sla, -OLD.resolved_within_sla, -OLD.ttr_count, -OLD.ttr_sum_seconds, -OLD.open, -OLD.overdue, -OLD.aged_0_7, -OLD.aged_8_30, -OLD.aged_31_90, -OLD.aged_91_180, -OLD.aged_181 FROM projects p WHERE p.id = OLD.project_id
        ON CONFLICT (org_id, day, severity) DO UPDATE SET
               opened = o.opened + excluded.opened,
               reopened = o.reopened + excluded.reopened,
               resolved = o.resolved + excluded.resolved,
               dismissed = o.dismissed + excluded.dismissed,
               resolved_with_sla = o.resolved_with_sla + excluded.resolved_with_sla,
               resolved_within_sla = o.resolved_within_sla + excluded.resolved_within_sla,
               ttr_count = o.ttr_count + excluded.ttr_count,
               ttr_sum_seconds = o.ttr_sum_seconds + excluded.ttr_sum_seconds,
               open = o.open + excluded.open,
               overdue = o.overdue + excluded.overdue,
               aged_0_7 = o.aged_0_7 + excluded.aged_0_7,
               aged_8_30 = o.aged_8_30 + excluded.aged_8_30,
               aged_31_90 = o.aged_31_90 + excluded.aged_31_90,
               aged_91_180 = o.aged_91_180 + excluded.aged_91_180,
               aged_181 = o.aged_181 + excluded.aged_181;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.opened, NEW.reopened, NEW.resolved, NEW.dismissed, NEW.resolved_with_sla, NEW.resolved_within_sla, NEW.ttr_count, NEW.ttr_sum_seconds, NEW.open, NEW.overdue, NEW.aged_0_7, NEW.aged_8_30, NEW.aged_31_90, NEW.aged_91_180, NEW.aged_181 FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day, severity) DO UPDATE SET
               opened = o.opened + excluded.opened,
               reopened = o.reopened + excluded.reopened,
               resolved = o.resolved + excluded.resolved,
               dismissed = o.dismissed + excluded.dismissed,
               resolved_with_sla = o.resolved_with_sla + excluded.resolved_with_sla,
               resolved_within_sla = o.resolved_within_sla + excluded.resolved_within_sla,
               ttr_count = o.ttr_count + excluded.ttr_count,
               ttr_sum_seconds = o.ttr_sum_seconds + excluded.ttr_sum_seconds,
               open = o.open + excluded.open,
               overdue = o.overdue + excluded.overdue,
               aged_0_7 = o.aged_0_7 + excluded.aged_0_7,
               aged_8_30 = o.aged_8_30 + excluded.aged_8_30,
               aged_31_90 = o.aged_31_90 + excluded.aged_31_90,
               aged_91_180 = o.aged_91_180 + excluded.aged_91_180,
               aged_181 = o.aged_181 + excluded.aged_181;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_remediation_totals_follow AFTER INSERT OR UPDATE OR DELETE ON project_remediation_totals
    FOR EACH ROW EXECUTE FUNCTION krafter_org_remediation_totals_follow();

CREATE FUNCTION krafter_org_ttr_bins_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id = OLD.project_id AND NEW.day = OLD.day AND NEW.severity = OLD.severity AND NEW.bin = OLD.bin THEN
        INSERT INTO org_ttr_bins AS o (org_id, day, severity, bin, count)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.bin, NEW.count - OLD.count FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day, severity, bin) DO UPDATE SET
               count = o.count + excluded.count;
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO org_ttr_bins AS o (org_id, day, severity, bin, count)
        SELECT p.org_id, OLD.day, OLD.severity, OLD.bin, -OLD.count FROM projects p WHERE p.id = OLD.project_id
        ON CONFLICT (org_id, day, severity, bin) DO UPDATE SET
               count = o.count + excluded.count;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO org_ttr_bins AS o (org_id, day, severity, bin, count)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.bin, NEW.count FROM projects p WHERE p.id = NEW.project_id
        ON CONFLICT (org_id, day, severity, bin) DO UPDATE SET
               count = o.count + excluded.count;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER project_ttr_bins_follow AFTER INSERT OR UPDATE OR DELETE ON project_ttr_bins
    FOR EACH ROW EXECUTE FUNCTION krafter_org_ttr_bins_follow();
