//! What a renderer is given, and the renderer port.

use std::io::Write;

use chrono::{DateTime, NaiveDate, Utc};

use crate::export::report::Report;
use crate::ids::FindingId;
use crate::ledger::{FindingStatus, Provenance, Severity};

/// Everything about a report except its findings.
#[derive(Debug, Clone)]
pub struct ReportHeader {
    pub report: Report,
    pub organisation_name: String,
    pub project_slug: String,
    pub project_name: String,
    pub generated_at: DateTime<Utc>,
    /// Where a reader of the page can download the artefact (the public viewer's link); `None`
    /// in artefacts themselves.
    pub download_url: Option<String>,
    /// How many findings the report holds when fewer are pushed (the viewer shows the preview
    /// kept at export time); `None`: as many as pushed.
    pub listed_total: Option<u64>,
}

/// Findings kept with an artefact for the public viewer: the first [`PREVIEW_FINDINGS`] (highest
/// priority first) and how many there were in all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingsPreview {
    pub findings: Vec<ReportFinding>,
    pub total: u64,
    /// The organisation's name, the project's slug and its name when the artefact was made, so
    /// that the viewer shows them as exported (`None` in previews written before they were kept).
    pub names: Option<(String, String, String)>,
}

/// How many findings a preview keeps: as many as the PDF and HTML artefacts list.
pub const PREVIEW_FINDINGS: usize = 1_000;

/// The key of the preview kept beside the artefact stored under `artefact_key`.
pub fn preview_key(artefact_key: &str) -> String {
    format!("{artefact_key}.preview.json")
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredPreview {
    total: u64,
    findings: Vec<StoredFinding>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    names: Option<StoredNames>,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredNames {
    organisation: String,
    project_slug: String,
    project: String,
}

#[derive(serde::Serialize, serde::Deserialize)]
struct StoredFinding {
    id: FindingId,
    title: String,
    severity: String,
    status: String,
    priority_score: i32,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// Absent from previews kept before findings had due dates.
    #[serde(default)]
    due_on: Option<NaiveDate>,
}

impl FindingsPreview {
    /// Keeps the first findings, counts them all.
    pub fn push(&mut self, batch: &[ReportFinding]) {
        let room = PREVIEW_FINDINGS.saturating_sub(self.findings.len());
        self.findings.extend(batch.iter().take(room).cloned());
        self.total += batch.len() as u64;
    }

    pub fn to_json(&self) -> Vec<u8> {
        let stored = StoredPreview {
            names: self
                .names
                .clone()
                .map(|(organisation, project_slug, project)| StoredNames {
                    organisation,
                    project_slug,
                    project,
                }),
            total: self.total,
            findings: self
                .findings
                .iter()
                .map(|f| StoredFinding {
                    id: f.id,
                    title: f.title.clone(),
                    severity: f.severity.as_str().to_owned(),
                    status: f.status.as_str().to_owned(),
                    priority_score: f.priority_score,
                    created_at: f.created_at,
                    updated_at: f.updated_at,
                    due_on: f.due_on,
                })
                .collect(),
        };
        serde_json::to_vec(&stored).expect("a preview serialises")
    }

    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let stored: StoredPreview = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        let findings = stored
            .findings
            .into_iter()
            .map(|f| {
                Ok(ReportFinding {
                    id: f.id,
                    title: f.title,
                    severity: Severity::parse(&f.severity).map_err(|e| e.to_string())?,
                    status: FindingStatus::parse(&f.status).map_err(|e| e.to_string())?,
                    priority_score: f.priority_score,
                    created_at: f.created_at,
                    updated_at: f.updated_at,
                    due_on: f.due_on,
                    // The viewer's preview shows no scanner details; it does not keep them.
                    provenance: Provenance::default(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Self {
            findings,
            total: stored.total,
            names: stored
                .names
                .map(|n| (n.organisation, n.project_slug, n.project)),
        })
    }
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
    /// Its SLA due date (`None` without an SLA for its severity).
    pub due_on: Option<NaiveDate>,
    /// What the scanner that reported it said (empty for a finding recorded by hand).
    pub provenance: Provenance,
}

impl ReportFinding {
    /// Whole days from its creation's UTC date to `day`.
    pub fn age_days(&self, day: NaiveDate) -> i64 {
        (day - self.created_at.date_naive()).num_days()
    }

    /// Whether it is past its due date on `day` (the findings of a report are open at the end
    /// of its period, so this is the definition of overdue for them).
    pub fn overdue_on(&self, day: NaiveDate) -> bool {
        self.due_on.is_some_and(|due| day > due)
    }
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
