//! Comparing a remediation report computed from the stored totals with the reference computed
//! from the history: equal in every figure, the percentiles (read from histograms) within 2 %.
//!
//! The domain crate's own tests keep a copy of this comparison: they must build from the
//! packaged crate alone, without this workspace-only crate.

use krafter_domain::metrics::remediation::{RemediationMetrics, RemediationReport};

/// Every `M` of a report, in a fixed order.
fn metrics_mut(report: &mut RemediationReport) -> Vec<&mut RemediationMetrics> {
    let mut all = Vec::new();
    for bucket in &mut report.buckets {
        all.extend(bucket.by_severity.iter_mut().map(|(_, m)| m));
        all.push(&mut bucket.all);
    }
    all.extend(report.total.by_severity.iter_mut().map(|(_, m)| m));
    all.push(&mut report.total.all);
    all
}

/// Whether an estimated percentile is within 2 % of the exact one.
pub fn within_two_percent(estimate: f64, exact: f64) -> bool {
    (estimate - exact).abs() <= 0.02 * exact.abs() + 1e-12
}

/// `fast` equals `exact` in every figure, its percentiles within 2 % of the exact ones.
pub fn assert_agree(fast: &RemediationReport, exact: &RemediationReport, context: &str) {
    let mut fast = fast.clone();
    let mut exact = exact.clone();
    for (f, e) in metrics_mut(&mut fast)
        .into_iter()
        .zip(metrics_mut(&mut exact))
    {
        if let (Some(f), Some(e)) = (&mut f.time_to_resolve_hours, &e.time_to_resolve_hours) {
            assert!(
                within_two_percent(f.p50, e.p50) && within_two_percent(f.p90, e.p90),
                "{context}: p50 {} / p90 {} vs exact {} / {}",
                f.p50,
                f.p90,
                e.p50,
                e.p90
            );
            f.p50 = e.p50;
            f.p90 = e.p90;
        }
    }
    assert_eq!(
        fast, exact,
        "{context}: the totals and the reference disagree"
    );
}
