use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

use crate::export::executive::ReportRemediation;
use crate::ids::{OrgId, ProjectId};
use crate::ledger::{stored_enum, TransitionError};
use crate::metrics::Summary;

/// A report: one export of a project's summary over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReportId(Uuid);

impl ReportId {
    pub fn generate() -> Self {
        Self(Uuid::now_v7())
    }

    pub const fn from_uuid(uuid: Uuid) -> Self {
        Self(uuid)
    }

    pub const fn as_uuid(&self) -> Uuid {
        self.0
    }
}

impl std::fmt::Display for ReportId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::str::FromStr for ReportId {
    type Err = uuid::Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Uuid::parse_str(s).map(Self)
    }
}

stored_enum!(
    /// What the artefact is. `pdf` is a real PDF; `html` is one self-contained page.
    ExportFormat, "format" {
        Pdf = 0 => "pdf",
        Csv = 1 => "csv",
        Json = 2 => "json",
        Html = 3 => "html",
    }
);

impl ExportFormat {
    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Pdf => "application/pdf",
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Json => "application/json",
            ExportFormat::Html => "text/html; charset=utf-8",
        }
    }

    pub fn extension(self) -> &'static str {
        self.as_str()
    }
}

stored_enum!(
    /// `queued → exporting → exported → shared`, or `failed`. See [`ReportStatus::transition`].
    ReportStatus, "status" {
        Queued = 0 => "queued",
        Exporting = 1 => "exporting",
        Exported = 2 => "exported",
        Shared = 3 => "shared",
        Failed = 4 => "failed",
    }
);

impl ReportStatus {
    /// The states a report may move to `target` from.
    ///
    /// - `queued → exporting`: a worker claimed the job; `exporting → exporting`: a worker
    ///   reclaimed a job whose previous worker's lease ran out.
    /// - `exporting → queued`: an attempt failed and another is scheduled.
    /// - `exporting → exported | failed`: the job finished.
    /// - `exported | shared → shared`: the report was shared (again); `exporting → shared`: the
    ///   export of a report shared while it ran finished.
    ///
    /// Nothing leaves `failed`, and nothing goes back from `exported` or `shared`, so that a
    /// late worker cannot overwrite a later state with an earlier one.
    pub fn sources_of(target: ReportStatus) -> &'static [ReportStatus] {
        use ReportStatus::*;
        match target {
            Queued => &[Exporting],
            Exporting => &[Queued, Exporting],
            Exported | Failed => &[Exporting],
            Shared => &[Exporting, Exported, Shared],
        }
    }

    pub fn transition(self, target: ReportStatus) -> Result<ReportStatus, TransitionError> {
        if Self::sources_of(target).contains(&self) {
            Ok(target)
        } else {
            Err(TransitionError {
                entity: "report",
                from: self.as_str(),
                to: target.as_str(),
            })
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReportStatus::Exported | ReportStatus::Shared | ReportStatus::Failed
        )
    }
}

/// A stored artefact: where it is and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Artefact {
    /// The store's key, e.g. `<org>/<report>.csv`.
    pub key: String,
    pub size_bytes: u64,
    /// The lower-case hex SHA-256 of the artefact's bytes, so that anyone can check that a file
    /// is the one the service produced (`None` for artefacts made before they were hashed).
    pub sha256: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub id: ReportId,
    pub org_id: OrgId,
    pub project_id: ProjectId,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub format: ExportFormat,
    pub status: ReportStatus,
    /// The summary over the period, captured when the export was requested.
    pub snapshot: Summary,
    /// The remediation of the period and the comparison with the one before, captured with the
    /// summary (`None` for reports requested before reports had them).
    pub remediation: Option<ReportRemediation>,
    /// The version of the metric definitions the figures were computed under
    /// ([`crate::metrics::remediation::REMEDIATION_DEFINITIONS_VERSION`]).
    pub definitions_version: u32,
    /// Why the export failed, once it has.
    pub error: Option<String>,
    pub artefact: Option<Artefact>,
    pub exported_at: Option<DateTime<Utc>>,
    pub shared_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Report {
    /// The artefact's file name for downloads: `<project>-<start>-<end>.<ext>`.
    pub fn file_name(&self, project_slug: &str) -> String {
        format!(
            "{project_slug}-report-{}-{}.{}",
            self.period_start,
            self.period_end,
            self.format.extension()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::ReportStatus::*;

    #[test]
    fn the_lifecycle_only_moves_forward() {
        assert_eq!(Queued.transition(Exporting), Ok(Exporting));
        assert_eq!(Exporting.transition(Exporting), Ok(Exporting));
        assert_eq!(Exporting.transition(Queued), Ok(Queued));
        assert_eq!(Exporting.transition(Exported), Ok(Exported));
        assert_eq!(Exporting.transition(Failed), Ok(Failed));
        assert_eq!(Exported.transition(Shared), Ok(Shared));
        assert_eq!(Shared.transition(Shared), Ok(Shared));
        assert_eq!(Exporting.transition(Shared), Ok(Shared));
        for (from, to) in [
            (Exported, Exporting),
            (Exported, Queued),
            (Shared, Exported),
            (Failed, Exporting),
            (Failed, Queued),
            (Queued, Exported),
            (Queued, Shared),
            (Exported, Failed),
        ] {
            let err = from.transition(to).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("a report cannot move from {from} to {to}")
            );
        }
    }
}
