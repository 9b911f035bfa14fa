//! The remediation definitions over hand-built histories, each computed both from the daily
//! totals (the production path) and straight from the history (the reference), with exact numbers.

mod remediation_support;

use krafter_domain::ledger::FindingStatus::*;
use krafter_domain::ledger::Severity::{self, *};
use krafter_domain::metrics::remediation::{
    AgingCounts, BySeverity, EffectivePolicy, RemediationMetrics, RemediationReport, SlaDays,
    SlaPolicy, TimeToResolve,
};
use remediation_support::{at, date, within_two_percent, Project};

fn spans(report: &RemediationReport) -> Vec<String> {
    report
        .buckets
        .iter()
        .map(|b| format!("{}..{}", b.start, b.end))
        .collect()
}

/// One severity's figures in each bucket, as (opened, reopened, resolved, dismissed).
fn flows(report: &RemediationReport, severity: Severity) -> Vec<(i64, i64, i64, i64)> {
    report
        .buckets
        .iter()
        .map(|b| {
            let m = b.by_severity.get(severity);
            (m.opened, m.reopened, m.resolved, m.dismissed)
        })
        .collect()
}

/// One severity's (open_at_end, overdue_at_end) in each bucket.
fn levels(report: &RemediationReport, severity: Severity) -> Vec<(i64, i64)> {
    report
        .buckets
        .iter()
        .map(|b| {
            let m = b.by_severity.get(severity);
            (m.open_at_end, m.overdue_at_end)
        })
        .collect()
}

fn ttr(m: &RemediationMetrics) -> TimeToResolve {
    m.time_to_resolve_hours.expect("something was resolved")
}

fn aging(counts: [i64; 5]) -> AgingCounts {
    AgingCounts {
        up_to_7: counts[0],
        up_to_30: counts[1],
        up_to_90: counts[2],
        up_to_180: counts[3],
        over_180: counts[4],
    }
}

fn policy(critical: Option<i64>, high: Option<i64>) -> SlaPolicy {
    SlaPolicy::parse(BySeverity {
        critical,
        high,
        medium: Some(90),
        low: Some(120),
        info: None,
    })
    .unwrap()
}

#[test]
fn created_and_resolved_the_same_day() {
    let mut p = Project::default();
    p.finding(
        Critical,
        &[
            ("2026-06-08T01:00:00Z", New),
            ("2026-06-08T03:30:00Z", Resolved),
        ],
    );
    let r = p.report(
        Some("2026-06-07"),
        Some("2026-06-09"),
        Some("day"),
        "2026-06-10",
    );
    assert_eq!(
        flows(&r, Critical),
        [(0, 0, 0, 0), (1, 0, 1, 0), (0, 0, 0, 0)]
    );
    assert_eq!(levels(&r, Critical), [(0, 0); 3]);
    let day = &r.buckets[1].by_severity.critical;
    assert_eq!(day.resolved_within_sla, Some(1));
    let t = ttr(day);
    assert_eq!((t.count, t.mean), (1, 2.5));
    assert!(within_two_percent(t.p50, 2.5) && within_two_percent(t.p90, 2.5));
    assert_eq!(r.total.all.opened, 1);
    assert_eq!(r.total.all.resolved_within_sla, Some(1));
    assert_eq!(r.aging_at_end.all, AgingCounts::default());
    assert_eq!(r.sla_compliance, Some(1.0));
    // Nothing else was resolved, so other severities show no time to resolve; info has no SLA.
    assert_eq!(r.total.by_severity.high.time_to_resolve_hours, None);
    assert_eq!(r.total.by_severity.high.resolved_within_sla, Some(0));
    assert_eq!(r.total.by_severity.info.resolved_within_sla, None);
}

#[test]
fn a_creation_directly_resolved_is_opened_and_resolved_in_zero_hours() {
    let mut p = Project::default();
    p.finding(High, &[("2026-06-08T01:00:00Z", Resolved)]);
    p.finding(High, &[("2026-06-08T02:00:00Z", Dismissed)]);
    let r = p.report(Some("2026-06-08"), Some("2026-06-08"), None, "2026-06-10");
    let m = &r.total.by_severity.high;
    assert_eq!((m.opened, m.resolved, m.dismissed), (2, 1, 1));
    let t = ttr(m);
    assert_eq!((t.count, t.mean, t.p50, t.p90), (1, 0.0, 0.0, 0.0));
    assert_eq!(m.open_at_end, 0);
}

#[test]
fn resolved_on_the_due_date_is_within_and_the_day_after_is_not() {
    let mut p = Project::default();
    // Critical: 7 days, due 2026-06-08.
    p.finding(
        Critical,
        &[
            ("2026-06-01T10:00:00Z", New),
            ("2026-06-08T23:59:59Z", Resolved),
        ],
    );
    p.finding(
        Critical,
        &[
            ("2026-06-01T10:00:00Z", Triaged),
            ("2026-06-09T00:00:00Z", Resolved),
        ],
    );
    p.finding(Critical, &[("2026-06-01T10:00:00Z", InProgress)]);
    let r = p.report(
        Some("2026-06-07"),
        Some("2026-06-10"),
        Some("day"),
        "2026-06-10",
    );
    let within: Vec<_> = r
        .buckets
        .iter()
        .map(|b| {
            (
                b.by_severity.critical.resolved,
                b.by_severity.critical.resolved_within_sla,
            )
        })
        .collect();
    assert_eq!(
        within,
        [(0, Some(0)), (1, Some(1)), (1, Some(0)), (0, Some(0))]
    );
    // Open at the end of the due date is not yet overdue; the day after it is.
    assert_eq!(levels(&r, Critical), [(3, 0), (2, 0), (1, 1), (1, 1)]);
    let total = &r.total.by_severity.critical;
    assert_eq!((total.resolved, total.resolved_within_sla), (2, Some(1)));
    let t = ttr(total);
    // 7 d 13:59:59 and 7 d 14:00:00.
    assert_eq!(t.count, 2);
    assert_eq!(t.mean, (2.0 * 182.0 * 3600.0 - 1.0) / 2.0 / 3600.0);
    assert_eq!(r.sla_compliance, Some(0.5));
}

#[test]
fn a_finding_reopened_after_its_due_date_is_overdue_at_once_and_keeps_its_clock() {
    let mut p = Project::default();
    p.finding(
        Critical,
        &[
            ("2026-06-01T10:00:00Z", New),
            ("2026-06-05T10:00:00Z", Resolved),
            ("2026-06-20T10:00:00Z", Triaged),
            ("2026-06-25T10:00:00Z", Resolved),
        ],
    );
    let r = p.report(
        Some("2026-06-19"),
        Some("2026-06-26"),
        Some("day"),
        "2026-06-30",
    );
    assert_eq!(
        levels(&r, Critical),
        [
            (0, 0),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (1, 1),
            (0, 0),
            (0, 0)
        ]
    );
    assert_eq!(r.buckets[1].by_severity.critical.reopened, 1);
    let resolved = &r.buckets[6].by_severity.critical;
    assert_eq!(
        (resolved.resolved, resolved.resolved_within_sla),
        (1, Some(0))
    );
    // From first seen: 24 days.
    assert_eq!(ttr(resolved).mean, 24.0 * 24.0);
    // Over the whole life: both resolutions, the first within SLA.
    let r = p.report(Some("2026-06-01"), Some("2026-06-30"), None, "2026-06-30");
    let total = &r.total.by_severity.critical;
    assert_eq!((total.opened, total.reopened, total.resolved), (1, 1, 2));
    assert_eq!(total.resolved_within_sla, Some(1));
    assert_eq!(ttr(total).mean, (4.0 + 24.0) / 2.0 * 24.0);
    assert_eq!(r.sla_compliance, Some(0.5));
    assert_eq!(
        spans(&r),
        [
            "2026-06-01..2026-06-07",
            "2026-06-08..2026-06-14",
            "2026-06-15..2026-06-21",
            "2026-06-22..2026-06-28",
            "2026-06-29..2026-06-30"
        ]
    );
    assert_eq!(
        levels(&r, Critical),
        [(0, 0), (0, 0), (1, 1), (0, 0), (0, 0)]
    );
}

#[test]
fn dismissed_then_reopened() {
    let mut p = Project::default();
    p.finding(
        High,
        &[
            ("2026-06-01T10:00:00Z", New),
            ("2026-06-03T10:00:00Z", Dismissed),
            ("2026-06-06T10:00:00Z", Triaged),
        ],
    );
    let r = p.report(
        Some("2026-06-01"),
        Some("2026-06-07"),
        Some("day"),
        "2026-06-10",
    );
    assert_eq!(
        flows(&r, High),
        [
            (1, 0, 0, 0),
            (0, 0, 0, 0),
            (0, 0, 0, 1),
            (0, 0, 0, 0),
            (0, 0, 0, 0),
            (0, 1, 0, 0),
            (0, 0, 0, 0)
        ]
    );
    assert_eq!(
        levels(&r, High).iter().map(|l| l.0).collect::<Vec<_>>(),
        [1, 1, 0, 0, 0, 1, 1]
    );
    let total = &r.total.by_severity.high;
    // A dismissal is never a fix.
    assert_eq!(total.time_to_resolve_hours, None);
    assert_eq!(total.resolved_within_sla, Some(0));
    assert_eq!(r.sla_compliance, None);
    assert_eq!(r.aging_at_end.by_severity.high, aging([1, 0, 0, 0, 0]));
}

#[test]
fn resolved_then_dismissed_counts_only_the_resolution() {
    let mut p = Project::default();
    p.finding(
        Medium,
        &[
            ("2026-06-01T10:00:00Z", New),
            ("2026-06-02T10:00:00Z", Resolved),
            ("2026-06-04T10:00:00Z", Dismissed),
            ("2026-06-05T10:00:00Z", Resolved),
        ],
    );
    let r = p.report(Some("2026-06-01"), Some("2026-06-07"), None, "2026-06-10");
    let total = &r.total.by_severity.medium;
    assert_eq!(
        (
            total.opened,
            total.reopened,
            total.resolved,
            total.dismissed
        ),
        (1, 0, 1, 0)
    );
    assert_eq!(ttr(total).mean, 24.0);
    assert_eq!((total.open_at_end, total.overdue_at_end), (0, 0));
    assert_eq!(r.total.all.resolved, 1);
}

#[test]
fn a_backdated_creation_whose_due_date_has_passed_is_overdue_on_every_day_since() {
    let mut p = Project::default();
    // Imported today with the time it was first seen: critical, due 2026-04-08.
    p.finding(Critical, &[("2026-04-01T08:00:00Z", New)]);
    let r = p.report(None, None, None, "2026-06-10");
    assert_eq!(r.date_from, date("2026-03-13"));
    assert_eq!(r.buckets.len(), 14);
    // 2026-03-13 is a Friday. Opened in the week of 2026-03-30; overdue from 2026-04-09, in the
    // week of 2026-04-06.
    assert_eq!(r.buckets[1].start, date("2026-03-16"));
    assert_eq!(r.buckets[3].start, date("2026-03-30"));
    assert_eq!(r.buckets[3].by_severity.critical.opened, 1);
    assert_eq!(
        levels(&r, Critical)[..5],
        [(0, 0), (0, 0), (0, 0), (1, 0), (1, 1)]
    );
    assert!(levels(&r, Critical)[4..].iter().all(|l| *l == (1, 1)));
    // 70 days old at the end of 2026-06-10.
    assert_eq!(r.aging_at_end.by_severity.critical, aging([0, 0, 1, 0, 0]));
    assert_eq!(r.aging_at_end.all, aging([0, 0, 1, 0, 0]));
    assert_eq!(r.total.all.overdue_at_end, 1);
    // A window wholly after the creation opens nothing and starts overdue.
    let r = p.report(
        Some("2026-06-01"),
        Some("2026-06-02"),
        Some("day"),
        "2026-06-10",
    );
    assert_eq!(r.total.all.opened, 0);
    assert_eq!(levels(&r, Critical), [(1, 1), (1, 1)]);
}

fn strict_from(effective_from: &str) -> EffectivePolicy {
    EffectivePolicy {
        effective_from: at(effective_from),
        policy: policy(Some(2), None),
    }
}

#[test]
fn a_policy_change_between_two_creations_applies_to_the_later_one_only() {
    let mut p = Project::default();
    p.policies.push(strict_from("2026-06-05T00:00:00Z"));
    // Under the default: critical 7 days, due 2026-06-11.
    p.finding(Critical, &[("2026-06-04T12:00:00Z", New)]);
    // Under the new policy: critical 2 days, due 2026-06-07.
    p.finding(Critical, &[("2026-06-05T12:00:00Z", New)]);
    // High has no SLA under the new policy: never overdue.
    p.finding(High, &[("2026-06-05T12:00:00Z", New)]);
    let r = p.report(
        Some("2026-06-07"),
        Some("2026-06-12"),
        Some("day"),
        "2026-06-12",
    );
    assert_eq!(
        levels(&r, Critical),
        [(2, 0), (2, 1), (2, 1), (2, 1), (2, 1), (2, 2)]
    );
    assert_eq!(levels(&r, High), [(1, 0); 6]);
    assert_eq!(r.sla_days, policy(Some(2), None));
    assert_eq!(r.sla_days.days(High), None);
    // Before the change the report shows the policy of its time.
    let r = p.report(Some("2026-06-01"), Some("2026-06-04"), None, "2026-06-12");
    assert_eq!(r.sla_days, SlaPolicy::default());
    assert_eq!(
        r.sla_days.days(Critical),
        SlaDays::parse("critical", 7).ok()
    );
}

#[test]
fn a_backdated_creation_before_the_policy_change_takes_the_earlier_policy() {
    let mut p = Project::default();
    p.policies.push(strict_from("2026-06-05T00:00:00Z"));
    // Recorded after the change, but first seen before it: the default's 7 days, due 2026-06-10.
    p.finding(
        Critical,
        &[
            ("2026-06-03T00:00:00Z", New),
            ("2026-06-10T23:00:00Z", Resolved),
        ],
    );
    // High findings created before the change keep the default's 30 days though the new policy
    // has none for high: their resolutions count within SLA.
    p.finding(
        High,
        &[
            ("2026-06-04T00:00:00Z", New),
            ("2026-06-06T00:00:00Z", Resolved),
        ],
    );
    p.finding(
        High,
        &[
            ("2026-06-05T00:00:00Z", New),
            ("2026-06-06T00:00:00Z", Resolved),
        ],
    );
    let r = p.report(Some("2026-06-01"), Some("2026-06-12"), None, "2026-06-12");
    let critical = &r.total.by_severity.critical;
    assert_eq!(
        (critical.resolved, critical.resolved_within_sla),
        (1, Some(1))
    );
    assert_eq!(levels(&r, Critical), [(1, 0), (0, 0)]);
    let high = &r.total.by_severity.high;
    assert_eq!((high.resolved, high.resolved_within_sla), (2, Some(1)));
    // The high finding without a due date is left out of compliance.
    assert_eq!(r.sla_compliance, Some(1.0));
    // A bucket where no high finding with a due date was resolved shows null for high.
    assert_eq!(r.buckets[1].by_severity.high.resolved_within_sla, None);
    assert_eq!(r.buckets[0].by_severity.high.resolved_within_sla, Some(1));
}

#[test]
fn a_window_that_starts_before_the_project() {
    let mut p = Project::default();
    p.finding(
        Low,
        &[
            ("2026-06-01T08:00:00Z", New),
            ("2026-06-03T08:00:00Z", Resolved),
        ],
    );
    p.finding(Info, &[("2026-06-02T08:00:00Z", New)]);
    let r = p.report(
        Some("2025-12-10"),
        Some("2026-06-10"),
        Some("month"),
        "2026-06-10",
    );
    assert_eq!(r.buckets.len(), 7);
    assert_eq!(spans(&r)[0], "2025-12-10..2025-12-31");
    assert_eq!(spans(&r)[6], "2026-06-01..2026-06-10");
    for bucket in &r.buckets[..6] {
        assert_eq!(bucket.all.opened, 0);
        assert_eq!(bucket.all.open_at_end, 0);
        assert_eq!(bucket.all.time_to_resolve_hours, None);
    }
    let june = &r.buckets[6];
    assert_eq!(
        (june.all.opened, june.all.resolved, june.all.open_at_end),
        (2, 1, 1)
    );
    assert_eq!(june.by_severity.info.overdue_at_end, 0);
    assert_eq!(june.by_severity.info.resolved_within_sla, None);
    assert_eq!(june.all.resolved_within_sla, Some(1));
    assert_eq!(r.aging_at_end.by_severity.info, aging([0, 1, 0, 0, 0]));
    assert_eq!(r.sla_compliance, Some(1.0));
}

#[test]
fn week_buckets_are_clipped_at_both_ends() {
    let mut p = Project::default();
    for t in [
        "2026-06-02T23:59:59Z",
        "2026-06-03T00:00:00Z",
        "2026-06-07T23:59:59Z",
        "2026-06-08T00:00:00Z",
        "2026-06-16T23:59:59Z",
        "2026-06-17T00:00:00Z",
    ] {
        p.finding(Medium, &[(t, New)]);
    }
    let r = p.report(
        Some("2026-06-03"),
        Some("2026-06-16"),
        Some("week"),
        "2026-06-20",
    );
    assert_eq!(
        spans(&r),
        [
            "2026-06-03..2026-06-07",
            "2026-06-08..2026-06-14",
            "2026-06-15..2026-06-16"
        ]
    );
    let opened: Vec<_> = r.buckets.iter().map(|b| b.all.opened).collect();
    assert_eq!(opened, [2, 1, 1]);
    assert_eq!(levels(&r, Medium), [(3, 0), (4, 0), (5, 0)]);
    assert_eq!(r.total.all.opened, 4);
    assert_eq!(r.total.all.open_at_end, 5);
}

#[test]
fn month_buckets_are_clipped_at_both_ends() {
    let mut p = Project::default();
    for t in [
        "2026-01-14T12:00:00Z",
        "2026-01-15T00:00:00Z",
        "2026-01-31T23:59:59Z",
        "2026-02-01T00:00:00Z",
        "2026-03-10T12:00:00Z",
        "2026-03-11T00:00:00Z",
    ] {
        p.finding(Low, &[(t, New), ("2026-03-20T00:00:00Z", Resolved)]);
    }
    let r = p.report(
        Some("2026-01-15"),
        Some("2026-03-10"),
        Some("month"),
        "2026-06-20",
    );
    assert_eq!(
        spans(&r),
        [
            "2026-01-15..2026-01-31",
            "2026-02-01..2026-02-28",
            "2026-03-01..2026-03-10"
        ]
    );
    let opened: Vec<_> = r.buckets.iter().map(|b| b.all.opened).collect();
    assert_eq!(opened, [2, 1, 1]);
    assert_eq!(levels(&r, Low), [(3, 0), (4, 0), (5, 0)]);
    assert_eq!(r.total.all.resolved, 0);
    // Ages at the end of 2026-03-10: 55, 54, 38, 37 and 0 days.
    assert_eq!(r.aging_at_end.by_severity.low, aging([1, 0, 4, 0, 0]));
}

#[test]
fn a_leap_day_is_a_day_of_february_and_of_every_count() {
    let mut p = Project::default();
    // Critical, due 2028-03-06 (2028-02-28 plus 7 days, through the 29th).
    p.finding(
        Critical,
        &[
            ("2028-02-28T12:00:00Z", New),
            ("2028-02-29T12:00:00Z", Resolved),
        ],
    );
    p.finding(Critical, &[("2028-02-28T12:00:00Z", New)]);
    // 7 days old at the end of 2028-02-29, 8 at the end of 2028-03-01.
    p.finding(High, &[("2028-02-22T00:00:00Z", New)]);
    let r = p.report(
        Some("2028-02-27"),
        Some("2028-03-07"),
        Some("month"),
        "2028-03-07",
    );
    assert_eq!(
        spans(&r),
        ["2028-02-27..2028-02-29", "2028-03-01..2028-03-07"]
    );
    let feb = &r.buckets[0].by_severity.critical;
    assert_eq!(
        (feb.opened, feb.resolved, feb.resolved_within_sla),
        (2, 1, Some(1))
    );
    assert_eq!(ttr(feb).mean, 24.0);
    assert_eq!(r.buckets[0].all.open_at_end, 2);
    // Overdue from 2028-03-07.
    assert_eq!(levels(&r, Critical), [(1, 0), (1, 1)]);
    let days = p.report(
        Some("2028-02-29"),
        Some("2028-03-01"),
        Some("day"),
        "2028-03-07",
    );
    assert_eq!(
        spans(&days),
        ["2028-02-29..2028-02-29", "2028-03-01..2028-03-01"]
    );
    assert_eq!(days.aging_at_end.by_severity.high, aging([0, 1, 0, 0, 0]));
    let leap_day = p.report(Some("2028-02-29"), Some("2028-02-29"), None, "2028-03-07");
    assert_eq!(
        leap_day.aging_at_end.by_severity.high,
        aging([1, 0, 0, 0, 0])
    );
    assert_eq!(
        leap_day.aging_at_end.by_severity.critical,
        aging([1, 0, 0, 0, 0])
    );
}

#[test]
fn aging_buckets_turn_on_their_thresholds() {
    let mut p = Project::default();
    p.finding(Low, &[("2026-01-01T00:00:00Z", New)]);
    // Ages 7, 8, 30, 31, 90, 91, 180, 181 on these days.
    let expected = [
        ("2026-01-08", [1, 0, 0, 0, 0]),
        ("2026-01-09", [0, 1, 0, 0, 0]),
        ("2026-01-31", [0, 1, 0, 0, 0]),
        ("2026-02-01", [0, 0, 1, 0, 0]),
        ("2026-04-01", [0, 0, 1, 0, 0]),
        ("2026-04-02", [0, 0, 0, 1, 0]),
        ("2026-06-30", [0, 0, 0, 1, 0]),
        ("2026-07-01", [0, 0, 0, 0, 1]),
    ];
    for (day, counts) in expected {
        let r = p.report(Some(day), Some(day), Some("day"), "2026-07-10");
        assert_eq!(r.aging_at_end.by_severity.low, aging(counts), "{day}");
        assert_eq!(r.aging_at_end.all, aging(counts), "{day}");
    }
    // Low has 120 days: due 2026-05-01, overdue from 2026-05-02.
    let r = p.report(
        Some("2026-05-01"),
        Some("2026-05-02"),
        Some("day"),
        "2026-07-10",
    );
    assert_eq!(levels(&r, Low), [(1, 0), (1, 1)]);
}

#[test]
fn the_report_serialises_in_the_issues_shape() {
    let mut p = Project::default();
    p.finding(
        Critical,
        &[
            ("2026-06-08T00:00:00Z", New),
            ("2026-06-08T01:00:00Z", Resolved),
        ],
    );
    let r = p.report(
        Some("2026-06-08"),
        Some("2026-06-09"),
        Some("week"),
        "2026-06-10",
    );
    let json = serde_json::to_value(&r).unwrap();
    let keys = |v: &serde_json::Value| {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    };
    assert_eq!(
        keys(&json),
        [
            "aging_at_end",
            "buckets",
            "date_from",
            "date_to",
            "granularity",
            "sla_compliance",
            "sla_days",
            "total"
        ]
    );
    assert_eq!(json["granularity"], "week");
    assert_eq!(json["date_from"], "2026-06-08");
    assert_eq!(
        json["sla_days"],
        serde_json::json!({"critical": 7, "high": 30, "medium": 90, "low": 120, "info": null})
    );
    assert_eq!(
        keys(&json["aging_at_end"]),
        ["all", "critical", "high", "info", "low", "medium"]
    );
    assert_eq!(
        keys(&json["aging_at_end"]["all"]),
        ["0-7", "181+", "31-90", "8-30", "91-180"]
    );
    let bucket = &json["buckets"][0];
    assert_eq!(keys(bucket), ["all", "by_severity", "end", "start"]);
    assert_eq!(
        keys(&bucket["by_severity"]),
        ["critical", "high", "info", "low", "medium"]
    );
    let m = &bucket["by_severity"]["critical"];
    assert_eq!(
        keys(m),
        [
            "dismissed",
            "open_at_end",
            "opened",
            "overdue_at_end",
            "reopened",
            "resolved",
            "resolved_within_sla",
            "time_to_resolve_hours"
        ]
    );
    assert_eq!(
        keys(&m["time_to_resolve_hours"]),
        ["count", "mean", "p50", "p90"]
    );
    assert_eq!(m["time_to_resolve_hours"]["count"], 1);
    assert_eq!(m["time_to_resolve_hours"]["mean"], 1.0);
    assert!(bucket["by_severity"]["high"]["time_to_resolve_hours"].is_null());
    assert!(bucket["by_severity"]["info"]["resolved_within_sla"].is_null());
    assert_eq!(keys(&json["total"]), ["all", "by_severity"]);
    assert_eq!(json["sla_compliance"], 1.0);
    let back: RemediationReport = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}

#[test]
fn the_fold_does_not_depend_on_the_order_of_days_nor_on_days_outside_the_window() {
    let mut p = Project::default();
    p.finding(
        Critical,
        &[
            ("2026-05-01T00:00:00Z", New),
            ("2026-06-03T00:00:00Z", Resolved),
            ("2026-06-05T00:00:00Z", New),
        ],
    );
    p.finding(High, &[("2026-06-02T00:00:00Z", New)]);
    let query = krafter_domain::metrics::remediation::RemediationQuery::parse(
        Some("2026-06-02"),
        Some("2026-06-06"),
        Some("day"),
        date("2026-06-10"),
    )
    .unwrap();
    let expected = p.fast(&query);
    // Everything, unsorted, with no `before`: days before the window count as before and
    // threshold days after it are ignored.
    let mut all: Vec<_> = p
        .totals()
        .into_iter()
        .map(|((day, severity), delta)| {
            krafter_domain::metrics::remediation::DatedRemediationDelta {
                day,
                severity,
                delta,
            }
        })
        .collect();
    all.reverse();
    let got = remediation_support::fold(&BySeverity::default(), &all, &query, &p.policies);
    assert_eq!(got, expected);
}
