use std::sync::Arc;

use crate::clock::Clock;
use crate::ids::{OrgId, ProjectId};
use crate::metrics::port::{MetricsRepoError, MetricsRepository, OrgMetricsRepository};
use crate::metrics::summary::{summarize, Summary};
use crate::metrics::window::SummaryQuery;
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
        project: ProjectId,
        query: &SummaryQuery,
    ) -> Result<Summary, SummaryError> {
        let ledger = self.repo.deltas(project, &query.window).await?;
        Ok(summarize(query, &ledger))
    }
}

/// The summary of a whole organisation: its projects' daily totals summed, folded as for one
/// project (the same parameters and shape). Callers have already been authorised for the
/// organisation.
pub struct OrgSummaries {
    repo: Arc<dyn OrgMetricsRepository>,
    clock: Arc<dyn Clock>,
}

impl OrgSummaries {
    /// The use case over `repo`, with `clock` for today.
    pub fn new(repo: Arc<dyn OrgMetricsRepository>, clock: Arc<dyn Clock>) -> Self {
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

    /// The summary of `query` over every project of `org`.
    pub async fn summary(&self, org: OrgId, query: &SummaryQuery) -> Result<Summary, SummaryError> {
        let ledger = self.repo.org_deltas(org, &query.window).await?;
        Ok(summarize(query, &ledger))
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::metrics::delta::{DatedDelta, DayDelta, DeltaLedger};
    use crate::metrics::port::MockOrgMetricsRepository;

    #[tokio::test]
    async fn an_organisation_summary_folds_its_summed_totals() {
        let org = OrgId::generate();
        let mut repo = MockOrgMetricsRepository::new();
        repo.expect_org_deltas()
            .withf(move |o, w| *o == org && w.days().count() == 7)
            .returning(|_, _| {
                Ok(DeltaLedger {
                    before: DayDelta {
                        open_risk_score: 30,
                        open_findings: 2,
                        ..DayDelta::default()
                    },
                    days: vec![DatedDelta {
                        day: "2026-06-09".parse().unwrap(),
                        delta: DayDelta {
                            open_risk_score: -10,
                            open_findings: -1,
                            terminal_findings: 1,
                            ..DayDelta::default()
                        },
                    }],
                })
            });
        let clock = FixedClock("2026-06-10T12:00:00Z".parse().unwrap());
        let summaries = OrgSummaries::new(Arc::new(repo), Arc::new(clock));
        let query = summaries.query(None, None).unwrap();
        let summary = summaries.summary(org, &query).await.unwrap();
        let scores: Vec<i64> = summary
            .risk_burn_down
            .iter()
            .map(|p| p.open_risk_score)
            .collect();
        assert_eq!(scores, [30, 30, 30, 30, 30, 20, 20]);
        assert_eq!(summary.open_findings, 1);
    }
}
