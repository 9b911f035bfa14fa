//! Splitting a window into the buckets of a report.

use chrono::{Datelike, Days, NaiveDate};

use crate::metrics::window::DateWindow;
use crate::validation::InvalidParams;

/// How a report splits its window; serialised as `day`, `week` or `month`.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Granularity {
    /// One bucket per day.
    Day,
    /// ISO weeks, Monday to Sunday.
    #[default]
    Week,
    /// Calendar months.
    Month,
}

impl Granularity {
    /// Every granularity, shortest first.
    pub const ALL: [Granularity; 3] = [Granularity::Day, Granularity::Week, Granularity::Month];

    /// The name the API uses.
    pub fn as_str(self) -> &'static str {
        match self {
            Granularity::Day => "day",
            Granularity::Week => "week",
            Granularity::Month => "month",
        }
    }

    /// Parses `day`, `week` or `month`; anything else is an error on `field`.
    pub fn parse(field: &str, raw: &str) -> Result<Self, InvalidParams> {
        Self::ALL
            .into_iter()
            .find(|g| g.as_str() == raw)
            .ok_or_else(|| InvalidParams::field(field, "must be one of day, week, month"))
    }

    /// The last day of the period that holds `day` (unclipped).
    fn period_end(self, day: NaiveDate) -> NaiveDate {
        match self {
            Granularity::Day => day,
            Granularity::Week => {
                let to_sunday = 6 - day.weekday().num_days_from_monday();
                day.checked_add_days(Days::new(u64::from(to_sunday)))
                    .unwrap_or(NaiveDate::MAX)
            }
            Granularity::Month => {
                let (y, m) = if day.month() == 12 {
                    (day.year() + 1, 1)
                } else {
                    (day.year(), day.month() + 1)
                };
                NaiveDate::from_ymd_opt(y, m, 1)
                    .and_then(|first| first.pred_opt())
                    .unwrap_or(NaiveDate::MAX)
            }
        }
    }
}

impl std::fmt::Display for Granularity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One bucket of a report: its first and last day, both included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// The first day.
    pub start: NaiveDate,
    /// The last day, included.
    pub end: NaiveDate,
}

/// The buckets of `window` at `granularity`, oldest first, covering every day of the window once;
/// the first and the last are clipped to the window.
pub fn periods(window: &DateWindow, granularity: Granularity) -> Vec<Period> {
    let mut out = Vec::new();
    let mut start = window.from();
    loop {
        let end = granularity.period_end(start).min(window.to());
        out.push(Period { start, end });
        match end.succ_opt() {
            Some(next) if end < window.to() => start = next,
            _ => break,
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(from: &str, to: &str) -> DateWindow {
        let (from, to) = (from.parse().unwrap(), to.parse().unwrap());
        DateWindow::new(from, to, to, ("date_from", "date_to")).unwrap()
    }

    fn spans(window: &DateWindow, g: Granularity) -> Vec<String> {
        periods(window, g)
            .iter()
            .map(|p| format!("{}..{}", p.start, p.end))
            .collect()
    }

    #[test]
    fn weeks_run_monday_to_sunday_clipped_at_both_ends() {
        // 2026-06-03 is a Wednesday.
        let w = window("2026-06-03", "2026-06-16");
        assert_eq!(
            spans(&w, Granularity::Week),
            [
                "2026-06-03..2026-06-07",
                "2026-06-08..2026-06-14",
                "2026-06-15..2026-06-16"
            ]
        );
        let one = window("2026-06-08", "2026-06-08");
        assert_eq!(spans(&one, Granularity::Week), ["2026-06-08..2026-06-08"]);
        // The ISO week that spans a new year.
        let w = window("2025-12-28", "2026-01-05");
        assert_eq!(
            spans(&w, Granularity::Week),
            [
                "2025-12-28..2025-12-28",
                "2025-12-29..2026-01-04",
                "2026-01-05..2026-01-05"
            ]
        );
    }

    #[test]
    fn months_are_calendar_months_clipped_at_both_ends() {
        let w = window("2027-12-15", "2028-03-02");
        assert_eq!(
            spans(&w, Granularity::Month),
            [
                "2027-12-15..2027-12-31",
                "2028-01-01..2028-01-31",
                "2028-02-01..2028-02-29",
                "2028-03-01..2028-03-02"
            ]
        );
    }

    #[test]
    fn days_are_one_each() {
        let w = window("2028-02-28", "2028-03-01");
        assert_eq!(
            spans(&w, Granularity::Day),
            [
                "2028-02-28..2028-02-28",
                "2028-02-29..2028-02-29",
                "2028-03-01..2028-03-01"
            ]
        );
        let longest = window("2025-06-11", "2026-06-11");
        assert_eq!(periods(&longest, Granularity::Day).len(), 366);
    }

    #[test]
    fn granularities_parse_by_name_only() {
        assert_eq!(
            Granularity::parse("granularity", "month").unwrap(),
            Granularity::Month
        );
        for bad in ["", "Week", "weeks", "year", " day"] {
            let err = Granularity::parse("granularity", bad).unwrap_err();
            assert_eq!(err.fields()[0].field, "granularity", "{bad:?}");
        }
        assert_eq!(
            serde_json::to_string(&Granularity::Week).unwrap(),
            r#""week""#
        );
    }
}
