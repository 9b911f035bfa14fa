use async_trait::async_trait;

use crate::ids::ProjectId;
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
