//! The findings ledger: findings with their append-only history, verifications and regressions.

mod cursor;
mod finding;
mod port;
mod provenance;
mod regression;
mod service;
mod verification;

use chrono::{DateTime, Datelike, SubsecRound, Timelike, Utc};

use crate::validation::InvalidParams;

pub use cursor::FindingCursor;
pub(crate) use finding::stored_enum;
pub use finding::{
    Finding, FindingChange, FindingState, FindingStatus, FindingTitle, PriorityScore, Severity,
};
#[cfg(feature = "mock")]
pub use port::MockLedgerRepository;
pub use port::{
    Decide, FindingDetail, FindingHistory, FindingQuery, LedgerRepoError, LedgerRepository,
    ProjectHistory, Rejection,
};
pub use provenance::{
    Description, ExternalId, Location, Provenance, RuleId, ScanOrigin, SourceName,
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

/// Parses an RFC 3339 instant given as `field`: a four-digit year, no leap second (`:60`, which
/// PostgreSQL would store as the next second and the day totals count on the earlier day), and a
/// UTC time within years 0000 to 9999 so that it is echoed as RFC 3339 again.
pub fn parse_instant(field: &str, raw: &str) -> Result<DateTime<Utc>, InvalidParams> {
    let invalid = || {
        InvalidParams::field(
            field,
            "must be an RFC 3339 date-time with a four-digit year, e.g. 2025-06-12T15:00:00Z",
        )
    };
    let bytes = raw.as_bytes();
    if bytes.len() < 5 || !bytes[..4].iter().all(u8::is_ascii_digit) || bytes[4] != b'-' {
        return Err(invalid());
    }
    let at = DateTime::parse_from_rfc3339(raw).map_err(|_| invalid())?;
    if at.nanosecond() >= 1_000_000_000 {
        return Err(InvalidParams::field(
            field,
            "must not be a leap second (:60); give the second before or after it",
        ));
    }
    let at = at.with_timezone(&Utc);
    if !(0..=9999).contains(&at.year()) {
        return Err(invalid());
    }
    Ok(truncate_to_micros(at))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(raw: &str) -> String {
        parse_instant("occurred_at", raw).unwrap_err().fields()[0]
            .field
            .clone()
    }

    #[test]
    fn instants_are_rfc3339_with_four_digit_years() {
        let at = parse_instant("occurred_at", "2026-01-02T03:04:05.1234567+01:00").unwrap();
        assert_eq!(at.to_rfc3339(), "2026-01-02T02:04:05.123456+00:00");
        assert!(parse_instant("occurred_at", "0001-01-01T00:00:00Z").is_ok());
        for bad in [
            "",
            "2026",
            "-2026-01-01T00:00:00Z",
            "+2026-01-01T00:00:00Z",
            "12026-01-01T00:00:00Z",
            "226-01-01T00:00:00Z",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "0000-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-01:00",
        ] {
            assert_eq!(field_of(bad), "occurred_at", "{bad:?}");
        }
    }

    #[test]
    fn leap_seconds_are_refused() {
        for leap in [
            "2016-12-31T23:59:60Z",
            "2016-12-31T23:59:60.5Z",
            "2017-01-01T00:59:60+01:00",
        ] {
            let err = parse_instant("occurred_at", leap).unwrap_err();
            assert_eq!(err.fields()[0].field, "occurred_at");
            assert!(err.fields()[0].message.contains("leap second"), "{leap}");
        }
    }
}
