use std::sync::Mutex;

use krafter_domain::ledger::{FindingStatus, LedgerRepository};
use krafter_domain::metrics::reference;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};

use crate::Fixture;

fn spec() -> SyntheticSpec {
    SyntheticSpec {
        findings: 2_000,
        verifications: 300,
        regressions: 50,
        days: 30,
        end: "2026-06-10".parse().unwrap(),
    }
}

#[tokio::test]
async fn a_small_synthetic_history_is_well_formed() {
    let fx = Fixture::new().await;
    let calls = Mutex::new(Vec::new());
    synthetic_history(&fx.store, fx.project.id, &spec(), &|done| {
        calls.lock().unwrap().push(done)
    })
    .await
    .unwrap();
    assert_eq!(calls.into_inner().unwrap(), [2_000]);

    let p = fx.project.id;
    let fx = &fx;
    let count = |sql: String| async move { fx.count(&sql).await };
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM findings WHERE project_id = '{p}'"
        ))
        .await,
        2_000
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM verifications WHERE project_id = '{p}'"
        ))
        .await,
        300
    );
    assert_eq!(
        count(format!(
            "SELECT count(*) FROM regressions WHERE project_id = '{p}'"
        ))
        .await,
        50
    );
    // At least three events each, seq dense from 0.
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT finding_id FROM finding_events GROUP BY finding_id \
               HAVING count(*) < 3 OR max(seq) <> count(*) - 1) x"
                .into()
        )
        .await,
        0
    );
    let events = count("SELECT count(*) FROM finding_events".into()).await;
    assert!((6_000..=8_000).contains(&events), "{events}");
    // Strictly increasing in time, all within the 30 days ending 2026-06-10.
    assert_eq!(
        count(
            "SELECT count(*) FROM (SELECT occurred_at, lag(occurred_at) OVER \
               (PARTITION BY finding_id ORDER BY seq) AS prev FROM finding_events) e \
               WHERE e.occurred_at <= e.prev"
                .into()
        )
        .await,
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM finding_events WHERE occurred_at < '2026-05-12T00:00:00Z' \
               OR occurred_at >= '2026-06-11T00:00:00Z'"
                .into()
        )
        .await,
        0
    );
    // A finding is its first event's creation and its last event's state.
    assert_eq!(
        count(
            "SELECT count(*) FROM findings f \
               JOIN finding_events first ON first.finding_id = f.id AND first.seq = 0 \
               JOIN LATERAL (SELECT * FROM finding_events e WHERE e.finding_id = f.id \
                             ORDER BY seq DESC LIMIT 1) last ON true \
               WHERE f.created_at <> first.occurred_at OR f.updated_at <> last.occurred_at \
                  OR f.status <> last.status OR f.priority_score <> last.priority_score"
                .into()
        )
        .await,
        0
    );
    // Verifications and regressions come after their finding's creation.
    assert_eq!(
        count(
            "SELECT count(*) FROM verifications v JOIN findings f ON f.id = v.finding_id \
               WHERE v.occurred_at <= f.created_at OR v.project_id <> f.project_id"
                .into()
        )
        .await,
        0
    );
    assert_eq!(
        count(
            "SELECT count(*) FROM regressions r JOIN findings f ON f.id = r.finding_id \
               WHERE r.opened_at <= f.created_at OR r.closed_at <= r.opened_at \
                  OR r.closed_at >= '2026-06-11T00:00:00Z'"
                .into()
        )
        .await,
        0
    );
    // A mix of open and terminal findings, and of verification results.
    let terminal: Vec<String> = FindingStatus::ALL
        .iter()
        .filter(|s| s.is_terminal())
        .map(|s| s.code().to_string())
        .collect();
    let terminal = count(format!(
        "SELECT count(*) FROM findings WHERE status IN ({})",
        terminal.join(",")
    ))
    .await;
    assert!((600..=1_200).contains(&terminal), "{terminal}");
    let passed = count("SELECT count(*) FROM verifications WHERE result = 1".into()).await;
    assert!((150..=270).contains(&passed), "{passed}");
    let closed = count("SELECT count(*) FROM regressions WHERE closed_at IS NOT NULL".into()).await;
    assert!((15..=45).contains(&closed), "{closed}");

    let history = fx.store.history(p).await.unwrap();
    assert_eq!(history.findings.len(), 2_000);
    assert_eq!(
        history
            .findings
            .iter()
            .map(|f| f.events.len())
            .sum::<usize>() as i64,
        events
    );
    assert_eq!(
        fx.store.daily_totals(p).await.unwrap(),
        reference::daily_deltas(&history)
    );
}

#[tokio::test]
async fn the_same_spec_gives_the_same_history_in_another_project() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let small = SyntheticSpec {
        findings: 300,
        verifications: 40,
        regressions: 10,
        ..spec()
    };
    synthetic_history(&fx.store, fx.project.id, &small, &|_| {})
        .await
        .unwrap();
    synthetic_history(&fx.store, other.id, &small, &|_| {})
        .await
        .unwrap();
    let a = fx.store.daily_totals(fx.project.id).await.unwrap();
    assert!(!a.is_empty());
    assert_eq!(fx.store.daily_totals(other.id).await.unwrap(), a);
    crate::assert_totals_replay_history(&fx.store, other.id).await;
}

#[tokio::test]
async fn impossible_specs_are_refused_before_writing() {
    let fx = Fixture::new().await;
    let no_days = SyntheticSpec { days: 0, ..spec() };
    assert!(
        synthetic_history(&fx.store, fx.project.id, &no_days, &|_| {})
            .await
            .is_err()
    );
    let orphans = SyntheticSpec {
        findings: 0,
        ..spec()
    };
    assert!(
        synthetic_history(&fx.store, fx.project.id, &orphans, &|_| {})
            .await
            .is_err()
    );
    assert_eq!(fx.count("SELECT count(*) FROM findings").await, 0);
}

/// `n` findings over May 2026: each created, triaged, and for every third one verified and
/// resolved, with a regression on every ninth (closed on every eighteenth).
fn bulk_findings(n: usize) -> Vec<krafter_postgres::seed::BulkFinding> {
    use chrono::{DateTime, Duration, Utc};
    use krafter_domain::ids::{FindingId, VerificationId};
    use krafter_domain::ledger::{
        Finding, FindingState, FindingTitle, PriorityScore, Regression, Severity, Verification,
        VerificationResult,
    };
    let start: DateTime<Utc> = "2026-05-01T08:00:00Z".parse().unwrap();
    (0..n)
        .map(|i| {
            let id = FindingId::generate();
            let created = start + Duration::minutes(i as i64 * 3);
            let score = PriorityScore::parse((i % 1001) as i64).unwrap();
            let state = |status| FindingState {
                status,
                priority_score: score,
            };
            let mut history = vec![
                (created, state(FindingStatus::New)),
                (created + Duration::hours(5), state(FindingStatus::Triaged)),
            ];
            let mut verifications = Vec::new();
            let mut regressions = Vec::new();
            if i % 3 == 0 {
                let verified = created + Duration::days(2);
                verifications.push(Verification {
                    id: VerificationId::generate(),
                    finding_id: id,
                    result: VerificationResult::Passed,
                    occurred_at: verified,
                });
                history.push((verified, state(FindingStatus::Resolved)));
                if i % 9 == 0 {
                    let mut regression = Regression::open(id, verified + Duration::days(1));
                    if i % 18 == 0 {
                        regression.closed_at = Some(verified + Duration::days(3));
                    }
                    regressions.push(regression);
                }
            }
            let (updated_at, last) = *history.last().unwrap();
            krafter_postgres::seed::BulkFinding {
                finding: Finding {
                    id,
                    title: FindingTitle::parse(&format!("Bulk finding {i}")).unwrap(),
                    severity: Severity::ALL[i % Severity::ALL.len()],
                    state: last,
                    created_at: created,
                    updated_at,
                    due_on: None,
                    provenance: Default::default(),
                },
                history,
                verifications,
                regressions,
            }
        })
        .collect()
}

#[tokio::test]
async fn a_bulk_history_is_stored_as_given_with_exact_totals() {
    let fx = Fixture::new().await;
    let findings = bulk_findings(12_000);
    let calls = Mutex::new(Vec::new());
    let written = krafter_postgres::seed::bulk_history(
        &fx.store,
        fx.project.id,
        findings.clone().into_iter(),
        &|done| calls.lock().unwrap().push(done),
    )
    .await
    .unwrap();
    assert_eq!(written, 12_000);
    assert_eq!(calls.into_inner().unwrap(), [5_000, 10_000, 12_000]);

    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(history.findings.len(), 12_000);
    let events: usize = findings.iter().map(|f| f.history.len()).sum();
    assert_eq!(
        history
            .findings
            .iter()
            .map(|f| f.events.len())
            .sum::<usize>(),
        events
    );
    assert_eq!(history.verifications.len(), 4_000);
    assert_eq!(history.regressions.len(), 1_334);
    assert_eq!(
        history
            .regressions
            .iter()
            .filter(|r| r.closed_at.is_some())
            .count(),
        667
    );
    crate::assert_totals_replay_history(&fx.store, fx.project.id).await;

    // Nothing half-written: a second write of the same ids fails and leaves the first intact.
    assert!(krafter_postgres::seed::bulk_history(
        &fx.store,
        fx.project.id,
        findings.into_iter().take(10),
        &|_| {},
    )
    .await
    .is_err());
    assert_eq!(fx.count("SELECT count(*) FROM findings").await, 12_000);
}
