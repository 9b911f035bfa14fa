//! Reading the daily totals, and recomputing them from the history.

use std::collections::BTreeMap;

use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{Array, BigInt, Date, Nullable, SmallInt, Untyped, Uuid as SqlUuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use krafter_domain::ids::{OrgId, ProjectId};
use krafter_domain::ledger::{FindingStatus, VerificationResult};
use krafter_domain::metrics::{
    DateWindow, DatedDelta, DayDelta, DeltaLedger, MetricsRepoError, MetricsRepository,
    OrgMetricsRepository,
};
use krafter_domain::storage::StorageError;

use crate::rows::DailyTotalRow;
use crate::schema::project_daily_totals;
use crate::PgStore;

/// One row of the `deltas` query: `day` is NULL on the row that sums every day before the window.
#[derive(QueryableByName)]
struct DeltaRow {
    #[diesel(sql_type = Nullable<Date>)]
    day: Option<NaiveDate>,
    #[diesel(sql_type = BigInt)]
    open_risk_score: i64,
    #[diesel(sql_type = BigInt)]
    open_findings: i64,
    #[diesel(sql_type = BigInt)]
    terminal_findings: i64,
    #[diesel(sql_type = BigInt)]
    open_regressions: i64,
    #[diesel(sql_type = BigInt)]
    verifications: i64,
    #[diesel(sql_type = BigInt)]
    verifications_passed: i64,
    #[diesel(sql_type = BigInt)]
    returned_findings: i64,
}

impl DeltaRow {
    fn delta(&self) -> DayDelta {
        DayDelta {
            open_risk_score: self.open_risk_score,
            open_findings: self.open_findings,
            terminal_findings: self.terminal_findings,
            open_regressions: self.open_regressions,
            verifications: self.verifications,
            verifications_passed: self.verifications_passed,
            returned_findings: self.returned_findings,
        }
    }
}

/// The `deltas` query: the sum of every day before the window (the row whose `day` is NULL),
/// then the non-zero days of the window, ascending. A query type of its own rather than
/// `sql_query`, so that its prepared statement is cached per connection.
#[derive(Clone, Copy)]
struct DeltasQuery {
    project: uuid::Uuid,
    from: NaiveDate,
    to: NaiveDate,
}

impl QueryId for DeltasQuery {
    type QueryId = DeltasQuery;
    const HAS_STATIC_QUERY_ID: bool = true;
}

impl Query for DeltasQuery {
    type SqlType = Untyped;
}

impl QueryFragment<Pg> for DeltasQuery {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "SELECT NULL::date AS day, \
                    COALESCE(sum(open_risk_score), 0)::bigint AS open_risk_score, \
                    COALESCE(sum(open_findings), 0)::bigint AS open_findings, \
                    COALESCE(sum(terminal_findings), 0)::bigint AS terminal_findings, \
                    COALESCE(sum(open_regressions), 0)::bigint AS open_regressions, \
                    COALESCE(sum(verifications), 0)::bigint AS verifications, \
                    COALESCE(sum(verifications_passed), 0)::bigint AS verifications_passed, \
                    COALESCE(sum(returned_findings), 0)::bigint AS returned_findings \
               FROM project_daily_totals \
              WHERE project_id = ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.project)?;
        out.push_sql(" AND day < ");
        out.push_bind_param::<Date, _>(&self.from)?;
        out.push_sql(
            " UNION ALL \
             SELECT day, open_risk_score, open_findings, terminal_findings, open_regressions, \
                    verifications, verifications_passed, returned_findings \
               FROM project_daily_totals \
              WHERE project_id = ",
        );
        out.push_bind_param::<SqlUuid, _>(&self.project)?;
        out.push_sql(" AND day >= ");
        out.push_bind_param::<Date, _>(&self.from)?;
        out.push_sql(" AND day <= ");
        out.push_bind_param::<Date, _>(&self.to)?;
        out.push_sql(
            " AND (open_risk_score, open_findings, terminal_findings, open_regressions, \
                   verifications, verifications_passed, returned_findings) \
                  <> (0, 0, 0, 0, 0, 0, 0) \
              ORDER BY day ASC NULLS FIRST",
        );
        Ok(())
    }
}

#[async_trait]
impl MetricsRepository for PgStore {
    async fn deltas(
        &self,
        project: ProjectId,
        window: &DateWindow,
    ) -> Result<DeltaLedger, MetricsRepoError> {
        let mut conn = self.conn().await?;
        let query = DeltasQuery {
            project: project.as_uuid(),
            from: window.from(),
            to: window.to(),
        };
        let rows: Vec<DeltaRow> = query
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(ledger_of(rows))
    }
}

fn ledger_of(rows: Vec<DeltaRow>) -> DeltaLedger {
    let mut ledger = DeltaLedger::default();
    for row in rows {
        match row.day {
            None => ledger.before = row.delta(),
            Some(day) => ledger.days.push(DatedDelta {
                day,
                delta: row.delta(),
            }),
        }
    }
    ledger
}

/// The organisation's totals (`org_daily_totals`, the sum of its projects' rows that triggers
/// keep): the same rows as [`DeltasQuery`] for the organisation `$1`.
const ORG_DELTAS_SQL: &str = "\
SELECT NULL::date AS day,
       COALESCE(sum(open_risk_score), 0)::bigint AS open_risk_score,
       COALESCE(sum(open_findings), 0)::bigint AS open_findings,
       COALESCE(sum(terminal_findings), 0)::bigint AS terminal_findings,
       COALESCE(sum(open_regressions), 0)::bigint AS open_regressions,
       COALESCE(sum(verifications), 0)::bigint AS verifications,
       COALESCE(sum(verifications_passed), 0)::bigint AS verifications_passed,
       COALESCE(sum(returned_findings), 0)::bigint AS returned_findings
  FROM org_daily_totals
 WHERE org_id = $1 AND day < $2
UNION ALL
SELECT day, open_risk_score, open_findings, terminal_findings, open_regressions,
       verifications, verifications_passed, returned_findings
  FROM org_daily_totals
 WHERE org_id = $1 AND day >= $2 AND day <= $3
   AND (open_risk_score, open_findings, terminal_findings, open_regressions, verifications,
        verifications_passed, returned_findings) <> (0, 0, 0, 0, 0, 0, 0)
 ORDER BY day ASC NULLS FIRST";

#[async_trait]
impl OrgMetricsRepository for PgStore {
    async fn org_deltas(
        &self,
        org: OrgId,
        window: &DateWindow,
    ) -> Result<DeltaLedger, MetricsRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<DeltaRow> = diesel::sql_query(ORG_DELTAS_SQL)
            .bind::<SqlUuid, _>(org.as_uuid())
            .bind::<Date, _>(window.from())
            .bind::<Date, _>(window.to())
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(ledger_of(rows))
    }
}

/// Recomputes a project's totals from its history: each finding event contributes its state
/// minus the state before it (`LAG` over the finding's events), each verification and regression
/// its counts. Zero days are left out.
///
/// `returned_findings` is recounted per finding (only those with regressions can count) on each
/// day something happened to it: at the end of such a day the finding is in the status of its
/// latest recorded event so far (the running maximum of `seq * 2 + terminal`, whose parity tells
/// the status) and has as many regressions open as were opened minus closed so far; the day's
/// delta is whether it counts then minus whether it counted on its previous such day.
/// `migrations/2026-12-02-000004_regression_rate/up.sql` backfills the same way.
const REBUILD_SQL: &str = "\
WITH returned_moves AS (
        SELECT e.finding_id, (e.occurred_at AT TIME ZONE 'UTC')::date AS day,
               max(e.seq::bigint * 2 + (e.status = ANY($2))::int) AS last_event,
               0 AS opened_minus_closed
          FROM finding_events e
          JOIN findings f ON f.id = e.finding_id
         WHERE f.project_id = $1
           AND EXISTS (SELECT 1 FROM regressions r WHERE r.finding_id = e.finding_id)
         GROUP BY 1, 2
        UNION ALL
        SELECT finding_id, (opened_at AT TIME ZONE 'UTC')::date, NULL, 1
          FROM regressions
         WHERE project_id = $1
        UNION ALL
        SELECT finding_id, (closed_at AT TIME ZONE 'UTC')::date, NULL, -1
          FROM regressions
         WHERE project_id = $1 AND closed_at IS NOT NULL
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
)
INSERT INTO project_daily_totals (project_id, day, open_risk_score, open_findings,
                                  terminal_findings, open_regressions, verifications,
                                  verifications_passed, returned_findings)
SELECT $1, day, sum(risk), sum(open), sum(terminal), sum(regressions), sum(verifications),
       sum(passed), sum(returned)
  FROM (
        SELECT (occurred_at AT TIME ZONE 'UTC')::date AS day,
               CASE WHEN terminal THEN 0 ELSE priority_score END
                 - CASE WHEN prev_terminal = false THEN prev_score ELSE 0 END AS risk,
               (NOT terminal)::int - COALESCE((NOT prev_terminal)::int, 0) AS open,
               terminal::int - COALESCE(prev_terminal::int, 0) AS terminal,
               0 AS regressions, 0 AS verifications, 0 AS passed, 0 AS returned
          FROM (
                SELECT e.occurred_at,
                       e.priority_score,
                       e.status = ANY($2) AS terminal,
                       lag(e.status = ANY($2)) OVER w AS prev_terminal,
                       lag(e.priority_score) OVER w AS prev_score
                  FROM finding_events e
                  JOIN findings f ON f.id = e.finding_id
                 WHERE f.project_id = $1
                WINDOW w AS (PARTITION BY e.finding_id ORDER BY e.seq)
               ) ev
        UNION ALL
        SELECT (occurred_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, 1, (result = $3)::int, 0
          FROM verifications
         WHERE project_id = $1
        UNION ALL
        SELECT (opened_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, 0, 0
          FROM regressions
         WHERE project_id = $1
        UNION ALL
        SELECT (closed_at AT TIME ZONE 'UTC')::date, 0, 0, 0, -1, 0, 0, 0
          FROM regressions
         WHERE project_id = $1 AND closed_at IS NOT NULL
        UNION ALL
        SELECT day, 0, 0, 0, 0, 0, 0,
               counts - COALESCE(lag(counts) OVER (PARTITION BY finding_id ORDER BY day), 0)
          FROM returned_state
       ) d
 GROUP BY day
HAVING sum(risk) <> 0 OR sum(open) <> 0 OR sum(terminal) <> 0 OR sum(regressions) <> 0
    OR sum(verifications) <> 0 OR sum(passed) <> 0 OR sum(returned) <> 0";

/// Replaces the project's totals with a recomputation, in the caller's transaction.
///
/// Takes `SHARE ROW EXCLUSIVE` on the totals table first: it waits for writers that have already
/// added a delta to commit (their history is then visible to the recomputation) and holds off
/// the others until this transaction ends (they add their delta to the recomputed rows then).
pub(crate) async fn rebuild_in(
    conn: &mut AsyncPgConnection,
    project: ProjectId,
) -> QueryResult<()> {
    let terminal: Vec<i16> = FindingStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.code())
        .collect();
    conn.batch_execute(
        "LOCK TABLE project_daily_totals IN SHARE ROW EXCLUSIVE MODE; \
         SET LOCAL work_mem = '64MB';",
    )
    .await?;
    diesel::delete(
        project_daily_totals::table.filter(project_daily_totals::project_id.eq(project.as_uuid())),
    )
    .execute(conn)
    .await?;
    diesel::sql_query(REBUILD_SQL)
        .bind::<SqlUuid, _>(project.as_uuid())
        .bind::<Array<SmallInt>, _>(terminal)
        .bind::<SmallInt, _>(VerificationResult::Passed.code())
        .execute(conn)
        .await?;
    Ok(())
}

impl PgStore {
    /// Recomputes the project's daily totals from its findings' events, verifications and
    /// regressions (delete, then insert, in one transaction). Writers of every project wait
    /// while it runs.
    pub async fn rebuild_daily_totals(&self, project: ProjectId) -> Result<(), StorageError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        conn.transaction::<_, diesel::result::Error, _>(async move |conn| {
            rebuild_in(conn, project).await
        })
        .await
        .map_err(crate::store::storage_error)
    }

    /// The project's stored daily totals (per-day deltas), non-zero days only.
    pub async fn daily_totals(
        &self,
        project: ProjectId,
    ) -> Result<BTreeMap<NaiveDate, DayDelta>, StorageError> {
        let mut conn = self.conn().await?;
        let rows: Vec<DailyTotalRow> = project_daily_totals::table
            .filter(project_daily_totals::project_id.eq(project.as_uuid()))
            .select(DailyTotalRow::as_select())
            .load(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(rows
            .into_iter()
            .map(|row| (row.day, row.delta()))
            .filter(|(_, delta)| !delta.is_zero())
            .collect())
    }
}
