//! The remediation endpoints' parameters.

use chrono::NaiveDate;

use crate::metrics::remediation::period::Granularity;
use crate::metrics::window::DateWindow;
use crate::validation::InvalidParams;

/// A window not given explicitly covers `date_to` and the 89 days before it.
pub const REMEDIATION_DEFAULT_WINDOW_DAYS: u64 = 90;

/// A remediation report's window and granularity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemediationQuery {
    /// The days the report covers.
    pub window: DateWindow,
    /// How the window is split into buckets.
    pub granularity: Granularity,
}

impl RemediationQuery {
    /// From the endpoints' optional `date_from`, `date_to` (`YYYY-MM-DD`) and `granularity`
    /// (`day`, `week` or `month`). `date_to` defaults to `today`, `date_from` to `date_to` minus
    /// 89 days and `granularity` to `week`. The window follows the summary's rules
    /// ([`DateWindow`]: not after today, `date_from` not after `date_to`, at most
    /// [`crate::metrics::MAX_WINDOW_DAYS`] days). Every field at fault is reported at once, by
    /// name (`date_from`, `date_to`, `granularity`).
    pub fn parse(
        date_from: Option<&str>,
        date_to: Option<&str>,
        granularity: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, InvalidParams> {
        let window = DateWindow::parse_with_default(
            date_from,
            date_to,
            today,
            ("date_from", "date_to"),
            REMEDIATION_DEFAULT_WINDOW_DAYS,
        );
        let granularity = granularity
            .map(|raw| Granularity::parse("granularity", raw))
            .transpose();
        match (window, granularity) {
            (Ok(window), Ok(granularity)) => Ok(Self {
                window,
                granularity: granularity.unwrap_or_default(),
            }),
            (window, granularity) => Err(InvalidParams(
                window
                    .err()
                    .into_iter()
                    .chain(granularity.err())
                    .flat_map(|e| e.0)
                    .collect(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        "2026-06-10".parse().unwrap()
    }

    fn fields(err: InvalidParams) -> Vec<String> {
        err.fields().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn defaults_are_the_last_ninety_days_by_week() {
        let q = RemediationQuery::parse(None, None, None, today()).unwrap();
        assert_eq!(q.window.from().to_string(), "2026-03-13");
        assert_eq!(q.window.to(), today());
        assert_eq!(q.window.days().count(), 90);
        assert_eq!(q.granularity, Granularity::Week);
        let q = RemediationQuery::parse(None, Some("2026-05-31"), Some("month"), today()).unwrap();
        assert_eq!(q.window.from().to_string(), "2026-03-03");
        assert_eq!(q.granularity, Granularity::Month);
        let q = RemediationQuery::parse(Some("2026-06-01"), None, Some("day"), today()).unwrap();
        assert_eq!(
            (q.window.from().to_string(), q.window.to()),
            ("2026-06-01".into(), today())
        );
    }

    #[test]
    fn bad_parameters_name_their_fields_all_at_once() {
        let parse = |f, t, g| RemediationQuery::parse(f, t, g, today()).unwrap_err();
        assert_eq!(
            fields(parse(Some("2026-6-01"), Some("x"), Some("year"))),
            ["date_from", "date_to", "granularity"]
        );
        assert_eq!(fields(parse(None, Some("2026-06-11"), None)), ["date_to"]);
        assert_eq!(
            fields(parse(Some("2026-06-09"), Some("2026-06-08"), Some(""))),
            ["date_from", "granularity"]
        );
        assert_eq!(fields(parse(Some("2025-06-09"), None, None)), ["date_from"]);
        // The default window ends where date_to does and may not start after it.
        assert_eq!(
            fields(parse(Some("2026-06-10"), Some("2026-06-09"), None)),
            ["date_from"]
        );
        let longest = RemediationQuery::parse(Some("2025-06-10"), None, None, today()).unwrap();
        assert_eq!(longest.window.days().count(), 366);
    }
}
