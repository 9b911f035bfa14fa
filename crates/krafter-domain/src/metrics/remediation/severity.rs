//! One value per severity, in the order reports show them: critical first.

use crate::ledger::Severity;

/// The severities in the order reports list them: critical, high, medium, low, info.
pub const SEVERITY_ORDER: [Severity; 5] = [
    Severity::Critical,
    Severity::High,
    Severity::Medium,
    Severity::Low,
    Severity::Info,
];

/// One `T` for each [`Severity`]; serialised as `{critical, high, medium, low, info}`, every key
/// always present.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BySeverity<T> {
    /// The value of `critical`.
    pub critical: T,
    /// The value of `high`.
    pub high: T,
    /// The value of `medium`.
    pub medium: T,
    /// The value of `low`.
    pub low: T,
    /// The value of `info`.
    pub info: T,
}

impl<T> BySeverity<T> {
    /// Builds each value from its severity.
    pub fn from_fn(mut f: impl FnMut(Severity) -> T) -> Self {
        Self {
            critical: f(Severity::Critical),
            high: f(Severity::High),
            medium: f(Severity::Medium),
            low: f(Severity::Low),
            info: f(Severity::Info),
        }
    }

    /// The value of `severity`.
    pub fn get(&self, severity: Severity) -> &T {
        match severity {
            Severity::Critical => &self.critical,
            Severity::High => &self.high,
            Severity::Medium => &self.medium,
            Severity::Low => &self.low,
            Severity::Info => &self.info,
        }
    }

    /// The value of `severity`, to change it.
    pub fn get_mut(&mut self, severity: Severity) -> &mut T {
        match severity {
            Severity::Critical => &mut self.critical,
            Severity::High => &mut self.high,
            Severity::Medium => &mut self.medium,
            Severity::Low => &mut self.low,
            Severity::Info => &mut self.info,
        }
    }

    /// Each severity with its value, critical first.
    pub fn iter(&self) -> impl Iterator<Item = (Severity, &T)> {
        SEVERITY_ORDER.into_iter().map(move |s| (s, self.get(s)))
    }

    /// Each severity with its value to change, critical first.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (Severity, &mut T)> {
        SEVERITY_ORDER.into_iter().zip([
            &mut self.critical,
            &mut self.high,
            &mut self.medium,
            &mut self.low,
            &mut self.info,
        ])
    }

    /// The same severities with `f` applied to each value.
    pub fn map<U>(&self, mut f: impl FnMut(Severity, &T) -> U) -> BySeverity<U> {
        BySeverity::from_fn(|s| f(s, self.get(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serialises_critical_first_with_every_key() {
        let values = BySeverity::from_fn(|s| s.code());
        assert_eq!(
            serde_json::to_string(&values).unwrap(),
            r#"{"critical":4,"high":3,"medium":2,"low":1,"info":0}"#
        );
        assert_eq!(
            values.iter().map(|(s, _)| s.as_str()).collect::<Vec<_>>(),
            ["critical", "high", "medium", "low", "info"]
        );
        for s in Severity::ALL {
            assert_eq!(*values.get(*s), s.code());
        }
    }
}
