//! What a renderer is given, and the renderer port.

use std::io::Write;

use chrono::{DateTime, Utc};

use crate::export::report::Report;
use crate::ids::FindingId;
use crate::ledger::{FindingStatus, Severity};

/// Everything about a report except its findings.
#[derive(Debug, Clone)]
pub struct ReportHeader {
    pub report: Report,
    pub organisation_name: String,
    pub project_slug: String,
    pub project_name: String,
    pub generated_at: DateTime<Utc>,
}

/// A finding open at the end of the report's period, as it was then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportFinding {
    pub id: FindingId,
    pub title: String,
    pub severity: Severity,
    pub status: FindingStatus,
    pub priority_score: i32,
    pub created_at: DateTime<Utc>,
    /// When the finding last changed on or before the end of the period.
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("could not write the artefact: {0}")]
    Io(#[from] std::io::Error),
    #[error("could not render the report: {0}")]
    Render(String),
}

/// Turns a report into its artefact, in the format the report asks for.
///
/// Contract: `start` writes whatever comes before the findings; the caller then pushes the
/// findings in batches, highest priority first, and calls `finish` once, which completes and
/// flushes the artefact. Formats that list every finding (JSON, CSV) write batches as they come
/// and hold no more than one batch in memory; formats for people (PDF, HTML) keep the first
/// 1,000 and count the rest. Rendering is CPU work: call it off the async executor.
pub trait ReportRenderer: Send + Sync {
    fn start(
        &self,
        header: &ReportHeader,
        out: Box<dyn Write + Send>,
    ) -> Result<Box<dyn RenderSession>, RenderError>;
}

pub trait RenderSession: Send {
    fn push(&mut self, findings: &[ReportFinding]) -> Result<(), RenderError>;
    fn finish(self: Box<Self>) -> Result<(), RenderError>;
}
