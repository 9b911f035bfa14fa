//! Aging: how long open findings have been open, in buckets of days since their creation date.

use std::ops::{Add, AddAssign, Neg, Sub};

/// An age bucket: the age on day `D` is `D` minus the UTC date of creation, in days.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AgeBucket {
    /// 0 to 7 days.
    UpTo7,
    /// 8 to 30 days.
    UpTo30,
    /// 31 to 90 days.
    UpTo90,
    /// 91 to 180 days.
    UpTo180,
    /// 181 days or more.
    Over180,
}

impl AgeBucket {
    /// The buckets, youngest first.
    pub const ALL: [AgeBucket; 5] = [
        AgeBucket::UpTo7,
        AgeBucket::UpTo30,
        AgeBucket::UpTo90,
        AgeBucket::UpTo180,
        AgeBucket::Over180,
    ];

    /// The label reports use: `0-7`, `8-30`, `31-90`, `91-180`, `181+`.
    pub fn label(self) -> &'static str {
        match self {
            AgeBucket::UpTo7 => "0-7",
            AgeBucket::UpTo30 => "8-30",
            AgeBucket::UpTo90 => "31-90",
            AgeBucket::UpTo180 => "91-180",
            AgeBucket::Over180 => "181+",
        }
    }

    /// The ages in days the bucket holds, as `[start, end)`; `end` is `None` for the last one.
    pub fn ages(self) -> (u32, Option<u32>) {
        match self {
            AgeBucket::UpTo7 => (0, Some(8)),
            AgeBucket::UpTo30 => (8, Some(31)),
            AgeBucket::UpTo90 => (31, Some(91)),
            AgeBucket::UpTo180 => (91, Some(181)),
            AgeBucket::Over180 => (181, None),
        }
    }

    /// The bucket of an age in days (negative ages, which no open finding has, count as 0).
    pub fn of_age(days: i64) -> AgeBucket {
        match days {
            ..=7 => AgeBucket::UpTo7,
            8..=30 => AgeBucket::UpTo30,
            31..=90 => AgeBucket::UpTo90,
            91..=180 => AgeBucket::UpTo180,
            _ => AgeBucket::Over180,
        }
    }
}

/// A count per age bucket; serialised as `{"0-7", "8-30", "31-90", "91-180", "181+"}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct AgingCounts {
    /// Aged 0 to 7 days.
    #[serde(rename = "0-7")]
    pub up_to_7: i64,
    /// Aged 8 to 30 days.
    #[serde(rename = "8-30")]
    pub up_to_30: i64,
    /// Aged 31 to 90 days.
    #[serde(rename = "31-90")]
    pub up_to_90: i64,
    /// Aged 91 to 180 days.
    #[serde(rename = "91-180")]
    pub up_to_180: i64,
    /// Aged 181 days or more.
    #[serde(rename = "181+")]
    pub over_180: i64,
}

impl AgingCounts {
    /// The count of one bucket.
    pub fn get(&self, bucket: AgeBucket) -> i64 {
        match bucket {
            AgeBucket::UpTo7 => self.up_to_7,
            AgeBucket::UpTo30 => self.up_to_30,
            AgeBucket::UpTo90 => self.up_to_90,
            AgeBucket::UpTo180 => self.up_to_180,
            AgeBucket::Over180 => self.over_180,
        }
    }

    /// The count of one bucket, to change it.
    pub fn get_mut(&mut self, bucket: AgeBucket) -> &mut i64 {
        match bucket {
            AgeBucket::UpTo7 => &mut self.up_to_7,
            AgeBucket::UpTo30 => &mut self.up_to_30,
            AgeBucket::UpTo90 => &mut self.up_to_90,
            AgeBucket::UpTo180 => &mut self.up_to_180,
            AgeBucket::Over180 => &mut self.over_180,
        }
    }

    /// The sum over the buckets.
    pub fn total(&self) -> i64 {
        AgeBucket::ALL.iter().map(|b| self.get(*b)).sum()
    }

    fn zip(self, o: AgingCounts, f: impl Fn(i64, i64) -> i64) -> AgingCounts {
        let mut out = AgingCounts::default();
        for b in AgeBucket::ALL {
            *out.get_mut(b) = f(self.get(b), o.get(b));
        }
        out
    }
}

impl Add for AgingCounts {
    type Output = AgingCounts;

    fn add(self, o: AgingCounts) -> AgingCounts {
        self.zip(o, |a, b| a + b)
    }
}

impl AddAssign for AgingCounts {
    fn add_assign(&mut self, o: AgingCounts) {
        *self = *self + o;
    }
}

impl Sub for AgingCounts {
    type Output = AgingCounts;

    fn sub(self, o: AgingCounts) -> AgingCounts {
        self.zip(o, |a, b| a - b)
    }
}

impl Neg for AgingCounts {
    type Output = AgingCounts;

    fn neg(self) -> AgingCounts {
        AgingCounts::default() - self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_cover_every_age_once() {
        for age in 0..400 {
            let bucket = AgeBucket::of_age(age);
            let (start, end) = bucket.ages();
            assert!(age >= i64::from(start) && end.is_none_or(|e| age < i64::from(e)));
        }
        assert_eq!(AgeBucket::of_age(7), AgeBucket::UpTo7);
        assert_eq!(AgeBucket::of_age(8), AgeBucket::UpTo30);
        assert_eq!(AgeBucket::of_age(180), AgeBucket::UpTo180);
        assert_eq!(AgeBucket::of_age(181), AgeBucket::Over180);
        let labels: Vec<_> = AgeBucket::ALL.iter().map(|b| b.label()).collect();
        let json = serde_json::to_value(AgingCounts::default()).unwrap();
        let keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
        let mut sorted = labels.clone();
        sorted.sort();
        let mut keys_sorted = keys.clone();
        keys_sorted.sort();
        assert_eq!(keys_sorted, sorted);
    }
}
