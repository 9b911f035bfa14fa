use chrono::NaiveDate;
use diesel_async::SimpleAsyncConnection;
use krafter_domain::ledger::{FindingStatus, LedgerRepository};
use krafter_domain::metrics::{DateWindow, DatedDelta, DayDelta, DeltaLedger, MetricsRepository};

use crate::{at, change_to, new_finding, state, Fixture};

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

fn window(from: &str, to: &str) -> DateWindow {
    DateWindow::new(day(from), day(to), day("2026-12-31"), ("from", "to")).unwrap()
}

fn risk(open_risk_score: i64) -> DayDelta {
    DayDelta {
        open_risk_score,
        ..DayDelta::default()
    }
}

#[tokio::test]
async fn a_project_without_history_has_an_empty_ledger() {
    let fx = Fixture::new().await;
    let ledger = fx
        .store
        .deltas(fx.project.id, &window("2026-06-01", "2026-06-07"))
        .await
        .unwrap();
    assert_eq!(ledger, DeltaLedger::default());
}

#[tokio::test]
async fn deltas_sum_the_days_before_the_window_and_list_the_days_in_it() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    // Rows written directly: (day, open_risk_score), one of them all zero.
    fx.sql()
        .await
        .batch_execute(&format!(
            "INSERT INTO project_daily_totals (project_id, day, open_risk_score, open_findings) VALUES \
             ('{p}', '2026-05-30', 5, 1), ('{p}', '2026-05-31', 7, 0), ('{p}', '2026-06-01', 11, 0), \
             ('{p}', '2026-06-02', 0, 0), ('{p}', '2026-06-03', 13, 0), ('{p}', '2026-06-04', 17, 0), \
             ('{q}', '2026-05-01', 1000, 1), ('{q}', '2026-06-02', 1000, 1)",
            p = fx.project.id,
            q = other.id
        ))
        .await
        .unwrap();
    let ledger = fx
        .store
        .deltas(fx.project.id, &window("2026-06-01", "2026-06-03"))
        .await
        .unwrap();
    assert_eq!(
        ledger,
        DeltaLedger {
            before: DayDelta {
                open_risk_score: 12,
                open_findings: 1,
                ..DayDelta::default()
            },
            days: vec![
                DatedDelta {
                    day: day("2026-06-01"),
                    delta: risk(11)
                },
                DatedDelta {
                    day: day("2026-06-03"),
                    delta: risk(13)
                },
            ],
        }
    );
    let ledger = fx
        .store
        .deltas(fx.project.id, &window("2026-06-05", "2026-06-09"))
        .await
        .unwrap();
    assert_eq!(
        ledger,
        DeltaLedger {
            before: DayDelta {
                open_risk_score: 53,
                open_findings: 1,
                ..DayDelta::default()
            },
            days: vec![],
        }
    );
    let ledger = fx
        .store
        .deltas(fx.project.id, &window("2026-05-30", "2026-05-30"))
        .await
        .unwrap();
    assert_eq!(
        ledger,
        DeltaLedger {
            before: DayDelta::default(),
            days: vec![DatedDelta {
                day: day("2026-05-30"),
                delta: DayDelta {
                    open_risk_score: 5,
                    open_findings: 1,
                    ..DayDelta::default()
                },
            }],
        }
    );
    let daily = fx.store.daily_totals(fx.project.id).await.unwrap();
    assert_eq!(
        daily.keys().map(|d| d.to_string()).collect::<Vec<_>>(),
        [
            "2026-05-30",
            "2026-05-31",
            "2026-06-01",
            "2026-06-03",
            "2026-06-04"
        ]
    );
}

#[tokio::test]
async fn days_whose_writes_cancel_out_are_left_out() {
    let fx = Fixture::new().await;
    let f = new_finding(
        "XSS",
        state(FindingStatus::New, 10),
        at("2026-06-01T08:00:00Z"),
    );
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    for (score, time) in [(20, "2026-06-02T08:00:00Z"), (10, "2026-06-02T09:00:00Z")] {
        fx.store
            .change_finding(
                fx.project.id,
                f.id,
                change_to(state(FindingStatus::New, score), at(time)),
            )
            .await
            .unwrap();
    }
    let daily = fx.store.daily_totals(fx.project.id).await.unwrap();
    assert_eq!(
        daily.keys().copied().collect::<Vec<_>>(),
        [day("2026-06-01")]
    );
    let ledger = fx
        .store
        .deltas(fx.project.id, &window("2026-06-02", "2026-06-02"))
        .await
        .unwrap();
    assert_eq!(ledger.days, vec![]);
    assert_eq!(ledger.before.open_risk_score, 10);
    crate::assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn a_rebuild_repairs_totals_that_drifted() {
    let fx = Fixture::new().await;
    let f = new_finding(
        "XSS",
        state(FindingStatus::Triaged, 300),
        at("2026-06-01T08:00:00Z"),
    );
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    fx.store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(
                state(FindingStatus::Dismissed, 300),
                at("2026-06-03T08:00:00Z"),
            ),
        )
        .await
        .unwrap();
    let right = fx.store.daily_totals(fx.project.id).await.unwrap();
    fx.sql()
        .await
        .batch_execute(&format!(
            "UPDATE project_daily_totals SET open_risk_score = 1 WHERE project_id = '{p}'; \
             INSERT INTO project_daily_totals (project_id, day, verifications) \
             VALUES ('{p}', '2020-01-01', 9)",
            p = fx.project.id
        ))
        .await
        .unwrap();
    assert_ne!(fx.store.daily_totals(fx.project.id).await.unwrap(), right);
    fx.store.rebuild_daily_totals(fx.project.id).await.unwrap();
    assert_eq!(fx.store.daily_totals(fx.project.id).await.unwrap(), right);
    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(
        right,
        krafter_domain::metrics::reference::daily_deltas(&history)
    );
}
