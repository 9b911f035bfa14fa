//! The remediation report recomputed from the raw history, the slow and obvious way: for each day
//! and each finding, the state it was in at the end of that day, and each event classified on its
//! own. Tests hold the daily totals and their fold to it.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::ids::FindingId;
use crate::ledger::{FindingHistory, FindingStatus, ProjectHistory, Severity};
use crate::metrics::remediation::aging::{AgeBucket, AgingCounts};
use crate::metrics::remediation::delta::RemediationDelta;
use crate::metrics::remediation::period::periods;
use crate::metrics::remediation::query::RemediationQuery;
use crate::metrics::remediation::report::{
    AgingAtEnd, RemediationBucket, RemediationMetrics, RemediationReport, RemediationTotal,
    TimeToResolve,
};
use crate::metrics::remediation::severity::BySeverity;
use crate::metrics::remediation::sla::{
    due_on, policy_in_force, policy_in_force_at_end_of, EffectivePolicy, SlaPolicy,
};
use crate::metrics::remediation::write::{remediation_deltas, RemediationWrite};

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .expect("a date before the end of time")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// One finding with what the remediation figures need to know about it.
struct Subject<'a> {
    history: &'a FindingHistory,
    severity: Severity,
    created_at: DateTime<Utc>,
    due_on: Option<NaiveDate>,
}

fn subjects<'a>(
    history: &'a ProjectHistory,
    severity_of: &impl Fn(FindingId) -> Severity,
    policies: &[EffectivePolicy],
) -> Vec<Subject<'a>> {
    history
        .findings
        .iter()
        .filter_map(|f| {
            let (created_at, _) = *f.events.first()?;
            let severity = severity_of(f.finding_id);
            let policy = policy_in_force(policies, created_at);
            Some(Subject {
                history: f,
                severity,
                created_at,
                due_on: due_on(created_at, severity, &policy),
            })
        })
        .collect()
}

/// The status at the end of `day`, `None` before the creation.
fn status_at_end_of(subject: &Subject, day: NaiveDate) -> Option<FindingStatus> {
    let end = end_of(day);
    subject
        .history
        .events
        .iter()
        .rev()
        .find(|(at, _)| *at < end)
        .map(|(_, state)| state.status)
}

/// What one finding's events in a span of days add up to.
#[derive(Default)]
struct Flows {
    opened: i64,
    reopened: i64,
    resolved: i64,
    dismissed: i64,
    resolved_with_sla: i64,
    resolved_within_sla: i64,
    /// Times to resolve in whole seconds.
    durations: Vec<i64>,
}

impl Flows {
    fn absorb(&mut self, other: &Flows) {
        self.opened += other.opened;
        self.reopened += other.reopened;
        self.resolved += other.resolved;
        self.dismissed += other.dismissed;
        self.resolved_with_sla += other.resolved_with_sla;
        self.resolved_within_sla += other.resolved_within_sla;
        self.durations.extend(&other.durations);
    }
}

fn flows_of(subjects: &[Subject], severity: Severity, from: NaiveDate, to: NaiveDate) -> Flows {
    let mut flows = Flows::default();
    for subject in subjects.iter().filter(|s| s.severity == severity) {
        let mut previous: Option<FindingStatus> = None;
        for (at, state) in &subject.history.events {
            let day = at.date_naive();
            let status = state.status;
            if from <= day && day <= to {
                let was_closed = previous.is_some_and(FindingStatus::is_terminal);
                match previous {
                    None => flows.opened += 1,
                    Some(_) if was_closed && !status.is_terminal() => flows.reopened += 1,
                    Some(_) => {}
                }
                if !was_closed {
                    if status == FindingStatus::Resolved {
                        flows.resolved += 1;
                        flows
                            .durations
                            .push((*at - subject.created_at).num_seconds().max(0));
                        if let Some(due) = subject.due_on {
                            flows.resolved_with_sla += 1;
                            if day <= due {
                                flows.resolved_within_sla += 1;
                            }
                        }
                    }
                    if status == FindingStatus::Dismissed {
                        flows.dismissed += 1;
                    }
                }
            }
            previous = Some(status);
        }
    }
    flows
}

/// The open, overdue and per-age counts at the end of `day`, by looking at every finding.
fn levels_at(subjects: &[Subject], severity: Severity, day: NaiveDate) -> (i64, i64, AgingCounts) {
    let (mut open, mut overdue, mut aging) = (0, 0, AgingCounts::default());
    for subject in subjects.iter().filter(|s| s.severity == severity) {
        let Some(status) = status_at_end_of(subject, day) else {
            continue;
        };
        if status.is_terminal() {
            continue;
        }
        open += 1;
        if subject.due_on.is_some_and(|due| day > due) {
            overdue += 1;
        }
        let age = (day - subject.created_at.date_naive()).num_days();
        *aging.get_mut(AgeBucket::of_age(age)) += 1;
    }
    (open, overdue, aging)
}

fn exact_time_to_resolve(durations: &[i64]) -> Option<TimeToResolve> {
    if durations.is_empty() {
        return None;
    }
    let mut sorted = durations.to_vec();
    sorted.sort_unstable();
    let n = sorted.len();
    // The smallest duration with at least p % of them at or below it.
    let nearest_rank = |p: usize| sorted[(n * p).div_ceil(100) - 1] as f64 / 3600.0;
    Some(TimeToResolve {
        count: n as i64,
        mean: sorted.iter().sum::<i64>() as f64 / n as f64 / 3600.0,
        p50: nearest_rank(50),
        p90: nearest_rank(90),
    })
}

fn metrics_of(flows: &Flows, open: i64, overdue: i64, has_sla: bool) -> RemediationMetrics {
    RemediationMetrics {
        opened: flows.opened,
        reopened: flows.reopened,
        resolved: flows.resolved,
        dismissed: flows.dismissed,
        resolved_within_sla: has_sla.then_some(flows.resolved_within_sla),
        time_to_resolve_hours: exact_time_to_resolve(&flows.durations),
        open_at_end: open,
        overdue_at_end: overdue,
    }
}

/// Per severity and for all, the figures of the days `from..=to`, levels at the end of `to`.
fn figures(
    subjects: &[Subject],
    sla_days: &SlaPolicy,
    from: NaiveDate,
    to: NaiveDate,
) -> (BySeverity<RemediationMetrics>, RemediationMetrics) {
    let mut all = Flows::default();
    let (mut all_open, mut all_overdue, mut any_sla) = (0, 0, false);
    let by_severity = BySeverity::from_fn(|severity| {
        let flows = flows_of(subjects, severity, from, to);
        let (open, overdue, _) = levels_at(subjects, severity, to);
        let has_sla = sla_days.days(severity).is_some() || flows.resolved_with_sla > 0;
        all.absorb(&flows);
        all_open += open;
        all_overdue += overdue;
        any_sla |= has_sla;
        metrics_of(&flows, open, overdue, has_sla)
    });
    (
        by_severity,
        metrics_of(&all, all_open, all_overdue, any_sla),
    )
}

/// The report of `query` computed straight from the history, with exact percentiles.
/// `severity_of` gives each finding's severity (set at creation, never changed); `policies` are
/// the organisation's stored policies, in any order.
pub fn remediation_report(
    history: &ProjectHistory,
    severity_of: impl Fn(FindingId) -> Severity,
    policies: &[EffectivePolicy],
    query: &RemediationQuery,
) -> RemediationReport {
    let subjects = subjects(history, &severity_of, policies);
    let window = query.window;
    let sla_days = policy_in_force_at_end_of(policies, window.to());
    let buckets = periods(&window, query.granularity)
        .into_iter()
        .map(|period| {
            let (by_severity, all) = figures(&subjects, &sla_days, period.start, period.end);
            RemediationBucket {
                start: period.start,
                end: period.end,
                by_severity,
                all,
            }
        })
        .collect();
    let (by_severity, all) = figures(&subjects, &sla_days, window.from(), window.to());
    let aging = BySeverity::from_fn(|s| levels_at(&subjects, s, window.to()).2);
    let mut all_aging = AgingCounts::default();
    for (_, a) in aging.iter() {
        all_aging += *a;
    }
    let (mut within, mut with_sla) = (0, 0);
    for severity in crate::ledger::Severity::ALL {
        let flows = flows_of(&subjects, *severity, window.from(), window.to());
        within += flows.resolved_within_sla;
        with_sla += flows.resolved_with_sla;
    }
    RemediationReport {
        date_from: window.from(),
        date_to: window.to(),
        granularity: query.granularity,
        sla_days,
        buckets,
        total: RemediationTotal { by_severity, all },
        aging_at_end: AgingAtEnd {
            by_severity: aging,
            all: all_aging,
        },
        sla_compliance: (with_sla > 0).then(|| within as f64 / with_sla as f64),
    }
}

/// The daily totals that replaying the history through [`remediation_deltas`] produces, per
/// (day, severity); zero totals are left out. What the repository must hold for the project (a
/// backfill can write exactly this).
pub fn daily_deltas(
    history: &ProjectHistory,
    severity_of: impl Fn(FindingId) -> Severity,
    policies: &[EffectivePolicy],
) -> BTreeMap<(NaiveDate, Severity), RemediationDelta> {
    let mut totals: BTreeMap<(NaiveDate, Severity), RemediationDelta> = BTreeMap::new();
    for subject in subjects(history, &severity_of, policies) {
        let mut before = None;
        for (at, state) in &subject.history.events {
            let write = RemediationWrite {
                severity: subject.severity,
                created_at: subject.created_at,
                due_on: subject.due_on,
                before,
                after: state.status,
                occurred_at: *at,
            };
            for d in remediation_deltas(&write) {
                *totals.entry((d.day, d.severity)).or_default() += d.delta;
            }
            before = Some(state.status);
        }
    }
    totals.retain(|_, delta| !delta.is_zero());
    totals
}
