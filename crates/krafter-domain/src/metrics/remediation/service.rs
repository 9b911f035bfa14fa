//! The remediation use cases: the reports of a project and of an organisation, and the SLA
//! policy.

use std::sync::Arc;

use crate::clock::Clock;
use crate::ids::{OrgId, ProjectId};
use crate::metrics::remediation::delta::RemediationLedger;
use crate::metrics::remediation::port::{RemediationRepoError, RemediationRepository};
use crate::metrics::remediation::query::RemediationQuery;
use crate::metrics::remediation::report::{remediation_report, RemediationReport};
use crate::metrics::remediation::sla::{
    policy_in_force_at_end_of, CurrentSlaPolicy, EffectivePolicy, SlaPolicy,
};
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// Why a remediation use case failed.
#[derive(Debug, thiserror::Error)]
pub enum RemediationError {
    /// Parameters that do not parse, per field (`422 invalid_params`).
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    /// Storing a policy for an organisation that does not exist.
    #[error("the organisation does not exist")]
    UnknownOrganisation,
    /// The store failed; the message is for logs.
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<RemediationRepoError> for RemediationError {
    fn from(error: RemediationRepoError) -> Self {
        match error {
            RemediationRepoError::UnknownOrganisation => Self::UnknownOrganisation,
            RemediationRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

/// The remediation use cases. Callers have already been authorised for the project or the
/// organisation they name.
pub struct RemediationReports {
    repo: Arc<dyn RemediationRepository>,
    clock: Arc<dyn Clock>,
}

impl RemediationReports {
    /// The use cases over `repo`, with `clock` for today and for when policies take effect.
    pub fn new(repo: Arc<dyn RemediationRepository>, clock: Arc<dyn Clock>) -> Self {
        Self { repo, clock }
    }

    /// Parses the endpoints' optional `date_from`, `date_to` and `granularity` against today's
    /// date ([`RemediationQuery::parse`]).
    pub fn query(
        &self,
        date_from: Option<&str>,
        date_to: Option<&str>,
        granularity: Option<&str>,
    ) -> Result<RemediationQuery, InvalidParams> {
        RemediationQuery::parse(date_from, date_to, granularity, self.clock.today())
    }

    /// The report of `project`, under the policies of its organisation `org`.
    pub async fn project_report(
        &self,
        org: OrgId,
        project: ProjectId,
        query: &RemediationQuery,
    ) -> Result<RemediationReport, RemediationError> {
        let (ledger, policies) = futures::try_join!(
            self.repo.project_deltas(project, &query.window),
            self.repo.sla_policies(org),
        )?;
        Ok(report(&ledger, &policies, query))
    }

    /// The report of a whole organisation: its projects' totals summed.
    pub async fn org_report(
        &self,
        org: OrgId,
        query: &RemediationQuery,
    ) -> Result<RemediationReport, RemediationError> {
        let (ledger, policies) = futures::try_join!(
            self.repo.org_deltas(org, &query.window),
            self.repo.sla_policies(org),
        )?;
        Ok(report(&ledger, &policies, query))
    }

    /// The policy in force now: the latest stored, or the default.
    pub async fn sla_policy(&self, org: OrgId) -> Result<CurrentSlaPolicy, RemediationError> {
        Ok(match self.repo.current_sla_policy(org).await? {
            Some(stored) => CurrentSlaPolicy {
                policy: stored.policy,
                effective_from: Some(stored.effective_from),
            },
            None => CurrentSlaPolicy {
                policy: SlaPolicy::default(),
                effective_from: None,
            },
        })
    }

    /// Every policy the organisation stored, oldest first (the default, in force before the
    /// first, is not listed).
    pub async fn sla_policy_history(
        &self,
        org: OrgId,
    ) -> Result<Vec<EffectivePolicy>, RemediationError> {
        Ok(self.repo.sla_policies(org).await?)
    }

    /// Stores `policy`, in force from now on; findings created earlier keep their due dates.
    pub async fn set_sla_policy(
        &self,
        org: OrgId,
        policy: SlaPolicy,
    ) -> Result<EffectivePolicy, RemediationError> {
        Ok(self
            .repo
            .store_sla_policy(org, &policy, self.clock.now())
            .await?)
    }
}

fn report(
    ledger: &RemediationLedger,
    policies: &[EffectivePolicy],
    query: &RemediationQuery,
) -> RemediationReport {
    let sla_days = policy_in_force_at_end_of(policies, query.window.to());
    remediation_report(
        &ledger.before,
        &ledger.days,
        &query.window,
        query.granularity,
        &sla_days,
    )
}

#[cfg(all(test, feature = "mock"))]
mod tests {
    use super::*;
    use crate::clock::FixedClock;
    use crate::ledger::Severity;
    use crate::metrics::remediation::delta::{DatedRemediationDelta, RemediationDelta};
    use crate::metrics::remediation::port::MockRemediationRepository;
    use crate::metrics::remediation::severity::BySeverity;
    use crate::metrics::remediation::sla::SlaDays;
    use crate::project::Project;
    use crate::project::ProjectSlug;
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        "2026-06-10T15:00:00Z".parse().unwrap()
    }

    fn service(repo: MockRemediationRepository) -> RemediationReports {
        RemediationReports::new(Arc::new(repo), Arc::new(FixedClock(now())))
    }

    fn strict() -> SlaPolicy {
        SlaPolicy::new(BySeverity::from_fn(|_| SlaDays::parse("d", 1).ok()))
    }

    #[tokio::test]
    async fn a_project_report_reads_its_totals_and_its_organisations_policies() {
        let project = Project {
            id: ProjectId::generate(),
            org_id: OrgId::generate(),
            slug: ProjectSlug::parse("web").unwrap(),
            name: "web".into(),
            created_at: now(),
        };
        let (project_id, org_id) = (project.id, project.org_id);
        let mut repo = MockRemediationRepository::new();
        repo.expect_project_deltas()
            .withf(move |p, _| *p == project_id)
            .returning(|_, _| {
                Ok(RemediationLedger {
                    before: BySeverity::default(),
                    days: vec![DatedRemediationDelta {
                        day: "2026-06-09".parse().unwrap(),
                        severity: Severity::High,
                        delta: RemediationDelta {
                            opened: 1,
                            open: 1,
                            ..RemediationDelta::default()
                        },
                    }],
                })
            });
        repo.expect_sla_policies()
            .withf(move |o| *o == org_id)
            .returning(|_| {
                Ok(vec![EffectivePolicy {
                    effective_from: "2026-06-10T09:00:00Z".parse().unwrap(),
                    policy: strict(),
                }])
            });
        let service = service(repo);
        let query = service.query(None, None, None).unwrap();
        let report = service
            .project_report(project.org_id, project.id, &query)
            .await
            .unwrap();
        assert_eq!(report.sla_days, strict());
        assert_eq!(report.total.by_severity.high.opened, 1);
        assert_eq!(report.total.all.open_at_end, 1);
        // A window that ended before the policy took effect shows the one in force then.
        let query = service.query(None, Some("2026-06-09"), None).unwrap();
        let report = service
            .project_report(project.org_id, project.id, &query)
            .await
            .unwrap();
        assert_eq!(report.sla_days, SlaPolicy::default());
    }

    #[tokio::test]
    async fn the_policy_defaults_until_one_is_stored_and_is_stored_as_of_now() {
        let org = OrgId::generate();
        let mut repo = MockRemediationRepository::new();
        repo.expect_current_sla_policy().returning(|_| Ok(None));
        repo.expect_store_sla_policy()
            .withf(move |o, p, at| *o == org && *p == strict() && *at == now())
            .returning(|_, p, at| {
                Ok(EffectivePolicy {
                    effective_from: at,
                    policy: *p,
                })
            });
        let service = service(repo);
        let current = service.sla_policy(org).await.unwrap();
        assert_eq!(current.policy, SlaPolicy::default());
        assert_eq!(current.effective_from, None);
        let stored = service.set_sla_policy(org, strict()).await.unwrap();
        assert_eq!(stored.effective_from, now());
    }

    #[tokio::test]
    async fn an_unknown_organisation_is_reported_as_such() {
        let mut repo = MockRemediationRepository::new();
        repo.expect_store_sla_policy()
            .returning(|_, _, _| Err(RemediationRepoError::UnknownOrganisation));
        let err = service(repo)
            .set_sla_policy(OrgId::generate(), strict())
            .await
            .unwrap_err();
        assert!(matches!(err, RemediationError::UnknownOrganisation));
    }
}
