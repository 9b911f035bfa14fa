//! Reports and the quota that pays for them.
//!
//! `enqueue` is one transaction: claim the idempotency key (insert, or lock the claim that holds
//! it), charge the unit with a guarded increment, store the report and its job, and notify the
//! workers (delivered on commit). Any refusal rolls all of it back.

use async_trait::async_trait;
use chrono::NaiveDate;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::upsert::excluded;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::export::{
    Enqueued, ExportRepoError, ExportRepository, NewExport, QuotaLimit, QuotaMonth, QuotaUsage,
    Report, ReportCursor, ReportId, ReportQuery,
};
use krafter_domain::ids::{OrgId, ProjectId};
use krafter_domain::page::Page;
use uuid::Uuid;

use crate::keyset::{page_of, resume_after};
use crate::repos::jobs::{notify_workers, JobKind, JobState};
use crate::rows::ReportRow;
use crate::schema::{idempotency_keys, jobs, organisations, quota_usage, reports};
use crate::tx::TxError;
use crate::PgStore;

/// Why an export transaction stopped: a spent quota, a reused key or an unknown organisation
/// are the port's answers.
type Tx = TxError<ExportRepoError>;

fn storage(e: DieselError) -> ExportRepoError {
    ExportRepoError::Storage(crate::store::storage_error(e))
}

fn remaining(limit: i32, used: i32) -> u32 {
    u32::try_from(limit.saturating_sub(used)).unwrap_or(0)
}

/// The organisation's limit; `None` when it does not exist.
async fn limit_of(conn: &mut AsyncPgConnection, org: Uuid) -> QueryResult<Option<i32>> {
    organisations::table
        .find(org)
        .select(organisations::export_quota)
        .first(conn)
        .await
        .optional()
}

/// Units used in `month` (0 when none were).
async fn used_in(conn: &mut AsyncPgConnection, org: Uuid, month: NaiveDate) -> QueryResult<i32> {
    Ok(quota_usage::table
        .find((org, month))
        .select(quota_usage::used)
        .first(conn)
        .await
        .optional()?
        .unwrap_or(0))
}

async fn enqueue_in(
    conn: &mut AsyncPgConnection,
    export: &NewExport,
    row: &ReportRow,
) -> Result<Enqueued, Tx> {
    let org = export.report.org_id.as_uuid();
    let month = export.month.first_day();
    // A claim that expired by the time of this request may be taken over.
    let requested_at = export.report.created_at;
    let limit = limit_of(conn, org)
        .await?
        .ok_or(Tx::Answer(ExportRepoError::UnknownOrganisation))?;

    if let Some(claim) = &export.idempotency {
        use diesel::query_dsl::methods::FilterDsl;
        use idempotency_keys as k;
        // Inserts the claim, or takes over an expired one; either way the row stays locked
        // until this transaction ends. A live claim is locked too (ON CONFLICT DO UPDATE locks
        // the conflicting row even when its WHERE is false), and concurrent inserts of one key
        // wait for each other: requests with one key run one after the other.
        let claimed: Option<Uuid> = diesel::insert_into(k::table)
            .values((
                k::org_id.eq(org),
                k::key.eq(claim.key.as_str()),
                k::fingerprint.eq(claim.fingerprint.as_str()),
                k::report_id.eq(row.id),
                k::expires_at.eq(claim.expires_at),
            ))
            .on_conflict((k::org_id, k::key))
            .do_update()
            .set((
                k::fingerprint.eq(excluded(k::fingerprint)),
                k::report_id.eq(excluded(k::report_id)),
                k::expires_at.eq(excluded(k::expires_at)),
            ))
            .filter(k::expires_at.le(requested_at))
            .returning(k::report_id)
            .get_result(conn)
            .await
            .optional()?;
        if claimed.is_none() {
            let (fingerprint, held): (String, Uuid) = k::table
                .find((org, claim.key.as_str()))
                .select((k::fingerprint, k::report_id))
                .first(conn)
                .await?;
            if fingerprint != claim.fingerprint.as_str() {
                return Err(Tx::Answer(ExportRepoError::IdempotencyKeyReused));
            }
            let report: Report = reports::table
                .find(held)
                .select(ReportRow::as_select())
                .first(conn)
                .await?
                .try_into()?;
            let used = used_in(conn, org, month).await?;
            return Ok(Enqueued::Replayed {
                report,
                remaining: remaining(limit, used),
            });
        }
    }

    // Charge one unit: the increment re-checks the limit against the latest committed `used`
    // (concurrent chargers queue on the row lock), so the limit can never be exceeded.
    diesel::insert_into(quota_usage::table)
        .values((
            quota_usage::org_id.eq(org),
            quota_usage::month.eq(month),
            quota_usage::used.eq(0),
        ))
        .on_conflict_do_nothing()
        .execute(conn)
        .await?;
    let org_limit = organisations::table
        .find(org)
        .select(organisations::export_quota)
        .single_value()
        .assume_not_null();
    let used: Option<i32> = diesel::update(quota_usage::table.find((org, month)))
        .filter(quota_usage::used.lt(org_limit))
        .set(quota_usage::used.eq(quota_usage::used + 1))
        .returning(quota_usage::used)
        .get_result(conn)
        .await
        .optional()?;
    let Some(used) = used else {
        // In the request's span: the line names the request that was refused.
        tracing::warn!(%org, %month, limit, "export refused: the organisation's monthly export quota is used up");
        return Err(Tx::Answer(ExportRepoError::QuotaExceeded));
    };

    let report: Report = diesel::insert_into(reports::table)
        .values(row)
        .returning(ReportRow::as_returning())
        .get_result(conn)
        .await?
        .try_into()?;
    insert_export_job(conn, row.id).await?;
    notify_workers(conn).await?;
    Ok(Enqueued::Created {
        report,
        remaining: remaining(limit, used),
    })
}

/// Queues the export of report `id`, due now.
pub(crate) async fn insert_export_job(conn: &mut AsyncPgConnection, id: Uuid) -> QueryResult<()> {
    diesel::insert_into(jobs::table)
        .values((
            jobs::id.eq(id),
            jobs::kind.eq(JobKind::Export as i16),
            jobs::report_id.eq(id),
            jobs::state.eq(JobState::Queued as i16),
            jobs::attempts.eq(0),
            jobs::run_at.eq(diesel::dsl::now),
        ))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl ExportRepository for PgStore {
    async fn enqueue(&self, export: &NewExport) -> Result<Enqueued, ExportRepoError> {
        let row = ReportRow::new(&export.report, export.month)?;
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let enqueued = conn
            .transaction::<_, Tx, _>(async |conn| enqueue_in(conn, export, &row).await)
            .await?;
        Ok(enqueued)
    }

    async fn find_report(
        &self,
        project: ProjectId,
        id: ReportId,
    ) -> Result<Option<Report>, ExportRepoError> {
        let mut conn = self.conn().await?;
        let row = reports::table
            .filter(reports::id.eq(id.as_uuid()))
            .filter(reports::project_id.eq(project.as_uuid()))
            .select(ReportRow::as_select())
            .first(&mut conn)
            .await
            .optional()
            .map_err(storage)?;
        Ok(row.map(Report::try_from).transpose()?)
    }

    async fn list_reports(
        &self,
        project: ProjectId,
        query: &ReportQuery,
    ) -> Result<Page<Report, ReportCursor>, ExportRepoError> {
        let mut conn = self.conn().await?;
        let limit = query.limit.get() as usize;
        let select = reports::table
            .filter(reports::project_id.eq(project.as_uuid()))
            .select(ReportRow::as_select())
            .order((reports::created_at.desc(), reports::id.desc()))
            .limit(limit as i64 + 1)
            .into_boxed();
        let select = resume_after!(select, reports, query.after);
        let rows: Vec<ReportRow> = select.load(&mut conn).await.map_err(storage)?;
        Ok(page_of(rows, limit, Report::try_from, |r| {
            (r.created_at, r.id)
        })?)
    }

    async fn quota(&self, org: OrgId, month: QuotaMonth) -> Result<QuotaUsage, ExportRepoError> {
        let mut conn = self.conn().await?;
        let conn: &mut AsyncPgConnection = &mut conn;
        let org = org.as_uuid();
        let limit = limit_of(conn, org)
            .await
            .map_err(storage)?
            .ok_or(ExportRepoError::UnknownOrganisation)?;
        let used = used_in(conn, org, month.first_day())
            .await
            .map_err(storage)?;
        let corrupt =
            |what: &str| crate::store::storage_error(format!("unexpected stored value: {what}"));
        Ok(QuotaUsage {
            limit: u32::try_from(limit).map_err(|_| corrupt("export quota"))?,
            used: u32::try_from(used).map_err(|_| corrupt("quota usage"))?,
        })
    }

    async fn set_quota_limit(&self, org: OrgId, limit: QuotaLimit) -> Result<(), ExportRepoError> {
        let mut conn = self.conn().await?;
        let limit = i32::try_from(limit.get()).map_err(crate::store::storage_error)?;
        let updated = diesel::update(organisations::table.find(org.as_uuid()))
            .set(organisations::export_quota.eq(limit))
            .execute(&mut conn)
            .await
            .map_err(storage)?;
        if updated == 0 {
            return Err(ExportRepoError::UnknownOrganisation);
        }
        Ok(())
    }
}
