use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::clock::Clock;
use crate::ids::VerificationId;
use crate::ids::{FindingId, ProjectId, RegressionId};
use crate::ledger::cursor::FindingCursor;
use crate::ledger::finding::{
    Finding, FindingChange, FindingState, FindingStatus, FindingTitle, PriorityScore, Severity,
};
use crate::ledger::occurred_at;
use crate::ledger::port::{
    FindingDetail, FindingQuery, LedgerRepoError, LedgerRepository, Rejection,
};
use crate::ledger::regression::{Regression, RegressionStatus, TransitionError};
use crate::ledger::verification::{Verification, VerificationResult};
use crate::page::Page;
use crate::storage::StorageError;
use crate::validation::InvalidParams;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateFinding {
    /// The caller's id for the finding (an embedder that keeps its own, say); a fresh one when
    /// `None`. An id already in use is refused by the store.
    pub id: Option<FindingId>,
    pub title: FindingTitle,
    pub severity: Severity,
    pub priority_score: PriorityScore,
    pub status: FindingStatus,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateFinding {
    pub status: Option<FindingStatus>,
    pub priority_score: Option<PriorityScore>,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordVerification {
    pub result: VerificationResult,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRegression {
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseRegression {
    pub status: RegressionStatus,
    pub occurred_at: Option<DateTime<Utc>>,
}

#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("no such finding in this project")]
    FindingNotFound,
    /// The caller's id for a new finding is taken.
    #[error("a finding with this id exists")]
    FindingExists,
    #[error("no such regression in this project")]
    RegressionNotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<LedgerRepoError> for LedgerError {
    fn from(error: LedgerRepoError) -> Self {
        match error {
            LedgerRepoError::FindingNotFound => Self::FindingNotFound,
            LedgerRepoError::FindingExists => Self::FindingExists,
            LedgerRepoError::RegressionNotFound => Self::RegressionNotFound,
            LedgerRepoError::Rejected(Rejection::Invalid(e)) => Self::Invalid(e),
            LedgerRepoError::Rejected(Rejection::Transition(e)) => Self::Transition(e),
            LedgerRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The ledger's use cases, each on the project it is given. Callers have already been authorised
/// for that project.
///
/// Every `occurred_at` defaults to now, may not be in the future, and may not be earlier than the
/// latest recorded change of the finding (or, when closing, the regression) it concerns, so that
/// each history stays in time order.
pub struct Ledger {
    repo: Arc<dyn LedgerRepository>,
    clock: Arc<dyn Clock>,
}

impl Ledger {
    pub fn new(repo: Arc<dyn LedgerRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    pub async fn create_finding(
        &self,
        project: ProjectId,
        input: CreateFinding,
    ) -> Result<Finding, LedgerError> {
        let now = self.clock.now();
        let at = occurred_at(input.occurred_at, now, DateTime::<Utc>::MIN_UTC)?;
        let finding = Finding {
            id: input.id.unwrap_or_else(FindingId::generate),
            title: input.title,
            severity: input.severity,
            state: FindingState {
                status: input.status,
                priority_score: input.priority_score,
            },
            created_at: at,
            updated_at: at,
            due_on: None,
            provenance: Default::default(),
        };
        Ok(self.repo.create_finding(project, &finding).await?)
    }

    pub async fn update_finding(
        &self,
        project: ProjectId,
        id: FindingId,
        input: UpdateFinding,
    ) -> Result<Finding, LedgerError> {
        if input.status.is_none() && input.priority_score.is_none() {
            return Err(
                InvalidParams::field("status", "give status, priority_score or both").into(),
            );
        }
        let now = self.clock.now();
        let decide = Box::new(move |finding: &Finding| {
            let at = occurred_at(input.occurred_at, now, finding.updated_at)?;
            let after = FindingState {
                status: input.status.unwrap_or(finding.state.status),
                priority_score: input.priority_score.unwrap_or(finding.state.priority_score),
            };
            Ok((after != finding.state).then_some(FindingChange {
                finding_id: finding.id,
                occurred_at: at,
                before: Some(finding.state),
                after,
            }))
        });
        Ok(self.repo.change_finding(project, id, decide).await?)
    }

    pub async fn list_findings(
        &self,
        project: ProjectId,
        query: FindingQuery,
    ) -> Result<Page<Finding, FindingCursor>, LedgerError> {
        Ok(self.repo.list_findings(project, &query).await?)
    }

    /// The finding with its history, verifications and regressions; `FindingNotFound` when it is
    /// not in `project`.
    pub async fn finding(
        &self,
        project: ProjectId,
        id: FindingId,
    ) -> Result<FindingDetail, LedgerError> {
        Ok(self.repo.finding(project, id).await?)
    }

    pub async fn record_verification(
        &self,
        project: ProjectId,
        finding: FindingId,
        input: RecordVerification,
    ) -> Result<Verification, LedgerError> {
        let now = self.clock.now();
        let decide = Box::new(move |finding: &Finding| {
            Ok(Verification {
                id: VerificationId::generate(),
                finding_id: finding.id,
                result: input.result,
                occurred_at: occurred_at(input.occurred_at, now, finding.updated_at)?,
            })
        });
        Ok(self.repo.add_verification(project, finding, decide).await?)
    }

    pub async fn open_regression(
        &self,
        project: ProjectId,
        finding: FindingId,
        input: OpenRegression,
    ) -> Result<Regression, LedgerError> {
        let now = self.clock.now();
        let decide = Box::new(move |finding: &Finding| {
            let at = occurred_at(input.occurred_at, now, finding.updated_at)?;
            Ok(Regression::open(finding.id, at))
        });
        Ok(self.repo.open_regression(project, finding, decide).await?)
    }

    pub async fn close_regression(
        &self,
        project: ProjectId,
        regression: RegressionId,
        input: CloseRegression,
    ) -> Result<Regression, LedgerError> {
        let now = self.clock.now();
        let decide = Box::new(move |regression: &Regression| {
            let at = occurred_at(input.occurred_at, now, regression.updated_at())?;
            Ok(regression.transition(input.status, at)?)
        });
        Ok(self
            .repo
            .close_regression(project, regression, decide)
            .await?)
    }
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::ids::OrgId;
    use crate::ledger::port::MockLedgerRepository;
    use crate::project::Project;
    use crate::project::ProjectSlug;

    fn project() -> Project {
        Project {
            id: ProjectId::generate(),
            org_id: OrgId::generate(),
            slug: ProjectSlug::parse("web").unwrap(),
            name: "web".into(),
            created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
        }
    }

    fn finding(updated_at: &str) -> Finding {
        Finding {
            id: FindingId::generate(),
            title: FindingTitle::parse("XSS").unwrap(),
            severity: Severity::High,
            state: FindingState {
                status: FindingStatus::New,
                priority_score: PriorityScore::parse(10).unwrap(),
            },
            created_at: "2026-06-01T00:00:00Z".parse().unwrap(),
            updated_at: updated_at.parse().unwrap(),
            due_on: None,
            provenance: Default::default(),
        }
    }

    fn ledger(repo: MockLedgerRepository) -> Ledger {
        let clock = FixedClock("2026-06-10T15:00:00Z".parse().unwrap());
        Ledger::new(Arc::new(repo), Arc::new(clock))
    }

    fn update(occurred_at: Option<&str>) -> UpdateFinding {
        UpdateFinding {
            status: Some(FindingStatus::Resolved),
            priority_score: None,
            occurred_at: occurred_at.map(|s| s.parse().unwrap()),
        }
    }

    /// A repository whose `change_finding` runs the decision on `current` and reports what it decided.
    fn deciding_on(current: Finding) -> MockLedgerRepository {
        let mut repo = MockLedgerRepository::new();
        repo.expect_change_finding().returning(move |_, _, decide| {
            let change = decide(&current).map_err(LedgerRepoError::Rejected)?;
            Ok(change
                .map(|c| c.apply(&current))
                .unwrap_or_else(|| current.clone()))
        });
        repo
    }

    #[tokio::test]
    async fn a_change_defaults_to_now_and_moves_the_state() {
        let ledger = ledger(deciding_on(finding("2026-06-05T00:00:00Z")));
        let updated = ledger
            .update_finding(project().id, FindingId::generate(), update(None))
            .await
            .unwrap();
        assert_eq!(updated.state.status, FindingStatus::Resolved);
        assert_eq!(
            updated.updated_at,
            "2026-06-10T15:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[tokio::test]
    async fn a_change_before_the_latest_one_is_refused() {
        let ledger = ledger(deciding_on(finding("2026-06-05T00:00:00Z")));
        let err = ledger
            .update_finding(
                project().id,
                FindingId::generate(),
                update(Some("2026-06-04T23:59:59Z")),
            )
            .await
            .unwrap_err();
        match err {
            LedgerError::Invalid(e) => assert_eq!(e.fields()[0].field, "occurred_at"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_change_in_the_future_is_refused_before_touching_storage() {
        let ledger = ledger(MockLedgerRepository::new());
        let input = CreateFinding {
            id: None,
            title: FindingTitle::parse("XSS").unwrap(),
            severity: Severity::Low,
            priority_score: PriorityScore::parse(1).unwrap(),
            status: FindingStatus::New,
            occurred_at: Some("2026-06-10T15:00:01Z".parse().unwrap()),
        };
        assert!(matches!(
            ledger.create_finding(project().id, input).await,
            Err(LedgerError::Invalid(_))
        ));
    }

    #[tokio::test]
    async fn an_update_that_changes_nothing_records_nothing() {
        let current = finding("2026-06-05T00:00:00Z");
        let mut repo = MockLedgerRepository::new();
        let seen = current.clone();
        repo.expect_change_finding().returning(move |_, _, decide| {
            assert_eq!(decide(&seen).unwrap(), None);
            Ok(seen.clone())
        });
        let input = UpdateFinding {
            status: Some(FindingStatus::New),
            priority_score: Some(PriorityScore::parse(10).unwrap()),
            occurred_at: None,
        };
        let same = ledger(repo)
            .update_finding(project().id, current.id, input)
            .await
            .unwrap();
        assert_eq!(same, current);
    }

    #[tokio::test]
    async fn a_finding_is_read_from_the_project_it_was_asked_for() {
        let project = project();
        let current = finding("2026-06-05T00:00:00Z");
        let detail = FindingDetail {
            finding: current.clone(),
            history: vec![(current.created_at, current.state)],
            verifications: vec![],
            regressions: vec![],
        };
        let mut repo = MockLedgerRepository::new();
        let (expected_project, expected_id, answer) = (project.id, current.id, detail.clone());
        repo.expect_finding()
            .withf(move |p, f| *p == expected_project && *f == expected_id)
            .times(1)
            .returning(move |_, _| Ok(answer.clone()));
        repo.expect_finding()
            .returning(|_, _| Err(LedgerRepoError::FindingNotFound));
        let ledger = ledger(repo);
        assert_eq!(
            ledger.finding(project.id, current.id).await.unwrap(),
            detail
        );
        assert!(matches!(
            ledger.finding(project.id, FindingId::generate()).await,
            Err(LedgerError::FindingNotFound)
        ));
    }

    #[tokio::test]
    async fn an_empty_update_is_refused() {
        let input = UpdateFinding {
            status: None,
            priority_score: None,
            occurred_at: None,
        };
        assert!(matches!(
            ledger(MockLedgerRepository::new())
                .update_finding(project().id, FindingId::generate(), input)
                .await,
            Err(LedgerError::Invalid(_))
        ));
    }
}
