use chrono::NaiveDate;

use crate::metrics::delta::{DatedDelta, DayDelta, DeltaLedger};
use crate::metrics::window::{SummaryQuery, VerificationScope};

/// Serialised exactly as the API shows it: `{"date": "YYYY-MM-DD", "open_risk_score": n}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BurnDownPoint {
    pub date: NaiveDate,
    pub open_risk_score: i64,
}

/// Serialised exactly as the summary endpoint's `data`; reports keep it as their snapshot.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Summary {
    /// One point per day of the window, oldest first.
    pub risk_burn_down: Vec<BurnDownPoint>,
    /// Passed over all verifications counted; 0 when there are none.
    pub verification_pass_rate: f64,
    /// The share of terminal findings that came back: those with at least one open regression,
    /// over all terminal findings, at the end of the window; 0 when none are terminal. Within 0..1.
    pub regression_rate: f64,
    /// Findings in an open status at the end of the window.
    pub open_findings: i64,
}

/// Folds daily deltas into the summary of `query`. The days may come in any order (an adapter's
/// query need not sort them): they are folded in date order.
pub fn summarize(query: &SummaryQuery, ledger: &DeltaLedger) -> Summary {
    let days: std::borrow::Cow<'_, [DatedDelta]> = if ledger.days.is_sorted_by_key(|d| d.day) {
        std::borrow::Cow::Borrowed(&ledger.days)
    } else {
        let mut sorted = ledger.days.clone();
        sorted.sort_by_key(|d| d.day);
        std::borrow::Cow::Owned(sorted)
    };
    let mut state = ledger.before;
    let mut in_window = DayDelta::default();
    let mut pending = days.iter().peekable();
    let mut risk_burn_down = Vec::new();
    for date in query.window.days() {
        while let Some(day) = pending.next_if(|d| d.day <= date) {
            state += day.delta;
            in_window += day.delta;
        }
        risk_burn_down.push(BurnDownPoint {
            date,
            open_risk_score: state.open_risk_score,
        });
    }
    let verifications = match query.verifications {
        VerificationScope::AllTime => state,
        VerificationScope::Window => in_window,
    };
    Summary {
        risk_burn_down,
        verification_pass_rate: ratio(
            verifications.verifications_passed,
            verifications.verifications,
        ),
        regression_rate: ratio(state.returned_findings, state.terminal_findings),
        open_findings: state.open_findings,
    }
}

fn ratio(part: i64, whole: i64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
