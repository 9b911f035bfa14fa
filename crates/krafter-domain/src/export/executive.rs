//! The remediation view of a report's period, captured with its summary when the export is
//! requested, so that every artefact of the report shows the same figures whenever it is made.

use std::sync::Arc;

use chrono::NaiveDate;

use crate::metrics::remediation::{
    policy_in_force_at_end_of, remediation_report, AgingAtEnd, EffectivePolicy, Granularity,
    RemediationLedger, RemediationRepoError, RemediationReport, RemediationRepository,
    RemediationTotal, SlaPolicy,
};
use crate::metrics::{
    summarize, DateWindow, MetricsRepoError, MetricsRepository, Summary, SummaryQuery,
    VerificationScope,
};
use crate::project::Project;
use crate::storage::StorageError;

/// What a report shows beside its summary: the remediation of its period, by week, and the
/// period of the same length just before it for comparison.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportRemediation {
    /// The remediation report of the period, by ISO week (clipped to the period).
    pub remediation: RemediationReport,
    /// The period of the same length that ends the day before this one starts.
    pub previous_period: PreviousPeriod,
}

/// The figures of the period before a report's, to compare with.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct PreviousPeriod {
    pub date_from: NaiveDate,
    pub date_to: NaiveDate,
    /// The summary over that period (verifications counted within it, as for the report's own).
    pub summary: Summary,
    /// Its remediation totals (the report's `remediation` without the buckets).
    pub remediation: RemediationTotals,
}

/// A remediation report's window-wide figures.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemediationTotals {
    pub sla_days: SlaPolicy,
    pub total: RemediationTotal,
    pub aging_at_end: AgingAtEnd,
    pub sla_compliance: Option<f64>,
}

impl From<RemediationReport> for RemediationTotals {
    fn from(report: RemediationReport) -> Self {
        Self {
            sla_days: report.sla_days,
            total: report.total,
            aging_at_end: report.aging_at_end,
            sla_compliance: report.sla_compliance,
        }
    }
}

impl ReportRemediation {
    /// Folds the two periods' remediation totals: `current` over `period` and `previous` over
    /// `period.previous()`, under the organisation's `policies`; `previous_summary` is the
    /// summary over the previous period.
    pub fn new(
        period: &DateWindow,
        current: &RemediationLedger,
        previous: &RemediationLedger,
        previous_summary: Summary,
        policies: &[EffectivePolicy],
    ) -> Self {
        let fold = |window: &DateWindow, ledger: &RemediationLedger| {
            remediation_report(
                &ledger.before,
                &ledger.days,
                window,
                Granularity::Week,
                &policy_in_force_at_end_of(policies, window.to()),
            )
        };
        let before = period.previous();
        Self {
            remediation: fold(period, current),
            previous_period: PreviousPeriod {
                date_from: before.from(),
                date_to: before.to(),
                summary: previous_summary,
                remediation: fold(&before, previous).into(),
            },
        }
    }
}

/// Reads what a report captures when it is made: the summary over its period (verifications
/// within it), and its [`ReportRemediation`].
#[derive(Clone)]
pub(crate) struct ReportFigures {
    pub metrics: Arc<dyn MetricsRepository>,
    pub remediation: Arc<dyn RemediationRepository>,
}

impl ReportFigures {
    /// The figures of `project` over `period`, read concurrently.
    pub async fn capture(
        &self,
        project: &Project,
        period: DateWindow,
    ) -> Result<(Summary, ReportRemediation), StorageError> {
        let query = SummaryQuery {
            window: period,
            verifications: VerificationScope::Window,
        };
        let previous = SummaryQuery {
            window: period.previous(),
            ..query
        };
        let summaries = async {
            futures::try_join!(
                self.metrics.deltas(project.id, &query.window),
                self.metrics.deltas(project.id, &previous.window),
            )
            .map_err(|MetricsRepoError::Storage(e)| e)
        };
        let remediation = async {
            futures::try_join!(
                self.remediation.project_deltas(project.id, &query.window),
                self.remediation
                    .project_deltas(project.id, &previous.window),
                self.remediation.sla_policies(project.org_id),
            )
            .map_err(|e| match e {
                RemediationRepoError::Storage(e) => e,
                // Only reads are made: no read answers it.
                RemediationRepoError::UnknownOrganisation => {
                    StorageError::new("the organisation does not exist")
                }
            })
        };
        let ((deltas, previous_deltas), (current, before, policies)) =
            futures::try_join!(summaries, remediation)?;
        let remediation = ReportRemediation::new(
            &period,
            &current,
            &before,
            summarize(&previous, &previous_deltas),
            &policies,
        );
        Ok((summarize(&query, &deltas), remediation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Severity;
    use crate::metrics::remediation::{
        BySeverity, DatedRemediationDelta, RemediationDelta, SlaDays,
    };
    use crate::metrics::BurnDownPoint;

    fn window(from: &str, to: &str) -> DateWindow {
        let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
        DateWindow::new(from, to, to, ("from", "to")).unwrap()
    }

    #[test]
    fn the_previous_period_has_the_same_length_and_ends_the_day_before() {
        let previous = window("2026-03-01", "2026-03-07").previous();
        assert_eq!(previous, window("2026-02-22", "2026-02-28"));
        assert_eq!(
            window("2024-03-01", "2024-03-01").previous(),
            window("2024-02-29", "2024-02-29")
        );
        let year = window("2026-01-01", "2027-01-01").previous();
        assert_eq!(year, window("2024-12-31", "2025-12-31"));
        assert_eq!(year.days().count(), 366);
    }

    #[test]
    fn each_period_is_folded_under_the_policy_in_force_at_its_end() {
        let period = window("2026-03-01", "2026-03-07");
        let opened = |day: &str| DatedRemediationDelta {
            day: day.parse().unwrap(),
            severity: Severity::High,
            delta: RemediationDelta {
                opened: 1,
                open: 1,
                ..RemediationDelta::default()
            },
        };
        // One finding opened in each period; the same ledger serves both windows.
        let ledger = RemediationLedger {
            before: BySeverity::default(),
            days: vec![opened("2026-02-25"), opened("2026-03-03")],
        };
        let strict = SlaPolicy::new(BySeverity::from_fn(|_| SlaDays::parse("d", 1).ok()));
        let policies = [EffectivePolicy {
            effective_from: "2026-03-02T00:00:00Z".parse().unwrap(),
            policy: strict,
        }];
        let summary = Summary {
            risk_burn_down: vec![BurnDownPoint {
                date: "2026-02-28".parse().unwrap(),
                open_risk_score: 5,
            }],
            verification_pass_rate: 0.0,
            regression_rate: 0.0,
            open_findings: 1,
        };
        let r = ReportRemediation::new(&period, &ledger, &ledger, summary.clone(), &policies);
        assert_eq!(r.remediation.granularity, Granularity::Week);
        assert_eq!(r.remediation.sla_days, strict);
        assert_eq!(r.remediation.buckets.len(), 2, "1 March, then 2 to 7 March");
        assert_eq!(r.remediation.total.all.opened, 1);
        assert_eq!(r.remediation.total.all.open_at_end, 2);
        let previous = &r.previous_period;
        assert_eq!(
            (previous.date_from, previous.date_to),
            ("2026-02-22".parse().unwrap(), "2026-02-28".parse().unwrap())
        );
        assert_eq!(previous.summary, summary);
        assert_eq!(previous.remediation.sla_days, SlaPolicy::default());
        assert_eq!(previous.remediation.total.all.opened, 1);
        assert_eq!(previous.remediation.total.all.open_at_end, 1);
        assert_eq!(previous.remediation.sla_compliance, None);
    }
}
