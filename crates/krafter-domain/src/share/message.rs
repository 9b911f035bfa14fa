use chrono::NaiveDate;

use crate::export::ReportId;
use crate::metrics::Summary;

/// Artefacts up to this size are attached to emails; larger ones are linked only.
pub const MAX_ATTACHMENT_BYTES: u64 = 10 * 1024 * 1024;

/// What a shared report says, whatever the channel: the adapters turn it into an email or a
/// Slack message.
#[derive(Debug, Clone, PartialEq)]
pub struct ShareMessage {
    pub report_id: ReportId,
    pub organisation_name: String,
    pub project_name: String,
    pub project_slug: String,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    /// The report's frozen summary: the four metrics and the burn-down.
    pub summary: Summary,
    /// A signed link to the public viewer.
    pub viewer_url: String,
}

impl ShareMessage {
    /// `2026-06-01 to 2026-06-07`, or one date for a one-day period.
    pub fn period(&self) -> String {
        if self.period_start == self.period_end {
            self.period_start.to_string()
        } else {
            format!("{} to {}", self.period_start, self.period_end)
        }
    }

    /// `Audit report: <project name> (<period>)`
    pub fn subject(&self) -> String {
        format!("Audit report: {} ({})", self.project_name, self.period())
    }

    /// The open risk score at the end of the period (the burn-down's last point).
    pub fn open_risk_score(&self) -> i64 {
        self.summary
            .risk_burn_down
            .last()
            .map_or(0, |p| p.open_risk_score)
    }
}

/// The report's artefact, attached to an email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub file_name: String,
    /// A MIME type, e.g. `application/pdf` or `text/csv; charset=utf-8`.
    pub content_type: String,
    pub content: Vec<u8>,
}
