//! What operators read about a report (`krafter report show`): everything the API shows, and
//! what it never does: the full detail of the last failed attempt and the export job's state.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use krafter_domain::export::{ExportFormat, ReportId, ReportStatus};
use krafter_domain::storage::StorageError;
use uuid::Uuid;

use crate::repos::jobs::{JobKind, JobState};
use crate::schema::{jobs, projects, reports};
use crate::PgStore;

/// A report as operators see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    pub id: ReportId,
    pub org_id: Uuid,
    pub project_id: Uuid,
    pub project_slug: String,
    pub format: ExportFormat,
    pub status: ReportStatus,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// Attempts the export job has started (0 before a worker first claims it).
    pub attempts: u32,
    /// When the next attempt is due, while the job is queued.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// The public reason clients see, once the report has failed.
    pub error: Option<String>,
    /// What went wrong in the last failed attempt, in full (never served to clients).
    pub error_detail: Option<String>,
    pub artefact_key: Option<String>,
    pub artefact_size: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub exported_at: Option<DateTime<Utc>>,
    pub shared_at: Option<DateTime<Utc>>,
}

type Row = (
    (
        Uuid,
        Uuid,
        Uuid,
        String,
        i16,
        i16,
        NaiveDate,
        NaiveDate,
        Option<String>,
        Option<String>,
    ),
    (
        Option<String>,
        Option<i64>,
        DateTime<Utc>,
        DateTime<Utc>,
        Option<DateTime<Utc>>,
        Option<DateTime<Utc>>,
    ),
    Option<(i32, i16, DateTime<Utc>)>,
);

impl PgStore {
    /// The report `id` of any organisation, with its export job; `None` when there is none.
    pub async fn report_record(&self, id: ReportId) -> Result<Option<ReportRecord>, StorageError> {
        let mut conn = self.conn().await?;
        let row: Option<Row> = reports::table
            .inner_join(projects::table)
            .left_join(
                jobs::table.on(jobs::report_id
                    .eq(reports::id)
                    .and(jobs::kind.eq(JobKind::Export as i16))),
            )
            .filter(reports::id.eq(id.as_uuid()))
            .select((
                (
                    reports::id,
                    reports::org_id,
                    reports::project_id,
                    projects::slug,
                    reports::format,
                    reports::status,
                    reports::period_start,
                    reports::period_end,
                    reports::error,
                    reports::error_detail,
                ),
                (
                    reports::artefact_key,
                    reports::artefact_size,
                    reports::created_at,
                    reports::updated_at,
                    reports::exported_at,
                    reports::shared_at,
                ),
                (jobs::attempts, jobs::state, jobs::run_at).nullable(),
            ))
            .first(&mut conn)
            .await
            .optional()
            .map_err(crate::store::storage_error)?;
        let Some((head, tail, job)) = row else {
            return Ok(None);
        };
        let (id, org_id, project_id, project_slug, format, status, start, end, error, detail) =
            head;
        let (artefact_key, artefact_size, created_at, updated_at, exported_at, shared_at) = tail;
        let corrupt =
            |what: &str| crate::store::storage_error(format!("report {id}: unknown {what} code"));
        let (attempts, next_attempt_at) = match job {
            Some((attempts, state, run_at)) => (
                u32::try_from(attempts).unwrap_or(0),
                (state == JobState::Queued as i16).then_some(run_at),
            ),
            None => (0, None),
        };
        Ok(Some(ReportRecord {
            id: ReportId::from_uuid(id),
            org_id,
            project_id,
            project_slug,
            format: ExportFormat::from_code(format).ok_or_else(|| corrupt("format"))?,
            status: ReportStatus::from_code(status).ok_or_else(|| corrupt("status"))?,
            period_start: start,
            period_end: end,
            attempts,
            next_attempt_at,
            error,
            error_detail: detail,
            artefact_key,
            artefact_size,
            created_at,
            updated_at,
            exported_at,
            shared_at,
        }))
    }
}
