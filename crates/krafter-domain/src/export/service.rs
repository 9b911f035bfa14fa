use std::sync::Arc;

use bytes::Bytes;
use futures::stream::BoxStream;

use crate::clock::Clock;
use crate::export::executive::ReportFigures;
use crate::export::ports::{
    ArtefactStore, ArtefactStoreError, Enqueued, ExportRepoError, ExportRepository, NewExport,
    ReportCursor, ReportQuery,
};
use crate::export::quota::{QuotaMonth, QuotaUsage};
use crate::export::report::{Report, ReportId, ReportStatus};
use crate::export::request::{ExportRequest, IdempotencyClaim, IdempotencyKey, RequestFingerprint};
use crate::metrics::remediation::{RemediationRepository, REMEDIATION_DEFINITIONS_VERSION};
use crate::metrics::MetricsRepository;
use crate::page::Page;
use crate::project::Project;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("the organisation's export quota for this month is used up")]
    QuotaExceeded,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("no such report in this project")]
    NotFound,
    #[error("the report is {0}; its artefact is not ready yet")]
    NotReady(ReportStatus),
    #[error("the export failed: {0}")]
    Failed(String),
    /// The report is exported but its artefact is no longer in the store.
    #[error("the report's artefact is missing from the store")]
    ArtefactMissing,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ExportRepoError> for ExportError {
    fn from(error: ExportRepoError) -> Self {
        match error {
            ExportRepoError::QuotaExceeded => Self::QuotaExceeded,
            ExportRepoError::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            ExportRepoError::UnknownOrganisation => Self::NotFound,
            ExportRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<ArtefactStoreError> for ExportError {
    fn from(error: ArtefactStoreError) -> Self {
        Self::Storage(StorageError::new(error.to_string()))
    }
}

/// The answer to an export request.
#[derive(Debug, Clone)]
pub struct Exported {
    pub report: Report,
    /// Units left this month after this request.
    pub remaining: u32,
    /// True when an earlier request with the same idempotency key is answered again.
    pub replayed: bool,
}

/// The export use cases. Callers have already been authorised for `project`.
pub struct Exports {
    repo: Arc<dyn ExportRepository>,
    figures: ReportFigures,
    artefacts: Arc<dyn ArtefactStore>,
    clock: Arc<dyn Clock>,
}

/// What the export use cases read and write.
pub struct ExportsDeps {
    pub repo: Arc<dyn ExportRepository>,
    pub metrics: Arc<dyn MetricsRepository>,
    pub remediation: Arc<dyn RemediationRepository>,
    pub artefacts: Arc<dyn ArtefactStore>,
    pub clock: Arc<dyn Clock>,
}

impl Exports {
    pub fn new(deps: ExportsDeps) -> Self {
        let ExportsDeps {
            repo,
            metrics,
            remediation,
            artefacts,
            clock,
        } = deps;
        Self {
            repo,
            figures: ReportFigures {
                metrics,
                remediation,
            },
            artefacts,
            clock,
        }
    }

    pub fn today(&self) -> chrono::NaiveDate {
        self.clock.today()
    }

    /// Charges a unit and queues the export, capturing now the summary over the period, its
    /// remediation by week, and the summary and remediation totals of the period before.
    pub async fn request(
        &self,
        project: &Project,
        request: ExportRequest,
        idempotency: Option<(IdempotencyKey, RequestFingerprint)>,
    ) -> Result<Exported, ExportError> {
        let now = self.clock.now();
        let (snapshot, remediation) = self.figures.capture(project, request.period).await?;
        let report = Report {
            id: ReportId::generate(),
            org_id: project.org_id,
            project_id: project.id,
            period_start: request.period.from(),
            period_end: request.period.to(),
            format: request.format,
            status: ReportStatus::Queued,
            snapshot,
            remediation: Some(remediation),
            definitions_version: REMEDIATION_DEFINITIONS_VERSION,
            error: None,
            artefact: None,
            exported_at: None,
            shared_at: None,
            created_at: now,
            updated_at: now,
        };
        let export = NewExport {
            report,
            month: QuotaMonth::of(now),
            idempotency: idempotency.map(|(key, fp)| IdempotencyClaim::new(key, fp, now)),
        };
        Ok(match self.repo.enqueue(&export).await? {
            Enqueued::Created { report, remaining } => Exported {
                report,
                remaining,
                replayed: false,
            },
            Enqueued::Replayed { report, remaining } => Exported {
                report,
                remaining,
                replayed: true,
            },
        })
    }

    /// The organisation's quota this month.
    pub async fn quota(&self, project: &Project) -> Result<QuotaUsage, ExportError> {
        Ok(self
            .repo
            .quota(project.org_id, QuotaMonth::of(self.clock.now()))
            .await?)
    }

    pub async fn report(&self, project: &Project, id: ReportId) -> Result<Report, ExportError> {
        self.repo
            .find_report(project.id, id)
            .await?
            .ok_or(ExportError::NotFound)
    }

    pub async fn reports(
        &self,
        project: &Project,
        query: ReportQuery,
    ) -> Result<Page<Report, ReportCursor>, ExportError> {
        Ok(self.repo.list_reports(project.id, &query).await?)
    }

    /// The report's artefact: `NotReady` while queued or exporting, `Failed` once failed,
    /// `ArtefactMissing` (logged with the report id and key) when the store no longer has it.
    pub async fn download(
        &self,
        project: &Project,
        id: ReportId,
    ) -> Result<
        (
            Report,
            BoxStream<'static, Result<Bytes, ArtefactStoreError>>,
        ),
        ExportError,
    > {
        let report = self.report(project, id).await?;
        match (report.status, &report.artefact) {
            (ReportStatus::Failed, _) => Err(ExportError::Failed(
                report.error.clone().unwrap_or_default(),
            )),
            (ReportStatus::Exported | ReportStatus::Shared, Some(artefact)) => {
                match self.artefacts.open(&artefact.key).await {
                    Ok(stream) => Ok((report, stream)),
                    Err(ArtefactStoreError::NotFound) => {
                        tracing::error!(
                            report = %report.id,
                            key = %artefact.key,
                            "the report's artefact is missing from the artefact store"
                        );
                        Err(ExportError::ArtefactMissing)
                    }
                    Err(error) => Err(error.into()),
                }
            }
            (status, _) => Err(ExportError::NotReady(status)),
        }
    }
}
