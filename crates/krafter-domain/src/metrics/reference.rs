//! The summary recomputed from the raw history, the slow and obvious way: for each day, look at
//! the state every finding and regression was in at the end of it. Tests hold the daily totals to it.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, NaiveDate, Utc};

use crate::ledger::{FindingChange, ProjectHistory};
use crate::metrics::delta::{DatedDelta, DayDelta};
use crate::metrics::summary::{BurnDownPoint, Summary};
use crate::metrics::window::{SummaryQuery, VerificationScope};

fn end_of(day: NaiveDate) -> DateTime<Utc> {
    day.succ_opt()
        .expect("a date before the end of time")
        .and_hms_opt(0, 0, 0)
        .expect("midnight exists")
        .and_utc()
}

/// What the summary reads at the end of one instant, found by looking at every finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct StateAt {
    open_risk_score: i64,
    open_findings: i64,
    terminal_findings: i64,
    /// Terminal findings with at least one regression open then.
    returned_findings: i64,
}

fn state_at(history: &ProjectHistory, end: DateTime<Utc>) -> StateAt {
    let mut state = StateAt::default();
    for finding in &history.findings {
        let Some((_, current)) = finding.events.iter().rev().find(|(at, _)| *at < end) else {
            continue;
        };
        if current.status.is_terminal() {
            state.terminal_findings += 1;
            let came_back = history.regressions.iter().any(|r| {
                r.finding_id == finding.finding_id
                    && r.opened_at < end
                    && r.closed_at.is_none_or(|closed| closed >= end)
            });
            state.returned_findings += i64::from(came_back);
        } else {
            state.open_findings += 1;
            state.open_risk_score += i64::from(current.priority_score.get());
        }
    }
    state
}

/// The summary computed straight from the history.
pub fn summarize_history(history: &ProjectHistory, query: &SummaryQuery) -> Summary {
    let risk_burn_down = query
        .window
        .days()
        .map(|date| BurnDownPoint {
            date,
            open_risk_score: state_at(history, end_of(date)).open_risk_score,
        })
        .collect();
    let end = state_at(history, end_of(query.window.to()));
    let counted: Vec<_> = history
        .verifications
        .iter()
        .filter(|v| match query.verifications {
            VerificationScope::AllTime => true,
            VerificationScope::Window => {
                let day = v.occurred_at.date_naive();
                query.window.from() <= day && day <= query.window.to()
            }
        })
        .collect();
    let passed = counted
        .iter()
        .filter(|v| v.result == crate::ledger::VerificationResult::Passed)
        .count();
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Summary {
        risk_burn_down,
        verification_pass_rate: ratio(passed, counted.len()),
        regression_rate: ratio(
            end.returned_findings as usize,
            end.terminal_findings as usize,
        ),
        open_findings: end.open_findings,
    }
}

/// The daily totals that replaying the history through the ledger's own deltas must produce;
/// days whose deltas cancel out are left out. `returned_findings` is not replayed but recounted
/// at the end of every day on which anything happened (it cannot change on any other day).
pub fn daily_deltas(history: &ProjectHistory) -> BTreeMap<NaiveDate, DayDelta> {
    let mut deltas: Vec<DatedDelta> = Vec::new();
    for finding in &history.findings {
        let mut before = None;
        for (at, state) in &finding.events {
            let change = FindingChange {
                finding_id: finding.finding_id,
                occurred_at: *at,
                before,
                after: *state,
            };
            deltas.push(change.day_delta());
            before = Some(*state);
        }
    }
    deltas.extend(history.verifications.iter().map(|v| v.day_delta()));
    for regression in &history.regressions {
        deltas.push(regression.opening_delta());
        deltas.extend(regression.closing_delta());
    }
    deltas.extend(returned_deltas(history));
    let mut totals: BTreeMap<NaiveDate, DayDelta> = BTreeMap::new();
    for d in deltas {
        *totals.entry(d.day).or_default() += d.delta;
    }
    totals.retain(|_, delta| !delta.is_zero());
    totals
}

/// Day by day, how the count of returned findings moved since the previous day with events.
fn returned_deltas(history: &ProjectHistory) -> Vec<DatedDelta> {
    let event_days: BTreeSet<NaiveDate> = history
        .findings
        .iter()
        .flat_map(|f| f.events.iter().map(|(at, _)| at.date_naive()))
        .chain(history.regressions.iter().flat_map(|r| {
            std::iter::once(r.opened_at)
                .chain(r.closed_at)
                .map(|at| at.date_naive())
        }))
        .collect();
    let mut counted = 0;
    let mut deltas = Vec::new();
    for day in event_days {
        let returned = state_at(history, end_of(day)).returned_findings;
        deltas.push(DatedDelta {
            day,
            delta: DayDelta {
                returned_findings: returned - counted,
                ..DayDelta::default()
            },
        });
        counted = returned;
    }
    deltas
}
