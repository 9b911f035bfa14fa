-- Time-to-resolve histograms packed into the remediation totals rows: one array per project (or
-- organisation), day and severity instead of one row per bin, so that a year's report reads a
-- few thousand rows whatever the number of resolutions (a million findings had 70,000 bin rows
-- in a 366-day window). An array holds pairs, flattened: [bin, count, bin, count, ...], bins
-- ascending, no zero count, '{}' when empty.

-- The sum of two such arrays (a merge of two sorted lists), in the same form.
CREATE FUNCTION krafter_ttr_add(a bigint[], b bigint[]) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    sum bigint[] := '{}';
    k int := 0;
    i int := 1;
    j int := 1;
    na int := COALESCE(array_length(a, 1), 0);
    nb int := COALESCE(array_length(b, 1), 0);
    n bigint;
BEGIN
    IF nb = 0 THEN
        RETURN COALESCE(a, '{}');
    END IF;
    IF na = 0 THEN
        RETURN b;
    END IF;
    WHILE i <= na OR j <= nb LOOP
        IF j > nb OR (i <= na AND a[i] < b[j]) THEN
            sum[k + 1] := a[i]; sum[k + 2] := a[i + 1]; k := k + 2; i := i + 2;
        ELSIF i > na OR b[j] < a[i] THEN
            sum[k + 1] := b[j]; sum[k + 2] := b[j + 1]; k := k + 2; j := j + 2;
        ELSE
            n := a[i + 1] + b[j + 1];
            IF n <> 0 THEN
                sum[k + 1] := a[i]; sum[k + 2] := n; k := k + 2;
            END IF;
            i := i + 2; j := j + 2;
        END IF;
    END LOOP;
    RETURN sum;
END
$$;

-- The same counts, negated (what subtracting the array adds).
CREATE FUNCTION krafter_ttr_negate(a bigint[]) RETURNS bigint[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT COALESCE(array_agg(CASE WHEN i % 2 = 0 THEN -a[i] ELSE a[i] END ORDER BY i), '{}')
      FROM generate_subscripts(a, 1) AS i
$$;

-- The sum of many (the check that organisation totals equal their projects' sums).
CREATE AGGREGATE krafter_ttr_sum(bigint[]) (
    SFUNC = krafter_ttr_add,
    STYPE = bigint[],
    INITCOND = '{}'
);

ALTER TABLE project_remediation_totals ADD COLUMN ttr_bins bigint[] NOT NULL DEFAULT '{}';
ALTER TABLE org_remediation_totals ADD COLUMN ttr_bins bigint[] NOT NULL DEFAULT '{}';

-- The organisation's totals follow the projects' arrays too, from now on; the bins tables' own
-- trigger goes with them.
CREATE OR REPLACE FUNCTION krafter_org_remediation_totals_follow() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.project_id = OLD.project_id AND NEW.day = OLD.day AND NEW.severity = OLD.severity THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.opened - OLD.opened, NEW.reopened - OLD.reopened, NEW.resolved - OLD.resolved, NEW.dismissed - OLD.dismissed, NEW.resolved_with_sla - OLD.resolved_with_sla, NEW.resolved_within_sla - OLD.resolved_within_sla, NEW.ttr_count - OLD.ttr_count, NEW.ttr_sum_seconds - OLD.ttr_sum_seconds, NEW.open - OLD.open, NEW.overdue - OLD.overdue, NEW.aged_0_7 - OLD.aged_0_7, NEW.aged_8_30 - OLD.aged_8_30, NEW.aged_31_90 - OLD.aged_31_90, NEW.aged_91_180 - OLD.aged_91_180, NEW.aged_181 - OLD.aged_181, krafter_ttr_add(NEW.ttr_bins, krafter_ttr_negate(OLD.ttr_bins)) FROM projects p WHERE p.id = NEW.project_id
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
               aged_181 = o.aged_181 + excluded.aged_181,
               ttr_bins = krafter_ttr_add(o.ttr_bins, excluded.ttr_bins);
        RETURN NULL;
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins)
        SELECT p.org_id, OLD.day, OLD.severity, -OLD.opened, -OLD.reopened, -OLD.resolved, -OLD.dismissed, -OLD.resolved_with_sla, -OLD.resolved_within_sla, -OLD.ttr_count, -OLD.ttr_sum_seconds, -OLD.open, -OLD.overdue, -OLD.aged_0_7, -OLD.aged_8_30, -OLD.aged_31_90, -OLD.aged_91_180, -OLD.aged_181, krafter_ttr_negate(OLD.ttr_bins) FROM projects p WHERE p.id = OLD.project_id
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
               aged_181 = o.aged_181 + excluded.aged_181,
               ttr_bins = krafter_ttr_add(o.ttr_bins, excluded.ttr_bins);
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO org_remediation_totals AS o (org_id, day, severity, opened, reopened, resolved, dismissed, resolved_with_sla, resolved_within_sla, ttr_count, ttr_sum_seconds, open, overdue, aged_0_7, aged_8_30, aged_31_90, aged_91_180, aged_181, ttr_bins)
        SELECT p.org_id, NEW.day, NEW.severity, NEW.opened, NEW.reopened, NEW.resolved, NEW.dismissed, NEW.resolved_with_sla, NEW.resolved_within_sla, NEW.ttr_count, NEW.ttr_sum_seconds, NEW.open, NEW.overdue, NEW.aged_0_7, NEW.aged_8_30, NEW.aged_31_90, NEW.aged_91_180, NEW.aged_181, NEW.ttr_bins FROM projects p WHERE p.id = NEW.project_id
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
               aged_181 = o.aged_181 + excluded.aged_181,
               ttr_bins = krafter_ttr_add(o.ttr_bins, excluded.ttr_bins);
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER project_ttr_bins_follow ON project_ttr_bins;
DROP FUNCTION krafter_org_ttr_bins_follow();

-- The bins as they are, packed (every bin row has its totals row: both come from one delta).
UPDATE project_remediation_totals t
   SET ttr_bins = b.packed
  FROM (SELECT project_id, day, severity, array_agg(x ORDER BY bin, part) AS packed
          FROM project_ttr_bins, LATERAL (VALUES (0, bin::bigint), (1, count)) AS v(part, x)
         WHERE count <> 0
         GROUP BY project_id, day, severity) b
 WHERE t.project_id = b.project_id AND t.day = b.day AND t.severity = b.severity;

DROP TABLE org_ttr_bins;
DROP TABLE project_ttr_bins;
