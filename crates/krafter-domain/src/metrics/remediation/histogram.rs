//! Times to resolve as fixed histograms, so that percentiles add up across days, severities and
//! projects.
//!
//! Durations are whole seconds. Bin 0 holds 0 s; every later bin starts where the previous one
//! ended and holds the `lo + lo / 25 − lo + 1` durations `lo..=lo + lo / 25` (integer division),
//! so bins 0 to 24 hold a single second each (`0`, `1`, …, `24`) and from then on each bin is at
//! most 4 % wider than its start: `hi / lo ≤ 1.04`. A bin stands for the harmonic mean of its
//! ends, `2·lo·hi / (lo + hi)`, which is within `(hi − lo) / (hi + lo) ≤ 0.04 / 2.04 < 1.97 %` of
//! every duration in it (exactly the duration for single-second bins, 0 included).
//!
//! A nearest-rank percentile read from the histogram is the representative of the bin holding the
//! exact nearest-rank duration (bins are ordered), so it is within 1.97 % of the exact value.
//! There are [`TTR_BIN_COUNT`] bins (607); the last one covers up to [`MAX_TTR_SECONDS`], the
//! longest duration the ledger can record (its instants lie in years 0000 to 9999). The bins
//! are part of the definitions ([`super::REMEDIATION_DEFINITIONS_VERSION`]): stored counts are
//! indexed by them, so they never change within a version.

use std::collections::BTreeMap;
use std::ops::{AddAssign, Neg};

/// The longest time to resolve the ledger can record, in seconds: from 0000-01-01T00:00:00Z to
/// 10000-01-01T00:00:00Z. Longer durations (impossible through the ledger) count in the last bin.
pub const MAX_TTR_SECONDS: i64 = 315_569_520_000;

const fn next_edge(lo: i64) -> i64 {
    lo + lo / 25 + 1
}

const fn bin_count() -> usize {
    let mut lo = 0;
    let mut n = 0;
    while lo <= MAX_TTR_SECONDS {
        n += 1;
        lo = next_edge(lo);
    }
    n
}

/// How many bins a time-to-resolve histogram has.
pub const TTR_BIN_COUNT: usize = bin_count();

/// The first duration of each bin.
const BIN_STARTS: [i64; TTR_BIN_COUNT] = {
    let mut starts = [0; TTR_BIN_COUNT];
    let mut i = 1;
    while i < TTR_BIN_COUNT {
        starts[i] = next_edge(starts[i - 1]);
        i += 1;
    }
    starts
};

/// The bin of a duration in whole seconds; negative durations count as 0 and those beyond
/// [`MAX_TTR_SECONDS`] in the last bin.
pub fn ttr_bin(seconds: i64) -> u16 {
    let seconds = seconds.max(0);
    (BIN_STARTS.partition_point(|start| *start <= seconds) - 1) as u16
}

/// The durations a bin holds, both ends included; `None` for a bin number that does not exist.
pub fn ttr_bin_range(bin: u16) -> Option<(i64, i64)> {
    let lo = *BIN_STARTS.get(usize::from(bin))?;
    Some((lo, next_edge(lo) - 1))
}

/// The duration in seconds that a bin stands for: the harmonic mean of its ends, within 1.97 %
/// of every duration in the bin (equal to it for single-second bins). `None` for a bin number
/// that does not exist.
pub fn ttr_bin_representative(bin: u16) -> Option<f64> {
    let (lo, hi) = ttr_bin_range(bin)?;
    Some(if lo == hi {
        lo as f64
    } else {
        2.0 * lo as f64 * hi as f64 / (lo + hi) as f64
    })
}

/// A sparse time-to-resolve histogram: how many durations fell in each bin (see the module
/// documentation for the bins), as `(bin, count)` pairs in ascending bin order; bins with a
/// count of zero are never kept, so equal histograms are equal values. Serialised as a map from
/// the bin number (as a string) to its count.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "BTreeMap<u16, i64>", from = "BTreeMap<u16, i64>")]
pub struct TtrHistogram(Vec<(u16, i64)>);

impl From<TtrHistogram> for BTreeMap<u16, i64> {
    fn from(histogram: TtrHistogram) -> Self {
        histogram.0.into_iter().collect()
    }
}

impl From<BTreeMap<u16, i64>> for TtrHistogram {
    fn from(counts: BTreeMap<u16, i64>) -> Self {
        Self(
            counts
                .into_iter()
                .filter(|(_, count)| *count != 0)
                .collect(),
        )
    }
}

impl TtrHistogram {
    /// No durations.
    pub fn new() -> Self {
        Self::default()
    }

    /// A histogram from stored `(bin, count)` pairs; counts of a repeated bin add up.
    pub fn from_counts(counts: impl IntoIterator<Item = (u16, i64)>) -> Self {
        let mut pairs: Vec<(u16, i64)> = counts.into_iter().collect();
        pairs.sort_unstable_by_key(|(bin, _)| *bin);
        let mut merged: Vec<(u16, i64)> = Vec::with_capacity(pairs.len());
        for (bin, count) in pairs {
            match merged.last_mut() {
                Some((last, total)) if *last == bin => *total += count,
                _ => merged.push((bin, count)),
            }
        }
        merged.retain(|(_, count)| *count != 0);
        Self(merged)
    }

    /// Counts one duration of `seconds`.
    pub fn record(&mut self, seconds: i64) {
        self.add(ttr_bin(seconds), 1);
    }

    /// Adds `count` (which may be negative) to `bin`.
    pub fn add(&mut self, bin: u16, count: i64) {
        if count == 0 {
            return;
        }
        match self.0.binary_search_by_key(&bin, |(b, _)| *b) {
            Ok(at) => {
                self.0[at].1 += count;
                if self.0[at].1 == 0 {
                    self.0.remove(at);
                }
            }
            Err(at) => self.0.insert(at, (bin, count)),
        }
    }

    /// The count of one bin.
    pub fn count(&self, bin: u16) -> i64 {
        self.0
            .binary_search_by_key(&bin, |(b, _)| *b)
            .map_or(0, |at| self.0[at].1)
    }

    /// The non-zero bins, ascending, with their counts.
    pub fn iter(&self) -> impl Iterator<Item = (u16, i64)> + '_ {
        self.0.iter().copied()
    }

    /// Whether every bin is zero.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The sum of the counts.
    pub fn total(&self) -> i64 {
        self.0.iter().map(|(_, count)| count).sum()
    }

    /// The nearest-rank `percent` percentile in seconds (the representative of the bin of the
    /// smallest duration with at least `percent` % of the durations at or below it); `None` when
    /// the histogram counts no duration. `percent` is clamped to 1..=100.
    pub fn percentile_seconds(&self, percent: u32) -> Option<f64> {
        let total = self.total();
        if total <= 0 {
            return None;
        }
        let rank = nearest_rank(total, percent);
        let mut seen = 0;
        for (bin, count) in self.iter() {
            seen += count;
            if seen >= rank {
                return ttr_bin_representative(bin);
            }
        }
        self.0
            .last()
            .and_then(|(bin, _)| ttr_bin_representative(*bin))
    }
}

/// Adds up many histograms at a constant cost per pair: a count per bin, and the bins touched,
/// so that taking the sum costs what it holds, not the number of bins.
pub(crate) struct BinSums {
    counts: Vec<i64>,
    touched: Vec<u16>,
}

impl BinSums {
    pub(crate) fn new() -> Self {
        Self {
            counts: vec![0; TTR_BIN_COUNT],
            touched: Vec::new(),
        }
    }

    pub(crate) fn add(&mut self, histogram: &TtrHistogram) {
        for (bin, count) in histogram.iter() {
            let at = usize::from(bin);
            if at >= self.counts.len() {
                self.counts.resize(at + 1, 0);
            }
            if self.counts[at] == 0 {
                self.touched.push(bin);
            }
            self.counts[at] += count;
        }
    }

    /// The sum so far; the sums start again from nothing.
    pub(crate) fn take(&mut self) -> TtrHistogram {
        self.touched.sort_unstable();
        self.touched.dedup();
        let pairs = self
            .touched
            .drain(..)
            .filter_map(|bin| {
                let count = std::mem::take(&mut self.counts[usize::from(bin)]);
                (count != 0).then_some((bin, count))
            })
            .collect();
        TtrHistogram(pairs)
    }
}

/// The 1-based rank of the nearest-rank `percent` percentile among `n` values: `⌈n·percent/100⌉`,
/// at least 1 (`percent` clamped to 1..=100).
pub fn nearest_rank(n: i64, percent: u32) -> i64 {
    let percent = i64::from(percent.clamp(1, 100));
    ((n * percent + 99) / 100).max(1)
}

/// A merge of the two sorted lists (linear, where adding bin by bin would shift elements).
impl AddAssign<&TtrHistogram> for TtrHistogram {
    fn add_assign(&mut self, other: &TtrHistogram) {
        if other.0.is_empty() {
            return;
        }
        if self.0.is_empty() {
            self.0.clone_from(&other.0);
            return;
        }
        let mut merged = Vec::with_capacity(self.0.len() + other.0.len());
        let (mut a, mut b) = (self.0.iter().peekable(), other.0.iter().peekable());
        loop {
            match (a.peek(), b.peek()) {
                (Some(&&(x, m)), Some(&&(y, n))) => {
                    if x < y {
                        merged.push((x, m));
                        a.next();
                    } else if y < x {
                        merged.push((y, n));
                        b.next();
                    } else {
                        if m + n != 0 {
                            merged.push((x, m + n));
                        }
                        a.next();
                        b.next();
                    }
                }
                (Some(&&pair), None) => {
                    merged.push(pair);
                    a.next();
                }
                (None, Some(&&pair)) => {
                    merged.push(pair);
                    b.next();
                }
                (None, None) => break,
            }
        }
        self.0 = merged;
    }
}

impl Neg for TtrHistogram {
    type Output = TtrHistogram;

    fn neg(mut self) -> TtrHistogram {
        for (_, count) in &mut self.0 {
            *count = -*count;
        }
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_sums_equal_merges_and_start_again_when_taken() {
        let a = TtrHistogram::from_counts([(1, 1), (5, 3), (606, 2)]);
        let b = TtrHistogram::from_counts([(5, -3), (9, 1)]);
        let c = TtrHistogram::from_counts([(5, 4)]);
        let mut sums = BinSums::new();
        for h in [&a, &b, &c] {
            sums.add(h);
        }
        let mut merged = a.clone();
        merged += &b;
        merged += &c;
        assert_eq!(sums.take(), merged);
        assert_eq!(
            merged.iter().collect::<Vec<_>>(),
            [(1, 1), (5, 4), (9, 1), (606, 2)]
        );
        assert!(sums.take().is_empty(), "taken sums start from nothing");
        sums.add(&b);
        assert_eq!(sums.take(), b);
    }

    #[test]
    fn merging_equals_adding_bin_by_bin_and_zeros_vanish() {
        let a = TtrHistogram::from_counts([(5, 2), (1, 1), (9, 4), (5, 1)]);
        assert_eq!(a.iter().collect::<Vec<_>>(), [(1, 1), (5, 3), (9, 4)]);
        let b = TtrHistogram::from_counts([(0, 7), (5, -3), (9, 1), (12, 2), (3, 0)]);
        let mut merged = a.clone();
        merged += &b;
        let mut added = a.clone();
        for (bin, count) in b.iter() {
            added.add(bin, count);
        }
        assert_eq!(merged, added);
        assert_eq!(
            merged.iter().collect::<Vec<_>>(),
            [(0, 7), (1, 1), (9, 5), (12, 2)]
        );
        let mut none = merged.clone();
        none += &-merged;
        assert!(none.is_empty());
        assert_eq!(none, TtrHistogram::new());
        let json = serde_json::to_string(&a).unwrap();
        assert_eq!(json, r#"{"1":1,"5":3,"9":4}"#);
        assert_eq!(serde_json::from_str::<TtrHistogram>(&json).unwrap(), a);
    }

    #[test]
    fn the_bins_are_fixed() {
        assert_eq!(TTR_BIN_COUNT, 607);
        assert_eq!(
            BIN_STARTS[..27],
            (0..=25).chain([27]).collect::<Vec<_>>()[..]
        );
        assert_eq!(ttr_bin_range(0), Some((0, 0)));
        assert_eq!(ttr_bin_range(25), Some((25, 26)));
        assert_eq!(ttr_bin_range(606), Some((304_063_230_811, 316_225_760_043)));
        assert_eq!(ttr_bin_range(607), None);
        assert!(ttr_bin_range(606).unwrap().1 >= MAX_TTR_SECONDS);
        assert_eq!(ttr_bin(-5), 0);
        assert_eq!(ttr_bin(i64::MAX), 606);
        assert_eq!(ttr_bin(3600), ttr_bin(3600));
    }

    #[test]
    fn each_bin_follows_the_previous_and_its_representative_is_within_two_percent() {
        let mut worst: f64 = 0.0;
        for bin in 0..TTR_BIN_COUNT as u16 {
            let (lo, hi) = ttr_bin_range(bin).unwrap();
            assert!(lo <= hi);
            if bin > 0 {
                assert_eq!(ttr_bin_range(bin - 1).unwrap().1 + 1, lo);
            }
            assert_eq!(ttr_bin(lo), bin);
            assert_eq!(ttr_bin(hi.min(MAX_TTR_SECONDS)), bin);
            assert!(hi as f64 <= 1.04 * lo as f64 || lo == 0);
            let rep = ttr_bin_representative(bin).unwrap();
            if lo == hi {
                assert_eq!(rep, lo as f64);
            } else {
                for v in [lo, hi] {
                    worst = worst.max((rep - v as f64).abs() / v as f64);
                }
            }
        }
        assert!(worst < 0.0197, "{worst}");
        assert!(worst > 0.019, "{worst}");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        assert_eq!(nearest_rank(1, 50), 1);
        assert_eq!(nearest_rank(3, 50), 2);
        assert_eq!(nearest_rank(4, 50), 2);
        assert_eq!(nearest_rank(10, 90), 9);
        assert_eq!(nearest_rank(11, 90), 10);
        let h = TtrHistogram::from_counts([(0, 1), (3, 2), (10, 1)]);
        assert_eq!(h.total(), 4);
        assert_eq!(h.percentile_seconds(50), Some(3.0));
        assert_eq!(h.percentile_seconds(90), Some(10.0));
        assert_eq!(h.percentile_seconds(25), Some(0.0));
        assert_eq!(TtrHistogram::new().percentile_seconds(50), None);
    }

    #[test]
    fn counts_add_and_zero_bins_vanish() {
        let mut h = TtrHistogram::new();
        h.record(7200);
        h.record(7201);
        let mut other = -h.clone();
        assert_eq!(other.total(), -2);
        other += &h;
        assert!(other.is_empty());
        assert_eq!(other, TtrHistogram::new());
        assert_eq!(
            serde_json::to_string(&TtrHistogram::from_counts([(3, 2)])).unwrap(),
            r#"{"3":2}"#
        );
    }
}
