use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{ImportId, ProjectId};
use crate::import::plan::ImportPlan;
use crate::import::{ImportCursor, ImportFormat, ImportRecord};
use crate::ledger::{Decide, Finding, Rejection, SourceName};
use crate::page::{Page, PageLimit};
use crate::storage::StorageError;

/// An import to apply, as the use case prepared it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportHeader {
    pub id: ImportId,
    pub source: SourceName,
    pub format: ImportFormat,
    pub close_missing: bool,
    pub occurred_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportQuery {
    pub limit: PageLimit,
    pub after: Option<ImportCursor>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportRepoError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where imports are applied and recorded.
///
/// Contract:
/// - `apply_import` runs in one transaction, so that on any error nothing of the import is
///   applied. It waits for every other import of the same project and source to finish, reads
///   the project's findings of `header.source` (locked against every other write), passes them
///   to `decide`, and stores what it answers exactly as the ledger stores single writes
///   ([`crate::ledger::LedgerRepository`]'s contract): each creation with its creation event,
///   its `due_on` under the policy in force at its creation and its day and remediation deltas;
///   each change as a history event with its deltas and returned shift; each regression with
///   its opening delta; the refreshed scanner details; and the import's record with
///   `plan.counts`, which it answers. A `decide` that refuses comes back as `Rejected`.
/// - `list_imports` answers the project's imports newest first by (created_at, id), resuming
///   after `query.after`.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ImportRepository: Send + Sync {
    async fn apply_import(
        &self,
        project: ProjectId,
        header: &ImportHeader,
        decide: Decide<Vec<Finding>, ImportPlan>,
    ) -> Result<ImportRecord, ImportRepoError>;

    async fn list_imports(
        &self,
        project: ProjectId,
        query: &ImportQuery,
    ) -> Result<Page<ImportRecord, ImportCursor>, ImportRepoError>;
}
