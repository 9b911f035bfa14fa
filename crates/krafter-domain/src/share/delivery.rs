use chrono::{DateTime, Utc};

use crate::export::ReportId;
use crate::ledger::{stored_enum, TransitionError};
use crate::share::record::{ShareChannel, ShareId};
use crate::share::request::{EmailAddress, WebhookUrl};

crate::ids::uuid_id!(
    /// One message to one recipient (an email address or a webhook).
    DeliveryId
);

stored_enum!(
    /// `pending → sending → delivered | failed`, and `sending → pending` for another attempt.
    /// See [`DeliveryStatus::transition`].
    DeliveryStatus, "status" {
        Pending = 0 => "pending",
        Sending = 1 => "sending",
        Delivered = 2 => "delivered",
        Failed = 3 => "failed",
    }
);

impl DeliveryStatus {
    /// The states a delivery may move to `target` from.
    ///
    /// - `pending → sending`: a worker is about to send (recorded before the send, so that a
    ///   worker that dies mid-send leaves a trace).
    /// - `sending → delivered`: the remote side accepted the message.
    /// - `sending → pending`: the attempt failed transiently; another is scheduled.
    ///   `pending → pending`: the same, for a failure before anything was sent (the report could
    ///   not be read).
    /// - `pending | sending → failed`: the attempt failed for good, the report's export failed,
    ///   or a worker died while sending, when whether the message went out is unknown and it is
    ///   not sent again (at most once).
    pub fn sources_of(target: DeliveryStatus) -> &'static [DeliveryStatus] {
        use DeliveryStatus::*;
        match target {
            Pending => &[Pending, Sending],
            Sending => &[Pending],
            Delivered => &[Sending],
            Failed => &[Pending, Sending],
        }
    }

    pub fn transition(self, target: DeliveryStatus) -> Result<DeliveryStatus, TransitionError> {
        if Self::sources_of(target).contains(&self) {
            Ok(target)
        } else {
            Err(TransitionError {
                entity: "delivery",
                from: self.as_str(),
                to: target.as_str(),
            })
        }
    }

    pub fn is_final(self) -> bool {
        matches!(self, DeliveryStatus::Delivered | DeliveryStatus::Failed)
    }
}

/// Where a delivery goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryTarget {
    Email(EmailAddress),
    Webhook(WebhookUrl),
}

impl DeliveryTarget {
    pub fn channel(&self) -> ShareChannel {
        match self {
            DeliveryTarget::Email(_) => ShareChannel::Email,
            DeliveryTarget::Webhook(_) => ShareChannel::Slack,
        }
    }

    /// What may be shown of the target: the address, or the webhook's host only.
    pub fn display(&self) -> String {
        match self {
            DeliveryTarget::Email(address) => address.as_str().to_owned(),
            DeliveryTarget::Webhook(url) => url.host().to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: DeliveryId,
    pub share_id: ShareId,
    pub report_id: ReportId,
    pub target: DeliveryTarget,
    pub status: DeliveryStatus,
    pub attempts: u32,
    /// The remote side's answer, or a short description; never an internal error text.
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

#[cfg(test)]
mod tests {
    use super::DeliveryStatus::*;

    #[test]
    fn a_delivery_moves_forward_only() {
        assert_eq!(Pending.transition(Sending), Ok(Sending));
        assert_eq!(Sending.transition(Delivered), Ok(Delivered));
        assert_eq!(Sending.transition(Pending), Ok(Pending));
        assert_eq!(Pending.transition(Pending), Ok(Pending));
        assert_eq!(Sending.transition(Failed), Ok(Failed));
        assert_eq!(Pending.transition(Failed), Ok(Failed));
        for (from, to) in [
            (Pending, Delivered),
            (Delivered, Sending),
            (Delivered, Failed),
            (Failed, Pending),
            (Failed, Sending),
            (Delivered, Pending),
        ] {
            assert_eq!(
                from.transition(to).unwrap_err().to_string(),
                format!("a delivery cannot move from {from} to {to}")
            );
        }
    }
}
