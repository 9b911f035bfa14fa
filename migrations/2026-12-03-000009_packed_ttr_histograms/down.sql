-- Unpacks the histograms into rows of bins again, with the organisation bins' trigger.
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
CREATE TABLE org_ttr_bins (
    org_id   uuid     NOT NULL REFERENCES organisations (id),
    day      date     NOT NULL,
    severity smallint NOT NULL,
    bin      smallint NOT NULL,
    count    bigint   NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, day, severity, bin),
    CONSTRAINT org_ttr_bins_severity_range CHECK (severity BETWEEN 0 AND 4),
    CONSTRAINT org_ttr_bins_bin_range CHECK (bin >= 0)
);
INSERT INTO project_ttr_bins (project_id, day, severity, bin, count)
SELECT project_id, day, severity, ttr_bins[i]::smallint, ttr_bins[i + 1]
  FROM project_remediation_totals, generate_subscripts(ttr_bins, 1) AS i
 WHERE i % 2 = 1;
INSERT INTO org_ttr_bins (org_id, day, severity, bin, count)
SELECT org_id, day, severity, ttr_bins[i]::smallint, ttr_bins[i + 1]
  FROM org_remediation_totals, generate_subscripts(ttr_bins, 1) AS i
 WHERE i % 2 = 1;

CREATE OR REPLACE FUNCTION krafter_org_remediation_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
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

ALTER TABLE org_remediation_totals DROP COLUMN ttr_bins;
ALTER TABLE project_remediation_totals DROP COLUMN ttr_bins;
DROP AGGREGATE krafter_ttr_sum(bigint[]);
DROP FUNCTION krafter_ttr_negate(bigint[]);
DROP FUNCTION krafter_ttr_add(bigint[], bigint[]);
