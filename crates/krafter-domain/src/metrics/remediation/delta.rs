//! The remediation daily totals: one [`RemediationDelta`] per project, day and severity.

use std::ops::{AddAssign, Neg};

use chrono::NaiveDate;

use crate::ledger::Severity;
use crate::metrics::remediation::aging::AgingCounts;
use crate::metrics::remediation::histogram::TtrHistogram;
use crate::metrics::remediation::severity::BySeverity;

/// How the writes of one day moved a severity's remediation figures.
///
/// The *flows* (`opened` to `ttr_bins`) count events that occurred that day; a window's flow is the
/// sum of its days. The *levels* (`open`, `overdue`, `aging`) are steps: the level at the end of a
/// day is the sum of every delta up to and including that day. Overdue and aging steps are dated
/// on the day a threshold is crossed, which is often after the write that caused them (see
/// [`super::remediation_deltas`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemediationDelta {
    /// Creations, in any status.
    pub opened: i64,
    /// Changes from a closed status to an open one.
    pub reopened: i64,
    /// Changes from an open status to `resolved`, and creations in `resolved`.
    pub resolved: i64,
    /// Changes from an open status to `dismissed`, and creations in `dismissed`.
    pub dismissed: i64,
    /// Of `resolved`, those of findings with a due date: the SLA compliance denominator.
    pub resolved_with_sla: i64,
    /// Of `resolved`, those on or before the finding's due date.
    pub resolved_within_sla: i64,
    /// Times to resolve counted: one per `resolved` event, so always equal to `resolved`.
    pub ttr_count: i64,
    /// Sum of the times to resolve in whole seconds, so that the mean is exact.
    pub ttr_sum_seconds: i64,
    /// The times to resolve per histogram bin (see [`super::histogram`]).
    pub ttr_bins: TtrHistogram,
    /// Step of the count of findings in an open status.
    pub open: i64,
    /// Step of the count of open findings past their due date.
    pub overdue: i64,
    /// Steps of the counts of open findings per age bucket.
    pub aging: AgingCounts,
}

impl RemediationDelta {
    /// Whether adding it would change nothing.
    pub fn is_zero(&self) -> bool {
        *self == RemediationDelta::default()
    }

    /// Only the levels (`open`, `overdue`, `aging`), the flows zeroed.
    pub fn levels(&self) -> RemediationDelta {
        RemediationDelta {
            open: self.open,
            overdue: self.overdue,
            aging: self.aging,
            ..RemediationDelta::default()
        }
    }

    /// Only the flows, the levels zeroed.
    pub fn flows(&self) -> RemediationDelta {
        RemediationDelta {
            open: 0,
            overdue: 0,
            aging: AgingCounts::default(),
            ..self.clone()
        }
    }
}

impl RemediationDelta {
    /// Adds every figure of `o` but its histogram (which a fold of many deltas gathers on its own:
    /// [`super::remediation_report`]).
    pub(crate) fn add_counts(&mut self, o: &RemediationDelta) {
        self.opened += o.opened;
        self.reopened += o.reopened;
        self.resolved += o.resolved;
        self.dismissed += o.dismissed;
        self.resolved_with_sla += o.resolved_with_sla;
        self.resolved_within_sla += o.resolved_within_sla;
        self.ttr_count += o.ttr_count;
        self.ttr_sum_seconds += o.ttr_sum_seconds;
        self.open += o.open;
        self.overdue += o.overdue;
        self.aging += o.aging;
    }
}

impl AddAssign<&RemediationDelta> for RemediationDelta {
    fn add_assign(&mut self, o: &RemediationDelta) {
        self.add_counts(o);
        self.ttr_bins += &o.ttr_bins;
    }
}

impl AddAssign for RemediationDelta {
    fn add_assign(&mut self, o: RemediationDelta) {
        *self += &o;
    }
}

impl Neg for RemediationDelta {
    type Output = RemediationDelta;

    fn neg(self) -> RemediationDelta {
        RemediationDelta {
            opened: -self.opened,
            reopened: -self.reopened,
            resolved: -self.resolved,
            dismissed: -self.dismissed,
            resolved_with_sla: -self.resolved_with_sla,
            resolved_within_sla: -self.resolved_within_sla,
            ttr_count: -self.ttr_count,
            ttr_sum_seconds: -self.ttr_sum_seconds,
            ttr_bins: -self.ttr_bins,
            open: -self.open,
            overdue: -self.overdue,
            aging: -self.aging,
        }
    }
}

/// A delta with the UTC day and the severity it belongs to: one row of the daily totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatedRemediationDelta {
    /// The UTC day whose totals it adds to.
    pub day: NaiveDate,
    /// The severity of the finding(s) it counts.
    pub severity: Severity,
    /// What it adds.
    pub delta: RemediationDelta,
}

/// What a remediation report over a window needs from the daily totals (of a project, or summed
/// over an organisation's projects).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemediationLedger {
    /// Per severity, the sum of every delta dated before the window's first day. Only its levels
    /// are read, so a repository may leave the flows (and histograms) zero.
    pub before: BySeverity<RemediationDelta>,
    /// The non-zero deltas dated within the window, at most one per (day, severity) or several
    /// that add up; in any order. Days outside the window are allowed: those before it count as
    /// `before` (levels only), those after it are ignored.
    pub days: Vec<DatedRemediationDelta>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flows_and_levels_add_back_to_the_whole() {
        let delta = RemediationDelta {
            opened: 1,
            resolved: 2,
            ttr_count: 2,
            ttr_sum_seconds: 10,
            ttr_bins: TtrHistogram::from_counts([(4, 1), (6, 1)]),
            open: -1,
            overdue: 3,
            aging: AgingCounts {
                up_to_30: 1,
                ..AgingCounts::default()
            },
            ..RemediationDelta::default()
        };
        let mut whole = delta.flows();
        whole += delta.levels();
        assert_eq!(whole, delta);
        let mut none = delta.clone();
        none += -delta;
        assert!(none.is_zero());
    }
}
