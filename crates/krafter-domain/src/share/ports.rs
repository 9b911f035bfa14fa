use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::export::{JobQueueError, Report, ReportId};
use crate::ids::ProjectId;
use crate::share::delivery::Delivery;
use crate::share::message::{Attachment, ShareMessage};
use crate::share::record::{Share, ShareId};
use crate::share::request::{EmailAddress, WebhookUrl};
use crate::storage::StorageError;

/// Why a message was not accepted. The reason is the remote side's answer (an SMTP reply, an
/// HTTP status) or a short description, fit to be shown to the user who shared: never an
/// internal error text, a file path, a credential or a webhook's path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// Worth another attempt: SMTP 4xx and connection errors; webhook timeouts, 429 and 5xx.
    /// `retry_after` is the remote side's wish (`Retry-After`), if it said one.
    #[error("{reason}")]
    Transient {
        reason: String,
        retry_after: Option<Duration>,
    },
    /// Another attempt would fail the same way: SMTP 5xx, webhook 4xx, a refused address.
    #[error("{reason}")]
    Permanent { reason: String },
}

impl SendError {
    pub fn transient(reason: impl Into<String>) -> Self {
        SendError::Transient {
            reason: reason.into(),
            retry_after: None,
        }
    }

    pub fn permanent(reason: impl Into<String>) -> Self {
        SendError::Permanent {
            reason: reason.into(),
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            SendError::Transient { reason, .. } | SendError::Permanent { reason } => reason,
        }
    }
}

/// Sends a shared report by email.
///
/// Contract: `send` delivers one message to `to` (subject [`ShareMessage::subject`], a plain-text
/// and an HTML part with the four metrics, the period and the viewer link, and the
/// `attachments`, none or one) and answers once the server accepted it for delivery. A refusal or a broken
/// connection is a [`SendError`], classified as the SMTP reply says (4xx transient, 5xx
/// permanent; connection and TLS failures transient).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Mailer: Send + Sync {
    async fn send(
        &self,
        to: &EmailAddress,
        message: &ShareMessage,
        attachments: &[Attachment],
    ) -> Result<(), SendError>;
}

/// Why the SSRF guard refused a webhook URL; the reason is fit for the API's answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct WebhookRefused(pub String);

/// Outbound webhooks (Slack incoming webhooks), behind the SSRF guard.
///
/// Contract:
/// - `vet` accepts only an `https` URL without userinfo whose host resolves, once, to public
///   addresses only (and is on the allow-list, when one is configured); anything else is a
///   [`WebhookRefused`] saying why, without echoing the URL's path.
/// - `post` vets the URL again, connects to the address it vetted (no second lookup, no
///   redirects, no proxy), posts the message as Slack JSON (`text` and `blocks`) within a total
///   timeout, and reads at most a bounded part of the answer. 2xx is success; timeouts,
///   connection errors, 429 (with its `Retry-After`) and 5xx are transient; other 4xx and a
///   refused URL are permanent. Reasons never contain the URL's path.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Webhooks: Send + Sync {
    async fn vet(&self, raw: &str) -> Result<WebhookUrl, WebhookRefused>;
    async fn post(&self, url: &WebhookUrl, message: &ShareMessage) -> Result<(), SendError>;
}

/// Signs and checks the tokens of share links.
///
/// Contract: `sign` makes a token naming `share` that `verify` accepts until `expires_at`;
/// `verify` answers the share only for a token this signer (or an older key it still holds)
/// made, unaltered, unexpired at `now`, with the pinned algorithm, and `None` for anything else,
/// without saying why.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait LinkSigner: Send + Sync {
    fn sign(&self, share: ShareId, expires_at: DateTime<Utc>) -> String;
    fn verify(&self, token: &str, now: DateTime<Utc>) -> Option<ShareId>;
}

#[derive(Debug, thiserror::Error)]
pub enum ShareRepoError {
    #[error("no such report in this project")]
    ReportNotFound,
    #[error("the report's export failed; it cannot be shared")]
    ReportFailed,
    #[error("no such share in this project")]
    ShareNotFound,
    /// The report row could not be moved to shared (its status changed under the request).
    #[error("the report could not be updated")]
    ReportNotUpdated,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// A share to store. `share.report_id` and the deliveries' `report_id` are filled in by the
/// repository with the report it chose.
#[derive(Debug, Clone)]
pub struct NewShare {
    pub share: Share,
    /// The report named by the request; the project's latest when `None`.
    pub report: Option<ReportId>,
    /// The report to create, uncharged, when `report` is `None` and the project has none yet
    /// (given whenever `report` is `None`).
    pub placeholder: Option<Report>,
    /// Pending, one per recipient or webhook; none for a link.
    pub deliveries: Vec<Delivery>,
}

/// What a share stored: the report as it is now and the share record.
#[derive(Debug, Clone)]
pub struct SharedReport {
    pub report: Report,
    pub share: Share,
}

/// Shares and their deliveries.
///
/// Contract:
/// - `create` does all of this in one transaction, or nothing: picks the report (the given one
///   of `project`, `ReportNotFound` otherwise; or the project's latest, or else stores the
///   placeholder with an export job and charges nothing), locks it, refuses a `failed` one
///   (`ReportFailed`), sets its `shared_at` (and its status to `shared` once it is exported;
///   an export still running ends in `shared`), stores the share and the deliveries with a job
///   each on the job queue (due now when the report is exported, otherwise when its export ends),
///   and wakes the workers.
/// - `find` answers a share by id, whatever its project: the caller proved it with a signed token.
/// - `record_view` counts one view of the share at `at`.
/// - `list_shares` and `list_deliveries` answer the report's records (of `project` only),
///   oldest first.
/// - `revoke` sets `revoked_at` (once; a second revoke keeps the first time), `ShareNotFound` for
///   a share of another project.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ShareRepository: Send + Sync {
    async fn create(
        &self,
        project: ProjectId,
        new: &NewShare,
    ) -> Result<SharedReport, ShareRepoError>;
    async fn find(&self, id: ShareId) -> Result<Option<Share>, ShareRepoError>;
    async fn record_view(&self, id: ShareId, at: DateTime<Utc>) -> Result<(), ShareRepoError>;
    async fn list_shares(
        &self,
        project: ProjectId,
        report: ReportId,
    ) -> Result<Vec<Share>, ShareRepoError>;
    async fn list_deliveries(
        &self,
        project: ProjectId,
        report: ReportId,
    ) -> Result<Vec<Delivery>, ShareRepoError>;
    async fn revoke(
        &self,
        project: ProjectId,
        id: ShareId,
        at: DateTime<Utc>,
    ) -> Result<Share, ShareRepoError>;
}

/// A delivery job a worker holds: valid while its lease has not run out.
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery: Delivery,
    /// The report, as it is now.
    pub report: Report,
    pub share: Share,
    /// 1 for the first attempt.
    pub attempt: u32,
    pub lease_token: uuid::Uuid,
}

/// The delivery side of the job queue ([`crate::export::JobQueue::claim`] hands out both kinds).
///
/// Contract: every method acts only while `job.lease_token` holds the lease (`LeaseLost`
/// otherwise, writing nothing) and moves the delivery as [`crate::share::DeliveryStatus`]
/// allows:
/// - `begin_send` records `pending → sending` and counts the attempt, before the message goes
///   out; it is committed when it returns.
/// - `delivered` records `sending → delivered` and ends the job.
/// - `retry` records `sending → pending` with `reason` and schedules the job at `at`.
/// - `fail` records `→ failed` with `reason` and ends the job.
/// - `defer` puts the job back without counting the attempt, due again when the report's export
///   ends.
/// - `heartbeat` extends the lease.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait DeliveryQueue: Send + Sync {
    async fn begin_send(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError>;
    async fn delivered(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError>;
    async fn retry(
        &self,
        job: &ClaimedDelivery,
        reason: &str,
        at: DateTime<Utc>,
    ) -> Result<(), JobQueueError>;
    async fn fail(&self, job: &ClaimedDelivery, reason: &str) -> Result<(), JobQueueError>;
    async fn defer(&self, job: &ClaimedDelivery) -> Result<(), JobQueueError>;
    async fn heartbeat(&self, job: &ClaimedDelivery, lease: Duration) -> Result<(), JobQueueError>;
}
