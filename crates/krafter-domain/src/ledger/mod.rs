//! The findings ledger: findings with their append-only history, verifications and regressions.

mod cursor;
mod finding;
mod port;
mod regression;
mod service;
mod verification;

use chrono::{DateTime, SubsecRound, Utc};

use crate::validation::InvalidParams;

pub use cursor::FindingCursor;
pub(crate) use finding::stored_enum;
pub use finding::{
    Finding, FindingChange, FindingState, FindingStatus, FindingTitle, PriorityScore, Severity,
};
#[cfg(feature = "mock")]
pub use port::MockLedgerRepository;
pub use port::{
    Decide, FindingHistory, FindingQuery, LedgerRepoError, LedgerRepository, ProjectHistory,
    Rejection,
};
pub use regression::{Regression, RegressionStatus, TransitionError};
pub use service::{
    CloseRegression, CreateFinding, Ledger, LedgerError, OpenRegression, RecordVerification,
    UpdateFinding,
};
pub use verification::{Verification, VerificationResult};

/// PostgreSQL keeps microseconds; truncating at the edge makes stored and returned times equal.
pub fn truncate_to_micros(at: DateTime<Utc>) -> DateTime<Utc> {
    at.trunc_subsecs(6)
}

/// Parses an RFC 3339 instant given as `field`.
pub fn parse_instant(field: &str, raw: &str) -> Result<DateTime<Utc>, InvalidParams> {
    DateTime::parse_from_rfc3339(raw)
        .map(|at| truncate_to_micros(at.with_timezone(&Utc)))
        .map_err(|_| {
            InvalidParams::field(
                field,
                "must be an RFC 3339 date-time, e.g. 2025-06-12T15:00:00Z",
            )
        })
}

/// When a change happened: `now` when not given, never in the future, never before `not_before`.
pub(crate) fn occurred_at(
    given: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
    not_before: DateTime<Utc>,
) -> Result<DateTime<Utc>, InvalidParams> {
    let at = given.unwrap_or(now);
    if at > now {
        return Err(InvalidParams::field(
            "occurred_at",
            "must not be in the future",
        ));
    }
    if at < not_before {
        return Err(InvalidParams::field(
            "occurred_at",
            format!(
                "must not be earlier than the latest recorded change ({})",
                not_before.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
            ),
        ));
    }
    Ok(at)
}
