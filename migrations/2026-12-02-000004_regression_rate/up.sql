-- The regression rate counts findings that came back, not regressions: per project and UTC day,
-- how the day moved the number of findings in a terminal status (4 resolved, 5 dismissed) with at
-- least one open regression, as of the end of the day.
ALTER TABLE project_daily_totals ADD COLUMN returned_findings bigint NOT NULL DEFAULT 0;

-- Backfilled from the history, the way krafter-postgres's rebuild recounts it. Only findings with
-- regressions can count. On each day something happened to such a finding (an event, or one of
-- its regressions opened or closed), it is in the status of its latest recorded event so far (the
-- running maximum of seq * 2 + terminal, whose parity tells the status) and has as many
-- regressions open as were opened minus closed so far; the day's delta is whether it counts then
-- minus whether it counted on its previous such day.
WITH returned_moves AS (
        SELECT e.finding_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
               max(e.seq::bigint * 2 + (e.status IN (4, 5))::int) AS last_event,
               0 AS opened_minus_closed
          FROM finding_events e
         WHERE EXISTS (SELECT 1 FROM regressions r WHERE r.finding_id = e.finding_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT finding_id, (opened_at AT TIME ZONE 'UTC')::date, NULL, 1
          FROM regressions
        UNION ALL
        SELECT finding_id, (closed_at AT TIME ZONE 'UTC')::date, NULL, -1
          FROM regressions
         WHERE closed_at IS NOT NULL
), returned_days AS (
        SELECT finding_id, day, max(last_event) AS last_event,
               sum(opened_minus_closed) AS opened_minus_closed
          FROM returned_moves
         GROUP BY 1, 2
), returned_state AS (
        SELECT finding_id, day,
               (COALESCE((max(last_event) OVER w) % 2 = 1, false)
                AND sum(opened_minus_closed) OVER w > 0)::int AS counts
          FROM returned_days
        WINDOW w AS (PARTITION BY finding_id ORDER BY day)
), returned_deltas AS (
        SELECT finding_id, day,
               counts - COALESCE(lag(counts) OVER (PARTITION BY finding_id ORDER BY day), 0)
                 AS delta
          FROM returned_state
)
INSERT INTO project_daily_totals AS t (project_id, day, returned_findings)
SELECT f.project_id, d.day, sum(d.delta)
  FROM returned_deltas d
  JOIN findings f ON f.id = d.finding_id
 GROUP BY f.project_id, d.day
HAVING sum(d.delta) <> 0
    ON CONFLICT (project_id, day) DO UPDATE SET returned_findings = excluded.returned_findings;
