//! The job queue, in `jobs`: one row per export (its id is the report's) and one per delivery
//! (its id is the delivery's).
//!
//! - `claim` takes the oldest due job of either kind with `FOR UPDATE SKIP LOCKED`, so
//!   concurrent claimers never wait for each other nor get the same job, and gives it a fresh
//!   lease token. A delivery job waiting for its report's export has `run_at = 'infinity'`
//!   until the export ends (`complete` or `fail` make it due in the same transaction).
//! - Every later write by the worker (`heartbeat`, `complete`, `retry`, `fail`) is guarded by
//!   `report_id = $ AND lease_token = $ AND state = running`; when that matches no row, the lease
//!   was lost and the transaction writes nothing.
//! - Report status changes are guarded by the domain's `ReportStatus::sources_of`, so that no
//!   write can move a report backwards.
//! - `enqueue` notifies `krafter_export_jobs` (payload: the schema the store works in); `wait`
//!   listens on a connection of its own, outside the pool.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::expression::SqlLiteral;
use diesel::pg::data_types::PgInterval;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Nullable, Text, Timestamptz};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use futures::{FutureExt, StreamExt};
use krafter_domain::export::{
    Artefact, Claimed, ClaimedJob, JobQueue, JobQueueError, JobStatus, QueueDepth, Report,
    ReportStatus,
};
use krafter_domain::storage::StorageError;
use tokio::sync::{watch, Mutex};
use uuid::Uuid;

use crate::rows::{report_sources, ReportRow};
use crate::schema::{jobs, quota_usage, reports};
use crate::tx::TxError;
use crate::PgStore;

/// The channel `enqueue` notifies and `wait` listens on.
pub(crate) const JOBS_CHANNEL: &str = "krafter_export_jobs";

/// A job's state, as stored (stable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub(crate) enum JobState {
    Queued = 0,
    Running = 1,
    Done = 2,
}

/// What a job is for, as stored (stable codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(i16)]
pub(crate) enum JobKind {
    Export = 0,
    Delivery = 1,
}

impl JobKind {
    fn from_code(code: i16) -> Option<krafter_domain::export::JobKind> {
        use krafter_domain::export::JobKind as Kind;
        match code {
            c if c == JobKind::Export as i16 => Some(Kind::Export),
            c if c == JobKind::Delivery as i16 => Some(Kind::Delivery),
            _ => None,
        }
    }
}

/// The longest a `depth` query (run at each metrics scrape) may take.
const DEPTH_TIMEOUT: &str = "1s";

/// Wakes the workers listening on this schema's jobs, when the caller's transaction commits.
pub(crate) async fn notify_workers(conn: &mut AsyncPgConnection) -> QueryResult<()> {
    diesel::sql_query(format!(
        "SELECT pg_notify('{JOBS_CHANNEL}', coalesce(current_schema(), ''))"
    ))
    .execute(conn)
    .await?;
    Ok(())
}

/// The server's `now()`: the start of the current transaction. Leases and due times are
/// compared on the server's clock only.
fn db_now() -> SqlLiteral<Timestamptz> {
    sql::<Timestamptz>("now()")
}

fn interval(d: Duration) -> Result<PgInterval, StorageError> {
    i64::try_from(d.as_micros())
        .map(PgInterval::from_microseconds)
        .map_err(|_| crate::store::storage_error("lease too long"))
}

/// Why a queue transaction stopped: a lost lease is the port's answer.
pub(crate) type Tx = TxError<JobQueueError>;

/// A claimed job's row and the token that proves its lease.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lease {
    pub job: Uuid,
    pub token: Uuid,
}

impl From<&ClaimedJob> for Lease {
    fn from(job: &ClaimedJob) -> Self {
        Lease {
            job: job.report.id.as_uuid(),
            token: job.lease_token,
        }
    }
}

/// Ends the job's lease, leaving the job in `state` (`Queued` to run again at `run_at`, or
/// `Done`) with `last_error`; `LeaseLost` unless `lease` still holds.
pub(crate) async fn release(
    conn: &mut AsyncPgConnection,
    lease: impl Into<Lease>,
    state: JobState,
    run_at: Option<DateTime<Utc>>,
    last_error: Option<&str>,
) -> Result<(), Tx> {
    use jobs as j;
    let lease = lease.into();
    // `run_at` stays as it is unless a new time is given.
    let run_at = sql::<Timestamptz>("coalesce(")
        .bind::<Nullable<Timestamptz>, _>(run_at)
        .sql(", run_at)");
    let released = diesel::update(j::table.find(lease.job))
        .filter(j::lease_token.eq(lease.token))
        .filter(j::state.eq(JobState::Running as i16))
        .set((
            j::state.eq(state as i16),
            j::run_at.eq(run_at),
            j::lease_token.eq(None::<Uuid>),
            j::lease_expires_at.eq(None::<DateTime<Utc>>),
            j::leased_by.eq(None::<String>),
            j::last_error.eq(last_error),
        ))
        .execute(conn)
        .await?;
    if released == 0 {
        return Err(Tx::Answer(JobQueueError::LeaseLost));
    }
    Ok(())
}

/// Keeps what went wrong in a failed attempt, in full, on the report (for operators; never served).
async fn keep_detail(conn: &mut AsyncPgConnection, report: Uuid, detail: &str) -> Result<(), Tx> {
    diesel::update(reports::table.find(report))
        .set(reports::error_detail.eq(detail))
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the report to `target` if the domain allows it from its current status, answering the
/// updated row; `None` when it does not (nothing is written then).
async fn move_report(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    target: ReportStatus,
    error: Option<&str>,
    artefact: Option<&Artefact>,
) -> Result<Option<ReportRow>, Tx> {
    use reports as r;
    let exported = target == ReportStatus::Exported;
    let size = artefact
        .map(|a| i64::try_from(a.size_bytes))
        .transpose()
        .map_err(crate::store::storage_error)?;
    // A report shared while its export ran is `shared` once exported.
    let shared_code = if exported {
        ReportStatus::Shared.code()
    } else {
        target.code()
    };
    let status = sql::<diesel::sql_types::SmallInt>("CASE WHEN shared_at IS NULL THEN ")
        .bind::<diesel::sql_types::SmallInt, _>(target.code())
        .sql(" ELSE ")
        .bind::<diesel::sql_types::SmallInt, _>(shared_code)
        .sql(" END");
    let row = diesel::update(r::table.find(id))
        .filter(r::status.eq_any(report_sources(target)))
        .set((
            r::status.eq(status),
            r::error.eq(error),
            r::artefact_key.eq(artefact.map(|a| a.key.as_str())),
            r::artefact_size.eq(size),
            r::artefact_sha256.eq(artefact.and_then(|a| a.sha256.as_deref())),
            r::exported_at.eq(if exported {
                sql::<Nullable<Timestamptz>>("now()")
            } else {
                sql::<Nullable<Timestamptz>>("exported_at")
            }),
            r::updated_at.eq(db_now()),
        ))
        .returning(ReportRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    Ok(row)
}

/// Makes the delivery jobs waiting for `report`'s export due now.
async fn wake_deliveries(conn: &mut AsyncPgConnection, report: Uuid) -> QueryResult<usize> {
    use jobs as j;
    diesel::update(j::table)
        .filter(j::report_id.eq(report))
        .filter(j::kind.eq(JobKind::Delivery as i16))
        .filter(j::state.eq(JobState::Queued as i16))
        .set(j::run_at.eq(db_now()))
        .execute(conn)
        .await
}

/// Claims the oldest due job, if any, in the caller's transaction.
async fn claim_in(
    conn: &mut AsyncPgConnection,
    worker: &str,
    lease: PgInterval,
) -> Result<Option<Claimed>, Tx> {
    use jobs as j;
    loop {
        let due: Option<(Uuid, i16)> = j::table
            .filter(j::state.ne(JobState::Done as i16))
            .filter(
                j::state
                    .eq(JobState::Queued as i16)
                    .and(j::run_at.le(db_now()))
                    .or(j::state
                        .eq(JobState::Running as i16)
                        .and(j::lease_expires_at.lt(db_now().nullable()))),
            )
            .order((j::run_at.asc(), j::id.asc()))
            .select((j::id, j::kind))
            .limit(1)
            .for_update()
            .skip_locked()
            .first(conn)
            .await
            .optional()?;
        let Some((id, kind)) = due else {
            return Ok(None);
        };
        if kind == JobKind::Delivery as i16 {
            let (token, attempt) = take_lease(conn, id, worker, lease).await?;
            match crate::repos::deliveries::claimed(conn, id, attempt, token).await {
                Ok(claimed) => return Ok(Some(Claimed::Delivery(claimed))),
                // A row no version of us could read must not block the queue: it is ended,
                // visibly, and the claim goes on to the next job.
                Err(TxError::Storage(error)) => {
                    tracing::error!(delivery = %id, %error, "unreadable delivery; failed without sending");
                    crate::repos::deliveries::fail_unreadable(conn, id).await?;
                    continue;
                }
                Err(other) => return Err(other),
            }
        }
        let Some(report) = move_report(conn, id, ReportStatus::Exporting, None, None).await? else {
            // The report is already final: its job has nothing left to do.
            diesel::update(j::table.find(id))
                .set((
                    j::state.eq(JobState::Done as i16),
                    j::lease_token.eq(None::<Uuid>),
                    j::lease_expires_at.eq(None::<DateTime<Utc>>),
                    j::leased_by.eq(None::<String>),
                ))
                .execute(conn)
                .await?;
            continue;
        };
        let (token, attempt) = take_lease(conn, id, worker, lease).await?;
        return Ok(Some(Claimed::Export(ClaimedJob {
            report: Report::try_from(report)?,
            attempt,
            lease_token: token,
        })));
    }
}

/// Counts the attempt and gives job `id` a fresh lease; answers the token and the attempt.
async fn take_lease(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    worker: &str,
    lease: PgInterval,
) -> Result<(Uuid, u32), Tx> {
    use jobs as j;
    let token = Uuid::new_v4();
    let attempts: i32 = diesel::update(j::table.find(id))
        .set((
            j::state.eq(JobState::Running as i16),
            j::attempts.eq(j::attempts + 1),
            j::lease_token.eq(token),
            j::lease_expires_at.eq((db_now() + lease).nullable()),
            j::leased_by.eq(worker),
        ))
        .returning(j::attempts)
        .get_result(conn)
        .await?;
    let attempt = u32::try_from(attempts)
        .map_err(|_| crate::store::storage_error("unexpected stored value: attempts"))?;
    Ok((token, attempt))
}

/// Extends the lease, if it still holds.
pub(crate) async fn renew(
    conn: &mut AsyncPgConnection,
    lease: Lease,
    duration: Duration,
) -> Result<(), JobQueueError> {
    use jobs as j;
    let duration = interval(duration)?;
    let renewed = diesel::update(j::table.find(lease.job))
        .filter(j::lease_token.eq(lease.token))
        .filter(j::state.eq(JobState::Running as i16))
        .set(j::lease_expires_at.eq((db_now() + duration).nullable()))
        .execute(conn)
        .await
        .map_err(crate::store::storage_error)?;
    if renewed == 0 {
        return Err(JobQueueError::LeaseLost);
    }
    Ok(())
}

/// The connection `wait` listens on, and who is told when it hears something.
pub(crate) struct Listener {
    /// `None` until the first `wait`, and again after the connection broke.
    listening: Mutex<Option<Listening>>,
    /// Bumped whenever the listening waiter hears a notification, so that the waiters queued
    /// behind it return too.
    heard: watch::Sender<u64>,
}

impl Default for Listener {
    fn default() -> Self {
        Self {
            listening: Mutex::new(None),
            heard: watch::channel(0).0,
        }
    }
}

struct Listening {
    conn: AsyncPgConnection,
    /// Notifications from stores working in other schemas are ignored.
    schema: String,
}

#[derive(QueryableByName)]
struct Schema {
    #[diesel(sql_type = Text)]
    schema: String,
}

impl PgStore {
    async fn start_listening(&self) -> Result<Listening, StorageError> {
        let mut conn = AsyncPgConnection::establish(self.database_url())
            .await
            .map_err(crate::store::storage_error)?;
        diesel::sql_query(format!("LISTEN {JOBS_CHANNEL}"))
            .execute(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        let Schema { schema } =
            diesel::sql_query("SELECT coalesce(current_schema(), '') AS schema")
                .get_result(&mut conn)
                .await
                .map_err(crate::store::storage_error)?;
        Ok(Listening { conn, schema })
    }

    /// Holds the listening connection until it hears a notification for this schema. Returns
    /// at once when it had to (re)connect first: a job may have become due while nobody
    /// listened, so the caller must look again.
    async fn listen(&self) -> Result<(), StorageError> {
        let mut guard = self.listener.listening.lock().await;
        let Some(listening) = guard.as_mut() else {
            *guard = Some(self.start_listening().await?);
            return Ok(());
        };
        let broken = {
            let schema = listening.schema.as_str();
            let mut stream = std::pin::pin!(listening.conn.notifications_stream());
            let mut broken = loop {
                match stream.next().await {
                    Some(Ok(n)) if n.payload == schema => break false,
                    Some(Ok(_)) => continue,
                    Some(Err(_)) | None => break true,
                }
            };
            // Whatever else was heard by now is older than the claim the caller makes next.
            while !broken {
                match stream.next().now_or_never() {
                    Some(Some(Ok(_))) => continue,
                    Some(Some(Err(_)) | None) => broken = true,
                    None => break,
                }
            }
            broken
        };
        if broken {
            // Connect again on the next call, and let the caller look for work meanwhile.
            *guard = None;
        }
        drop(guard);
        self.listener.heard.send_modify(|n| *n = n.wrapping_add(1));
        Ok(())
    }
}

#[async_trait]
impl JobQueue for PgStore {
    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>, JobQueueError> {
        let lease = interval(lease)?;
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let claimed = conn
            .transaction::<_, Tx, _>(async |conn| claim_in(conn, worker, lease).await)
            .await?;
        Ok(claimed)
    }

    async fn heartbeat(&self, job: &ClaimedJob, lease: Duration) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        renew(&mut conn, job.into(), lease).await
    }

    async fn complete(&self, job: &ClaimedJob, artefact: &Artefact) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Done, None, None).await?;
            let id = job.report.id.as_uuid();
            move_report(conn, id, ReportStatus::Exported, None, Some(artefact))
                .await?
                .ok_or(Tx::Answer(JobQueueError::LeaseLost))?;
            wake_deliveries(conn, id).await?;
            notify_workers(conn).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn retry(
        &self,
        job: &ClaimedJob,
        reason: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Queued, Some(at), Some(reason)).await?;
            let id = job.report.id.as_uuid();
            move_report(conn, id, ReportStatus::Queued, None, None)
                .await?
                .ok_or(Tx::Answer(JobQueueError::LeaseLost))?;
            keep_detail(conn, id, detail).await?;
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn fail(
        &self,
        job: &ClaimedJob,
        reason: &str,
        detail: &str,
    ) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Done, None, Some(reason)).await?;
            let id = job.report.id.as_uuid();
            move_report(conn, id, ReportStatus::Failed, Some(reason), None)
                .await?
                .ok_or(Tx::Answer(JobQueueError::LeaseLost))?;
            keep_detail(conn, id, detail).await?;
            // The deliveries waiting for it fail now, saying why.
            if wake_deliveries(conn, id).await? > 0 {
                notify_workers(conn).await?;
            }
            // Give the unit back, once: only the update that flips the flag refunds.
            let refund: Option<(Uuid, chrono::NaiveDate)> = diesel::update(reports::table.find(id))
                .filter(reports::quota_refunded.eq(false))
                .filter(reports::charged.eq(true))
                .set(reports::quota_refunded.eq(true))
                .returning((reports::org_id, reports::quota_month))
                .get_result(conn)
                .await
                .optional()?;
            if let Some((org, month)) = refund {
                diesel::update(quota_usage::table.find((org, month)))
                    .filter(quota_usage::used.gt(0))
                    .set(quota_usage::used.eq(quota_usage::used - 1))
                    .execute(conn)
                    .await?;
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn wait(&self, timeout: Duration) -> Result<(), JobQueueError> {
        // Subscribed before queueing for the listener, so that nothing heard meanwhile is missed.
        let mut heard = self.listener.heard.subscribe();
        let waited = tokio::time::timeout(timeout, async {
            tokio::select! {
                _ = heard.changed() => Ok(()),
                listened = self.listen() => listened,
            }
        })
        .await;
        match waited {
            Err(_elapsed) => Ok(()),
            Ok(result) => Ok(result?),
        }
    }

    async fn outstanding(&self) -> Result<u64, JobQueueError> {
        let mut conn = self.conn().await?;
        let n: i64 = jobs::table
            .filter(jobs::state.ne(JobState::Done as i16))
            .count()
            .get_result(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn hand_back(&self, worker: &str) -> Result<u64, JobQueueError> {
        let mut conn = self.conn().await?;
        // Expired a microsecond ago: `claim` takes running jobs whose lease is in the past.
        let handed = diesel::update(jobs::table)
            .filter(jobs::state.eq(JobState::Running as i16))
            .filter(jobs::leased_by.eq(worker))
            .filter(jobs::lease_expires_at.gt(db_now().nullable()))
            .set(jobs::lease_expires_at.eq(sql::<Nullable<Timestamptz>>(
                "now() - interval '1 microsecond'",
            )))
            .execute(&mut conn)
            .await
            .map_err(crate::store::storage_error)?;
        if handed > 0 {
            // Idle workers wait for a notification or their poll interval: wake them.
            notify_workers(&mut conn)
                .await
                .map_err(crate::store::storage_error)?;
        }
        Ok(u64::try_from(handed).unwrap_or(0))
    }

    async fn depth(&self) -> Result<Vec<QueueDepth>, JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        // Unfinished jobs only (the ones `jobs_due_idx` holds): at most a row per kind and state.
        let rows: Vec<(i16, i16, i64)> = conn
            .transaction::<_, DieselError, _>(async |conn| {
                diesel::sql_query(format!("SET LOCAL statement_timeout = '{DEPTH_TIMEOUT}'"))
                    .execute(conn)
                    .await?;
                jobs::table
                    .filter(jobs::state.ne(JobState::Done as i16))
                    .group_by((jobs::kind, jobs::state))
                    .select((jobs::kind, jobs::state, diesel::dsl::count_star()))
                    .load(conn)
                    .await
            })
            .await
            .map_err(crate::store::storage_error)?;
        rows.into_iter()
            .map(|(kind, state, jobs)| {
                let status = match state {
                    s if s == JobState::Queued as i16 => Some(JobStatus::Queued),
                    s if s == JobState::Running as i16 => Some(JobStatus::Running),
                    _ => None,
                };
                match (JobKind::from_code(kind), status) {
                    (Some(kind), Some(status)) => Ok(QueueDepth {
                        kind,
                        status,
                        jobs: u64::try_from(jobs).unwrap_or(0),
                    }),
                    _ => Err(JobQueueError::Storage(crate::store::storage_error(
                        format!("unexpected stored job kind {kind} or state {state}"),
                    ))),
                }
            })
            .collect()
    }
}
