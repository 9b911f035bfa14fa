use chrono::{DateTime, Utc};

use crate::export::ReportId;
use crate::ids::{OrgId, ProjectId};
use crate::ledger::stored_enum;

crate::ids::uuid_id!(
    /// A share record: one act of sharing a report. A link names it, so that revoking it ends the link.
    ShareId
);

stored_enum!(
    /// How a report is shared.
    ShareChannel, "channel" {
        Email = 0 => "email",
        Slack = 1 => "slack",
        Link = 2 => "link",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Share {
    pub id: ShareId,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub report_id: ReportId,
    pub channel: ShareChannel,
    /// The email addresses, for `email`; empty otherwise.
    pub recipients: Vec<String>,
    /// The webhook's host, for `slack` (its path is a secret and is kept only by the delivery).
    pub webhook_host: Option<String>,
    pub created_at: DateTime<Utc>,
    /// When links to this share stop working.
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub view_count: u64,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl Share {
    /// Whether a link to this share may be followed at `now`.
    pub fn is_viewable(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}
