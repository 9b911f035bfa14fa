use chrono::{DateTime, Utc};

use crate::ids::{FindingId, VerificationId};
use crate::ledger::finding::stored_enum;
use crate::metrics::{DatedDelta, DayDelta};

stored_enum!(
    VerificationResult, "result" {
        Failed = 0 => "failed",
        Passed = 1 => "passed",
    }
);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub id: VerificationId,
    pub finding_id: FindingId,
    pub result: VerificationResult,
    pub occurred_at: DateTime<Utc>,
}

impl Verification {
    pub fn day_delta(&self) -> DatedDelta {
        DatedDelta {
            day: self.occurred_at.date_naive(),
            delta: DayDelta {
                verifications: 1,
                verifications_passed: i64::from(self.result == VerificationResult::Passed),
                ..DayDelta::default()
            },
        }
    }
}
