use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{FindingId, ProjectId, RegressionId};
use crate::ledger::cursor::FindingCursor;
use crate::ledger::finding::{Finding, FindingChange, FindingState, FindingStatus};
use crate::ledger::provenance::SourceName;
use crate::ledger::regression::{Regression, TransitionError};
use crate::ledger::verification::Verification;
use crate::page::{Page, PageLimit};
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// Why a decision taken on locked state refused to go on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    #[error(transparent)]
    Transition(#[from] TransitionError),
}

/// A decision taken on the current, locked state of an entity, inside the repository's transaction.
pub type Decide<S, T> = Box<dyn FnOnce(&S) -> Result<T, Rejection> + Send>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingQuery {
    pub status: Option<FindingStatus>,
    /// Only the findings this tool reported.
    pub source: Option<SourceName>,
    pub limit: PageLimit,
    pub after: Option<FindingCursor>,
}

/// One finding's history, oldest event first; the first event is its creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingHistory {
    pub finding_id: FindingId,
    pub events: Vec<(DateTime<Utc>, FindingState)>,
}

/// One finding as it now is, with everything recorded about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingDetail {
    pub finding: Finding,
    /// Its events in recorded order, oldest first: the creation, then each change of status or
    /// priority score, each with the state it led to.
    pub history: Vec<(DateTime<Utc>, FindingState)>,
    /// Oldest first, by (occurred_at, id).
    pub verifications: Vec<Verification>,
    /// Oldest first, by (opened_at, id).
    pub regressions: Vec<Regression>,
}

/// Everything that happened in a project, for recomputing metrics from scratch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProjectHistory {
    pub findings: Vec<FindingHistory>,
    pub verifications: Vec<Verification>,
    pub regressions: Vec<Regression>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerRepoError {
    #[error("no such finding in this project")]
    FindingNotFound,
    /// `create_finding` was given the id of a finding that exists.
    #[error("a finding with this id exists")]
    FindingExists,
    #[error("no such regression in this project")]
    RegressionNotFound,
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where the ledger lives. Every method is scoped by project, and every write also adds the
/// write's day delta (see [`crate::metrics::DayDelta`]) to the project's daily totals in the same
/// transaction, so that the totals always equal a replay of the history.
///
/// Contract:
/// - `create_finding` stores the finding, its creation event and `FindingChange::creation(..).day_delta()`,
///   with its `due_on` computed under the policy in force at its creation (the given `due_on` is
///   ignored; see [`crate::metrics::remediation::RemediationRepository`]), and answers the
///   finding as stored; `FindingExists` (and nothing written) when the finding's id is taken.
/// - `change_finding` locks the finding against concurrent changes, passes it to `decide`, and when
///   `decide` answers a change, stores the change as a history event, the finding's new state and
///   `change.day_delta()`; when it answers `None`, writes nothing. Answers the finding as it now is.
/// - `add_verification` and `open_regression` lock the finding, pass it to `decide`, and store what
///   it answers with `verification.day_delta()` or `regression.opening_delta()`.
/// - `close_regression` locks the regression's finding, then the regression, passes it to
///   `decide`, and stores the closed regression with its `closing_delta()`.
/// - `change_finding`, `open_regression` and `close_regression` also store
///   `returned_shift(before, after)` (see [`crate::metrics::FindingRecord`]) over the finding's
///   events and regressions as stored before the write and as they are after it; the finding's
///   lock keeps both exact.
/// - A `decide` that refuses leaves nothing written and comes back as `Rejected`.
/// - `FindingNotFound` / `RegressionNotFound` when the id is not in this project.
/// - `list_findings` is newest first by (created_at, id), resuming after `query.after`.
/// - `finding` reads the finding with its history, verifications and regressions (orders as in
///   [`FindingDetail`]) in one consistent, read-only snapshot, so that they agree with each
///   other; writes nothing; `FindingNotFound` when the id is not in this project.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait LedgerRepository: Send + Sync {
    async fn create_finding(
        &self,
        project: ProjectId,
        finding: &Finding,
    ) -> Result<Finding, LedgerRepoError>;

    async fn change_finding(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Option<FindingChange>>,
    ) -> Result<Finding, LedgerRepoError>;

    async fn list_findings(
        &self,
        project: ProjectId,
        query: &FindingQuery,
    ) -> Result<Page<Finding, FindingCursor>, LedgerRepoError>;

    async fn finding(
        &self,
        project: ProjectId,
        finding: FindingId,
    ) -> Result<FindingDetail, LedgerRepoError>;

    async fn add_verification(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Verification>,
    ) -> Result<Verification, LedgerRepoError>;

    async fn open_regression(
        &self,
        project: ProjectId,
        finding: FindingId,
        decide: Decide<Finding, Regression>,
    ) -> Result<Regression, LedgerRepoError>;

    async fn close_regression(
        &self,
        project: ProjectId,
        regression: RegressionId,
        decide: Decide<Regression, Regression>,
    ) -> Result<Regression, LedgerRepoError>;

    /// The project's whole history, for recomputation.
    async fn history(&self, project: ProjectId) -> Result<ProjectHistory, LedgerRepoError>;
}
