//! Carrying out a delivery job: wait for the export, record the attempt, send, record the answer.
//!
//! At most once: `sending` is committed before the message goes out. A worker that finds its
//! claimed delivery already `sending` knows another worker died during the send, after which
//! nobody can tell whether the remote side got the message; it fails the delivery, saying so,
//! rather than risk sending it twice.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use crate::clock::Clock;
use crate::export::{
    ArtefactStore, JobQueueError, Report, ReportSource, ReportStatus, RetryPolicy,
};
use crate::share::delivery::{DeliveryId, DeliveryStatus, DeliveryTarget};
use crate::share::message::{Attachment, ShareMessage, MAX_ATTACHMENT_BYTES};
use crate::share::ports::{
    ClaimedDelivery, DeliveryQueue, LinkSigner, Mailer, SendError, Webhooks,
};
use crate::share::service::viewer_url;

/// Shown for a delivery whose worker stopped during the send.
pub const OUTCOME_UNKNOWN: &str =
    "the worker stopped while sending; whether it arrived is unknown, so it was not sent again";
/// Shown for a delivery whose report's export failed.
pub const EXPORT_FAILED: &str = "the report's export failed, so there was nothing to send";
/// Longest wait a remote side's `Retry-After` may impose.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What one delivery job did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Delivered(DeliveryId),
    /// The attempt failed transiently; another is scheduled.
    Retrying {
        delivery: DeliveryId,
        attempt: u32,
        reason: String,
    },
    Failed {
        delivery: DeliveryId,
        reason: String,
    },
    /// The report's export has not finished; the job is due again when it has.
    Waiting(DeliveryId),
    /// Another worker took the job over; this one wrote nothing more.
    LeaseLost(DeliveryId),
}

/// The ports and settings a [`DeliveryWorker`] works with.
pub struct DeliveryWorkerDeps {
    pub queue: Arc<dyn DeliveryQueue>,
    pub source: Arc<dyn ReportSource>,
    pub artefacts: Arc<dyn ArtefactStore>,
    /// `None` when SMTP is not configured: email deliveries then fail, saying so.
    pub mailer: Option<Arc<dyn Mailer>>,
    pub webhooks: Arc<dyn Webhooks>,
    pub links: Arc<dyn LinkSigner>,
    pub clock: Arc<dyn Clock>,
    pub public_url: String,
    pub retry: RetryPolicy,
    pub lease: Duration,
    pub heartbeat_every: Duration,
}

pub struct DeliveryWorker {
    deps: DeliveryWorkerDeps,
}

impl DeliveryWorker {
    pub fn new(deps: DeliveryWorkerDeps) -> Self {
        Self { deps }
    }

    /// Takes the claimed delivery to its next state.
    pub async fn handle(
        &self,
        name: &str,
        job: ClaimedDelivery,
    ) -> Result<DeliveryOutcome, JobQueueError> {
        let id = job.delivery.id;
        let outcome = self.carry_out(name, &job).await;
        match outcome {
            Err(JobQueueError::LeaseLost) => Ok(DeliveryOutcome::LeaseLost(id)),
            Ok(outcome) => {
                tracing::info!(worker = name, delivery = %id, channel = %job.delivery.target.channel(), ?outcome, "delivery job done");
                Ok(outcome)
            }
            Err(e) => Err(e),
        }
    }

    async fn carry_out(
        &self,
        name: &str,
        job: &ClaimedDelivery,
    ) -> Result<DeliveryOutcome, JobQueueError> {
        let id = job.delivery.id;
        let queue = &self.deps.queue;
        if job.delivery.status == DeliveryStatus::Sending {
            tracing::warn!(worker = name, delivery = %id, "a worker stopped while sending this delivery; not sending it again");
            return self.fail(job, OUTCOME_UNKNOWN).await;
        }
        match job.report.status {
            ReportStatus::Exported | ReportStatus::Shared => {}
            // The export's own reason may hold internal detail: it is on the report for the
            // operator, and the delivery says only what happened.
            ReportStatus::Failed => return self.fail(job, EXPORT_FAILED).await,
            ReportStatus::Queued | ReportStatus::Exporting => {
                queue.defer(job).await?;
                return Ok(DeliveryOutcome::Waiting(id));
            }
        }
        if job.share.revoked_at.is_some() {
            return self
                .fail(job, "the share was revoked before it was sent")
                .await;
        }
        let message = match self.message(job).await {
            Ok(message) => message,
            Err(reason) => return self.after_failure(job, SendError::transient(reason)).await,
        };
        let attachments = match &job.delivery.target {
            DeliveryTarget::Email(_) => match self
                .attachment(&job.report, &message.project_slug)
                .await
            {
                Ok(attachment) => attachment.into_iter().collect(),
                Err(reason) => return self.after_failure(job, SendError::transient(reason)).await,
            },
            DeliveryTarget::Webhook(_) => Vec::new(),
        };
        queue.begin_send(job).await?;
        let sent = tokio::select! {
            sent = self.send(job, &message, &attachments) => sent,
            lost = self.keep_lease(job) => {
                // The lease is gone mid-send: whoever takes the job over sees `sending`.
                lost?;
                return Ok(DeliveryOutcome::LeaseLost(id));
            }
        };
        match sent {
            Ok(()) => {
                self.record_delivered(job).await?;
                Ok(DeliveryOutcome::Delivered(id))
            }
            Err(error) => self.after_failure(job, error).await,
        }
    }

    /// Records a sent message, retrying a brief storage failure: once sent, giving up would
    /// leave the delivery `sending`, and the next worker would call its outcome unknown.
    async fn record_delivered(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError> {
        let mut pause = Duration::from_millis(100);
        let mut tries = 0;
        loop {
            match self.deps.queue.delivered(job).await {
                Err(JobQueueError::Storage(error)) if tries < 5 => {
                    tracing::warn!(delivery = %job.delivery.id, %error, "could not record a sent delivery; trying again");
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    async fn send(
        &self,
        job: &ClaimedDelivery,
        message: &ShareMessage,
        attachments: &[Attachment],
    ) -> Result<(), SendError> {
        match &job.delivery.target {
            DeliveryTarget::Email(to) => match &self.deps.mailer {
                Some(mailer) => mailer.send(to, message, attachments).await,
                None => Err(SendError::permanent(
                    "email is not configured on this server",
                )),
            },
            DeliveryTarget::Webhook(url) => self.deps.webhooks.post(url, message).await,
        }
    }

    /// Retries a transient failure until the last attempt; fails a permanent one at once.
    async fn after_failure(
        &self,
        job: &ClaimedDelivery,
        error: SendError,
    ) -> Result<DeliveryOutcome, JobQueueError> {
        let retry = self.deps.retry;
        match error {
            SendError::Transient {
                reason,
                retry_after,
            } if job.attempt < retry.max_attempts => {
                let backoff = retry.delay_after(job.attempt);
                let wait =
                    retry_after.map_or(backoff, |asked| asked.min(MAX_RETRY_AFTER).max(backoff));
                let at =
                    self.deps.clock.now() + TimeDelta::from_std(wait).unwrap_or(TimeDelta::MAX);
                tracing::warn!(delivery = %job.delivery.id, attempt = job.attempt, %reason, retry_in_ms = wait.as_millis() as u64, "delivery attempt failed");
                self.deps.queue.retry(job, &reason, at).await?;
                Ok(DeliveryOutcome::Retrying {
                    delivery: job.delivery.id,
                    attempt: job.attempt,
                    reason,
                })
            }
            other => self.fail(job, other.reason()).await,
        }
    }

    async fn fail(
        &self,
        job: &ClaimedDelivery,
        reason: &str,
    ) -> Result<DeliveryOutcome, JobQueueError> {
        tracing::error!(delivery = %job.delivery.id, %reason, "delivery failed");
        self.deps.queue.fail(job, reason).await?;
        Ok(DeliveryOutcome::Failed {
            delivery: job.delivery.id,
            reason: reason.to_owned(),
        })
    }

    async fn message(&self, job: &ClaimedDelivery) -> Result<ShareMessage, String> {
        let report = &job.report;
        let (organisation_name, project_slug, project_name) = self
            .deps
            .source
            .names(report.project_id)
            .await
            .map_err(|error| {
                tracing::warn!(delivery = %job.delivery.id, %error, "could not read the report's names");
                "the report could not be read; will retry".to_owned()
            })?;
        // A fresh link for each message, naming the share, valid as long as the share.
        let token = self.deps.links.sign(job.share.id, job.share.expires_at);
        Ok(ShareMessage {
            report_id: report.id,
            organisation_name,
            project_name,
            project_slug,
            period_start: report.period_start,
            period_end: report.period_end,
            summary: report.snapshot.clone(),
            viewer_url: viewer_url(&self.deps.public_url, &token),
        })
    }

    /// The artefact to attach, when it is small enough; larger ones are reached by the link.
    async fn attachment(
        &self,
        report: &Report,
        project_slug: &str,
    ) -> Result<Option<Attachment>, String> {
        use futures::TryStreamExt;
        let Some(artefact) = &report.artefact else {
            return Ok(None);
        };
        if artefact.size_bytes > MAX_ATTACHMENT_BYTES {
            return Ok(None);
        }
        let unreadable = |error: crate::export::ArtefactStoreError| {
            tracing::warn!(report = %report.id, %error, "could not read the artefact to attach");
            "the report's artefact could not be read; will retry".to_owned()
        };
        let stream = self
            .deps
            .artefacts
            .open(&artefact.key)
            .await
            .map_err(unreadable)?;
        let content: Vec<u8> = stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .map_err(unreadable)?;
        Ok(Some(Attachment {
            file_name: report.file_name(project_slug),
            content_type: report.format.content_type().to_owned(),
            content,
        }))
    }

    /// Renews the lease until it is lost (`Ok`); never returns while it holds.
    async fn keep_lease(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError> {
        loop {
            tokio::time::sleep(self.deps.heartbeat_every).await;
            match self.deps.queue.heartbeat(job, self.deps.lease).await {
                Ok(()) => {}
                Err(JobQueueError::LeaseLost) => return Ok(()),
                Err(error) => {
                    tracing::warn!(delivery = %job.delivery.id, %error, "heartbeat failed");
                }
            }
        }
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use std::sync::Mutex;

    use chrono::{DateTime, Utc};

    use super::*;
    use crate::clock::FixedClock;
    use crate::export::{
        Artefact, ExportFormat, MockArtefactStore, MockReportSource, Report, ReportId,
    };
    use crate::ids::{OrgId, ProjectId};
    use crate::metrics::Summary;
    use crate::share::delivery::Delivery;
    use crate::share::ports::{MockDeliveryQueue, MockLinkSigner, MockMailer, MockWebhooks};
    use crate::share::record::{Share, ShareChannel, ShareId};
    use crate::share::request::EmailAddress;

    const NOW: &str = "2026-06-10T15:00:00Z";

    fn now() -> DateTime<Utc> {
        NOW.parse().unwrap()
    }

    fn job(status: ReportStatus, delivery: DeliveryStatus, attempt: u32) -> ClaimedDelivery {
        let report = Report {
            id: ReportId::generate(),
            org_id: OrgId::generate(),
            project_id: ProjectId::generate(),
            period_start: now().date_naive(),
            period_end: now().date_naive(),
            format: ExportFormat::Json,
            status,
            snapshot: Summary {
                risk_burn_down: vec![],
                verification_pass_rate: 0.0,
                regression_rate: 0.0,
                open_findings: 3,
            },
            error: (status == ReportStatus::Failed).then(|| "the renderer broke".to_owned()),
            artefact: Some(Artefact {
                key: "org/report.json".into(),
                size_bytes: 2,
                sha256: None,
            }),
            exported_at: None,
            shared_at: Some(now()),
            created_at: now(),
            updated_at: now(),
            definitions_version: 1,
            remediation: None,
        };
        let share = Share {
            id: ShareId::generate(),
            org_id: report.org_id,
            project_id: report.project_id,
            report_id: report.id,
            channel: ShareChannel::Email,
            recipients: vec!["lead@example.com".into()],
            webhook_host: None,
            created_at: now(),
            expires_at: now() + TimeDelta::days(30),
            revoked_at: None,
            view_count: 0,
            last_viewed_at: None,
        };
        ClaimedDelivery {
            delivery: Delivery {
                id: DeliveryId::generate(),
                share_id: share.id,
                report_id: report.id,
                target: DeliveryTarget::Email(EmailAddress::parse("lead@example.com").unwrap()),
                status: delivery,
                attempts: attempt.saturating_sub(1),
                last_error: None,
                created_at: now(),
                updated_at: now(),
                delivered_at: None,
            },
            report,
            share,
            attempt,
            lease_token: uuid::Uuid::new_v4(),
        }
    }

    /// A worker whose artefact store serves `{}`.
    fn worker(queue: MockDeliveryQueue, mailer: MockMailer) -> DeliveryWorker {
        let mut artefacts = MockArtefactStore::new();
        artefacts.expect_open().returning(|_| {
            Ok(Box::pin(futures::stream::iter([Ok(
                bytes::Bytes::from_static(b"{}"),
            )])))
        });
        worker_with(queue, mailer, artefacts)
    }

    fn worker_with(
        queue: MockDeliveryQueue,
        mailer: MockMailer,
        artefacts: MockArtefactStore,
    ) -> DeliveryWorker {
        let mut source = MockReportSource::new();
        source
            .expect_names()
            .returning(|_| Ok(("Acme".into(), "web".into(), "Web shop".into())));
        let mut links = MockLinkSigner::new();
        links.expect_sign().returning(|_, _| "signed".into());
        DeliveryWorker::new(DeliveryWorkerDeps {
            queue: Arc::new(queue),
            source: Arc::new(source),
            artefacts: Arc::new(artefacts),
            mailer: Some(Arc::new(mailer)),
            webhooks: Arc::new(MockWebhooks::new()),
            links: Arc::new(links),
            clock: Arc::new(FixedClock(now())),
            public_url: "https://reports.example.com".into(),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(30),
            heartbeat_every: Duration::from_secs(3600),
        })
    }

    #[tokio::test]
    async fn a_delivery_found_sending_is_failed_not_sent_again() {
        let claimed = job(ReportStatus::Shared, DeliveryStatus::Sending, 2);
        let id = claimed.delivery.id;
        let mut queue = MockDeliveryQueue::new();
        queue
            .expect_fail()
            .withf(|_, reason| reason == OUTCOME_UNKNOWN)
            .times(1)
            .returning(|_, _| Ok(()));
        let mailer = MockMailer::new(); // any send would panic: none expected
        let outcome = worker(queue, mailer).handle("w", claimed).await.unwrap();
        assert_eq!(
            outcome,
            DeliveryOutcome::Failed {
                delivery: id,
                reason: OUTCOME_UNKNOWN.into()
            }
        );
    }

    #[tokio::test]
    async fn a_delivery_waits_for_its_export_and_fails_with_it() {
        let claimed = job(ReportStatus::Exporting, DeliveryStatus::Pending, 1);
        let id = claimed.delivery.id;
        let mut queue = MockDeliveryQueue::new();
        queue.expect_defer().times(1).returning(|_| Ok(()));
        let outcome = worker(queue, MockMailer::new())
            .handle("w", claimed)
            .await
            .unwrap();
        assert_eq!(outcome, DeliveryOutcome::Waiting(id));

        let claimed = job(ReportStatus::Failed, DeliveryStatus::Pending, 1);
        let mut queue = MockDeliveryQueue::new();
        queue
            .expect_fail()
            .withf(|_, reason| reason == EXPORT_FAILED)
            .times(1)
            .returning(|_, _| Ok(()));
        worker(queue, MockMailer::new())
            .handle("w", claimed)
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn sending_is_recorded_before_the_message_goes_out() {
        let claimed = job(ReportStatus::Shared, DeliveryStatus::Pending, 1);
        let id = claimed.delivery.id;
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut queue = MockDeliveryQueue::new();
        let seen = order.clone();
        queue.expect_begin_send().times(1).returning(move |_| {
            seen.lock().unwrap().push("begin_send");
            Ok(())
        });
        let seen = order.clone();
        queue.expect_delivered().times(1).returning(move |_| {
            seen.lock().unwrap().push("delivered");
            Ok(())
        });
        let mut mailer = MockMailer::new();
        let seen = order.clone();
        mailer
            .expect_send()
            .times(1)
            .returning(move |to, message, attachments| {
                assert_eq!(to.as_str(), "lead@example.com");
                assert_eq!(
                    message.viewer_url,
                    "https://reports.example.com/insights/audit/reports/shared/signed"
                );
                assert_eq!(message.project_name, "Web shop");
                assert_eq!(attachments.len(), 1);
                assert_eq!(attachments[0].content, b"{}");
                assert_eq!(attachments[0].content_type, "application/json");
                seen.lock().unwrap().push("send");
                Ok(())
            });
        let outcome = worker(queue, mailer).handle("w", claimed).await.unwrap();
        assert_eq!(outcome, DeliveryOutcome::Delivered(id));
        assert_eq!(*order.lock().unwrap(), ["begin_send", "send", "delivered"]);
    }

    #[tokio::test]
    async fn transient_failures_retry_honouring_retry_after_until_the_last_attempt() {
        let claimed = job(ReportStatus::Shared, DeliveryStatus::Pending, 1);
        let mut queue = MockDeliveryQueue::new();
        queue.expect_begin_send().returning(|_| Ok(()));
        queue
            .expect_retry()
            .withf(|_, reason, at| {
                // Backoff for attempt 1 is 2 s; the server asked for 90 s.
                reason == "HTTP 429 Too Many Requests"
                    && *at == "2026-06-10T15:01:30Z".parse::<DateTime<Utc>>().unwrap()
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer.expect_send().returning(|_, _, _| {
            Err(SendError::Transient {
                reason: "HTTP 429 Too Many Requests".into(),
                retry_after: Some(Duration::from_secs(90)),
            })
        });
        let outcome = worker(queue, mailer).handle("w", claimed).await.unwrap();
        assert!(matches!(
            outcome,
            DeliveryOutcome::Retrying { attempt: 1, .. }
        ));

        let last = job(ReportStatus::Shared, DeliveryStatus::Pending, 5);
        let mut queue = MockDeliveryQueue::new();
        queue.expect_begin_send().returning(|_| Ok(()));
        queue
            .expect_fail()
            .withf(|_, reason| reason == "451 4.3.0 try again later")
            .times(1)
            .returning(|_, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .returning(|_, _, _| Err(SendError::transient("451 4.3.0 try again later")));
        worker(queue, mailer).handle("w", last).await.unwrap();
    }

    #[tokio::test]
    async fn a_failure_before_the_send_is_retried_without_sending() {
        let claimed = job(ReportStatus::Shared, DeliveryStatus::Pending, 1);
        let mut queue = MockDeliveryQueue::new();
        queue
            .expect_retry()
            .withf(|_, reason, at| {
                reason == "the report's artefact could not be read; will retry"
                    && *at == "2026-06-10T15:00:02Z".parse::<DateTime<Utc>>().unwrap()
            })
            .times(1)
            .returning(|_, _, _| Ok(()));
        let mut artefacts = MockArtefactStore::new();
        artefacts
            .expect_open()
            .returning(|_| Err(crate::export::ArtefactStoreError::Io("/secret/path".into())));
        let worker = worker_with(queue, MockMailer::new(), artefacts);
        let outcome = worker.handle("w", claimed).await.unwrap();
        assert!(matches!(
            outcome,
            DeliveryOutcome::Retrying { attempt: 1, .. }
        ));
    }

    #[tokio::test]
    async fn permanent_failures_are_final_and_a_lost_lease_writes_nothing_more() {
        let claimed = job(ReportStatus::Shared, DeliveryStatus::Pending, 1);
        let mut queue = MockDeliveryQueue::new();
        queue.expect_begin_send().returning(|_| Ok(()));
        queue
            .expect_fail()
            .withf(|_, reason| reason == "550 5.1.1 mailbox unavailable")
            .times(1)
            .returning(|_, _| Ok(()));
        let mut mailer = MockMailer::new();
        mailer
            .expect_send()
            .returning(|_, _, _| Err(SendError::permanent("550 5.1.1 mailbox unavailable")));
        worker(queue, mailer).handle("w", claimed).await.unwrap();

        let claimed = job(ReportStatus::Shared, DeliveryStatus::Pending, 1);
        let id = claimed.delivery.id;
        let mut queue = MockDeliveryQueue::new();
        queue
            .expect_begin_send()
            .returning(|_| Err(JobQueueError::LeaseLost));
        let outcome = worker(queue, MockMailer::new())
            .handle("w", claimed)
            .await
            .unwrap();
        assert_eq!(outcome, DeliveryOutcome::LeaseLost(id));
    }
}
