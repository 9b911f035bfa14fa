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
            ReportStatus::Failed => {
                let why = job.report.error.as_deref().unwrap_or("no reason was kept");
                return self
                    .fail(job, &format!("the report's export failed: {why}"))
                    .await;
            }
            ReportStatus::Queued | ReportStatus::Exporting => {
                queue.defer(job).await?;
                return Ok(DeliveryOutcome::Waiting(id));
            }
        }
        let message = match self.message(job).await {
            Ok(message) => message,
            Err(reason) => return self.after_failure(job, SendError::transient(reason)).await,
        };
        let attachments = match &job.delivery.target {
            DeliveryTarget::Email(_) => match self.attachment(&job.report).await {
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
                queue.delivered(job).await?;
                Ok(DeliveryOutcome::Delivered(id))
            }
            Err(error) => self.after_failure(job, error).await,
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
    async fn attachment(&self, report: &Report) -> Result<Option<Attachment>, String> {
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
        let (_, slug, _) = self
            .deps
            .source
            .names(report.project_id)
            .await
            .map_err(|_| "the report could not be read; will retry".to_owned())?;
        Ok(Some(Attachment {
            file_name: report.file_name(&slug),
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
