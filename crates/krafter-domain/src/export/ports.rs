use std::path::Path;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use futures::stream::BoxStream;

use crate::export::document::ReportFinding;
use crate::export::quota::{QuotaLimit, QuotaMonth, QuotaUsage};
use crate::export::report::{Artefact, Report, ReportId};
use crate::export::request::IdempotencyClaim;
use crate::ids::{OrgId, ProjectId};
use crate::page::{KeysetCursor, Page, PageLimit};
use crate::storage::StorageError;

pub type ReportCursor = KeysetCursor<ReportId>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportQuery {
    pub limit: PageLimit,
    pub after: Option<ReportCursor>,
}

/// An export to enqueue: the `queued` report, the month its unit is charged to, and the
/// idempotency key it claims, if any.
#[derive(Debug, Clone)]
pub struct NewExport {
    pub report: Report,
    pub month: QuotaMonth,
    pub idempotency: Option<IdempotencyClaim>,
}

#[derive(Debug, Clone)]
pub enum Enqueued {
    /// A new report was charged and queued; `remaining` is what is left this month.
    Created { report: Report, remaining: u32 },
    /// The idempotency key was used before with the same request: its report, nothing charged.
    Replayed { report: Report, remaining: u32 },
}

#[derive(Debug, thiserror::Error)]
pub enum ExportRepoError {
    #[error("the organisation's export quota for this month is used up")]
    QuotaExceeded,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("the organisation does not exist")]
    UnknownOrganisation,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reports and the quota that pays for them.
///
/// Contract:
/// - `enqueue` does all of this in one transaction, or nothing: when the claim's key (scoped by
///   organisation) is held by an unexpired claim, answers `Replayed` with that claim's report if
///   the fingerprints match and `IdempotencyKeyReused` otherwise, charging nothing; else charges
///   one unit of `month` (`QuotaExceeded` when the organisation's limit is reached), stores the
///   report, the claim and a job for it, and wakes the workers. Concurrent requests with the same
///   key wait for each other: exactly one is `Created`.
/// - `find_report` / `list_reports` see only the project's reports; listings are newest first.
/// - `quota` answers the organisation's limit (the default when never set) and the units used in
///   `month`; `set_quota_limit` fails with `UnknownOrganisation` for an organisation that does not
///   exist.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ExportRepository: Send + Sync {
    async fn enqueue(&self, export: &NewExport) -> Result<Enqueued, ExportRepoError>;
    async fn find_report(
        &self,
        project: ProjectId,
        id: ReportId,
    ) -> Result<Option<Report>, ExportRepoError>;
    async fn list_reports(
        &self,
        project: ProjectId,
        query: &ReportQuery,
    ) -> Result<Page<Report, ReportCursor>, ExportRepoError>;
    async fn quota(&self, org: OrgId, month: QuotaMonth) -> Result<QuotaUsage, ExportRepoError>;
    async fn set_quota_limit(&self, org: OrgId, limit: QuotaLimit) -> Result<(), ExportRepoError>;
}

/// A job a worker holds: valid while its lease has not run out.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedJob {
    pub report: Report,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Proves the lease; a worker whose lease was taken over can no longer write.
    pub lease_token: uuid::Uuid,
}

/// A job of either kind, as `claim` hands it out.
// One value per claimed job, moved once: the size difference costs nothing worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum Claimed {
    Export(ClaimedJob),
    Delivery(crate::share::ClaimedDelivery),
}

impl Claimed {
    /// The export job, if this is one.
    pub fn into_export(self) -> Option<ClaimedJob> {
        match self {
            Claimed::Export(job) => Some(job),
            Claimed::Delivery(_) => None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobQueueError {
    /// The lease ran out and another worker took the job over; this worker must stop and write nothing.
    #[error("the job's lease was lost")]
    LeaseLost,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// The job queue, drained by workers on any node: export jobs and delivery jobs (whose own
/// operations are [`crate::share::DeliveryQueue`]'s) in one queue.
///
/// Contract:
/// - `claim` takes the oldest job of either kind that is due (queued with `run_at` passed, or
///   running with an expired lease), without waiting on jobs other workers are claiming
///   (`SKIP LOCKED`); counts the attempt and gives it a new lease token valid for `lease`. An
///   export job moves its report to `exporting`; a delivery job comes with its delivery, share
///   and report as they are. `None` when nothing is due.
/// - `heartbeat`, `complete`, `retry` and `fail` act only while `job.lease_token` still holds the
///   lease, and answer `LeaseLost` otherwise, writing nothing.
/// - `complete` stores the artefact and moves the report to `exported` (`shared` when it was
///   shared meanwhile), with `exported_at`, and makes the deliveries waiting for it due.
/// - `retry` moves the report back to `queued` and the job to run again at `at`, keeping `reason`.
/// - `retry` and `fail` keep `detail` (what went wrong in full: paths, store and renderer
///   errors) on the report for operators; clients only ever see `reason`.
/// - `fail` moves the report to `failed` with `reason`, gives the unit it was charged back to
///   the quota, exactly once (none for an uncharged placeholder), and makes the deliveries
///   waiting for it due (they then fail, saying why).
/// - `wait` returns when a job may have become due (a notification) or after `timeout`.
/// - `outstanding` counts jobs of either kind not yet finished (queued or running).
/// - `hand_back` ends the leases `worker` holds now, as if they had run out: the jobs are
///   claimable at once by any worker, the attempt counted as when a worker dies; answers how
///   many. For a worker stopped mid-job at shutdown, so that its jobs do not wait out a lease.
/// - `depth` counts the unfinished jobs by kind and status (queued — due or waiting for a retry
///   or for their report — and running), for the metrics: one query whose answer has at most a
///   row per kind and status, bounded in time (it fails rather than hold a scrape up); a kind and
///   status with no job may be absent.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn claim(&self, worker: &str, lease: Duration) -> Result<Option<Claimed>, JobQueueError>;
    async fn heartbeat(&self, job: &ClaimedJob, lease: Duration) -> Result<(), JobQueueError>;
    async fn complete(&self, job: &ClaimedJob, artefact: &Artefact) -> Result<(), JobQueueError>;
    async fn retry(
        &self,
        job: &ClaimedJob,
        reason: &str,
        detail: &str,
        at: DateTime<Utc>,
    ) -> Result<(), JobQueueError>;
    async fn fail(&self, job: &ClaimedJob, reason: &str, detail: &str)
        -> Result<(), JobQueueError>;
    async fn wait(&self, timeout: Duration) -> Result<(), JobQueueError>;
    async fn outstanding(&self) -> Result<u64, JobQueueError>;
    async fn depth(&self) -> Result<Vec<QueueDepth>, JobQueueError>;
    async fn hand_back(&self, worker: &str) -> Result<u64, JobQueueError>;
}

/// What a job in the queue is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobKind {
    Export,
    Delivery,
}

impl JobKind {
    pub const ALL: [JobKind; 2] = [JobKind::Export, JobKind::Delivery];

    pub fn as_str(self) -> &'static str {
        match self {
            JobKind::Export => "export",
            JobKind::Delivery => "delivery",
        }
    }
}

/// Where an unfinished job stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobStatus {
    /// Waiting: due, scheduled for a retry, or (a delivery) waiting for its report's export.
    Queued,
    /// Claimed by a worker (its lease may have run out, for another to take over).
    Running,
}

impl JobStatus {
    pub const ALL: [JobStatus; 2] = [JobStatus::Queued, JobStatus::Running];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Queued => "queued",
            JobStatus::Running => "running",
        }
    }
}

/// How many unfinished jobs of a kind are in a status ([`JobQueue::depth`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueDepth {
    pub kind: JobKind,
    pub status: JobStatus,
    pub jobs: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportSourceError {
    #[error("no such project")]
    UnknownProject,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Batches of findings, pulled one at a time; `None` once all were given.
#[async_trait]
pub trait FindingBatches: Send {
    async fn next_batch(&mut self) -> Result<Option<Vec<ReportFinding>>, ReportSourceError>;
}

/// What a report is rendered from.
///
/// Contract: `names` answers the organisation's name, the project's slug and its name.
/// `open_findings` streams the findings that were in an open status at the end of `as_of`, each
/// as it was then, highest `priority_score` first (ties by id), in batches of at most
/// `batch_size`, without holding more than a batch in memory.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ReportSource: Send + Sync {
    async fn names(
        &self,
        project: ProjectId,
    ) -> Result<(String, String, String), ReportSourceError>;
    async fn open_findings(
        &self,
        project: ProjectId,
        as_of: NaiveDate,
        batch_size: usize,
    ) -> Result<Box<dyn FindingBatches>, ReportSourceError>;
}

#[derive(Debug, thiserror::Error)]
pub enum ArtefactStoreError {
    #[error("no artefact under this key")]
    NotFound,
    #[error("artefact storage failed: {0}")]
    Io(String),
}

/// Where artefacts are kept.
///
/// Contract: `put_file` stores the file's bytes under `key`, replacing what was there, atomically
/// (a reader sees the old or the new artefact, never a part), and answers the size; `open`
/// streams an artefact back.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ArtefactStore: Send + Sync {
    async fn put_file(&self, key: &str, file: &Path) -> Result<u64, ArtefactStoreError>;
    async fn open(
        &self,
        key: &str,
    ) -> Result<BoxStream<'static, Result<bytes::Bytes, ArtefactStoreError>>, ArtefactStoreError>;
}
