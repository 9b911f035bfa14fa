//! Shares and their deliveries. `create` is one transaction: pick and lock the report (or make
//! the placeholder), store the share, its deliveries and their jobs, mark the report shared.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use diesel::dsl::sql;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::Timestamptz;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::export::{QuotaMonth, Report, ReportId, ReportStatus};
use krafter_domain::ids::ProjectId;
use krafter_domain::share::{
    Delivery, NewShare, Share, ShareId, ShareRepoError, ShareRepository, SharedReport,
};
use uuid::Uuid;

use crate::repos::exports::insert_export_job;
use crate::repos::jobs::{notify_workers, JobKind, JobState};
use crate::rows::{DeliveryRow, ReportRow, ShareRow};
use crate::schema::{deliveries, jobs, projects, reports, shares};
use crate::tx::TxError;
use crate::PgStore;

/// Why a share transaction stopped; `Answer` is the port's own answer.
type Tx = TxError<ShareRepoError>;

fn storage(e: DieselError) -> ShareRepoError {
    ShareRepoError::Storage(crate::store::storage_error(e))
}

/// The report to share, locked until the transaction ends.
async fn pick_report(
    conn: &mut AsyncPgConnection,
    project: Uuid,
    new: &NewShare,
) -> Result<ReportRow, Tx> {
    use reports as r;
    if let Some(id) = new.report {
        return r::table
            .filter(r::id.eq(id.as_uuid()))
            .filter(r::project_id.eq(project))
            .select(ReportRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(Tx::Answer(ShareRepoError::ReportNotFound));
    }
    // Concurrent shares of a project without reports make one placeholder, not two; a key-share
    // lock does not block the writes that merely reference the project.
    projects::table
        .find(project)
        .select(projects::id)
        .for_no_key_update()
        .first::<Uuid>(conn)
        .await?;
    let latest: Option<ReportRow> = r::table
        .filter(r::project_id.eq(project))
        .order((r::created_at.desc(), r::id.desc()))
        .select(ReportRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()?;
    if let Some(latest) = latest {
        return Ok(latest);
    }
    let placeholder = new.placeholder.as_ref().ok_or_else(|| {
        crate::store::storage_error("a share of the latest report comes with a placeholder")
    })?;
    let row = ReportRow::new(placeholder, QuotaMonth::of(placeholder.created_at))?;
    let stored: ReportRow = diesel::insert_into(r::table)
        .values((&row, r::charged.eq(false)))
        .returning(ReportRow::as_returning())
        .get_result(conn)
        .await?;
    insert_export_job(conn, stored.id).await?;
    Ok(stored)
}

async fn create_in(
    conn: &mut AsyncPgConnection,
    project: Uuid,
    new: &NewShare,
) -> Result<SharedReport, Tx> {
    use reports as r;
    let report = pick_report(conn, project, new).await?;
    let status = ReportStatus::from_code(report.status)
        .ok_or_else(|| crate::store::storage_error("unexpected stored value: report status"))?;
    let now = new.share.created_at;
    let exported = match status {
        ReportStatus::Failed => return Err(Tx::Answer(ShareRepoError::ReportFailed)),
        ReportStatus::Exported | ReportStatus::Shared => true,
        ReportStatus::Queued | ReportStatus::Exporting => false,
    };
    // An exported report becomes `shared` now; one still exporting when its export ends.
    let target = if exported {
        ReportStatus::Shared
    } else {
        status
    };
    let updated: Option<ReportRow> = diesel::update(r::table.find(report.id))
        .filter(r::status.eq(report.status))
        .set((
            r::status.eq(target.code()),
            r::shared_at.eq(now),
            r::updated_at.eq(now),
        ))
        .returning(ReportRow::as_returning())
        .get_result(conn)
        .await
        .optional()?;
    let report = Report::try_from(updated.ok_or(Tx::Answer(ShareRepoError::ReportNotUpdated))?)?;

    let mut share = new.share.clone();
    share.report_id = report.id;
    let stored: ShareRow = diesel::insert_into(shares::table)
        .values(ShareRow::from(&share))
        .returning(ShareRow::as_returning())
        .get_result(conn)
        .await?;
    for delivery in &new.deliveries {
        let delivery = Delivery {
            report_id: report.id,
            share_id: share.id,
            ..delivery.clone()
        };
        diesel::insert_into(deliveries::table)
            .values(DeliveryRow::from(&delivery))
            .execute(conn)
            .await?;
        // Due now when there is something to send; otherwise when the export ends.
        let run_at = if exported {
            sql::<Timestamptz>("now()")
        } else {
            sql::<Timestamptz>("'infinity'::timestamptz")
        };
        diesel::insert_into(jobs::table)
            .values((
                jobs::id.eq(delivery.id.as_uuid()),
                jobs::kind.eq(JobKind::Delivery as i16),
                jobs::report_id.eq(report.id.as_uuid()),
                jobs::state.eq(JobState::Queued as i16),
                jobs::attempts.eq(0),
                jobs::run_at.eq(run_at),
            ))
            .execute(conn)
            .await?;
    }
    notify_workers(conn).await?;
    Ok(SharedReport {
        report,
        share: stored.try_into()?,
    })
}

#[async_trait]
impl ShareRepository for PgStore {
    async fn create(
        &self,
        project: ProjectId,
        new: &NewShare,
    ) -> Result<SharedReport, ShareRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let project = project.as_uuid();
        Ok(conn
            .transaction::<_, Tx, _>(async |conn| create_in(conn, project, new).await)
            .await?)
    }

    async fn find(&self, id: ShareId) -> Result<Option<Share>, ShareRepoError> {
        let mut conn = self.conn().await?;
        let row = shares::table
            .find(id.as_uuid())
            .select(ShareRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(storage)?;
        Ok(row.map(Share::try_from).transpose()?)
    }

    async fn record_view(&self, id: ShareId, at: DateTime<Utc>) -> Result<(), ShareRepoError> {
        let mut conn = self.conn().await?;
        diesel::update(shares::table.find(id.as_uuid()))
            .set((
                shares::view_count.eq(shares::view_count + 1),
                shares::last_viewed_at.eq(at),
            ))
            .execute(&mut conn)
            .await
            .map_err(storage)?;
        Ok(())
    }

    async fn list_shares(
        &self,
        project: ProjectId,
        report: ReportId,
    ) -> Result<Vec<Share>, ShareRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<ShareRow> = shares::table
            .filter(shares::report_id.eq(report.as_uuid()))
            .filter(shares::project_id.eq(project.as_uuid()))
            .order((shares::created_at.asc(), shares::id.asc()))
            .select(ShareRow::as_select())
            .load(&mut conn)
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(Share::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn list_deliveries(
        &self,
        project: ProjectId,
        report: ReportId,
    ) -> Result<Vec<Delivery>, ShareRepoError> {
        let mut conn = self.conn().await?;
        let rows: Vec<DeliveryRow> = deliveries::table
            .inner_join(shares::table)
            .filter(deliveries::report_id.eq(report.as_uuid()))
            .filter(shares::project_id.eq(project.as_uuid()))
            .order((deliveries::created_at.asc(), deliveries::id.asc()))
            .select(DeliveryRow::as_select())
            .load(&mut conn)
            .await
            .map_err(storage)?;
        Ok(rows
            .into_iter()
            .map(Delivery::try_from)
            .collect::<Result<_, _>>()?)
    }

    async fn revoke(
        &self,
        project: ProjectId,
        id: ShareId,
        at: DateTime<Utc>,
    ) -> Result<Share, ShareRepoError> {
        let mut conn = self.conn().await?;
        let row: Option<ShareRow> =
            diesel::update(shares::table.find(id.as_uuid()))
                .filter(shares::project_id.eq(project.as_uuid()))
                .set(
                    shares::revoked_at.eq(diesel::dsl::sql::<
                        diesel::sql_types::Nullable<Timestamptz>,
                    >("coalesce(revoked_at, ")
                    .bind::<Timestamptz, _>(at)
                    .sql(")")),
                )
                .returning(ShareRow::as_returning())
                .get_result(&mut conn)
                .await
                .optional()
                .map_err(storage)?;
        row.ok_or(ShareRepoError::ShareNotFound)?
            .try_into()
            .map_err(ShareRepoError::Storage)
    }
}
