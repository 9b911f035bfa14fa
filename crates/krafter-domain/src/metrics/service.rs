use std::sync::Arc;

use crate::clock::Clock;
use crate::metrics::port::{MetricsRepoError, MetricsRepository};
use crate::metrics::summary::{summarize, Summary};
use crate::metrics::window::SummaryQuery;
use crate::project::Project;
use crate::storage::StorageError;
use crate::validation::InvalidParams;

#[derive(Debug, thiserror::Error)]
pub enum SummaryError {
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<MetricsRepoError> for SummaryError {
    fn from(error: MetricsRepoError) -> Self {
        match error {
            MetricsRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The summary use case.
pub struct Summaries {
    repo: Arc<dyn MetricsRepository>,
    clock: Arc<dyn Clock>,
}

impl Summaries {
    pub fn new(repo: Arc<dyn MetricsRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    /// Parses the endpoint's optional `date_from` / `date_to` against today's date.
    pub fn query(
        &self,
        date_from: Option<&str>,
        date_to: Option<&str>,
    ) -> Result<SummaryQuery, InvalidParams> {
        SummaryQuery::parse(date_from, date_to, self.clock.today())
    }

    pub async fn summary(
        &self,
        project: &Project,
        query: &SummaryQuery,
    ) -> Result<Summary, SummaryError> {
        let ledger = self.repo.deltas(project.id, &query.window).await?;
        Ok(summarize(query, &ledger))
    }
}
