//! Import of scanner results: a SARIF 2.1.0 log or the native bulk format, matched to the
//! project's findings of the same source by external id, applied as ordinary ledger events.
//!
//! - [`document`] reads either format into [`ScanResult`]s ([`sarif`], [`native`]);
//! - [`fingerprint`] gives a SARIF result its external id;
//! - [`plan`] decides, on the findings as stored, what an import changes;
//! - [`Imports`] is the use case, over an [`ImportRepository`] that applies a plan atomically.

pub mod document;
pub mod fingerprint;
pub mod native;
pub mod plan;
mod port;
pub mod sarif;
mod service;

use chrono::{DateTime, Utc};

use crate::ids::{ImportId, ProjectId};
use crate::ledger::{
    stored_enum, Description, ExternalId, FindingStatus, FindingTitle, Location, PriorityScore,
    RuleId, Severity, SourceName,
};
use crate::page::KeysetCursor;

pub use document::{parse_document, BodyKind, DocumentError, ParsedImport};
pub use plan::{plan_import, ImportPlan, PlannedChange};
#[cfg(feature = "mock")]
pub use port::MockImportRepository;
pub use port::{ImportHeader, ImportQuery, ImportRepoError, ImportRepository};
pub use service::{ImportError, ImportRequest, Imports};

/// The most results one import may hold.
pub const MAX_RESULTS: usize = 50_000;

stored_enum!(
    /// The document an import was read from.
    ImportFormat, "format" {
        Sarif = 0 => "sarif",
        Native = 1 => "native",
    }
);

/// One result of a scan, as the import takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanResult {
    pub external_id: ExternalId,
    pub title: FindingTitle,
    pub severity: Severity,
    pub priority_score: PriorityScore,
    /// The status a finding created from it starts in.
    pub status: FindingStatus,
    pub rule_id: Option<RuleId>,
    pub location: Option<Location>,
    pub description: Option<Description>,
}

/// The priority score a result gets from its severity when the document gives none.
pub fn default_priority(severity: Severity) -> PriorityScore {
    let score = match severity {
        Severity::Critical => 900,
        Severity::High => 700,
        Severity::Medium => 400,
        Severity::Low => 100,
        Severity::Info => 0,
    };
    PriorityScore::parse(score).expect("in range")
}

/// A document that cannot be imported: the JSON path of the first problem, and what it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct InvalidImport {
    /// `runs[0].results[12].locations`, `findings[3].title`, or `.` for the document itself.
    pub path: String,
    pub message: String,
}

impl InvalidImport {
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            message: message.into(),
        }
    }
}

/// What an import did, by result: `received = created + unchanged + reopened + ignored_dismissed`;
/// `resolved` counts the findings `close_missing` resolved.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportCounts {
    pub received: u32,
    pub created: u32,
    pub unchanged: u32,
    pub reopened: u32,
    pub resolved: u32,
    pub ignored_dismissed: u32,
}

/// An import as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRecord {
    pub id: ImportId,
    pub project_id: ProjectId,
    pub source: SourceName,
    pub format: ImportFormat,
    pub close_missing: bool,
    /// When the scan ran: the time of every change the import made.
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
    pub counts: ImportCounts,
}

/// Where a newest-first page of imports resumes.
pub type ImportCursor = KeysetCursor<ImportId>;

impl ImportCursor {
    pub fn after(record: &ImportRecord) -> Self {
        Self {
            created_at: record.created_at,
            id: record.id,
        }
    }
}
