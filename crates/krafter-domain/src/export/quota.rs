use chrono::{DateTime, Datelike, NaiveDate, Utc};

use crate::validation::InvalidParams;

/// Exports an organisation may queue per UTC calendar month unless configured otherwise.
pub const DEFAULT_MONTHLY_QUOTA: u32 = 100;

/// A monthly limit: 0 to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaLimit(u32);

impl QuotaLimit {
    pub fn parse(raw: i64) -> Result<Self, InvalidParams> {
        if (0..=1_000_000).contains(&raw) {
            Ok(Self(raw as u32))
        } else {
            Err(InvalidParams::field(
                "limit",
                "must be an integer from 0 to 1000000",
            ))
        }
    }

    pub fn get(self) -> u32 {
        self.0
    }
}

/// The UTC calendar month a unit is charged to, as its first day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QuotaMonth(NaiveDate);

impl QuotaMonth {
    pub fn of(at: DateTime<Utc>) -> Self {
        let d = at.date_naive();
        Self(NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("the first of a month exists"))
    }

    pub fn first_day(self) -> NaiveDate {
        self.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaUsage {
    pub limit: u32,
    pub used: u32,
}

impl QuotaUsage {
    pub fn remaining(self) -> u32 {
        self.limit.saturating_sub(self.used)
    }
}
