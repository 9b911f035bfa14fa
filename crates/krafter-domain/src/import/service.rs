use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::ids::{ImportId, ProjectId};
use crate::import::plan::plan_import;
use crate::import::port::{ImportHeader, ImportQuery, ImportRepoError, ImportRepository};
use crate::import::{ImportCursor, ImportRecord, ParsedImport};
use crate::ledger::{occurred_at, Rejection};
use crate::page::Page;
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// An import as the caller asked for it, its document already read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportRequest {
    pub document: ParsedImport,
    /// Resolve the open findings of the source that the document does not hold.
    pub close_missing: bool,
    /// When the scan ran; now when not given, never in the future.
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ImportRepoError> for ImportError {
    fn from(error: ImportRepoError) -> Self {
        match error {
            ImportRepoError::Rejected(Rejection::Invalid(e)) => Self::Invalid(e),
            // The plan opens regressions only on findings it reopens: no transition can fail.
            ImportRepoError::Rejected(Rejection::Transition(e)) => {
                Self::Invalid(InvalidParams::field("status", e.to_string()))
            }
            ImportRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The import use cases. Callers have already been authorised for the project.
pub struct Imports {
    repo: Arc<dyn ImportRepository>,
    clock: Arc<dyn Clock>,
}

impl Imports {
    pub fn new(repo: Arc<dyn ImportRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    /// Applies the document's results to the project ([`crate::import::plan`] says how), all
    /// or nothing, and answers what it did.
    pub async fn import(
        &self,
        project: ProjectId,
        request: ImportRequest,
    ) -> Result<ImportRecord, ImportError> {
        let now = self.clock.now();
        let at = occurred_at(request.occurred_at, now, DateTime::<Utc>::MIN_UTC)?;
        let ParsedImport {
            format,
            source,
            results,
        } = request.document;
        let header = ImportHeader {
            id: ImportId::generate(),
            source: source.clone(),
            format,
            close_missing: request.close_missing,
            occurred_at: at,
            created_at: crate::ledger::truncate_to_micros(now),
        };
        let close_missing = request.close_missing;
        let decide = Box::new(move |stored: &Vec<_>| {
            plan_import(stored, results, &source, close_missing, at)
        });
        Ok(self.repo.apply_import(project, &header, decide).await?)
    }

    pub async fn list(
        &self,
        project: ProjectId,
        query: ImportQuery,
    ) -> Result<Page<ImportRecord, ImportCursor>, ImportError> {
        Ok(self.repo.list_imports(project, &query).await?)
    }
}
