//! SLA policies: how many days each severity has to be fixed, and which policy a finding's due
//! date comes from.

use chrono::{DateTime, Days, NaiveDate, Utc};

use crate::ledger::Severity;
use crate::metrics::remediation::severity::BySeverity;
use crate::validation::{Collector, InvalidParams};

/// The days a severity has to be fixed in: 1 to 3650. Serialised as a plain number.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct SlaDays(u16);

impl SlaDays {
    /// The fewest days a policy may give.
    pub const MIN: u16 = 1;
    /// The most days a policy may give (about ten years).
    pub const MAX: u16 = 3650;

    /// Reads a number of days given as `field`; outside `MIN..=MAX` is an error naming `field`.
    pub fn parse(field: &str, raw: i64) -> Result<Self, InvalidParams> {
        if (i64::from(Self::MIN)..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as u16))
        } else {
            Err(InvalidParams::field(
                field,
                format!(
                    "must be an integer from {} to {}, or null for no SLA",
                    Self::MIN,
                    Self::MAX
                ),
            ))
        }
    }

    /// The number of days.
    pub fn get(self) -> u16 {
        self.0
    }
}

impl TryFrom<i64> for SlaDays {
    type Error = InvalidParams;

    fn try_from(raw: i64) -> Result<Self, InvalidParams> {
        Self::parse("days", raw)
    }
}

impl From<SlaDays> for i64 {
    fn from(days: SlaDays) -> i64 {
        i64::from(days.0)
    }
}

/// An organisation's SLA: the days each severity has, or none (such findings are never overdue
/// and are left out of SLA compliance). Serialised as `{critical, high, medium, low, info}`, each
/// a number of days or `null`.
///
/// [`Default`] is the policy of an organisation that never stored one: critical 7, high 30,
/// medium 90, low 120, info none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct SlaPolicy(BySeverity<Option<SlaDays>>);

impl Default for SlaPolicy {
    fn default() -> Self {
        let days = |d| Some(SlaDays(d));
        Self(BySeverity {
            critical: days(7),
            high: days(30),
            medium: days(90),
            low: days(120),
            info: None,
        })
    }
}

impl SlaPolicy {
    /// A policy from days that are already valid.
    pub fn new(days: BySeverity<Option<SlaDays>>) -> Self {
        Self(days)
    }

    /// A policy from raw numbers (`None` for no SLA). Every number outside 1..=3650 is reported at
    /// once, each under its severity's name (`critical`, `high`, `medium`, `low`, `info`).
    pub fn parse(raw: BySeverity<Option<i64>>) -> Result<Self, InvalidParams> {
        let mut errors = Collector::new();
        let days = raw.map(|severity, days| {
            days.and_then(|d| errors.take(SlaDays::parse(severity.as_str(), d)))
        });
        errors.finish()?;
        Ok(Self(days))
    }

    /// The days `severity` has, `None` when it has no SLA.
    pub fn days(&self, severity: Severity) -> Option<SlaDays> {
        *self.0.get(severity)
    }

    /// Every severity's days.
    pub fn by_severity(&self) -> &BySeverity<Option<SlaDays>> {
        &self.0
    }
}

/// The due date of a finding of `severity` created at `created_at` under `policy`: the UTC date
/// of its creation plus the severity's days; `None` when the severity has no SLA. Use the policy
/// in force at `created_at` ([`policy_in_force`]); the date never changes afterwards.
pub fn due_on(
    created_at: DateTime<Utc>,
    severity: Severity,
    policy: &SlaPolicy,
) -> Option<NaiveDate> {
    let days = policy.days(severity)?;
    let created = created_at.date_naive();
    Some(
        created
            .checked_add_days(Days::new(u64::from(days.get())))
            .unwrap_or(NaiveDate::MAX),
    )
}

/// A stored policy and the instant from which it is in force.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EffectivePolicy {
    /// In force for every instant at or after this one, until the next policy's.
    pub effective_from: DateTime<Utc>,
    /// The days per severity.
    pub policy: SlaPolicy,
}

/// The policy an organisation has now, as the policy endpoints show it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CurrentSlaPolicy {
    /// The days per severity.
    pub policy: SlaPolicy,
    /// When it took effect; `None` for the default of an organisation that never stored one.
    pub effective_from: Option<DateTime<Utc>>,
}

fn latest(
    policies: &[EffectivePolicy],
    in_force: impl Fn(&EffectivePolicy) -> bool,
) -> Option<&EffectivePolicy> {
    // `max_by_key` keeps the last of equal keys: of two policies stored for the same instant,
    // the one listed later wins.
    policies
        .iter()
        .filter(|p| in_force(p))
        .max_by_key(|p| p.effective_from)
}

/// The policy in force at `at`: of `policies` (in any order), the one with the latest
/// `effective_from` at or before `at`; the [default](SlaPolicy::default) when there is none.
pub fn policy_in_force(policies: &[EffectivePolicy], at: DateTime<Utc>) -> SlaPolicy {
    latest(policies, |p| p.effective_from <= at)
        .map(|p| p.policy)
        .unwrap_or_default()
}

/// The policy in force at the end of the UTC day `day` (taking effect at any time of that day
/// included); a report over a window ending on `day` shows it as its `sla_days`.
pub fn policy_in_force_at_end_of(policies: &[EffectivePolicy], day: NaiveDate) -> SlaPolicy {
    latest(policies, |p| p.effective_from.date_naive() <= day)
        .map(|p| p.policy)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn date(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn raw(critical: Option<i64>, info: Option<i64>) -> BySeverity<Option<i64>> {
        BySeverity {
            critical,
            high: Some(30),
            medium: Some(90),
            low: Some(120),
            info,
        }
    }

    #[test]
    fn the_default_policy_and_its_json() {
        let policy = SlaPolicy::default();
        assert_eq!(
            serde_json::to_string(&policy).unwrap(),
            r#"{"critical":7,"high":30,"medium":90,"low":120,"info":null}"#
        );
        assert_eq!(SlaPolicy::parse(raw(Some(7), None)).unwrap(), policy);
        let back: SlaPolicy =
            serde_json::from_str(r#"{"critical":7,"high":30,"medium":90,"low":120,"info":null}"#)
                .unwrap();
        assert_eq!(back, policy);
        assert!(serde_json::from_str::<SlaPolicy>(
            r#"{"critical":0,"high":30,"medium":90,"low":120,"info":null}"#
        )
        .is_err());
    }

    #[test]
    fn days_outside_the_bounds_name_their_severity() {
        for ok in [1, 3650] {
            assert_eq!(SlaDays::parse("high", ok).unwrap().get() as i64, ok);
        }
        let err = SlaPolicy::parse(raw(Some(0), Some(3651))).unwrap_err();
        let fields: Vec<&str> = err.fields().iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["critical", "info"]);
        assert!(SlaPolicy::parse(raw(Some(-1), None)).is_err());
        assert!(SlaPolicy::parse(raw(Some(i64::MAX), None)).is_err());
    }

    #[test]
    fn the_due_date_is_the_creation_date_plus_the_days() {
        let policy = SlaPolicy::default();
        let created = at("2026-06-01T23:59:59Z");
        assert_eq!(
            due_on(created, Severity::Critical, &policy),
            Some(date("2026-06-08"))
        );
        assert_eq!(
            due_on(created, Severity::Low, &policy),
            Some(date("2026-09-29"))
        );
        assert_eq!(due_on(created, Severity::Info, &policy), None);
        // Across a leap day.
        assert_eq!(
            due_on(at("2028-02-25T00:00:00Z"), Severity::Critical, &policy),
            Some(date("2028-03-03"))
        );
    }

    #[test]
    fn the_policy_in_force_is_the_latest_taken_effect() {
        let strict = SlaPolicy::parse(raw(Some(1), Some(10))).unwrap();
        let lax = SlaPolicy::parse(raw(Some(100), None)).unwrap();
        let policies = [
            EffectivePolicy {
                effective_from: at("2026-06-10T12:00:00Z"),
                policy: lax,
            },
            EffectivePolicy {
                effective_from: at("2026-06-01T12:00:00Z"),
                policy: strict,
            },
        ];
        let in_force = |t| policy_in_force(&policies, at(t));
        assert_eq!(
            in_force("2026-06-01T11:59:59.999999Z"),
            SlaPolicy::default()
        );
        assert_eq!(in_force("2026-06-01T12:00:00Z"), strict);
        assert_eq!(in_force("2026-06-10T11:59:59Z"), strict);
        assert_eq!(in_force("2026-06-10T12:00:00Z"), lax);
        assert_eq!(
            policy_in_force(&[], at("2026-06-10T12:00:00Z")),
            SlaPolicy::default()
        );
        let at_end = |d| policy_in_force_at_end_of(&policies, date(d));
        assert_eq!(at_end("2026-05-31"), SlaPolicy::default());
        assert_eq!(at_end("2026-06-01"), strict);
        assert_eq!(at_end("2026-06-10"), lax);
    }
}
