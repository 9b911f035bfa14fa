use std::sync::Arc;

use chrono::Duration;
use krafter_domain::ledger::{
    FindingStatus, Ledger, LedgerError, LedgerRepository, PriorityScore, RecordVerification,
    UpdateFinding, VerificationResult,
};
use krafter_domain::FixedClock;

use crate::{assert_totals_replay_history, at, new_finding, state, Fixture};

/// 50 concurrent writes through the domain's use cases: changes on one hot finding and on
/// others, and verifications. Changes that arrive later than a newer change are refused by the
/// domain; whatever got in, the totals must equal a replay of the stored history.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_keep_the_totals_exact() {
    let fx = Fixture::new().await;
    let start = at("2026-06-01T12:00:00Z");
    let mut findings = Vec::new();
    for i in 0..5 {
        let f = new_finding(
            &format!("finding {i}"),
            state(FindingStatus::New, 10 * i),
            start,
        );
        fx.store.create_finding(fx.project.id, &f).await.unwrap();
        findings.push(f);
    }
    let ledger = Arc::new(Ledger::new(
        Arc::new(fx.store.clone()),
        Arc::new(FixedClock(at("2026-06-10T00:00:00Z"))),
    ));
    let project = Arc::new(fx.project.clone());

    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let ledger = ledger.clone();
        let project = project.clone();
        // Half the writes go to finding 0; the rest spread over the others.
        let finding = if i % 2 == 0 {
            findings[0].id
        } else {
            findings[1 + i as usize % 4].id
        };
        // Spread over several days, in an order unrelated to the order of arrival.
        let occurred_at = start + Duration::minutes(i64::from((i * 37) % 50) * 97);
        tasks.push(tokio::spawn(async move {
            if i % 5 == 4 {
                let result = if i % 2 == 0 {
                    VerificationResult::Passed
                } else {
                    VerificationResult::Failed
                };
                let input = RecordVerification {
                    result,
                    occurred_at: Some(occurred_at),
                };
                ledger
                    .record_verification(project.id, finding, input)
                    .await
                    .map(|_| ())
            } else {
                let status = FindingStatus::ALL[i as usize % FindingStatus::ALL.len()];
                let input = UpdateFinding {
                    status: Some(status),
                    priority_score: Some(PriorityScore::parse(i64::from((i * 53) % 1001)).unwrap()),
                    occurred_at: Some(occurred_at),
                };
                ledger
                    .update_finding(project.id, finding, input)
                    .await
                    .map(|_| ())
            }
        }));
    }
    let mut done = 0;
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => done += 1,
            Err(LedgerError::Invalid(_)) => refused += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(done + refused, 50);
    assert!(done > 0);

    let history = fx.store.history(fx.project.id).await.unwrap();
    // Every finding's events are in time order, each finding is the state after its last event.
    let current = fx
        .store
        .list_findings(
            fx.project.id,
            &krafter_domain::ledger::FindingQuery {
                source: None,
                status: None,
                limit: Default::default(),
                after: None,
            },
        )
        .await
        .unwrap()
        .items;
    assert_eq!(current.len(), 5);
    for f in &current {
        let events = &history
            .findings
            .iter()
            .find(|h| h.finding_id == f.id)
            .unwrap()
            .events;
        assert!(events.windows(2).all(|w| w[0].0 <= w[1].0));
        assert_eq!(events.last().copied(), Some((f.updated_at, f.state)));
    }
    let events: usize = history.findings.iter().map(|h| h.events.len()).sum();
    assert_eq!(
        fx.count("SELECT count(*) FROM finding_events").await,
        events as i64
    );
    assert_eq!(
        fx.count(
            "SELECT count(*) FROM finding_events e JOIN findings f ON f.id = e.finding_id \
                  WHERE e.seq <> (SELECT count(*) FROM finding_events p \
                                  WHERE p.finding_id = e.finding_id AND p.seq < e.seq)"
        )
        .await,
        0,
        "seq numbers are dense from 0"
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

/// The same race without the domain's time check: every one of 50 concurrent changes to the
/// same finding and to different findings gets in, and the totals still replay exactly.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_changes_all_land_exactly() {
    use krafter_domain::ids::VerificationId;
    use krafter_domain::ledger::{Finding, FindingChange, Verification};

    let fx = Fixture::new().await;
    let start = at("2026-06-01T23:00:00Z");
    let mut findings = Vec::new();
    for i in 0..3 {
        let f = new_finding(
            &format!("finding {i}"),
            state(FindingStatus::Triaged, 100),
            start,
        );
        fx.store.create_finding(fx.project.id, &f).await.unwrap();
        findings.push(f);
    }
    let mut tasks = Vec::new();
    for i in 0..50u32 {
        let store = fx.store.clone();
        let project = fx.project.id;
        let finding = findings[if i % 3 == 0 { 0 } else { i as usize % 3 }].id;
        let occurred_at = start + Duration::minutes(i64::from(i) * 7);
        tasks.push(tokio::spawn(async move {
            if i % 7 == 6 {
                store
                    .add_verification(
                        project,
                        finding,
                        Box::new(move |f: &Finding| {
                            Ok(Verification {
                                id: VerificationId::generate(),
                                finding_id: f.id,
                                result: VerificationResult::Passed,
                                occurred_at,
                            })
                        }),
                    )
                    .await
                    .map(|_| ())
            } else {
                let after = state(FindingStatus::ALL[i as usize % 6], i64::from(i) * 19);
                store
                    .change_finding(
                        project,
                        finding,
                        Box::new(move |f: &Finding| {
                            Ok(Some(FindingChange {
                                finding_id: f.id,
                                occurred_at,
                                before: Some(f.state),
                                after,
                            }))
                        }),
                    )
                    .await
                    .map(|_| ())
            }
        }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let verifications = (0..50).filter(|i| i % 7 == 6).count() as i64;
    assert_eq!(
        fx.count("SELECT count(*) FROM verifications").await,
        verifications
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM finding_events").await,
        3 + 50 - verifications
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

/// Writers in two projects of one organisation at once — creations, changes and verifications
/// on the same days — lock the organisation's totals rows in one order (none deadlocks) and
/// leave them equal to the sum of the projects' totals, which equal their replays.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_writes_in_two_projects_keep_the_organisation_totals_exact() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let ledger = Arc::new(Ledger::new(
        Arc::new(fx.store.clone()),
        Arc::new(FixedClock(at("2026-06-10T00:00:00Z"))),
    ));
    let projects = [Arc::new(fx.project.clone()), Arc::new(other.clone())];
    let start = at("2026-06-01T12:00:00Z");
    let mut tasks = Vec::new();
    for i in 0..40u32 {
        let ledger = ledger.clone();
        let project = projects[i as usize % 2].clone();
        let occurred_at = start + Duration::minutes(i64::from((i * 37) % 40) * 131);
        tasks.push(tokio::spawn(async move {
            let input = krafter_domain::ledger::CreateFinding {
                id: None,
                title: krafter_domain::ledger::FindingTitle::parse(&format!("finding {i}"))
                    .unwrap(),
                severity: krafter_domain::ledger::Severity::ALL[i as usize % 5],
                priority_score: PriorityScore::parse(i64::from(i * 20)).unwrap(),
                status: FindingStatus::New,
                occurred_at: Some(occurred_at),
            };
            let created = ledger.create_finding(project.id, input).await.unwrap();
            let update = UpdateFinding {
                status: Some(if i % 3 == 0 {
                    FindingStatus::Resolved
                } else {
                    FindingStatus::InProgress
                }),
                priority_score: None,
                occurred_at: Some(occurred_at + Duration::hours(30)),
            };
            ledger
                .update_finding(project.id, created.id, update)
                .await
                .unwrap();
            let verification = RecordVerification {
                result: VerificationResult::Passed,
                occurred_at: Some(occurred_at + Duration::hours(31)),
            };
            ledger
                .record_verification(project.id, created.id, verification)
                .await
                .unwrap();
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    assert_eq!(fx.count("SELECT count(*) FROM findings").await, 40);
    assert_totals_replay_history(&fx.store, fx.project.id).await;
    assert_totals_replay_history(&fx.store, other.id).await;
    // The check sees a difference, in the counts and in the histograms, both ways.
    use diesel_async::SimpleAsyncConnection;
    let one_row = "WHERE (day, severity) = (SELECT day, severity FROM org_remediation_totals \
                                            WHERE ttr_bins <> '{}' ORDER BY day, severity LIMIT 1)";
    let mut conn = fx.sql().await;
    let mut change = async |set: &str| {
        conn.batch_execute(&format!(
            "UPDATE org_remediation_totals SET {set} {one_row}"
        ))
        .await
        .unwrap();
        fx.store.org_totals_differing().await.unwrap()
    };
    assert_eq!(change("opened = opened + 1").await, 2);
    assert_eq!(change("opened = opened - 1").await, 0);
    assert_eq!(
        change("ttr_bins = krafter_ttr_add(ttr_bins, '{0,1}')").await,
        2
    );
}
