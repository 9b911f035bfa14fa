//! The remediation report, folded from the daily totals.

use chrono::NaiveDate;

use crate::ledger::Severity;
use crate::metrics::remediation::aging::AgingCounts;
use crate::metrics::remediation::delta::{DatedRemediationDelta, RemediationDelta};
use crate::metrics::remediation::histogram::BinSums;
use crate::metrics::remediation::period::{periods, Granularity, Period};
use crate::metrics::remediation::severity::{BySeverity, SEVERITY_ORDER};
use crate::metrics::remediation::sla::SlaPolicy;
use crate::metrics::window::DateWindow;

const SECONDS_PER_HOUR: f64 = 3600.0;

/// Times to resolve of the `resolved` events counted, in hours.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TimeToResolve {
    /// How many `resolved` events.
    pub count: i64,
    /// The exact mean: `(sum of whole seconds / count) / 3600`.
    pub mean: f64,
    /// Nearest-rank median, within 2 % of the exact value (exact for durations under 25 s).
    pub p50: f64,
    /// Nearest-rank 90th percentile, within 2 % of the exact value.
    pub p90: f64,
}

/// `M`: the figures of one severity (or of all) over one bucket (or the whole window).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemediationMetrics {
    /// Findings created, in any status.
    pub opened: i64,
    /// Changes from a closed status to an open one.
    pub reopened: i64,
    /// Changes from an open status to `resolved`, and creations in `resolved`.
    pub resolved: i64,
    /// Changes from an open status to `dismissed`, and creations in `dismissed`.
    pub dismissed: i64,
    /// Resolved events on or before their finding's due date. `null` when the severity has no SLA
    /// in `sla_days` and none of the period's resolved findings had a due date (a finding keeps the
    /// due date of the policy it was created under); for `all`, `null` when every severity's is.
    pub resolved_within_sla: Option<i64>,
    /// `null` when nothing was resolved.
    pub time_to_resolve_hours: Option<TimeToResolve>,
    /// Findings in an open status at the end of the period's last day.
    pub open_at_end: i64,
    /// Open findings past their due date at the end of the period's last day.
    pub overdue_at_end: i64,
}

/// One bucket of the report.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemediationBucket {
    /// The bucket's first day (the window's first day for the first bucket).
    pub start: NaiveDate,
    /// The bucket's last day, included (the window's last day for the last bucket).
    pub end: NaiveDate,
    /// Each severity's figures over the bucket.
    pub by_severity: BySeverity<RemediationMetrics>,
    /// Every severity's figures summed (percentiles over all of them).
    pub all: RemediationMetrics,
}

/// The whole window: flows summed over it, `*_at_end` as of its last day.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemediationTotal {
    /// Each severity's figures over the window.
    pub by_severity: BySeverity<RemediationMetrics>,
    /// Every severity's figures summed (percentiles over all of them).
    pub all: RemediationMetrics,
}

/// Open findings per age bucket at the end of the window; serialised as
/// `{critical: A, high: A, medium: A, low: A, info: A, all: A}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgingAtEnd {
    /// Each severity's counts, serialised as keys of this object.
    #[serde(flatten)]
    pub by_severity: BySeverity<AgingCounts>,
    /// Every severity's counts summed.
    pub all: AgingCounts,
}

/// The remediation report, serialised exactly as the endpoints' `data`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct RemediationReport {
    /// The window's first day.
    pub date_from: NaiveDate,
    /// The window's last day, included.
    pub date_to: NaiveDate,
    /// How the window is split into `buckets`.
    pub granularity: Granularity,
    /// The policy in force at the end of `date_to`.
    pub sla_days: SlaPolicy,
    /// Oldest first, covering the window; the first and last clipped to it.
    pub buckets: Vec<RemediationBucket>,
    /// The whole window: flows summed, levels as of `date_to`.
    pub total: RemediationTotal,
    /// Open findings per age bucket at the end of `date_to`.
    pub aging_at_end: AgingAtEnd,
    /// Resolved within SLA over resolved, over the window's resolved events of findings with a
    /// due date; `null` when there are none.
    pub sla_compliance: Option<f64>,
}

fn time_to_resolve(flows: &RemediationDelta) -> Option<TimeToResolve> {
    if flows.ttr_count <= 0 {
        return None;
    }
    let hours = |p| {
        flows
            .ttr_bins
            .percentile_seconds(p)
            .map_or(0.0, |s| s / SECONDS_PER_HOUR)
    };
    Some(TimeToResolve {
        count: flows.ttr_count,
        mean: flows.ttr_sum_seconds as f64 / flows.ttr_count as f64 / SECONDS_PER_HOUR,
        p50: hours(50),
        p90: hours(90),
    })
}

/// `flows` are read for the flow fields and `levels` for the levels; `has_sla` decides whether
/// `resolved_within_sla` is a number.
fn metrics(
    flows: &RemediationDelta,
    levels: &RemediationDelta,
    has_sla: bool,
) -> RemediationMetrics {
    RemediationMetrics {
        opened: flows.opened,
        reopened: flows.reopened,
        resolved: flows.resolved,
        dismissed: flows.dismissed,
        resolved_within_sla: has_sla.then_some(flows.resolved_within_sla),
        time_to_resolve_hours: time_to_resolve(flows),
        open_at_end: levels.open,
        overdue_at_end: levels.overdue,
    }
}

/// Per severity and for all: `flows` over some days, `levels` at the end of the last.
fn figures(
    flows: &BySeverity<RemediationDelta>,
    levels: &BySeverity<RemediationDelta>,
    sla_days: &SlaPolicy,
    all_bins: &mut BinSums,
) -> (BySeverity<RemediationMetrics>, RemediationMetrics) {
    let has_sla = |s: Severity| sla_days.days(s).is_some() || flows.get(s).resolved_with_sla != 0;
    let by_severity = BySeverity::from_fn(|s| metrics(flows.get(s), levels.get(s), has_sla(s)));
    let mut all_flows = RemediationDelta::default();
    let mut all_levels = RemediationDelta::default();
    for s in SEVERITY_ORDER {
        all_flows.add_counts(flows.get(s));
        all_bins.add(&flows.get(s).ttr_bins);
        all_levels += levels.get(s);
    }
    all_flows.ttr_bins = all_bins.take();
    let any_sla = SEVERITY_ORDER.into_iter().any(has_sla);
    (by_severity, metrics(&all_flows, &all_levels, any_sla))
}

/// Folds daily totals into the report of `window` at `granularity`.
///
/// - `before`: per severity, the sum of the deltas dated before `window.from()` (only their
///   levels are read).
/// - `days`: the deltas dated within the window, in any order, several per (day, severity)
///   allowed; those before the window count as `before`, those after it are ignored.
/// - `sla_days`: the policy to show, in force at the end of `window.to()`
///   ([`super::policy_in_force_at_end_of`]).
///
/// Costs `O(d·log d + d·b)` for `d` deltas with at most `b` histogram bins each: it never looks at
/// findings.
pub fn remediation_report(
    before: &BySeverity<RemediationDelta>,
    days: &[DatedRemediationDelta],
    window: &DateWindow,
    granularity: Granularity,
    sla_days: &SlaPolicy,
) -> RemediationReport {
    let mut levels: BySeverity<RemediationDelta> = before.map(|_, d| d.levels());
    let mut sorted: Vec<&DatedRemediationDelta> =
        days.iter().filter(|d| d.day <= window.to()).collect();
    sorted.sort_by_key(|d| d.day);
    let mut pending = sorted.into_iter().peekable();
    while let Some(d) = pending.next_if(|d| d.day < window.from()) {
        *levels.get_mut(d.severity) += d.delta.levels();
    }

    let mut total_flows: BySeverity<RemediationDelta> = BySeverity::default();
    let mut buckets = Vec::new();
    // Histograms are summed bin by bin in place, rather than merged list into list.
    let mut bucket_bins = BySeverity::from_fn(|_| BinSums::new());
    let mut total_bins = BySeverity::from_fn(|_| BinSums::new());
    let mut all_bins = BinSums::new();
    for Period { start, end } in periods(window, granularity) {
        // Whole deltas: only their flow fields are read from here.
        let mut flows: BySeverity<RemediationDelta> = BySeverity::default();
        while let Some(d) = pending.next_if(|d| d.day <= end) {
            flows.get_mut(d.severity).add_counts(&d.delta);
            bucket_bins.get_mut(d.severity).add(&d.delta.ttr_bins);
            total_bins.get_mut(d.severity).add(&d.delta.ttr_bins);
            *levels.get_mut(d.severity) += d.delta.levels();
        }
        for s in SEVERITY_ORDER {
            let flow = flows.get_mut(s);
            flow.ttr_bins = bucket_bins.get_mut(s).take();
            total_flows.get_mut(s).add_counts(flow);
        }
        let (by_severity, all) = figures(&flows, &levels, sla_days, &mut all_bins);
        buckets.push(RemediationBucket {
            start,
            end,
            by_severity,
            all,
        });
    }

    for s in SEVERITY_ORDER {
        total_flows.get_mut(s).ttr_bins = total_bins.get_mut(s).take();
    }
    let (by_severity, all) = figures(&total_flows, &levels, sla_days, &mut all_bins);
    let aging = levels.map(|_, d| d.aging);
    let mut all_aging = AgingCounts::default();
    for (_, a) in aging.iter() {
        all_aging += *a;
    }
    let (within, with_sla) = total_flows.iter().fold((0, 0), |(w, n), (_, f)| {
        (w + f.resolved_within_sla, n + f.resolved_with_sla)
    });
    RemediationReport {
        date_from: window.from(),
        date_to: window.to(),
        granularity,
        sla_days: *sla_days,
        buckets,
        total: RemediationTotal { by_severity, all },
        aging_at_end: AgingAtEnd {
            by_severity: aging,
            all: all_aging,
        },
        sla_compliance: (with_sla != 0).then(|| within as f64 / with_sla as f64),
    }
}
