//! Sharing a report: by email, by a Slack webhook, or by a signed link to the public viewer.
//! Email and Slack shares are carried out by the workers as deliveries, each a small state
//! machine whose failures are kept and shown.

mod delivery;
mod message;
mod ports;
mod record;
mod request;
mod service;
mod worker;

pub use delivery::{Delivery, DeliveryId, DeliveryStatus, DeliveryTarget};
pub use message::{Attachment, ShareMessage, MAX_ATTACHMENT_BYTES};
pub use ports::{
    ClaimedDelivery, DeliveryQueue, LinkSigner, Mailer, NewShare, SendError, ShareRepoError,
    ShareRepository, SharedReport, WebhookRefused, Webhooks,
};
#[cfg(feature = "mock")]
pub use ports::{MockDeliveryQueue, MockLinkSigner, MockMailer, MockShareRepository, MockWebhooks};
pub use record::{Share, ShareChannel, ShareId};
pub use request::{
    EmailAddress, ShareRequest, ShareTarget, WebhookUrl, DEFAULT_LINK_DAYS, MAX_RECIPIENTS,
};
pub use service::{viewer_url, ShareError, Shared, Shares, SharesDeps, ViewerPage, VIEWER_PATH};
pub use worker::{
    DeliveryOutcome, DeliveryWorker, DeliveryWorkerDeps, EXPORT_FAILED, OUTCOME_UNKNOWN,
};
