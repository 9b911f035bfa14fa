use chrono::{DateTime, NaiveDate, Utc};

use crate::ids::FindingId;
use crate::ledger::provenance::Provenance;
use crate::metrics::{DatedDelta, DayDelta};
use crate::validation::InvalidParams;

macro_rules! stored_enum {
    ($(#[$meta:meta])* $name:ident, $field:literal { $($variant:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }

            /// The stored representation; stable, never renumbered.
            pub fn code(self) -> i16 {
                match self {
                    $($name::$variant => $code),+
                }
            }

            /// Reads a stored code; `None` for a value that no version of us wrote.
            pub fn from_code(code: i16) -> Option<Self> {
                match code {
                    $($code => Some($name::$variant),)+
                    _ => None,
                }
            }

            pub fn parse(raw: &str) -> Result<Self, $crate::validation::InvalidParams> {
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    let allowed: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    $crate::validation::InvalidParams::field($field, format!("must be one of {}", allowed.join(", ")))
                })
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use stored_enum;

stored_enum!(
    Severity, "severity" {
        Info = 0 => "info",
        Low = 1 => "low",
        Medium = 2 => "medium",
        High = 3 => "high",
        Critical = 4 => "critical",
    }
);

stored_enum!(
    /// `new`, `triaged`, `in_progress` and `ready_verify` are open; `resolved` and `dismissed` are terminal.
    /// Any status may follow any other: a resolved finding can be reopened.
    FindingStatus, "status" {
        New = 0 => "new",
        Triaged = 1 => "triaged",
        InProgress = 2 => "in_progress",
        ReadyVerify = 3 => "ready_verify",
        Resolved = 4 => "resolved",
        Dismissed = 5 => "dismissed",
    }
);

impl FindingStatus {
    pub fn is_terminal(self) -> bool {
        matches!(self, FindingStatus::Resolved | FindingStatus::Dismissed)
    }
}

/// 0 to 1000.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PriorityScore(i32);

impl PriorityScore {
    pub const MAX: i32 = 1000;

    pub fn parse(raw: i64) -> Result<Self, InvalidParams> {
        if (0..=i64::from(Self::MAX)).contains(&raw) {
            Ok(Self(raw as i32))
        } else {
            Err(InvalidParams::field(
                "priority_score",
                "must be an integer from 0 to 1000",
            ))
        }
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// 1 to 500 characters with at least one visible one; no control characters (Cc) and no
/// bidirectional overrides or isolates ([`crate::validation::check_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FindingTitle(String);

impl FindingTitle {
    pub const MAX_CHARS: usize = 500;

    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        crate::validation::check_text("title", raw, Self::MAX_CHARS)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the metrics look at: a finding's status and score at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingState {
    pub status: FindingStatus,
    pub priority_score: PriorityScore,
}

impl FindingState {
    /// This state's share of a day's totals.
    fn contribution(self) -> DayDelta {
        let open = !self.status.is_terminal();
        DayDelta {
            open_risk_score: if open {
                i64::from(self.priority_score.get())
            } else {
                0
            },
            open_findings: i64::from(open),
            terminal_findings: i64::from(!open),
            ..DayDelta::default()
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub id: FindingId,
    pub title: FindingTitle,
    pub severity: Severity,
    pub state: FindingState,
    pub created_at: DateTime<Utc>,
    /// When the latest history event occurred; a new change may not be earlier.
    pub updated_at: DateTime<Utc>,
    /// The date by which the finding should be resolved under the SLA policy in force when it
    /// was created (`None` without an SLA for its severity). Set by the store at creation and
    /// never changed ([`crate::metrics::remediation::due_on`]).
    pub due_on: Option<NaiveDate>,
    /// What the scanner that reported it said; empty for a finding recorded by hand.
    pub provenance: Provenance,
}

/// One history event: the finding moved from `before` (absent at creation) to `after` at `occurred_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FindingChange {
    pub finding_id: FindingId,
    pub occurred_at: DateTime<Utc>,
    pub before: Option<FindingState>,
    pub after: FindingState,
}

impl FindingChange {
    pub fn creation(finding: &Finding) -> Self {
        Self {
            finding_id: finding.id,
            occurred_at: finding.created_at,
            before: None,
            after: finding.state,
        }
    }

    /// How this change moves the end-of-day totals from its day on.
    pub fn day_delta(&self) -> DatedDelta {
        let before = self
            .before
            .map(FindingState::contribution)
            .unwrap_or_default();
        DatedDelta {
            day: self.occurred_at.date_naive(),
            delta: self.after.contribution() - before,
        }
    }

    /// The finding after the change.
    pub fn apply(&self, finding: &Finding) -> Finding {
        Finding {
            state: self.after,
            updated_at: self.occurred_at,
            ..finding.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_refuse_controls_bidi_overrides_and_blank_text() {
        assert_eq!(
            FindingTitle::parse("XSS in search").unwrap().as_str(),
            "XSS in search"
        );
        for bad in [
            "",
            " \t ",
            "a\u{0}b",
            "a\u{1B}[31m",
            "gnp.\u{202E}exe",
            "\u{2067}x",
            "\u{200B}",
        ] {
            let err = FindingTitle::parse(bad).unwrap_err();
            assert_eq!(err.fields()[0].field, "title", "{bad:?}");
        }
        assert!(FindingTitle::parse(&"x".repeat(501)).is_err());
    }
}
