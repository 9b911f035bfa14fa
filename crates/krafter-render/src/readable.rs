//! Numbers, dates and labels as people read them in the HTML and PDF reports (the JSON and CSV
//! keep the exact values): grouped thousands, percentages to one decimal, dates spelled out,
//! statuses and severities in words.

use chrono::{Datelike, NaiveDate};
use krafter_domain::ledger::{FindingStatus, Severity};

/// `1234567` → `1,234,567`; `-1234` → `-1,234`.
pub(crate) fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push('-');
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A signed change: `+1,234`, `-56`, `0`.
pub(crate) fn signed(n: i64) -> String {
    if n > 0 {
        format!("+{}", grouped(n))
    } else {
        grouped(n)
    }
}

/// A rate in 0..1 as a percentage with one decimal: `0.875` → `87.5%`.
pub(crate) fn percent(rate: f64) -> String {
    format!("{}%", one_decimal(rate * 100.0))
}

/// A number with one decimal and grouped thousands: `1234.56` → `1,234.6`.
pub(crate) fn one_decimal(value: f64) -> String {
    let tenths = (value * 10.0).round() as i64;
    let whole = grouped(tenths / 10);
    let sign = if tenths < 0 && tenths / 10 == 0 {
        "-"
    } else {
        ""
    };
    format!("{sign}{whole}.{}", (tenths % 10).abs())
}

/// The relative change from `before` to `after` as a signed percentage with one decimal
/// (`+12.5%`, `-23.1%`, `0.0%`); `None` when `before` is 0 (no base to compare with).
pub(crate) fn change_percent(before: f64, after: f64) -> Option<String> {
    if before == 0.0 {
        return None;
    }
    Some(format!(
        "{}%",
        signed_decimal((after - before) / before.abs() * 100.0)
    ))
}

/// One decimal with its sign: `+1.5`, `-0.4`, `0.0`.
pub(crate) fn signed_decimal(value: f64) -> String {
    let shown = one_decimal(value);
    if shown.starts_with('-') || shown == "0.0" {
        shown
    } else {
        format!("+{shown}")
    }
}

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// `2026-03-07` → `7 March 2026`.
pub(crate) fn spelled_date(date: NaiveDate) -> String {
    format!(
        "{} {} {}",
        date.day(),
        MONTHS[date.month0() as usize],
        date.year()
    )
}

/// `2026-03-07` → `7 Mar` (chart labels).
pub(crate) fn short_date(date: NaiveDate) -> String {
    format!("{} {}", date.day(), &MONTHS[date.month0() as usize][..3])
}

/// A period as a reader says it: `1 to 7 March 2026`, `28 February to 6 March 2026`,
/// `30 December 2025 to 5 January 2026`, or one day: `7 March 2026`.
pub(crate) fn spelled_period(from: NaiveDate, to: NaiveDate) -> String {
    if from == to {
        spelled_date(from)
    } else if from.year() != to.year() {
        format!("{} to {}", spelled_date(from), spelled_date(to))
    } else if from.month() != to.month() {
        format!(
            "{} {} to {}",
            from.day(),
            MONTHS[from.month0() as usize],
            spelled_date(to)
        )
    } else {
        format!("{} to {}", from.day(), spelled_date(to))
    }
}

pub(crate) fn status_label(status: FindingStatus) -> &'static str {
    match status {
        FindingStatus::New => "New",
        FindingStatus::Triaged => "Triaged",
        FindingStatus::InProgress => "In progress",
        FindingStatus::ReadyVerify => "Ready to verify",
        FindingStatus::Resolved => "Resolved",
        FindingStatus::Dismissed => "Dismissed",
    }
}

pub(crate) fn severity_label(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Critical",
        Severity::High => "High",
        Severity::Medium => "Medium",
        Severity::Low => "Low",
        Severity::Info => "Info",
    }
}

/// `1 finding`, `3 findings`, `1,200 findings`.
pub(crate) fn count_of(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", grouped(n), if n == 1 { one } else { many })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped() {
        for (n, shown) in [
            (0, "0"),
            (7, "7"),
            (999, "999"),
            (1000, "1,000"),
            (4120, "4,120"),
            (1_234_567, "1,234,567"),
            (-1234, "-1,234"),
            (i64::MIN, "-9,223,372,036,854,775,808"),
        ] {
            assert_eq!(grouped(n), shown);
        }
        assert_eq!(signed(950), "+950");
        assert_eq!(signed(-950), "-950");
        assert_eq!(signed(0), "0");
    }

    #[test]
    fn rates_and_changes_have_one_decimal() {
        assert_eq!(percent(0.875), "87.5%");
        assert_eq!(percent(0.8383838383838383), "83.8%");
        assert_eq!(percent(0.0), "0.0%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(one_decimal(1234.56), "1,234.6");
        assert_eq!(one_decimal(-0.04), "0.0");
        assert_eq!(one_decimal(-0.36), "-0.4");
        assert_eq!(one_decimal(-12.25), "-12.3");
        assert_eq!(change_percent(4120.0, 3170.0).as_deref(), Some("-23.1%"));
        assert_eq!(change_percent(100.0, 125.0).as_deref(), Some("+25.0%"));
        assert_eq!(change_percent(100.0, 100.0).as_deref(), Some("0.0%"));
        assert_eq!(change_percent(0.0, 5.0), None);
    }

    #[test]
    fn dates_are_spelled_out() {
        let d = |s: &str| s.parse::<NaiveDate>().unwrap();
        assert_eq!(spelled_date(d("2026-03-07")), "7 March 2026");
        assert_eq!(short_date(d("2026-09-30")), "30 Sep");
        assert_eq!(
            spelled_period(d("2026-03-01"), d("2026-03-07")),
            "1 to 7 March 2026"
        );
        assert_eq!(
            spelled_period(d("2026-02-28"), d("2026-03-06")),
            "28 February to 6 March 2026"
        );
        assert_eq!(
            spelled_period(d("2025-12-30"), d("2026-01-05")),
            "30 December 2025 to 5 January 2026"
        );
        assert_eq!(
            spelled_period(d("2024-02-29"), d("2024-02-29")),
            "29 February 2024"
        );
    }

    #[test]
    fn labels_are_words() {
        assert_eq!(status_label(FindingStatus::InProgress), "In progress");
        assert_eq!(status_label(FindingStatus::ReadyVerify), "Ready to verify");
        assert_eq!(severity_label(Severity::Critical), "Critical");
        assert_eq!(count_of(1, "finding", "findings"), "1 finding");
        assert_eq!(count_of(1200, "finding", "findings"), "1,200 findings");
    }
}
