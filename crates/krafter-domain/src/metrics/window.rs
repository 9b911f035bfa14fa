use chrono::{Days, NaiveDate};

use crate::validation::{Collector, InvalidParams};

/// The longest window a summary or export may cover, in days, both ends included.
pub const MAX_WINDOW_DAYS: u64 = 366;
/// A window not given explicitly covers today and the six days before.
const DEFAULT_WINDOW_DAYS: u64 = 7;

/// A span of UTC days, both ends included, at most [`MAX_WINDOW_DAYS`] long and not after today.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateWindow {
    from: NaiveDate,
    to: NaiveDate,
}

impl DateWindow {
    /// Checks the window against `today`; `from_field`/`to_field` name the fields in errors.
    pub fn new(
        from: NaiveDate,
        to: NaiveDate,
        today: NaiveDate,
        (from_field, to_field): (&str, &str),
    ) -> Result<Self, InvalidParams> {
        if to > today {
            return Err(InvalidParams::field(
                to_field,
                "must not be after today (UTC)",
            ));
        }
        if from > to {
            return Err(InvalidParams::field(
                from_field,
                format!("must not be after {to_field}"),
            ));
        }
        if (to - from).num_days() + 1 > MAX_WINDOW_DAYS as i64 {
            return Err(InvalidParams::field(
                from_field,
                format!("the window may cover at most {MAX_WINDOW_DAYS} days"),
            ));
        }
        Ok(Self { from, to })
    }

    /// Parses optional `YYYY-MM-DD` bounds: `to` defaults to today and `from` to six days before `to`.
    pub fn parse(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        fields: (&str, &str),
    ) -> Result<Self, InvalidParams> {
        Self::parse_with_default(from, to, today, fields, DEFAULT_WINDOW_DAYS)
    }

    /// As [`DateWindow::parse`], with `from` defaulting to `default_days − 1` days before `to`
    /// (a window of `default_days` days, both ends included; at least 1).
    pub fn parse_with_default(
        from: Option<&str>,
        to: Option<&str>,
        today: NaiveDate,
        fields: (&str, &str),
        default_days: u64,
    ) -> Result<Self, InvalidParams> {
        let mut errors = Collector::new();
        let from = errors.take(from.map(|raw| parse_date(fields.0, raw)).transpose());
        let to = errors.take(to.map(|raw| parse_date(fields.1, raw)).transpose());
        errors.finish()?;
        let to = to.flatten().unwrap_or(today);
        let from = from
            .flatten()
            .unwrap_or_else(|| to - Days::new(default_days.max(1) - 1));
        Self::new(from, to, today, fields)
    }

    pub fn from(&self) -> NaiveDate {
        self.from
    }

    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// The window of the same length that ends the day before this one starts (a comparison
    /// period; it is before today, so it is a window too).
    pub fn previous(&self) -> DateWindow {
        let length = Days::new((self.to - self.from).num_days() as u64 + 1);
        Self {
            from: self.from - length,
            to: self.from - Days::new(1),
        }
    }

    pub fn days(&self) -> impl Iterator<Item = NaiveDate> {
        self.from.iter_days().take_while({
            let to = self.to;
            move |d| *d <= to
        })
    }
}

/// Exactly `YYYY-MM-DD`: four-digit years only (no sign, no fifth digit).
fn parse_date(field: &str, raw: &str) -> Result<NaiveDate, InvalidParams> {
    let bytes = raw.as_bytes();
    let well_formed = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| match i {
            4 | 7 => *b == b'-',
            _ => b.is_ascii_digit(),
        });
    well_formed
        .then(|| NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok())
        .flatten()
        .ok_or_else(|| InvalidParams::field(field, "must be a date as YYYY-MM-DD"))
}

/// Which verifications the pass rate counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerificationScope {
    /// Every verification ever recorded: the spec's behaviour when no dates are given.
    AllTime,
    /// Those that occurred within the window.
    Window,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SummaryQuery {
    pub window: DateWindow,
    pub verifications: VerificationScope,
}

impl SummaryQuery {
    /// From the summary endpoint's `date_from` and `date_to`.
    pub fn parse(
        date_from: Option<&str>,
        date_to: Option<&str>,
        today: NaiveDate,
    ) -> Result<Self, InvalidParams> {
        let window = DateWindow::parse(date_from, date_to, today, ("date_from", "date_to"))?;
        let verifications = if date_from.is_none() && date_to.is_none() {
            VerificationScope::AllTime
        } else {
            VerificationScope::Window
        };
        Ok(Self {
            window,
            verifications,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 6, 10).unwrap()
    }

    fn field_of(err: InvalidParams) -> String {
        err.fields()[0].field.clone()
    }

    #[test]
    fn defaults_are_the_last_seven_days() {
        let q = SummaryQuery::parse(None, None, today()).unwrap();
        assert_eq!(q.window.from().to_string(), "2026-06-04");
        assert_eq!(q.window.to(), today());
        assert_eq!(q.verifications, VerificationScope::AllTime);
        let q = SummaryQuery::parse(None, Some("2026-05-10"), today()).unwrap();
        assert_eq!(q.window.from().to_string(), "2026-05-04");
        assert_eq!(q.verifications, VerificationScope::Window);
    }

    #[test]
    fn bad_windows_name_their_field() {
        let parse = |f, t| SummaryQuery::parse(f, t, today()).unwrap_err();
        assert_eq!(field_of(parse(Some("2026-6-01"), None)), "date_from");
        assert_eq!(field_of(parse(None, Some("2026-02-30"))), "date_to");
        assert_eq!(field_of(parse(None, Some("2026-06-11"))), "date_to");
        assert_eq!(
            field_of(parse(Some("2026-06-09"), Some("2026-06-08"))),
            "date_from"
        );
        assert_eq!(
            field_of(parse(Some("2025-06-09"), Some("2026-06-10"))),
            "date_from"
        );
        for bad in [
            "-202-01-01",
            "-2026-01-01",
            "+2026-01-01",
            "12026-01-01",
            "+12026-01-01",
            "02026-01-01",
            "2026-1-001",
            "2026-+1-01",
            " 2026-01-0",
        ] {
            assert_eq!(field_of(parse(Some(bad), None)), "date_from", "{bad:?}");
            assert_eq!(field_of(parse(None, Some(bad))), "date_to", "{bad:?}");
        }
        let longest = SummaryQuery::parse(Some("2025-06-10"), Some("2026-06-10"), today()).unwrap();
        assert_eq!(longest.window.days().count(), 366);
    }
}
