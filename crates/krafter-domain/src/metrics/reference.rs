//! The summary recomputed from the raw history, the slow and obvious way: for each day, look at
//! the state every finding and regression was in at the end of it. Tests hold the daily totals to it.

use std::collections::BTreeMap;

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

/// The summary computed straight from the history.
pub fn summarize_history(history: &ProjectHistory, query: &SummaryQuery) -> Summary {
    let state_at = |end: DateTime<Utc>| {
        let mut risk = 0i64;
        let mut open = 0i64;
        let mut terminal = 0i64;
        for finding in &history.findings {
            if let Some((_, state)) = finding.events.iter().rev().find(|(at, _)| *at < end) {
                if state.status.is_terminal() {
                    terminal += 1;
                } else {
                    open += 1;
                    risk += i64::from(state.priority_score.get());
                }
            }
        }
        (risk, open, terminal)
    };
    let risk_burn_down = query
        .window
        .days()
        .map(|date| BurnDownPoint {
            date,
            open_risk_score: state_at(end_of(date)).0,
        })
        .collect();
    let end = end_of(query.window.to());
    let (_, open_findings, terminal) = state_at(end);
    let open_regressions = history
        .regressions
        .iter()
        .filter(|r| r.opened_at < end && r.closed_at.is_none_or(|closed| closed >= end))
        .count();
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
        regression_rate: ratio(open_regressions, terminal as usize),
        open_findings,
    }
}

/// The daily totals that replaying the history through the ledger's own deltas must produce;
/// days whose deltas cancel out are left out.
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
    let mut totals: BTreeMap<NaiveDate, DayDelta> = BTreeMap::new();
    for d in deltas {
        *totals.entry(d.day).or_default() += d.delta;
    }
    totals.retain(|_, delta| !delta.is_zero());
    totals
}
