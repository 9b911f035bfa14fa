//! The regression rate's numerator, one finding at a time.
//!
//! A finding counts as returned at the end of a day when it is in a terminal status then and at
//! least one of its regressions is open then. Whether it counts can change on a day of any of
//! its events: a status change, and the opening or closing of any of its regressions, including
//! back-dated ones that land before later status changes. So a write does not move the count by
//! a fixed amount: it moves it by the difference between the finding's day-by-day counts before
//! and after the write.

use std::collections::BTreeMap;

use chrono::{DateTime, NaiveDate, Utc};

use crate::ledger::{FindingState, Regression};
use crate::metrics::delta::{DatedDelta, DayDelta};

/// Everything that decides, day by day, whether one finding counts as returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FindingRecord {
    /// The finding's history in recorded order; the first event is its creation.
    pub events: Vec<(DateTime<Utc>, FindingState)>,
    pub regressions: Vec<Regression>,
}

/// What one day does to a finding's standing.
#[derive(Default)]
struct DayMoves {
    /// The latest recorded event of the day (its index in the history), if any.
    last_event: Option<usize>,
    opened_minus_closed: i64,
}

impl FindingRecord {
    /// The finding's share of `returned_findings`: +1 on each day at whose end it starts to
    /// count, −1 on each day at whose end it stops.
    pub fn returned_deltas(&self) -> Vec<DatedDelta> {
        let mut days: BTreeMap<NaiveDate, DayMoves> = BTreeMap::new();
        for (index, (at, _)) in self.events.iter().enumerate() {
            let day = days.entry(at.date_naive()).or_default();
            day.last_event = day.last_event.max(Some(index));
        }
        for regression in &self.regressions {
            days.entry(regression.opened_at.date_naive())
                .or_default()
                .opened_minus_closed += 1;
            if let Some(closed_at) = regression.closed_at {
                days.entry(closed_at.date_naive())
                    .or_default()
                    .opened_minus_closed -= 1;
            }
        }
        // The state at the end of a day is that of the latest recorded event up to that day.
        let mut latest_event = None;
        let mut open_regressions = 0;
        let mut counted = false;
        let mut deltas = Vec::new();
        for (day, moves) in days {
            latest_event = latest_event.max(moves.last_event);
            open_regressions += moves.opened_minus_closed;
            let terminal = latest_event.is_some_and(|i| self.events[i].1.status.is_terminal());
            let counts = terminal && open_regressions > 0;
            if counts != counted {
                deltas.push(DatedDelta {
                    day,
                    delta: DayDelta {
                        returned_findings: if counts { 1 } else { -1 },
                        ..DayDelta::default()
                    },
                });
                counted = counts;
            }
        }
        deltas
    }
}

/// The `returned_findings` deltas of a write that turns a finding's record from `before` into
/// `after`: what the finding counts from now on, minus what it counted so far.
pub fn returned_shift(before: &FindingRecord, after: &FindingRecord) -> Vec<DatedDelta> {
    let mut by_day: BTreeMap<NaiveDate, DayDelta> = BTreeMap::new();
    for d in after.returned_deltas() {
        *by_day.entry(d.day).or_default() += d.delta;
    }
    for d in before.returned_deltas() {
        *by_day.entry(d.day).or_default() += -d.delta;
    }
    by_day
        .into_iter()
        .filter(|(_, delta)| !delta.is_zero())
        .map(|(day, delta)| DatedDelta { day, delta })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::FindingId;
    use crate::ledger::{FindingStatus, PriorityScore};

    use FindingStatus::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn event(t: &str, status: FindingStatus) -> (DateTime<Utc>, FindingState) {
        let priority_score = PriorityScore::parse(10).unwrap();
        (
            at(t),
            FindingState {
                status,
                priority_score,
            },
        )
    }

    fn regression(opened: &str, closed: Option<&str>) -> Regression {
        Regression {
            closed_at: closed.map(at),
            ..Regression::open(FindingId::generate(), at(opened))
        }
    }

    fn days(deltas: &[DatedDelta]) -> Vec<(String, i64)> {
        deltas
            .iter()
            .map(|d| (d.day.to_string(), d.delta.returned_findings))
            .collect()
    }

    fn resolved_on_the_2nd() -> Vec<(DateTime<Utc>, FindingState)> {
        vec![
            event("2026-06-01T10:00:00Z", New),
            event("2026-06-02T10:00:00Z", Resolved),
        ]
    }

    #[test]
    fn a_terminal_finding_counts_once_while_any_regression_is_open() {
        let record = FindingRecord {
            events: resolved_on_the_2nd(),
            regressions: vec![
                regression("2026-06-03T10:00:00Z", Some("2026-06-06T10:00:00Z")),
                regression("2026-06-04T10:00:00Z", Some("2026-06-05T10:00:00Z")),
            ],
        };
        assert_eq!(
            days(&record.returned_deltas()),
            [("2026-06-03".into(), 1), ("2026-06-06".into(), -1)]
        );
    }

    #[test]
    fn an_open_finding_never_counts_and_counts_from_the_day_it_closes() {
        let mut record = FindingRecord {
            events: vec![event("2026-06-01T10:00:00Z", Triaged)],
            regressions: vec![regression("2026-06-02T10:00:00Z", None)],
        };
        assert_eq!(record.returned_deltas(), vec![]);
        record.events.push(event("2026-06-05T10:00:00Z", Dismissed));
        assert_eq!(days(&record.returned_deltas()), [("2026-06-05".into(), 1)]);
        record
            .events
            .push(event("2026-06-07T10:00:00Z", InProgress));
        assert_eq!(
            days(&record.returned_deltas()),
            [("2026-06-05".into(), 1), ("2026-06-07".into(), -1)]
        );
    }

    #[test]
    fn what_happens_within_a_day_shows_only_at_its_end() {
        let record = FindingRecord {
            events: resolved_on_the_2nd(),
            regressions: vec![regression(
                "2026-06-03T10:00:00Z",
                Some("2026-06-03T11:00:00Z"),
            )],
        };
        assert_eq!(record.returned_deltas(), vec![]);
    }

    #[test]
    fn the_shift_is_the_difference_of_both_records() {
        let before = FindingRecord {
            events: resolved_on_the_2nd(),
            regressions: vec![regression("2026-06-04T10:00:00Z", None)],
        };
        // A second regression, back-dated before the first: the finding counts two days earlier.
        let mut after = before.clone();
        after.regressions.push(regression(
            "2026-06-02T12:00:00Z",
            Some("2026-06-08T00:00:00Z"),
        ));
        assert_eq!(
            days(&returned_shift(&before, &after)),
            [("2026-06-02".into(), 1), ("2026-06-04".into(), -1)]
        );
        assert_eq!(returned_shift(&after, &after), vec![]);
    }
}
