//! Exporting a report: the request, the quota, the report's lifecycle, the job queue the Report
//! Export Worker drains, the artefact it renders, and the ports behind each.

mod document;
mod executive;
mod ports;
mod quota;
mod report;
mod request;
mod service;
mod worker;

pub use document::{
    preview_key, FindingsPreview, RenderError, RenderSession, ReportFinding, ReportHeader,
    ReportRenderer, PREVIEW_FINDINGS,
};
pub(crate) use executive::ReportFigures;
pub use executive::{PreviousPeriod, RemediationTotals, ReportRemediation};
pub use ports::{
    ArtefactStore, ArtefactStoreError, Claimed, ClaimedJob, Enqueued, ExportRepoError,
    ExportRepository, FindingBatches, JobKind, JobQueue, JobQueueError, JobStatus, NewExport,
    QueueDepth, ReportCursor, ReportQuery, ReportSource, ReportSourceError,
};
#[cfg(feature = "mock")]
pub use ports::{MockArtefactStore, MockExportRepository, MockJobQueue, MockReportSource};
pub use quota::{QuotaLimit, QuotaMonth, QuotaUsage, DEFAULT_MONTHLY_QUOTA};
pub use report::{Artefact, ExportFormat, Report, ReportId, ReportStatus};
pub use request::{
    ExportFields, ExportRequest, IdempotencyClaim, IdempotencyKey, RequestFingerprint,
};
pub use service::{ExportError, Exported, Exports, ExportsDeps};
pub use worker::{ExportWorker, JobObserver, RetryPolicy, WorkOutcome, WorkerConfig};
