//! The Report Export Worker: claims a job, renders its artefact, stores it, and records the outcome.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;
use tracing::Instrument;

use crate::clock::Clock;
use crate::export::document::{
    preview_key, FindingsPreview, RenderError, ReportHeader, ReportRenderer,
};
use crate::export::ports::{
    ArtefactStore, Claimed, ClaimedJob, JobKind, JobQueue, JobQueueError, ReportSource,
};
use crate::export::report::{Artefact, ReportId};
use crate::share::{DeliveryOutcome, DeliveryWorker};

/// Exponential backoff: attempt `n` (1-based) that failed waits `base * 2^(n-1)`, capped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    pub max_attempts: u32,
    pub base: Duration,
    pub cap: Duration,
}

impl RetryPolicy {
    pub fn delay_after(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        self.base.saturating_mul(factor).min(self.cap)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 5,
            base: Duration::from_secs(2),
            cap: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// How long a claim holds without a heartbeat; a dead worker's job is reclaimed after it.
    pub lease: Duration,
    pub heartbeat_every: Duration,
    /// How long an idle worker waits for a notification before looking again.
    pub poll_every: Duration,
    pub retry: RetryPolicy,
    pub batch_size: usize,
    /// Where artefacts are rendered before they are stored.
    pub scratch_dir: PathBuf,
}

impl WorkerConfig {
    pub fn new(scratch_dir: PathBuf) -> Self {
        Self {
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(10),
            poll_every: Duration::from_secs(5),
            retry: RetryPolicy::default(),
            batch_size: 5_000,
            scratch_dir,
        }
    }
}

/// The short reasons a failed attempt keeps on the report, the only failure text clients see.
/// What went wrong in detail (file paths, store and database errors, the renderer's own message)
/// goes to the log with the report id, never to the report.
pub mod public_reason {
    /// The report's project or findings could not be read.
    pub const DATA_UNREADABLE: &str = "the report's data could not be read";
    /// The artefact could not be rendered (renderer error, scratch file, …).
    pub const RENDERING_FAILED: &str = "rendering failed";
    /// The rendered artefact could not be stored.
    pub const STORAGE_UNAVAILABLE: &str = "artefact storage unavailable";
}

/// Why an attempt failed: the public reason kept on the report, and the detail for the log.
#[derive(Debug)]
struct Failure {
    public: &'static str,
    detail: String,
}

impl Failure {
    fn new(public: &'static str, detail: impl std::fmt::Display) -> Self {
        Self {
            public,
            detail: detail.to_string(),
        }
    }
}

/// What one turn of the worker did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkOutcome {
    /// Nothing was due.
    Idle,
    Exported(ReportId),
    /// The attempt failed; another is scheduled.
    Retrying {
        report: ReportId,
        attempt: u32,
        reason: String,
    },
    /// The last attempt failed; the report is `failed` and its unit refunded.
    Failed {
        report: ReportId,
        reason: String,
    },
    /// Another worker took the job over; this one wrote nothing.
    LeaseLost(ReportId),
    /// A delivery job was carried out.
    Delivery(DeliveryOutcome),
}

impl WorkOutcome {
    /// The job's kind and what became of it, as the metrics count it (`exported`, `retried`,
    /// `failed`, `lease_lost`; for deliveries also `delivered` and `waiting`); `None` when idle.
    pub fn label(&self) -> Option<(JobKind, &'static str)> {
        Some(match self {
            WorkOutcome::Idle => return None,
            WorkOutcome::Exported(_) => (JobKind::Export, "exported"),
            WorkOutcome::Retrying { .. } => (JobKind::Export, "retried"),
            WorkOutcome::Failed { .. } => (JobKind::Export, "failed"),
            WorkOutcome::LeaseLost(_) => (JobKind::Export, "lease_lost"),
            WorkOutcome::Delivery(outcome) => (
                JobKind::Delivery,
                match outcome {
                    DeliveryOutcome::Delivered(_) => "delivered",
                    DeliveryOutcome::Retrying { .. } => "retried",
                    DeliveryOutcome::Failed { .. } => "failed",
                    DeliveryOutcome::Waiting(_) => "waiting",
                    DeliveryOutcome::LeaseLost(_) => "lease_lost",
                },
            ),
        })
    }
}

/// Told what became of every job a worker took (the metrics count the outcomes by kind).
pub trait JobObserver: Send + Sync {
    /// Called once per turn that claimed a job, after its outcome was recorded in the queue.
    fn job_done(&self, outcome: &WorkOutcome);
}

pub struct ExportWorker {
    queue: Arc<dyn JobQueue>,
    source: Arc<dyn ReportSource>,
    artefacts: Arc<dyn ArtefactStore>,
    renderer: Arc<dyn ReportRenderer>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    deliveries: Option<Arc<DeliveryWorker>>,
    observer: Option<Arc<dyn JobObserver>>,
}

impl ExportWorker {
    pub fn new(
        queue: Arc<dyn JobQueue>,
        source: Arc<dyn ReportSource>,
        artefacts: Arc<dyn ArtefactStore>,
        renderer: Arc<dyn ReportRenderer>,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Self {
        Self {
            queue,
            source,
            artefacts,
            renderer,
            clock,
            config,
            deliveries: None,
            observer: None,
        }
    }

    /// Tells `observer` the outcome of every job this worker takes.
    pub fn with_observer(mut self, observer: Arc<dyn JobObserver>) -> Self {
        self.observer = Some(observer);
        self
    }

    /// Carries out delivery jobs too (the queue holds both kinds). Without it, a claimed
    /// delivery is left to its lease and taken by a worker that has one.
    pub fn with_deliveries(mut self, deliveries: Arc<DeliveryWorker>) -> Self {
        self.deliveries = Some(deliveries);
        self
    }

    /// Works until `shutdown` resolves, finishing the job in hand first.
    pub async fn run(&self, name: &str, shutdown: impl std::future::Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        loop {
            // A shutdown is heeded between jobs only: a job in hand (an export being stored, a
            // message being sent) runs to its end, so that a stop never cuts a send in two.
            tokio::select! {
                biased;
                () = &mut shutdown => return,
                () = std::future::ready(()) => {}
            }
            let outcome = self.run_once(name).await;
            // After an idle turn, wait for a notification; after a failure, back off. Either way
            // a shutdown ends the wait.
            let pause = match outcome {
                Ok(WorkOutcome::Idle) => {
                    tokio::select! {
                        () = &mut shutdown => return,
                        waited = self.queue.wait(self.config.poll_every) => waited.err().map(|error| {
                            tracing::warn!(worker = name, %error, "waiting for export jobs failed");
                        }),
                    }
                }
                // Logged in the job's span, as it ended.
                Ok(_) => None,
                Err(error) => {
                    tracing::error!(worker = name, %error, "export worker could not reach the queue");
                    Some(())
                }
            };
            if pause.is_some() {
                tokio::select! {
                    () = &mut shutdown => return,
                    () = tokio::time::sleep(self.config.poll_every) => {}
                }
            }
        }
    }

    /// Claims one due job, if any, and takes it to its next state. The job's work runs in a
    /// `job` span naming its kind (`job_kind`) and its `report_id` (and `delivery_id`), so that
    /// every line logged for it, by any layer, says which job it was.
    pub async fn run_once(&self, name: &str) -> Result<WorkOutcome, JobQueueError> {
        let outcome = match self.queue.claim(name, self.config.lease).await? {
            None => return Ok(WorkOutcome::Idle),
            Some(Claimed::Export(job)) => {
                let span = tracing::info_span!(
                    "job",
                    job_kind = JobKind::Export.as_str(),
                    report_id = %job.report.id,
                    attempt = job.attempt,
                );
                self.export(name, job).instrument(span).await?
            }
            Some(Claimed::Delivery(job)) => {
                let span = tracing::info_span!(
                    "job",
                    job_kind = JobKind::Delivery.as_str(),
                    delivery_id = %job.delivery.id,
                    report_id = %job.report.id,
                    attempt = job.attempt,
                );
                let Some(deliveries) = &self.deliveries else {
                    span.in_scope(|| tracing::error!(worker = name, delivery = %job.delivery.id, "this worker cannot send deliveries; another will take the job when its lease runs out"));
                    return Ok(WorkOutcome::Idle);
                };
                WorkOutcome::Delivery(deliveries.handle(name, job).instrument(span).await?)
            }
        };
        if let Some(observer) = &self.observer {
            observer.job_done(&outcome);
        }
        Ok(outcome)
    }

    /// Takes a claimed export job to its next state, and logs what became of it.
    async fn export(&self, name: &str, job: ClaimedJob) -> Result<WorkOutcome, JobQueueError> {
        let outcome = self.carry_out(name, job).await?;
        tracing::info!(worker = name, ?outcome, "export job done");
        Ok(outcome)
    }

    async fn carry_out(&self, name: &str, job: ClaimedJob) -> Result<WorkOutcome, JobQueueError> {
        let report = job.report.id;
        tracing::info!(worker = name, %report, attempt = job.attempt, format = %job.report.format, "export started");
        let rendered = tokio::select! {
            rendered = self.render(&job) => rendered,
            lost = self.keep_lease(&job) => return lost.map(|()| WorkOutcome::LeaseLost(report)),
        };
        let result = match rendered {
            Ok(artefact) => self
                .queue
                .complete(&job, &artefact)
                .await
                .map(|()| WorkOutcome::Exported(report)),
            Err(Failure { public, detail }) if job.attempt < self.config.retry.max_attempts => {
                let delay = self.config.retry.delay_after(job.attempt);
                let at = self.clock.now() + TimeDelta::from_std(delay).unwrap_or(TimeDelta::MAX);
                tracing::warn!(worker = name, %report, attempt = job.attempt, reason = public, %detail, retry_in_ms = delay.as_millis() as u64, "export attempt failed");
                let reason = public.to_owned();
                self.queue
                    .retry(&job, &reason, &detail, at)
                    .await
                    .map(|()| WorkOutcome::Retrying {
                        report,
                        attempt: job.attempt,
                        reason,
                    })
            }
            Err(Failure { public, detail }) => {
                tracing::error!(worker = name, %report, attempt = job.attempt, reason = public, %detail, "export failed for good");
                let reason = public.to_owned();
                self.queue
                    .fail(&job, &reason, &detail)
                    .await
                    .map(|()| WorkOutcome::Failed { report, reason })
            }
        };
        match result {
            Err(JobQueueError::LeaseLost) => Ok(WorkOutcome::LeaseLost(report)),
            other => other,
        }
    }

    /// Renews the lease until it is lost (answers `Ok`) or the queue fails (answers the error);
    /// never returns while the lease holds.
    async fn keep_lease(&self, job: &ClaimedJob) -> Result<(), JobQueueError> {
        loop {
            tokio::time::sleep(self.config.heartbeat_every).await;
            match self.queue.heartbeat(job, self.config.lease).await {
                Ok(()) => {}
                Err(JobQueueError::LeaseLost) => return Ok(()),
                Err(error) => {
                    // The lease may still hold: keep trying until it is known to be lost.
                    tracing::warn!(report = %job.report.id, %error, "heartbeat failed");
                }
            }
        }
    }

    /// Renders and stores the artefact; the error's public reason is kept on the report.
    async fn render(&self, job: &ClaimedJob) -> Result<Artefact, Failure> {
        let report = &job.report;
        let (organisation_name, project_slug, project_name) = self
            .source
            .names(report.project_id)
            .await
            .map_err(|e| Failure::new(public_reason::DATA_UNREADABLE, e))?;
        let header = ReportHeader {
            report: report.clone(),
            organisation_name,
            project_slug,
            project_name,
            generated_at: self.clock.now(),
            download_url: None,
            listed_total: None,
        };
        std::fs::create_dir_all(&self.config.scratch_dir).map_err(|e| {
            Failure::new(
                public_reason::RENDERING_FAILED,
                format_args!(
                    "scratch directory {}: {e}",
                    self.config.scratch_dir.display()
                ),
            )
        })?;
        let path = self.config.scratch_dir.join(format!(
            "{}.{}.{}.part",
            report.id,
            job.lease_token,
            report.format.extension()
        ));
        let preview_path = path.with_extension("preview.json.part");
        let result = self.render_to(&header, &path).await;
        let stored = match result {
            Ok((preview, sha256)) => {
                let key = format!(
                    "{}/{}.{}",
                    report.org_id,
                    report.id,
                    report.format.extension()
                );
                self.store(&key, &path, &preview, &preview_path)
                    .await
                    .map(|artefact| Artefact {
                        sha256: Some(sha256),
                        ..artefact
                    })
            }
            Err(failure) => Err(failure),
        };
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&preview_path);
        stored
    }

    /// Stores the findings preview (for the public viewer) first, then the artefact: once the
    /// artefact is there, so is its preview.
    async fn store(
        &self,
        key: &str,
        path: &std::path::Path,
        preview: &FindingsPreview,
        preview_path: &std::path::Path,
    ) -> Result<Artefact, Failure> {
        std::fs::write(preview_path, preview.to_json()).map_err(|e| {
            Failure::new(
                public_reason::RENDERING_FAILED,
                format_args!(
                    "could not write the findings preview {}: {e}",
                    preview_path.display()
                ),
            )
        })?;
        self.artefacts
            .put_file(&preview_key(key), preview_path)
            .await
            .map_err(|e| Failure::new(public_reason::STORAGE_UNAVAILABLE, e))?;
        self.artefacts
            .put_file(key, path)
            .await
            .map(|size_bytes| Artefact {
                key: key.to_owned(),
                size_bytes,
                sha256: None,
            })
            .map_err(|e| Failure::new(public_reason::STORAGE_UNAVAILABLE, e))
    }

    /// Renders the artefact into `path`; answers the preview of its findings and the artefact's
    /// SHA-256 (hashed as it is written). A renderer's own error, its message included, is
    /// detail for the log: it may quote paths or internals.
    async fn render_to(
        &self,
        header: &ReportHeader,
        path: &std::path::Path,
    ) -> Result<(FindingsPreview, String), Failure> {
        let rendering = |e: RenderError| Failure::new(public_reason::RENDERING_FAILED, e);
        let unreadable = |e: crate::export::ports::ReportSourceError| {
            Failure::new(public_reason::DATA_UNREADABLE, e)
        };
        let file = std::fs::File::create(path).map_err(|e| {
            Failure::new(
                public_reason::RENDERING_FAILED,
                format_args!("could not create {}: {e}", path.display()),
            )
        })?;
        let (hashing, digest) = HashingWriter::new(file);
        let out = Box::new(std::io::BufWriter::with_capacity(256 * 1024, hashing));
        let mut session = self.renderer.start(header, out).map_err(rendering)?;
        let mut batches = self
            .source
            .open_findings(
                header.report.project_id,
                header.report.period_end,
                self.config.batch_size,
            )
            .await
            .map_err(unreadable)?;
        let mut preview = FindingsPreview {
            names: Some((
                header.organisation_name.clone(),
                header.project_slug.clone(),
                header.project_name.clone(),
            )),
            ..FindingsPreview::default()
        };
        while let Some(batch) = batches.next_batch().await.map_err(unreadable)? {
            preview.push(&batch);
            // The renderer runs on a blocking thread, in the job's span.
            let span = tracing::Span::current();
            session = tokio::task::spawn_blocking(move || {
                span.in_scope(|| session.push(&batch).map(|()| session))
            })
            .await
            .map_err(|e| Failure::new(public_reason::RENDERING_FAILED, e))?
            .map_err(rendering)?;
        }
        let span = tracing::Span::current();
        tokio::task::spawn_blocking(move || span.in_scope(|| session.finish()))
            .await
            .map_err(|e| Failure::new(public_reason::RENDERING_FAILED, e))?
            .map_err(rendering)?;
        Ok((preview, digest.hex()))
    }
}

/// Hashes what it writes on its way to `inner`; the digest stays readable after the writer is
/// dropped (a render session owns and drops its writer).
struct HashingWriter<W> {
    inner: W,
    digest: Digest,
}

#[derive(Clone, Default)]
struct Digest(Arc<std::sync::Mutex<sha2::Sha256>>);

impl Digest {
    fn hex(&self) -> String {
        use sha2::Digest as _;
        let hasher = self.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
        format!("{:x}", hasher.finalize())
    }
}

impl<W> HashingWriter<W> {
    fn new(inner: W) -> (Self, Digest) {
        let digest = Digest::default();
        (
            Self {
                inner,
                digest: digest.clone(),
            },
            digest,
        )
    }
}

impl<W: std::io::Write> std::io::Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        use sha2::Digest as _;
        let written = self.inner.write(buf)?;
        self.digest
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .update(&buf[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let policy = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_secs(2),
            cap: Duration::from_secs(10),
        };
        let delays: Vec<u64> = (1..=5).map(|a| policy.delay_after(a).as_secs()).collect();
        assert_eq!(delays, [2, 4, 8, 10, 10]);
    }
}

#[cfg(all(test, feature = "mock"))]
mod worker_tests {
    use std::io::Write;
    use std::sync::Mutex;

    use async_trait::async_trait;
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::clock::FixedClock;
    use crate::export::document::{RenderSession, ReportFinding};
    use crate::export::ports::{
        FindingBatches, MockArtefactStore, MockJobQueue, MockReportSource, ReportSourceError,
    };
    use crate::export::report::{ExportFormat, Report, ReportStatus};
    use crate::ids::{OrgId, ProjectId};
    use crate::metrics::Summary;

    const NOW: &str = "2026-06-10T15:00:00Z";

    fn job(attempt: u32) -> ClaimedJob {
        let now: DateTime<Utc> = NOW.parse().unwrap();
        ClaimedJob {
            report: Report {
                id: ReportId::generate(),
                org_id: OrgId::generate(),
                project_id: ProjectId::generate(),
                period_start: now.date_naive(),
                period_end: now.date_naive(),
                format: ExportFormat::Csv,
                status: ReportStatus::Exporting,
                snapshot: Summary {
                    risk_burn_down: vec![],
                    verification_pass_rate: 0.0,
                    regression_rate: 0.0,
                    open_findings: 0,
                },
                remediation: None,
                definitions_version: 1,
                error: None,
                artefact: None,
                exported_at: None,
                shared_at: None,
                created_at: now,
                updated_at: now,
            },
            attempt,
            lease_token: uuid::Uuid::new_v4(),
        }
    }

    struct NoFindings;

    #[async_trait]
    impl FindingBatches for NoFindings {
        async fn next_batch(&mut self) -> Result<Option<Vec<ReportFinding>>, ReportSourceError> {
            Ok(None)
        }
    }

    /// Writes "rendered" at finish, or refuses to start.
    struct Fake {
        broken: bool,
    }

    struct FakeSession(Box<dyn Write + Send>);

    impl ReportRenderer for Fake {
        fn start(
            &self,
            _: &ReportHeader,
            out: Box<dyn Write + Send>,
        ) -> Result<Box<dyn RenderSession>, RenderError> {
            if self.broken {
                return Err(RenderError::Render("boom".into()));
            }
            Ok(Box::new(FakeSession(out)))
        }
    }

    impl RenderSession for FakeSession {
        fn push(&mut self, _: &[ReportFinding]) -> Result<(), RenderError> {
            Ok(())
        }
        fn finish(mut self: Box<Self>) -> Result<(), RenderError> {
            self.0.write_all(b"rendered")?;
            Ok(self.0.flush()?)
        }
    }

    fn source() -> MockReportSource {
        let mut source = MockReportSource::new();
        source
            .expect_names()
            .returning(|_| Ok(("Acme".into(), "web".into(), "Web".into())));
        source
            .expect_open_findings()
            .returning(|_, _, _| Ok(Box::new(NoFindings)));
        source
    }

    fn make_worker(
        queue: MockJobQueue,
        artefacts: MockArtefactStore,
        broken: bool,
    ) -> (ExportWorker, tempfile_dir::Dir) {
        let dir = tempfile_dir::Dir::new();
        let mut config = WorkerConfig::new(dir.0.clone());
        config.heartbeat_every = Duration::from_secs(3600);
        let worker = ExportWorker::new(
            Arc::new(queue),
            Arc::new(source()),
            Arc::new(artefacts),
            Arc::new(Fake { broken }),
            Arc::new(FixedClock(NOW.parse().unwrap())),
            config,
        );
        (worker, dir)
    }

    /// A scratch directory removed on drop, without another dependency.
    mod tempfile_dir {
        pub struct Dir(pub std::path::PathBuf);

        impl Dir {
            pub fn new() -> Self {
                let path = std::env::temp_dir()
                    .join(format!("krafter-worker-test-{}", uuid::Uuid::new_v4()));
                Self(path)
            }
        }

        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    /// Keeps the outcomes it is told of.
    #[derive(Default)]
    struct Outcomes(Mutex<Vec<WorkOutcome>>);

    impl JobObserver for Outcomes {
        fn job_done(&self, outcome: &WorkOutcome) {
            self.0.lock().unwrap().push(outcome.clone());
        }
    }

    #[tokio::test]
    async fn the_observer_is_told_each_outcome_and_idle_turns_are_not_outcomes() {
        let claimed = job(5);
        let id = claimed.report.id;
        let mut queue = MockJobQueue::new();
        let mut claims = vec![None, Some(Claimed::Export(claimed))];
        queue
            .expect_claim()
            .times(2)
            .returning(move |_, _| Ok(claims.pop().unwrap()));
        queue.expect_fail().times(1).returning(|_, _, _| Ok(()));
        let (worker, _dir) = make_worker(queue, MockArtefactStore::new(), true);
        let outcomes = Arc::new(Outcomes::default());
        let worker = worker.with_observer(outcomes.clone());
        let failed = worker.run_once("w").await.unwrap();
        assert_eq!(failed.label(), Some((JobKind::Export, "failed")));
        assert_eq!(worker.run_once("w").await.unwrap(), WorkOutcome::Idle);
        assert_eq!(
            *outcomes.0.lock().unwrap(),
            [WorkOutcome::Failed {
                report: id,
                reason: public_reason::RENDERING_FAILED.into()
            }]
        );
    }

    #[tokio::test]
    async fn nothing_due_is_idle() {
        let mut queue = MockJobQueue::new();
        queue.expect_claim().returning(|_, _| Ok(None));
        let (worker, _dir) = make_worker(queue, MockArtefactStore::new(), false);
        assert_eq!(worker.run_once("w").await.unwrap(), WorkOutcome::Idle);
    }

    #[tokio::test]
    async fn a_rendered_artefact_is_stored_and_completed() {
        let claimed = job(1);
        let id = claimed.report.id;
        let org = claimed.report.org_id;
        let mut queue = MockJobQueue::new();
        queue
            .expect_claim()
            .return_once(move |_, _| Ok(Some(Claimed::Export(claimed))));
        let completed = Arc::new(Mutex::new(None));
        let seen = completed.clone();
        queue.expect_complete().returning(move |_, artefact| {
            *seen.lock().unwrap() = Some(artefact.clone());
            Ok(())
        });
        let mut artefacts = MockArtefactStore::new();
        artefacts.expect_put_file().returning(|key, path| {
            if key.ends_with(".preview.json") {
                assert_eq!(
                    std::fs::read(path).unwrap(),
                    br#"{"total":0,"findings":[],"names":{"organisation":"Acme","project_slug":"web","project":"Web"}}"#
                );
                return Ok(25);
            }
            assert_eq!(std::fs::read(path).unwrap(), b"rendered");
            Ok(8)
        });
        let (worker, _dir) = make_worker(queue, artefacts, false);
        assert_eq!(
            worker.run_once("w").await.unwrap(),
            WorkOutcome::Exported(id)
        );
        let artefact = completed.lock().unwrap().clone().unwrap();
        assert_eq!(artefact.key, format!("{org}/{id}.csv"));
        assert_eq!(artefact.size_bytes, 8);
        // The SHA-256 of the bytes written, `printf rendered | sha256sum`.
        assert_eq!(
            artefact.sha256.as_deref(),
            Some("69d0044d65bc72753132efe821effd54c8072b5f75703772caa15a13d400dc5a")
        );
    }

    #[tokio::test]
    async fn a_failed_attempt_is_retried_with_backoff_until_the_last() {
        let claimed = job(2);
        let id = claimed.report.id;
        let mut queue = MockJobQueue::new();
        queue
            .expect_claim()
            .return_once(move |_, _| Ok(Some(Claimed::Export(claimed))));
        queue.expect_retry().returning(|_, reason, detail, at| {
            assert_eq!(reason, public_reason::RENDERING_FAILED);
            assert!(!detail.is_empty());
            // Attempt 2 waits base * 2 = 4 s with the default policy.
            assert_eq!(at, "2026-06-10T15:00:04Z".parse::<DateTime<Utc>>().unwrap());
            Ok(())
        });
        let (worker, _dir) = make_worker(queue, MockArtefactStore::new(), true);
        assert_eq!(
            worker.run_once("w").await.unwrap(),
            WorkOutcome::Retrying {
                report: id,
                attempt: 2,
                reason: public_reason::RENDERING_FAILED.into()
            }
        );

        let last = job(5);
        let id = last.report.id;
        let mut queue = MockJobQueue::new();
        queue
            .expect_claim()
            .return_once(move |_, _| Ok(Some(Claimed::Export(last))));
        queue.expect_fail().times(1).returning(|_, _, _| Ok(()));
        let (worker, _dir) = make_worker(queue, MockArtefactStore::new(), true);
        assert_eq!(
            worker.run_once("w").await.unwrap(),
            WorkOutcome::Failed {
                report: id,
                reason: public_reason::RENDERING_FAILED.into()
            }
        );
    }

    #[tokio::test]
    async fn a_store_failure_keeps_a_public_reason_without_the_stores_detail() {
        let last = job(5);
        let id = last.report.id;
        let mut queue = MockJobQueue::new();
        queue
            .expect_claim()
            .return_once(move |_, _| Ok(Some(Claimed::Export(last))));
        queue.expect_fail().times(1).returning(|_, reason, detail| {
            assert_eq!(reason, "artefact storage unavailable");
            // The detail is kept for operators, in full.
            assert!(
                detail.contains("could not write /srv/krafter/artefacts/x.csv: permission denied"),
                "{detail}"
            );
            Ok(())
        });
        let mut artefacts = MockArtefactStore::new();
        artefacts.expect_put_file().returning(|_, _| {
            Err(crate::export::ports::ArtefactStoreError::Io(
                "could not write /srv/krafter/artefacts/x.csv: permission denied".into(),
            ))
        });
        let (worker, _dir) = make_worker(queue, artefacts, false);
        assert_eq!(
            worker.run_once("w").await.unwrap(),
            WorkOutcome::Failed {
                report: id,
                reason: "artefact storage unavailable".into()
            }
        );
    }

    #[tokio::test]
    async fn a_lost_lease_writes_nothing() {
        let claimed = job(1);
        let id = claimed.report.id;
        let mut queue = MockJobQueue::new();
        queue
            .expect_claim()
            .return_once(move |_, _| Ok(Some(Claimed::Export(claimed))));
        queue
            .expect_complete()
            .returning(|_, _| Err(JobQueueError::LeaseLost));
        let mut artefacts = MockArtefactStore::new();
        artefacts.expect_put_file().returning(|_, _| Ok(8));
        let (worker, _dir) = make_worker(queue, artefacts, false);
        assert_eq!(
            worker.run_once("w").await.unwrap(),
            WorkOutcome::LeaseLost(id)
        );
    }
}
