//! The remediation deltas of one ledger write.
//!
//! A write opens or closes a finding, or neither. Its flows (opened, reopened, resolved,
//! dismissed, the time to resolve) count on the day it occurred. Its levels are steps: a write
//! that opens a finding (creation in an open status, or closed → open) is a step `σ = +1`, one that
//! closes it (open → closed) a step `σ = −1`, any other `σ = 0` and no level delta. For a step of
//! sign `σ` on day `t`, with the finding created on day `c` and due on `d`:
//!
//! - `open`: `σ` on `t`.
//! - `overdue` (only with a due date): `σ` on `max(t, d + 1)`. Being open at the end of `D` is the
//!   sum of the steps on or before `D`, and being overdue also needs `D ≥ d + 1`, so overdue on
//!   `D` is the sum of `σ` over steps with `max(t, d + 1) ≤ D`.
//! - `aging`, for each bucket of ages `[s, e)`: `σ` on `max(t, c + s)` and `−σ` on
//!   `max(t, c + e)` (none for the open-ended last bucket). Their sum up to `D` is `σ` exactly when
//!   `t ≤ D` and `c + s ≤ D < c + e`.
//!
//! Each step thus stands on its own: it never has to find and take back an earlier write's
//! delta, a close before the due date cancelling on `d + 1` what the open put there. The totals
//! are therefore exact under any interleaving of writes to different findings, and for backdated
//! creations whose due date or age thresholds are already past (their deltas are simply dated in
//! the past). Deltas dated after today are expected: they are the thresholds still to come.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::ledger::{Finding, FindingChange, FindingStatus, Severity};
use crate::metrics::remediation::aging::AgeBucket;
use crate::metrics::remediation::delta::{DatedRemediationDelta, RemediationDelta};

/// What the adapter knows of a ledger write, in the write's transaction, to compute its deltas.
///
/// A finding's severity is set at creation and never changes (the ledger changes only status and
/// priority score), so every write of a finding counts under the same severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemediationWrite {
    /// The finding's severity (set at creation, never changed).
    pub severity: Severity,
    /// The finding's creation time (its first event): the time to resolve counts from it.
    pub created_at: DateTime<Utc>,
    /// The finding's due date, fixed at creation ([`super::due_on`] under the policy in force at
    /// `created_at`); `None` without an SLA.
    pub due_on: Option<NaiveDate>,
    /// The status before the write; `None` for the creation.
    pub before: Option<FindingStatus>,
    /// The status after the write.
    pub after: FindingStatus,
    /// When the write's event occurred (the creation time for the creation).
    pub occurred_at: DateTime<Utc>,
}

impl RemediationWrite {
    /// The creation of `finding`, due on `due_on`.
    pub fn creation(finding: &Finding, due_on: Option<NaiveDate>) -> Self {
        Self {
            severity: finding.severity,
            created_at: finding.created_at,
            due_on,
            before: None,
            after: finding.state.status,
            occurred_at: finding.created_at,
        }
    }

    /// `change` applied to `finding` (as stored before the change), due on `due_on` (as stored).
    pub fn change(finding: &Finding, change: &FindingChange, due_on: Option<NaiveDate>) -> Self {
        Self {
            severity: finding.severity,
            created_at: finding.created_at,
            due_on,
            before: Some(change.before.map_or(finding.state.status, |s| s.status)),
            after: change.after.status,
            occurred_at: change.occurred_at,
        }
    }

    /// The time to resolve if this write is a `resolved` event, in whole seconds (truncated; never
    /// negative).
    fn time_to_resolve(&self) -> i64 {
        (self.occurred_at - self.created_at).num_seconds().max(0)
    }
}

fn plus_days(day: NaiveDate, days: u32) -> NaiveDate {
    day.checked_add_days(Days::new(u64::from(days)))
        .unwrap_or(NaiveDate::MAX)
}

/// The deltas to add to the finding's project's remediation totals for `write`: at most one per
/// day, ascending, none zero, all of `write.severity`. Pure; their count does not depend on the
/// number of findings (at most 6 days: its own, the day after its due date, and the
/// four age thresholds).
pub fn remediation_deltas(write: &RemediationWrite) -> Vec<DatedRemediationDelta> {
    let t = write.occurred_at.date_naive();
    let created = write.created_at.date_naive();
    let was_open = write.before.is_some_and(|s| !s.is_terminal());
    let is_open = !write.after.is_terminal();
    let mut days: BTreeMap<NaiveDate, RemediationDelta> = BTreeMap::new();

    let flows = days.entry(t).or_default();
    let from_open = write.before.is_none() || was_open;
    flows.opened = i64::from(write.before.is_none());
    flows.reopened = i64::from(write.before.is_some_and(|s| s.is_terminal()) && is_open);
    if from_open && write.after == FindingStatus::Resolved {
        let seconds = write.time_to_resolve();
        flows.resolved = 1;
        flows.resolved_with_sla = i64::from(write.due_on.is_some());
        flows.resolved_within_sla = i64::from(write.due_on.is_some_and(|due| t <= due));
        flows.ttr_count = 1;
        flows.ttr_sum_seconds = seconds;
        flows.ttr_bins.record(seconds);
    }
    flows.dismissed = i64::from(from_open && write.after == FindingStatus::Dismissed);

    let step = i64::from(is_open) - i64::from(was_open);
    if step != 0 {
        days.entry(t).or_default().open += step;
        if let Some(due) = write.due_on {
            let overdue_from = due.succ_opt().unwrap_or(NaiveDate::MAX);
            days.entry(t.max(overdue_from)).or_default().overdue += step;
        }
        for bucket in AgeBucket::ALL {
            let (start, end) = bucket.ages();
            *days
                .entry(t.max(plus_days(created, start)))
                .or_default()
                .aging
                .get_mut(bucket) += step;
            if let Some(end) = end {
                *days
                    .entry(t.max(plus_days(created, end)))
                    .or_default()
                    .aging
                    .get_mut(bucket) -= step;
            }
        }
    }

    days.into_iter()
        .filter(|(_, delta)| !delta.is_zero())
        .map(|(day, delta)| DatedRemediationDelta {
            day,
            severity: write.severity,
            delta,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::remediation::aging::AgingCounts;

    use FindingStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn write(before: Option<FindingStatus>, after: FindingStatus, t: &str) -> RemediationWrite {
        RemediationWrite {
            severity: Severity::Critical,
            created_at: at("2026-06-01T10:00:00Z"),
            due_on: Some(date("2026-06-08")),
            before,
            after,
            occurred_at: at(t),
        }
    }

    /// (day, open, overdue, aging) of each delta.
    fn levels(deltas: &[DatedRemediationDelta]) -> Vec<(String, i64, i64, [i64; 5])> {
        deltas
            .iter()
            .map(|d| {
                let a = d.delta.aging;
                (
                    d.day.to_string(),
                    d.delta.open,
                    d.delta.overdue,
                    AgeBucket::ALL.map(|b| a.get(b)),
                )
            })
            .collect()
    }

    #[test]
    fn an_open_creation_writes_its_future_thresholds() {
        let deltas = remediation_deltas(&write(None, New, "2026-06-01T10:00:00Z"));
        assert!(deltas.iter().all(|d| d.severity == Severity::Critical));
        assert_eq!(deltas[0].delta.opened, 1);
        assert_eq!(
            levels(&deltas),
            [
                ("2026-06-01".into(), 1, 0, [1, 0, 0, 0, 0]),
                ("2026-06-09".into(), 0, 1, [-1, 1, 0, 0, 0]),
                ("2026-07-02".into(), 0, 0, [0, -1, 1, 0, 0]),
                ("2026-08-31".into(), 0, 0, [0, 0, -1, 1, 0]),
                ("2026-11-29".into(), 0, 0, [0, 0, 0, -1, 1]),
            ]
        );
    }

    #[test]
    fn a_close_before_the_thresholds_takes_them_back_on_their_days() {
        let open = remediation_deltas(&write(None, Triaged, "2026-06-01T10:00:00Z"));
        let close = remediation_deltas(&write(Some(Triaged), Resolved, "2026-06-05T10:00:00Z"));
        assert_eq!(close[0].delta.resolved, 1);
        assert_eq!(close[0].delta.resolved_within_sla, 1);
        assert_eq!(close[0].delta.ttr_sum_seconds, 4 * 86_400);
        // Summed per day, nothing remains after the close but its own day's step.
        let mut by_day: BTreeMap<NaiveDate, RemediationDelta> = BTreeMap::new();
        for d in open.iter().chain(&close) {
            *by_day.entry(d.day).or_default() += d.delta.levels();
        }
        by_day.retain(|_, d| !d.is_zero());
        let days: Vec<_> = by_day.keys().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-06-01", "2026-06-05"]);
        assert_eq!(by_day[&date("2026-06-05")].open, -1);
    }

    #[test]
    fn a_reopen_after_the_due_date_is_overdue_at_once_in_its_age_bucket() {
        let deltas = remediation_deltas(&write(Some(Resolved), InProgress, "2026-07-20T10:00:00Z"));
        assert_eq!(deltas[0].delta.reopened, 1);
        assert_eq!(deltas[0].delta.opened, 0);
        assert_eq!(
            levels(&deltas),
            [
                ("2026-07-20".into(), 1, 1, [0, 0, 1, 0, 0]),
                ("2026-08-31".into(), 0, 0, [0, 0, -1, 1, 0]),
                ("2026-11-29".into(), 0, 0, [0, 0, 0, -1, 1]),
            ]
        );
    }

    #[test]
    fn closed_to_closed_and_open_to_open_move_nothing() {
        assert_eq!(
            remediation_deltas(&write(Some(Resolved), Dismissed, "2026-06-03T00:00:00Z")),
            vec![]
        );
        assert_eq!(
            remediation_deltas(&write(Some(New), ReadyVerify, "2026-06-03T00:00:00Z")),
            vec![]
        );
    }

    #[test]
    fn a_creation_directly_resolved_counts_opened_and_resolved_in_zero_time() {
        let deltas = remediation_deltas(&write(None, Resolved, "2026-06-01T10:00:00Z"));
        assert_eq!(deltas.len(), 1);
        let d = &deltas[0].delta;
        assert_eq!(
            (d.opened, d.resolved, d.ttr_count, d.ttr_sum_seconds),
            (1, 1, 1, 0)
        );
        assert_eq!(d.ttr_bins.count(0), 1);
        assert_eq!((d.open, d.aging), (0, AgingCounts::default()));
        let deltas = remediation_deltas(&write(None, Dismissed, "2026-06-01T10:00:00Z"));
        assert_eq!((deltas[0].delta.opened, deltas[0].delta.dismissed), (1, 1));
        assert_eq!(deltas[0].delta.resolved, 0);
    }

    #[test]
    fn resolved_within_sla_up_to_the_due_date_included() {
        let on_due = remediation_deltas(&write(Some(New), Resolved, "2026-06-08T23:59:59Z"));
        assert_eq!(on_due[0].delta.resolved_within_sla, 1);
        let after = remediation_deltas(&write(Some(New), Resolved, "2026-06-09T00:00:00Z"));
        assert_eq!(after[0].delta.resolved_within_sla, 0);
        assert_eq!(after[0].delta.resolved_with_sla, 1);
        let no_sla = RemediationWrite {
            due_on: None,
            ..write(Some(New), Resolved, "2026-06-02T00:00:00Z")
        };
        let d = &remediation_deltas(&no_sla)[0].delta;
        assert_eq!(
            (d.resolved, d.resolved_with_sla, d.resolved_within_sla),
            (1, 0, 0)
        );
    }

    #[test]
    fn writes_are_read_from_the_ledgers_own_types() {
        use crate::ids::FindingId;
        use crate::ledger::{FindingState, FindingTitle, PriorityScore};
        let state = |status| FindingState {
            status,
            priority_score: PriorityScore::parse(10).unwrap(),
        };
        let finding = Finding {
            id: FindingId::generate(),
            title: FindingTitle::parse("XSS").unwrap(),
            severity: Severity::High,
            state: state(Triaged),
            created_at: at("2026-06-01T10:00:00Z"),
            updated_at: at("2026-06-01T10:00:00Z"),
            due_on: None,
            provenance: Default::default(),
        };
        let due = Some(date("2026-07-01"));
        let creation = RemediationWrite::creation(&finding, due);
        assert_eq!(
            (creation.before, creation.after, creation.occurred_at),
            (None, Triaged, finding.created_at)
        );
        let change = FindingChange {
            finding_id: finding.id,
            occurred_at: at("2026-06-03T10:00:00Z"),
            before: Some(state(Triaged)),
            after: state(Resolved),
        };
        let write = RemediationWrite::change(&finding, &change, due);
        assert_eq!(
            write,
            RemediationWrite {
                severity: Severity::High,
                created_at: finding.created_at,
                due_on: due,
                before: Some(Triaged),
                after: Resolved,
                occurred_at: change.occurred_at,
            }
        );
        let deltas = remediation_deltas(&write);
        assert_eq!(deltas[0].delta.ttr_sum_seconds, 2 * 86_400);
        assert!(deltas.iter().all(|d| d.severity == Severity::High));
    }

    #[test]
    fn without_a_due_date_nothing_is_ever_overdue() {
        let open = RemediationWrite {
            due_on: None,
            ..write(None, New, "2026-06-01T10:00:00Z")
        };
        assert!(remediation_deltas(&open)
            .iter()
            .all(|d| d.delta.overdue == 0));
    }
}
