//! What reports are rendered from: the names, and the findings open at the end of a day,
//! streamed through a server-side cursor so that only one batch is ever in memory.
//!
//! `open_findings` begins a read-only transaction on a pooled connection, declares a `NO SCROLL`
//! cursor over the findings in report order (priority descending, then id), and hands the
//! connection to the batches object, which `FETCH`es one batch per call. After the last batch it
//! commits, and the connection goes back to the pool clean; a batches object dropped before
//! that (or after an error) takes its connection out of the pool and closes it, so that the
//! server rolls the transaction back and the pool never sees it.

use async_trait::async_trait;
use chrono::{NaiveDate, NaiveTime, Utc};
use diesel::prelude::*;
use diesel::sql_types::{Array, SmallInt, Timestamptz, Uuid as SqlUuid};
use diesel_async::pooled_connection::deadpool::Object;
use diesel_async::{AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, TransactionManager};
use krafter_domain::export::{FindingBatches, ReportFinding, ReportSource, ReportSourceError};
use krafter_domain::ids::ProjectId;
use krafter_domain::ledger::FindingStatus;

use crate::rows::ReportFindingRow;
use crate::schema::{organisations, projects};
use crate::PgStore;

const CURSOR: &str = "krafter_report_findings";

/// The findings open now, as they are now. `$1` project, `$2` the open status codes.
const OPEN_NOW_SQL: &str = "\
SELECT id, title, severity, status, priority_score, created_at, updated_at, due_on,
       source, external_id, rule_id, location, description
  FROM findings
 WHERE project_id = $1
   AND status = ANY($2)
 ORDER BY priority_score DESC, id";

/// The findings open just before `$2` (the midnight that ends the day), as they were then: a
/// finding that has not changed since is its current row; any other takes the state of its
/// latest event before `$2` (none for a finding created later). `$1` project, `$3` the open
/// status codes.
const OPEN_AT_SQL: &str = "\
SELECT f.id, f.title, f.severity, s.status, s.priority_score, f.created_at, s.updated_at, f.due_on,
       f.source, f.external_id, f.rule_id, f.location, f.description
  FROM findings f
 CROSS JOIN LATERAL (
        SELECT f.status, f.priority_score, f.updated_at
         WHERE f.updated_at < $2
        UNION ALL
        (SELECT e.status, e.priority_score, e.occurred_at
           FROM finding_events e
          WHERE f.updated_at >= $2
            AND e.finding_id = f.id
            AND e.occurred_at < $2
          ORDER BY e.occurred_at DESC, e.seq DESC
          LIMIT 1)
       ) AS s (status, priority_score, updated_at)
 WHERE f.project_id = $1
   AND f.created_at < $2
   AND s.status = ANY($3)
 ORDER BY s.priority_score DESC, f.id";

fn open_codes() -> Vec<i16> {
    FindingStatus::ALL
        .iter()
        .filter(|s| !s.is_terminal())
        .map(|s| s.code())
        .collect()
}

fn storage(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ReportSourceError {
    ReportSourceError::Storage(crate::store::storage_error(e))
}

/// Takes the connection out of the pool and closes it: the server rolls its transaction back.
fn discard(conn: Object<AsyncPgConnection>) {
    drop(Object::take(conn));
}

#[async_trait]
impl ReportSource for PgStore {
    async fn names(
        &self,
        project: ProjectId,
    ) -> Result<(String, String, String), ReportSourceError> {
        let mut conn = self.conn().await?;
        projects::table
            .inner_join(organisations::table)
            .filter(projects::id.eq(project.as_uuid()))
            .select((organisations::name, projects::slug, projects::name))
            .first(&mut conn)
            .await
            .optional()
            .map_err(storage)?
            .ok_or(ReportSourceError::UnknownProject)
    }

    async fn open_findings(
        &self,
        project: ProjectId,
        as_of: NaiveDate,
        batch_size: usize,
    ) -> Result<Box<dyn FindingBatches>, ReportSourceError> {
        let batch_size = batch_size.max(1);
        // The end of `as_of`; none for the last day of the calendar (then nothing is later).
        let end = as_of
            .succ_opt()
            .map(|next| next.and_time(NaiveTime::MIN).and_utc());
        let mut conn = self.conn().await?;
        let declared = async {
            AnsiTransactionManager::begin_transaction_sql(
                &mut *conn,
                "BEGIN TRANSACTION READ ONLY",
            )
            .await?;
            let declare = format!("DECLARE {CURSOR} NO SCROLL CURSOR FOR ");
            match end {
                Some(end) if as_of < Utc::now().date_naive() => {
                    diesel::sql_query(declare + OPEN_AT_SQL)
                        .bind::<SqlUuid, _>(project.as_uuid())
                        .bind::<Timestamptz, _>(end)
                        .bind::<Array<SmallInt>, _>(open_codes())
                        .execute(&mut *conn)
                        .await
                }
                // Nothing changes after now (the ledger refuses times in the future), so at the
                // end of today or later the findings are as they are now: no event is read.
                _ => {
                    diesel::sql_query(declare + OPEN_NOW_SQL)
                        .bind::<SqlUuid, _>(project.as_uuid())
                        .bind::<Array<SmallInt>, _>(open_codes())
                        .execute(&mut *conn)
                        .await
                }
            }
        }
        .await;
        if let Err(e) = declared {
            discard(conn);
            return Err(storage(e));
        }
        Ok(Box::new(CursorBatches {
            cursor: Cursor::Open(Box::new(conn)),
            fetch: format!("FETCH FORWARD {batch_size} FROM {CURSOR}"),
            batch_size,
        }))
    }
}

enum Cursor {
    /// The connection, in the transaction that holds the cursor.
    Open(Box<Object<AsyncPgConnection>>),
    /// Every finding was given; the connection went back to the pool.
    Done,
    /// A fetch failed; the connection was closed.
    Failed,
}

struct CursorBatches {
    cursor: Cursor,
    fetch: String,
    batch_size: usize,
}

impl CursorBatches {
    async fn fetch(
        conn: &mut AsyncPgConnection,
        fetch: &str,
        batch_size: usize,
    ) -> Result<(Vec<ReportFinding>, bool), ReportSourceError> {
        let rows: Vec<ReportFindingRow> =
            diesel::sql_query(fetch).load(conn).await.map_err(storage)?;
        let last = rows.len() < batch_size;
        if last {
            <AnsiTransactionManager as TransactionManager<AsyncPgConnection>>::commit_transaction(
                conn,
            )
            .await
            .map_err(storage)?;
        }
        let findings = rows
            .into_iter()
            .map(ReportFinding::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        Ok((findings, last))
    }
}

#[async_trait]
impl FindingBatches for CursorBatches {
    async fn next_batch(&mut self) -> Result<Option<Vec<ReportFinding>>, ReportSourceError> {
        let conn = match &mut self.cursor {
            Cursor::Open(conn) => conn,
            Cursor::Done => return Ok(None),
            Cursor::Failed => return Err(storage("reading the findings failed earlier")),
        };
        match Self::fetch(conn, &self.fetch, self.batch_size).await {
            Ok((findings, last)) => {
                if last {
                    // Committed: the connection goes back to the pool.
                    self.cursor = Cursor::Done;
                }
                Ok((!findings.is_empty()).then_some(findings))
            }
            Err(e) => {
                if let Cursor::Open(conn) = std::mem::replace(&mut self.cursor, Cursor::Failed) {
                    discard(*conn);
                }
                Err(e)
            }
        }
    }
}

impl Drop for CursorBatches {
    fn drop(&mut self) {
        if let Cursor::Open(conn) = std::mem::replace(&mut self.cursor, Cursor::Done) {
            discard(*conn);
        }
    }
}
