use std::ops::{Add, AddAssign, Neg, Sub};

use chrono::NaiveDate;

/// How one day's writes moved the end-of-day state of a project.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DayDelta {
    /// Sum of `priority_score` over findings in an open status.
    pub open_risk_score: i64,
    /// Findings in an open status.
    pub open_findings: i64,
    /// Findings in a terminal status.
    pub terminal_findings: i64,
    /// Regressions opened and not yet closed. No figure reads it since the regression rate
    /// counts findings; kept exact so that going back to a version that reads it needs no rebuild.
    pub open_regressions: i64,
    /// Findings in a terminal status with at least one open regression: the regression rate's
    /// numerator (see [`crate::metrics::FindingRecord`]).
    pub returned_findings: i64,
    /// Verifications that occurred on this day (not cumulative in meaning, but summed the same way).
    pub verifications: i64,
    pub verifications_passed: i64,
}

impl DayDelta {
    pub fn is_zero(&self) -> bool {
        *self == DayDelta::default()
    }
}

impl Add for DayDelta {
    type Output = DayDelta;

    fn add(self, o: DayDelta) -> DayDelta {
        DayDelta {
            open_risk_score: self.open_risk_score + o.open_risk_score,
            open_findings: self.open_findings + o.open_findings,
            terminal_findings: self.terminal_findings + o.terminal_findings,
            open_regressions: self.open_regressions + o.open_regressions,
            returned_findings: self.returned_findings + o.returned_findings,
            verifications: self.verifications + o.verifications,
            verifications_passed: self.verifications_passed + o.verifications_passed,
        }
    }
}

impl AddAssign for DayDelta {
    fn add_assign(&mut self, o: DayDelta) {
        *self = *self + o;
    }
}

impl Neg for DayDelta {
    type Output = DayDelta;

    fn neg(self) -> DayDelta {
        DayDelta::default() - self
    }
}

impl Sub for DayDelta {
    type Output = DayDelta;

    fn sub(self, o: DayDelta) -> DayDelta {
        DayDelta {
            open_risk_score: self.open_risk_score - o.open_risk_score,
            open_findings: self.open_findings - o.open_findings,
            terminal_findings: self.terminal_findings - o.terminal_findings,
            open_regressions: self.open_regressions - o.open_regressions,
            returned_findings: self.returned_findings - o.returned_findings,
            verifications: self.verifications - o.verifications,
            verifications_passed: self.verifications_passed - o.verifications_passed,
        }
    }
}

/// A delta and the UTC day it belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatedDelta {
    pub day: NaiveDate,
    pub delta: DayDelta,
}

/// What a summary over a window needs: the sum of every day before the window, and each day of
/// the window that has a delta, in ascending order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeltaLedger {
    pub before: DayDelta,
    pub days: Vec<DatedDelta>,
}
