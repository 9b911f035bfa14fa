use chrono::{DateTime, Utc};

use crate::ids::{FindingId, RegressionId};
use crate::ledger::finding::stored_enum;
use crate::metrics::{DatedDelta, DayDelta};

stored_enum!(
    /// A regression opens once and closes once: `open → closed`.
    RegressionStatus, "status" {
        Open = 0 => "open",
        Closed = 1 => "closed",
    }
);

/// A move the state machine does not allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a {entity} cannot move from {from} to {to}")]
pub struct TransitionError {
    pub entity: &'static str,
    pub from: &'static str,
    pub to: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regression {
    pub id: RegressionId,
    pub finding_id: FindingId,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl Regression {
    pub fn open(finding_id: FindingId, at: DateTime<Utc>) -> Self {
        Self {
            id: RegressionId::generate(),
            finding_id,
            opened_at: at,
            closed_at: None,
        }
    }

    pub fn status(&self) -> RegressionStatus {
        if self.closed_at.is_some() {
            RegressionStatus::Closed
        } else {
            RegressionStatus::Open
        }
    }

    /// The latest change this regression recorded.
    pub fn updated_at(&self) -> DateTime<Utc> {
        self.closed_at.unwrap_or(self.opened_at)
    }

    /// Moves to `target`; only `open → closed` is legal.
    pub fn transition(
        &self,
        target: RegressionStatus,
        at: DateTime<Utc>,
    ) -> Result<Regression, TransitionError> {
        match (self.status(), target) {
            (RegressionStatus::Open, RegressionStatus::Closed) => Ok(Regression {
                closed_at: Some(at),
                ..self.clone()
            }),
            (from, to) => Err(TransitionError {
                entity: "regression",
                from: from.as_str(),
                to: to.as_str(),
            }),
        }
    }

    pub fn opening_delta(&self) -> DatedDelta {
        DatedDelta {
            day: self.opened_at.date_naive(),
            delta: DayDelta {
                open_regressions: 1,
                ..DayDelta::default()
            },
        }
    }

    /// `None` while the regression is open.
    pub fn closing_delta(&self) -> Option<DatedDelta> {
        self.closed_at.map(|at| DatedDelta {
            day: at.date_naive(),
            delta: DayDelta {
                open_regressions: -1,
                ..DayDelta::default()
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_regression_closes_once() {
        let at = "2026-06-01T00:00:00Z".parse().unwrap();
        let open = Regression::open(FindingId::generate(), at);
        let closed = open.transition(RegressionStatus::Closed, at).unwrap();
        assert_eq!(closed.status(), RegressionStatus::Closed);
        let err = closed.transition(RegressionStatus::Closed, at).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a regression cannot move from closed to closed"
        );
        assert!(open.transition(RegressionStatus::Open, at).is_err());
    }
}
