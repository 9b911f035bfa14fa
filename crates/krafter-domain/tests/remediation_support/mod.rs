//! Shared by the remediation tests: histories with severities, the fast path (daily totals
//! folded) and the reference, and their comparison.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use krafter_domain::ids::FindingId;
use krafter_domain::ledger::{
    FindingHistory, FindingState, FindingStatus, PriorityScore, ProjectHistory, Severity,
};
use krafter_domain::metrics::remediation::{
    policy_in_force_at_end_of, reference, remediation_report, BySeverity, DatedRemediationDelta,
    EffectivePolicy, RemediationDelta, RemediationLedger, RemediationMetrics, RemediationQuery,
    RemediationReport,
};

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn date(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// A project's history with each finding's severity.
#[derive(Debug, Clone, Default)]
pub struct Project {
    pub history: ProjectHistory,
    pub severities: HashMap<FindingId, Severity>,
    pub policies: Vec<EffectivePolicy>,
}

impl Project {
    /// Adds a finding whose events are `(occurred_at, status)`, the first its creation.
    pub fn finding(&mut self, severity: Severity, events: &[(&str, FindingStatus)]) -> FindingId {
        let events = events
            .iter()
            .map(|(t, status)| (at(t), *status))
            .collect::<Vec<_>>();
        self.finding_at(severity, &events)
    }

    pub fn finding_at(
        &mut self,
        severity: Severity,
        events: &[(DateTime<Utc>, FindingStatus)],
    ) -> FindingId {
        let id = FindingId::generate();
        let priority_score = PriorityScore::parse(10).unwrap();
        self.history.findings.push(FindingHistory {
            finding_id: id,
            events: events
                .iter()
                .map(|(t, status)| {
                    (
                        *t,
                        FindingState {
                            status: *status,
                            priority_score,
                        },
                    )
                })
                .collect(),
        });
        self.severities.insert(id, severity);
        id
    }

    pub fn severity_of(&self) -> impl Fn(FindingId) -> Severity + '_ {
        |id| self.severities[&id]
    }

    /// The daily totals a repository would hold: the history replayed through the write deltas.
    pub fn totals(&self) -> BTreeMap<(NaiveDate, Severity), RemediationDelta> {
        reference::daily_deltas(&self.history, self.severity_of(), &self.policies)
    }

    /// What the repository answers for `query`: the sum before the window and the days within.
    pub fn ledger(&self, query: &RemediationQuery) -> RemediationLedger {
        let mut ledger = RemediationLedger::default();
        for ((day, severity), delta) in self.totals() {
            if day < query.window.from() {
                *ledger.before.get_mut(severity) += delta;
            } else if day <= query.window.to() {
                ledger.days.push(DatedRemediationDelta {
                    day,
                    severity,
                    delta,
                });
            }
        }
        ledger
    }

    pub fn fast(&self, query: &RemediationQuery) -> RemediationReport {
        let ledger = self.ledger(query);
        fold(&ledger.before, &ledger.days, query, &self.policies)
    }

    pub fn slow(&self, query: &RemediationQuery) -> RemediationReport {
        reference::remediation_report(&self.history, self.severity_of(), &self.policies, query)
    }

    /// Both computations, held to each other; answers the fast one.
    pub fn report(
        &self,
        from: Option<&str>,
        to: Option<&str>,
        granularity: Option<&str>,
        today: &str,
    ) -> RemediationReport {
        let query = RemediationQuery::parse(from, to, granularity, date(today)).unwrap();
        let fast = self.fast(&query);
        assert_agree(&fast, &self.slow(&query));
        fast
    }
}

pub fn fold(
    before: &BySeverity<RemediationDelta>,
    days: &[DatedRemediationDelta],
    query: &RemediationQuery,
    policies: &[EffectivePolicy],
) -> RemediationReport {
    let sla_days = policy_in_force_at_end_of(policies, query.window.to());
    remediation_report(before, days, &query.window, query.granularity, &sla_days)
}

/// Every `M` of a report, in a fixed order.
fn metrics_mut(report: &mut RemediationReport) -> Vec<&mut RemediationMetrics> {
    let mut all = Vec::new();
    for bucket in &mut report.buckets {
        all.extend(bucket.by_severity.iter_mut().map(|(_, m)| m));
        all.push(&mut bucket.all);
    }
    all.extend(report.total.by_severity.iter_mut().map(|(_, m)| m));
    all.push(&mut report.total.all);
    all
}

/// Whether an estimated percentile is within 2 % of the exact one.
pub fn within_two_percent(estimate: f64, exact: f64) -> bool {
    (estimate - exact).abs() <= 0.02 * exact.abs() + 1e-12
}

/// The fast report equals the reference, percentiles within 2 %.
pub fn assert_agree(fast: &RemediationReport, exact: &RemediationReport) {
    let mut fast = fast.clone();
    let mut exact_copy = exact.clone();
    for (f, e) in metrics_mut(&mut fast)
        .into_iter()
        .zip(metrics_mut(&mut exact_copy))
    {
        if let (Some(f), Some(e)) = (&mut f.time_to_resolve_hours, &e.time_to_resolve_hours) {
            assert!(
                within_two_percent(f.p50, e.p50),
                "p50 {} vs exact {}",
                f.p50,
                e.p50
            );
            assert!(
                within_two_percent(f.p90, e.p90),
                "p90 {} vs exact {}",
                f.p90,
                e.p90
            );
            f.p50 = e.p50;
            f.p90 = e.p90;
        }
    }
    assert_eq!(fast, *exact, "deltas and reference disagree");
}
