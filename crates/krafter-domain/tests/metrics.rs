//! The metrics over hand-built histories and over the shared summary vectors, computed both from
//! the daily deltas (the production path) and straight from the history (the reference).

#[path = "support/vectors.rs"]
#[allow(dead_code)]
mod vectors;

use chrono::{DateTime, NaiveDate, Utc};
use krafter_domain::ids::{FindingId, RegressionId, VerificationId};
use krafter_domain::ledger::{
    FindingHistory, FindingState, FindingStatus, PriorityScore, ProjectHistory, Regression,
    Verification, VerificationResult,
};
use krafter_domain::metrics::{
    reference, summarize, DatedDelta, DayDelta, DeltaLedger, Summary, SummaryQuery,
};

/// What the metrics repository would answer for this history and window.
fn ledger_for(history: &ProjectHistory, query: &SummaryQuery) -> DeltaLedger {
    let mut ledger = DeltaLedger::default();
    for (day, delta) in reference::daily_deltas(history) {
        if day < query.window.from() {
            ledger.before += delta;
        } else if day <= query.window.to() {
            ledger.days.push(DatedDelta { day, delta });
        }
    }
    ledger
}

/// Both computations, which must agree.
fn summary(history: &ProjectHistory, from: Option<&str>, to: Option<&str>, today: &str) -> Summary {
    let query = SummaryQuery::parse(from, to, today.parse().unwrap()).unwrap();
    let fast = summarize(&query, &ledger_for(history, &query));
    let slow = reference::summarize_history(history, &query);
    assert_eq!(fast, slow, "deltas and reference disagree");
    fast
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn state(status: FindingStatus, score: i64) -> FindingState {
    FindingState {
        status,
        priority_score: PriorityScore::parse(score).unwrap(),
    }
}

fn finding(events: &[(&str, FindingStatus, i64)]) -> FindingHistory {
    FindingHistory {
        finding_id: FindingId::generate(),
        events: events
            .iter()
            .map(|(t, s, p)| (at(t), state(*s, *p)))
            .collect(),
    }
}

fn scores(summary: &Summary) -> Vec<i64> {
    summary
        .risk_burn_down
        .iter()
        .map(|p| p.open_risk_score)
        .collect()
}

use FindingStatus::*;

#[test]
fn every_vector_is_met_by_both_computations() {
    let vectors = vectors::load();
    let today = vectors.today.to_string();
    let mut checked = 0;
    for scenario in &vectors.scenarios {
        let history = scenario.history();
        for q in &scenario.queries {
            let got = summary(
                &history,
                q.date_from.as_deref(),
                q.date_to.as_deref(),
                &today,
            );
            let want = vectors::expected_summary(&q.expected);
            assert_eq!(
                got, want,
                "{} {:?}..{:?}",
                scenario.name, q.date_from, q.date_to
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}

#[test]
fn the_vendored_vectors_match_the_shared_spec() {
    let shared = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/spec/summary-vectors.json"
    );
    if let Ok(text) = std::fs::read_to_string(shared) {
        assert_eq!(
            text,
            vectors::VECTORS_JSON,
            "refresh crates/krafter-domain/tests/data/summary-vectors.json"
        );
    }
}

#[test]
fn a_change_exactly_at_midnight_belongs_to_the_new_day() {
    let h = ProjectHistory {
        findings: vec![finding(&[
            ("2026-06-08T00:00:00Z", New, 70),
            ("2026-06-09T00:00:00Z", Resolved, 70),
        ])],
        ..Default::default()
    };
    let s = summary(&h, Some("2026-06-07"), Some("2026-06-10"), "2026-06-10");
    assert_eq!(scores(&s), [0, 70, 0, 0]);
}

#[test]
fn backdated_import_counts_on_the_days_it_happened() {
    let h = ProjectHistory {
        findings: vec![finding(&[
            ("2025-01-01T10:00:00Z", Triaged, 300),
            ("2026-06-09T23:59:59.999999Z", Dismissed, 300),
        ])],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(scores(&s), [300, 300, 300, 300, 300, 0, 0]);
    assert_eq!(s.open_findings, 0);
}

#[test]
fn created_and_resolved_on_the_same_day_never_shows() {
    let h = ProjectHistory {
        findings: vec![finding(&[
            ("2026-06-08T01:00:00Z", New, 40),
            ("2026-06-08T02:00:00Z", Resolved, 40),
        ])],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(scores(&s), [0; 7]);
    assert_eq!((s.open_findings, s.regression_rate), (0, 0.0));
}

#[test]
fn a_priority_change_while_open_keeps_each_days_score() {
    let h = ProjectHistory {
        findings: vec![finding(&[
            ("2026-06-04T08:00:00Z", New, 100),
            ("2026-06-06T08:00:00Z", InProgress, 250),
            ("2026-06-08T08:00:00Z", InProgress, 5),
        ])],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(scores(&s), [100, 100, 250, 250, 5, 5, 5]);
}

#[test]
fn reopened_after_resolve_counts_again_and_dismissed_does_not() {
    let h = ProjectHistory {
        findings: vec![
            finding(&[
                ("2026-06-04T08:00:00Z", New, 10),
                ("2026-06-05T08:00:00Z", Resolved, 10),
                ("2026-06-07T08:00:00Z", ReadyVerify, 12),
            ]),
            finding(&[
                ("2026-06-04T09:00:00Z", Triaged, 1),
                ("2026-06-06T09:00:00Z", Dismissed, 1),
            ]),
        ],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(scores(&s), [11, 1, 0, 12, 12, 12, 12]);
    assert_eq!(s.open_findings, 1);
}

#[test]
fn no_verifications_and_nothing_terminal_give_zero_rates() {
    let h = ProjectHistory {
        findings: vec![finding(&[("2026-06-01T08:00:00Z", New, 10)])],
        regressions: vec![],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(
        (s.verification_pass_rate, s.regression_rate, s.open_findings),
        (0.0, 0.0, 1)
    );
}

#[test]
fn rates_are_exact_ratios() {
    let f1 = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Resolved, 10),
    ]);
    let f2 = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Resolved, 10),
    ]);
    let f3 = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Dismissed, 10),
    ]);
    let verification = |id: FindingId, result, t: &str| Verification {
        id: VerificationId::generate(),
        finding_id: id,
        result,
        occurred_at: at(t),
    };
    let h = ProjectHistory {
        verifications: vec![
            verification(
                f1.finding_id,
                VerificationResult::Passed,
                "2026-06-02T09:00:00Z",
            ),
            verification(
                f2.finding_id,
                VerificationResult::Failed,
                "2026-06-02T09:00:00Z",
            ),
            verification(
                f3.finding_id,
                VerificationResult::Passed,
                "2026-06-09T09:00:00Z",
            ),
        ],
        regressions: vec![Regression {
            id: RegressionId::generate(),
            finding_id: f1.finding_id,
            opened_at: at("2026-06-03T00:00:00Z"),
            closed_at: None,
        }],
        findings: vec![f1, f2, f3],
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(s.verification_pass_rate, 2.0 / 3.0);
    assert_eq!(s.regression_rate, 1.0 / 3.0);
    let s = summary(&h, Some("2026-06-01"), Some("2026-06-02"), "2026-06-10");
    assert_eq!((s.verification_pass_rate, s.regression_rate), (0.5, 0.0));
}

#[test]
fn a_window_before_the_project_existed_is_all_zero() {
    let h = ProjectHistory {
        findings: vec![finding(&[("2026-06-01T08:00:00Z", New, 10)])],
        ..Default::default()
    };
    let s = summary(&h, Some("2025-06-10"), Some("2026-06-02"), "2026-06-10");
    assert_eq!(s.risk_burn_down.len(), 358);
    assert_eq!(
        s.risk_burn_down[0].date,
        NaiveDate::from_ymd_opt(2025, 6, 10).unwrap()
    );
    assert!(scores(&s)[..356].iter().all(|v| *v == 0));
    assert_eq!(scores(&s)[356..], [10, 10]);
}

#[test]
fn deltas_of_a_day_that_cancels_out_are_dropped() {
    let h = ProjectHistory {
        findings: vec![finding(&[
            ("2026-06-08T01:00:00Z", New, 40),
            ("2026-06-08T02:00:00Z", New, 0),
        ])],
        ..Default::default()
    };
    let deltas = reference::daily_deltas(&h);
    assert_eq!(deltas.len(), 1);
    let only = deltas.values().next().unwrap();
    assert_eq!(
        *only,
        DayDelta {
            open_findings: 1,
            ..Default::default()
        }
    );
}

fn regression(finding: FindingId, opened_at: &str, closed_at: Option<&str>) -> Regression {
    Regression {
        id: RegressionId::generate(),
        finding_id: finding,
        opened_at: at(opened_at),
        closed_at: closed_at.map(at),
    }
}

fn regression_rates(history: &ProjectHistory, days: &[&str]) -> Vec<f64> {
    days.iter()
        .map(|d| summary(history, Some(d), Some(d), "2026-06-10").regression_rate)
        .collect()
}

#[test]
fn a_finding_that_came_back_counts_once_and_only_while_terminal() {
    let resolved = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Resolved, 10),
        ("2026-06-06T08:00:00Z", Triaged, 10),
        ("2026-06-08T08:00:00Z", Resolved, 10),
    ]);
    let open = finding(&[("2026-06-01T08:00:00Z", New, 10)]);
    let dismissed = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Dismissed, 10),
    ]);
    let h = ProjectHistory {
        regressions: vec![
            regression(resolved.finding_id, "2026-06-03T08:00:00Z", None),
            regression(
                resolved.finding_id,
                "2026-06-04T08:00:00Z",
                Some("2026-06-05T08:00:00Z"),
            ),
            regression(open.finding_id, "2026-06-03T08:00:00Z", None),
            regression(
                dismissed.finding_id,
                "2026-06-04T08:00:00Z",
                Some("2026-06-09T00:00:00Z"),
            ),
        ],
        findings: vec![resolved, open, dismissed],
        ..Default::default()
    };
    // 06-03: one of two terminal findings; 06-04: both, the first only once for its two
    // regressions; 06-06: the first is reopened; 06-08: resolved again with its regression still
    // open; 06-09: the second's regression closed at midnight.
    assert_eq!(
        regression_rates(
            &h,
            &[
                "2026-06-02",
                "2026-06-03",
                "2026-06-04",
                "2026-06-05",
                "2026-06-06",
                "2026-06-08",
                "2026-06-09"
            ]
        ),
        [0.0, 0.5, 1.0, 1.0, 1.0, 1.0, 0.5]
    );
}

#[test]
fn the_regression_rate_never_exceeds_one() {
    let f = finding(&[
        ("2026-06-01T08:00:00Z", New, 10),
        ("2026-06-02T08:00:00Z", Resolved, 10),
    ]);
    let h = ProjectHistory {
        regressions: (0..5)
            .map(|i| regression(f.finding_id, &format!("2026-06-0{}T08:00:00Z", 3 + i), None))
            .collect(),
        findings: vec![f],
        ..Default::default()
    };
    let s = summary(&h, None, None, "2026-06-10");
    assert_eq!(s.regression_rate, 1.0);
    let totals = reference::daily_deltas(&h);
    let returned: Vec<(String, i64)> = totals
        .iter()
        .filter(|(_, d)| d.returned_findings != 0)
        .map(|(day, d)| (day.to_string(), d.returned_findings))
        .collect();
    assert_eq!(returned, [("2026-06-03".to_string(), 1)]);
}

#[test]
fn days_handed_over_out_of_order_give_the_same_summary() {
    let h = ProjectHistory {
        findings: vec![
            finding(&[
                ("2026-03-01T10:00:00Z", FindingStatus::New, 50),
                ("2026-03-03T10:00:00Z", FindingStatus::Resolved, 50),
            ]),
            finding(&[("2026-03-02T10:00:00Z", FindingStatus::New, 70)]),
        ],
        ..ProjectHistory::default()
    };
    let query = SummaryQuery::parse(
        Some("2026-03-01"),
        Some("2026-03-04"),
        "2026-03-10".parse().unwrap(),
    )
    .unwrap();
    let ordered = ledger_for(&h, &query);
    assert!(ordered.days.len() >= 3);
    let mut shuffled = ordered.clone();
    shuffled.days.reverse();
    let summary = summarize(&query, &shuffled);
    assert_eq!(summary, summarize(&query, &ordered));
    let burn_down: Vec<i64> = summary
        .risk_burn_down
        .iter()
        .map(|p| p.open_risk_score)
        .collect();
    assert_eq!(burn_down, [50, 120, 70, 70]);
}
