use async_trait::async_trait;

use crate::ids::{OrgId, ProjectId};
use crate::metrics::delta::DeltaLedger;
use crate::metrics::window::DateWindow;
use crate::storage::StorageError;

#[derive(Debug, thiserror::Error)]
pub enum MetricsRepoError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Reads the daily totals that the ledger maintains.
///
/// Contract: `deltas` answers, for the project, the sum of the totals of every day before
/// `window.from()` and the non-zero totals of each day in the window, ascending. A project with no
/// history answers an empty ledger, never an error.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait MetricsRepository: Send + Sync {
    async fn deltas(
        &self,
        project: ProjectId,
        window: &DateWindow,
    ) -> Result<DeltaLedger, MetricsRepoError>;
}

/// Reads the daily totals of a whole organisation, for its summary.
///
/// Contract: `org_deltas` answers what [`MetricsRepository::deltas`] answers, summed over every
/// project of the organisation: the sum of the totals of every day before `window.from()` over
/// all its projects, and per day of the window the sum of its projects' totals, the non-zero
/// days only, ascending. An organisation with no project, or that does not exist, answers an
/// empty ledger, never an error.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrgMetricsRepository: Send + Sync {
    /// The organisation's summed daily totals for `window` (see the trait's contract).
    async fn org_deltas(
        &self,
        org: OrgId,
        window: &DateWindow,
    ) -> Result<DeltaLedger, MetricsRepoError>;
}
