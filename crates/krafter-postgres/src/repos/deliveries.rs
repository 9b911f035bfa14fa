//! The delivery side of the job queue: each write is guarded by the job's lease token (as for
//! exports) and by the delivery's legal source states (the domain's `DeliveryStatus`).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::export::{JobQueueError, Report, ReportStatus};
use krafter_domain::share::{ClaimedDelivery, DeliveryQueue, DeliveryStatus};
use uuid::Uuid;

use crate::repos::jobs::{release, renew, JobState, Lease, Tx};
use crate::rows::{delivery_sources, DeliveryRow, ReportRow, ShareRow};
use crate::schema::{deliveries, jobs, reports, shares};
use crate::PgStore;

impl From<&ClaimedDelivery> for Lease {
    fn from(job: &ClaimedDelivery) -> Self {
        Lease {
            job: job.delivery.id.as_uuid(),
            token: job.lease_token,
        }
    }
}

/// The delivery job `id` just claimed, with its delivery, share and report as they are.
pub(crate) async fn claimed(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    attempt: u32,
    lease_token: Uuid,
) -> Result<ClaimedDelivery, Tx> {
    let delivery: DeliveryRow = deliveries::table
        .find(id)
        .select(DeliveryRow::as_select())
        .first(conn)
        .await?;
    let share: ShareRow = shares::table
        .find(delivery.share_id)
        .select(ShareRow::as_select())
        .first(conn)
        .await?;
    let report: ReportRow = reports::table
        .find(delivery.report_id)
        .select(ReportRow::as_select())
        .first(conn)
        .await?;
    Ok(ClaimedDelivery {
        delivery: delivery.try_into()?,
        share: share.try_into()?,
        report: Report::try_from(report)?,
        attempt,
        lease_token,
    })
}

/// Ends job `id` and fails its delivery, whose stored row could not be read.
pub(crate) async fn fail_unreadable(conn: &mut AsyncPgConnection, id: Uuid) -> Result<(), Tx> {
    use jobs as j;
    diesel::update(j::table.find(id))
        .set((
            j::state.eq(JobState::Done as i16),
            j::lease_token.eq(None::<Uuid>),
            j::lease_expires_at.eq(None::<DateTime<Utc>>),
            j::leased_by.eq(None::<String>),
            j::last_error.eq("the stored delivery could not be read"),
        ))
        .execute(conn)
        .await?;
    diesel::update(deliveries::table.find(id))
        .filter(deliveries::status.ne(DeliveryStatus::Delivered.code()))
        .set((
            deliveries::status.eq(DeliveryStatus::Failed.code()),
            deliveries::last_error.eq("the stored delivery could not be read"),
            deliveries::updated_at.eq(sql::<Timestamptz>("now()")),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

/// Moves the delivery to `target` if the domain allows it from where it is; `LeaseLost`
/// otherwise (someone else moved it).
async fn move_delivery(
    conn: &mut AsyncPgConnection,
    id: Uuid,
    target: DeliveryStatus,
    last_error: Option<&str>,
) -> Result<(), Tx> {
    use deliveries as d;
    let now = sql::<Timestamptz>("now()");
    let delivered_at = if target == DeliveryStatus::Delivered {
        sql::<diesel::sql_types::Nullable<Timestamptz>>("now()")
    } else {
        sql::<diesel::sql_types::Nullable<Timestamptz>>("NULL")
    };
    let counted = i32::from(target == DeliveryStatus::Sending);
    let moved = diesel::update(d::table.find(id))
        .filter(d::status.eq_any(delivery_sources(target)))
        .set((
            d::status.eq(target.code()),
            d::attempts.eq(d::attempts + counted),
            d::last_error.eq(last_error),
            d::updated_at.eq(now),
            d::delivered_at.eq(delivered_at),
        ))
        .execute(conn)
        .await?;
    if moved == 0 {
        return Err(Tx::Answer(JobQueueError::LeaseLost));
    }
    Ok(())
}

/// Fails unless `lease` still holds the job, unexpired; the job row stays locked until the
/// transaction ends, so that no claimer can take it over meanwhile.
async fn hold(conn: &mut AsyncPgConnection, lease: Lease) -> Result<(), Tx> {
    use jobs as j;
    let held: Option<Uuid> = j::table
        .filter(j::id.eq(lease.job))
        .filter(j::lease_token.eq(lease.token))
        .filter(j::state.eq(JobState::Running as i16))
        .filter(j::lease_expires_at.gt(sql::<Timestamptz>("now()").nullable()))
        .select(j::id)
        .for_update()
        .first(conn)
        .await
        .optional()?;
    held.map(|_| ()).ok_or(Tx::Answer(JobQueueError::LeaseLost))
}

#[async_trait]
impl DeliveryQueue for PgStore {
    async fn begin_send(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let id = job.delivery.id.as_uuid();
        conn.transaction::<_, Tx, _>(async |conn| {
            hold(conn, job.into()).await?;
            move_delivery(
                conn,
                id,
                DeliveryStatus::Sending,
                job.delivery.last_error.as_deref(),
            )
            .await
        })
        .await?;
        Ok(())
    }

    async fn delivered(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let id = job.delivery.id.as_uuid();
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Done, None, None).await?;
            move_delivery(conn, id, DeliveryStatus::Delivered, None).await
        })
        .await?;
        Ok(())
    }

    async fn retry(
        &self,
        job: &ClaimedDelivery,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let id = job.delivery.id.as_uuid();
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Queued, Some(at), Some(reason)).await?;
            move_delivery(conn, id, DeliveryStatus::Pending, Some(reason)).await
        })
        .await?;
        Ok(())
    }

    async fn fail(&self, job: &ClaimedDelivery, reason: &str) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let id = job.delivery.id.as_uuid();
        conn.transaction::<_, Tx, _>(async |conn| {
            release(conn, job, JobState::Done, None, Some(reason)).await?;
            move_delivery(conn, id, DeliveryStatus::Failed, Some(reason)).await
        })
        .await?;
        Ok(())
    }

    async fn defer(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError> {
        use jobs as j;
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let report = job.report.id.as_uuid();
        conn.transaction::<_, Tx, _>(async |conn| {
            // Locked against the export's last write, which wakes waiting deliveries: if it
            // came first, the job is due now rather than waiting for a wake-up already past.
            let status: i16 = reports::table
                .find(report)
                .select(reports::status)
                .for_share()
                .first(conn)
                .await?;
            let waiting = matches!(
                ReportStatus::from_code(status),
                Some(ReportStatus::Queued | ReportStatus::Exporting)
            );
            let run_at = if waiting {
                sql::<Timestamptz>("'infinity'::timestamptz")
            } else {
                sql::<Timestamptz>("now()")
            };
            let released = diesel::update(j::table.find(job.delivery.id.as_uuid()))
                .filter(j::lease_token.eq(job.lease_token))
                .filter(j::state.eq(JobState::Running as i16))
                .set((
                    j::state.eq(JobState::Queued as i16),
                    j::run_at.eq(run_at),
                    // A wait for the export is not an attempt.
                    j::attempts.eq(j::attempts - 1),
                    j::lease_token.eq(None::<Uuid>),
                    j::lease_expires_at.eq(None::<DateTime<Utc>>),
                    j::leased_by.eq(None::<String>),
                ))
                .execute(conn)
                .await?;
            if released == 0 {
                return Err(Tx::Answer(JobQueueError::LeaseLost));
            }
            Ok(())
        })
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, job: &ClaimedDelivery, lease: Duration) -> Result<(), JobQueueError> {
        let mut conn = self.conn().await?;
        renew(&mut conn, job.into(), lease).await
    }
}
