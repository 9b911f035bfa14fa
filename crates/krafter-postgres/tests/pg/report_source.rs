use std::cmp::Reverse;
use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{DateTime, Days, NaiveDate, NaiveTime, TimeDelta, Utc};
use krafter_domain::export::{ReportFinding, ReportSource, ReportSourceError};
use krafter_domain::ids::{FindingId, ProjectId};
use krafter_domain::ledger::{
    Finding, FindingQuery, FindingState, FindingStatus, LedgerRepository, ProjectHistory,
};
use krafter_domain::page::PageLimit;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};
use krafter_postgres::PgStore;

use crate::{at, change_to, new_finding, state, Fixture};

use FindingStatus::*;

fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Every finding of the project, as it is now.
async fn all_findings(store: &PgStore, project: ProjectId) -> HashMap<FindingId, Finding> {
    let mut found = HashMap::new();
    let mut after = None;
    loop {
        let query = FindingQuery {
            source: None,
            status: None,
            limit: PageLimit::parse(Some("100")).unwrap(),
            after,
        };
        let page = store.list_findings(project, &query).await.unwrap();
        found.extend(page.items.into_iter().map(|f| (f.id, f)));
        match page.next {
            Some(next) => after = Some(next),
            None => return found,
        }
    }
}

/// The report's findings recomputed from the history: each finding's state after its last
/// event before the end of `as_of`, if that state is open; highest priority first, then by id.
fn recomputed(
    history: &ProjectHistory,
    findings: &HashMap<FindingId, Finding>,
    as_of: NaiveDate,
) -> Vec<ReportFinding> {
    let end = (as_of + Days::new(1)).and_time(NaiveTime::MIN).and_utc();
    let mut open: Vec<ReportFinding> = history
        .findings
        .iter()
        .filter_map(|h| {
            let (at, state) = h.events.iter().rfind(|(at, _)| *at < end)?;
            let f = &findings[&h.finding_id];
            (!state.status.is_terminal()).then(|| ReportFinding {
                id: f.id,
                title: f.title.as_str().to_owned(),
                severity: f.severity,
                status: state.status,
                priority_score: state.priority_score.get(),
                created_at: f.created_at,
                updated_at: *at,
                due_on: f.due_on,
                provenance: f.provenance.clone(),
            })
        })
        .collect();
    open.sort_by_key(|f| (Reverse(f.priority_score), f.id));
    open
}

/// Every batch's size, and the findings of all batches in order; checks that the end stays
/// the end.
async fn stream(
    store: &PgStore,
    project: ProjectId,
    as_of: NaiveDate,
    batch_size: usize,
) -> (Vec<usize>, Vec<ReportFinding>) {
    let mut batches = store
        .open_findings(project, as_of, batch_size)
        .await
        .unwrap();
    let mut sizes = Vec::new();
    let mut all = Vec::new();
    while let Some(batch) = batches.next_batch().await.unwrap() {
        sizes.push(batch.len());
        all.extend(batch);
    }
    assert!(batches.next_batch().await.unwrap().is_none());
    (sizes, all)
}

async fn create(fx: &Fixture, title: &str, state: FindingState, at: DateTime<Utc>) -> FindingId {
    let finding = new_finding(title, state, at);
    fx.store
        .create_finding(fx.project.id, &finding)
        .await
        .unwrap();
    finding.id
}

async fn change(fx: &Fixture, id: FindingId, state: FindingState, at: DateTime<Utc>) {
    fx.store
        .change_finding(fx.project.id, id, change_to(state, at))
        .await
        .unwrap();
}

#[tokio::test]
async fn names_are_the_organisation_the_slug_and_the_project_name() {
    let fx = Fixture::new().await;
    assert_eq!(
        fx.store.names(fx.project.id).await.unwrap(),
        ("Acme".to_owned(), "web".to_owned(), "web".to_owned())
    );
    assert!(matches!(
        fx.store.names(ProjectId::generate()).await,
        Err(ReportSourceError::UnknownProject)
    ));
}

#[tokio::test]
async fn open_findings_as_of_a_day_follow_the_history() {
    let fx = Fixture::new().await;
    let a = create(&fx, "A", state(New, 500), at("2026-06-01T10:00:00Z")).await;
    change(&fx, a, state(Resolved, 500), at("2026-06-02T09:00:00Z")).await;
    // Reopened two days later.
    change(&fx, a, state(Triaged, 700), at("2026-06-04T11:00:00Z")).await;
    let b = create(&fx, "B", state(InProgress, 300), at("2026-06-01T12:00:00Z")).await;
    // At midnight exactly: the change belongs to the 3rd.
    change(&fx, b, state(Dismissed, 300), at("2026-06-03T00:00:00Z")).await;
    let c = create(&fx, "C", state(New, 900), at("2026-06-03T08:00:00Z")).await;
    let d = create(
        &fx,
        "D",
        state(ReadyVerify, 500),
        at("2026-06-02T15:00:00Z"),
    )
    .await;
    change(&fx, d, state(ReadyVerify, 100), at("2026-06-04T10:00:00Z")).await;
    let e = create(&fx, "E", state(New, 500), at("2026-06-02T16:00:00Z")).await;
    // The last microsecond of the 5th.
    let f = create(&fx, "F", state(New, 50), at("2026-06-05T23:59:59.999999Z")).await;
    let other = fx.project("api").await;
    let elsewhere = new_finding("X", state(New, 999), at("2026-06-01T00:00:00Z"));
    fx.store.create_finding(other.id, &elsewhere).await.unwrap();

    let history = fx.store.history(fx.project.id).await.unwrap();
    let findings = all_findings(&fx.store, fx.project.id).await;
    let ids = |v: &[ReportFinding]| v.iter().map(|f| f.id).collect::<Vec<_>>();
    let (de_first, de_second) = if d < e { (d, e) } else { (e, d) };
    let mut expected_ids = HashMap::new();
    expected_ids.insert(day("2026-05-31"), vec![]);
    expected_ids.insert(day("2026-06-01"), vec![a, b]);
    expected_ids.insert(day("2026-06-02"), vec![de_first, de_second, b]);
    expected_ids.insert(day("2026-06-03"), vec![c, de_first, de_second]);
    expected_ids.insert(day("2026-06-04"), vec![c, a, e, d]);
    expected_ids.insert(day("2026-06-05"), vec![c, a, e, d, f]);
    expected_ids.insert(day("2026-06-06"), vec![c, a, e, d, f]);
    for (as_of, expected) in &expected_ids {
        let (sizes, streamed) = stream(&fx.store, fx.project.id, *as_of, 3).await;
        assert_eq!(ids(&streamed), *expected, "as of {as_of}");
        assert_eq!(
            streamed,
            recomputed(&history, &findings, *as_of),
            "as of {as_of}"
        );
        assert!(sizes.iter().all(|&n| (1..=3).contains(&n)));
    }
    // Each as it was then: A reopened with its new priority and the time of that change.
    let (_, at_4th) = stream(&fx.store, fx.project.id, day("2026-06-04"), 100).await;
    let reopened = at_4th.iter().find(|x| x.id == a).unwrap();
    assert_eq!(
        (
            reopened.status,
            reopened.priority_score,
            reopened.updated_at
        ),
        (Triaged, 700, at("2026-06-04T11:00:00Z"))
    );
    assert_eq!(reopened.created_at, at("2026-06-01T10:00:00Z"));
    assert_eq!(reopened.title, "A");
    let (_, at_1st) = stream(&fx.store, fx.project.id, day("2026-06-01"), 100).await;
    assert_eq!(
        (
            at_1st[0].status,
            at_1st[0].priority_score,
            at_1st[0].updated_at
        ),
        (New, 500, at("2026-06-01T10:00:00Z"))
    );
}

#[tokio::test]
async fn batches_hold_at_most_the_batch_size_in_priority_order() {
    let fx = Fixture::new().await;
    for i in 0..20 {
        // Priorities with ties, in an order unrelated to creation.
        let score = (i * 7 % 10) * 100;
        create(
            &fx,
            &format!("finding {i}"),
            state(FindingStatus::ALL[i as usize % 4], score),
            at("2026-06-01T10:00:00Z") + TimeDelta::minutes(i),
        )
        .await;
    }
    let history = fx.store.history(fx.project.id).await.unwrap();
    let findings = all_findings(&fx.store, fx.project.id).await;
    let as_of = day("2026-06-02");
    let expected = recomputed(&history, &findings, as_of);
    assert_eq!(expected.len(), 20);

    for (batch_size, sizes) in [
        (7, vec![7, 7, 6]),
        (10, vec![10, 10]),
        (25, vec![20]),
        (0, vec![1; 20]),
    ] {
        let streamed = stream(&fx.store, fx.project.id, as_of, batch_size).await;
        assert_eq!(
            streamed,
            (sizes, expected.clone()),
            "batches of {batch_size}"
        );
    }
    // A project without findings has no batch at all.
    let empty = fx.project("empty").await;
    assert_eq!(
        stream(&fx.store, empty.id, as_of, 7).await,
        (vec![], vec![])
    );
}

/// As of today (or later), the findings are read as they are now.
#[tokio::test]
async fn as_of_today_the_current_state_is_read() {
    let fx = Fixture::new().await;
    let now = Utc::now();
    let today = now.date_naive();
    let midnight = today.and_time(NaiveTime::MIN).and_utc();
    let resolved = create(&fx, "resolved", state(New, 400), now - TimeDelta::days(2)).await;
    change(
        &fx,
        resolved,
        state(Resolved, 400),
        now - TimeDelta::days(1),
    )
    .await;
    let old = create(&fx, "old", state(Triaged, 600), now - TimeDelta::days(2)).await;
    let new = create(&fx, "new", state(New, 600), midnight).await;
    let moved = create(&fx, "moved", state(New, 10), now - TimeDelta::days(1)).await;
    change(&fx, moved, state(InProgress, 20), midnight).await;

    let history = fx.store.history(fx.project.id).await.unwrap();
    let findings = all_findings(&fx.store, fx.project.id).await;
    let (first, second) = if old < new { (old, new) } else { (new, old) };
    for as_of in [today, today + Days::new(1)] {
        let (_, streamed) = stream(&fx.store, fx.project.id, as_of, 2).await;
        assert_eq!(streamed, recomputed(&history, &findings, as_of));
        let current: Vec<(FindingId, FindingStatus, i32, DateTime<Utc>)> = [first, second, moved]
            .iter()
            .map(|id| {
                let f = &findings[id];
                (
                    f.id,
                    f.state.status,
                    f.state.priority_score.get(),
                    f.updated_at,
                )
            })
            .collect();
        let read: Vec<_> = streamed
            .iter()
            .map(|f| (f.id, f.status, f.priority_score, f.updated_at))
            .collect();
        assert_eq!(read, current);
    }
    // Yesterday, from the history: `moved` as it was then, `new` not there yet, `resolved` gone.
    let yesterday = today - Days::new(1);
    let (_, streamed) = stream(&fx.store, fx.project.id, yesterday, 2).await;
    assert_eq!(streamed, recomputed(&history, &findings, yesterday));
    let read: Vec<_> = streamed
        .iter()
        .map(|f| (f.id, f.status, f.priority_score))
        .collect();
    assert_eq!(read, [(old, Triaged, 600), (moved, New, 10)]);
}

#[tokio::test]
async fn a_synthetic_history_streams_as_recomputed() {
    let fx = Fixture::new().await;
    let spec = SyntheticSpec {
        findings: 2_000,
        verifications: 0,
        regressions: 0,
        days: 30,
        end: day("2026-06-10"),
    };
    synthetic_history(&fx.store, fx.project.id, &spec, &|_| {})
        .await
        .unwrap();
    let history = fx.store.history(fx.project.id).await.unwrap();
    let findings = all_findings(&fx.store, fx.project.id).await;
    for as_of in [
        "2026-05-10",
        "2026-05-12",
        "2026-05-25",
        "2026-06-09",
        "2026-06-10",
    ] {
        let as_of = day(as_of);
        let expected = recomputed(&history, &findings, as_of);
        let (sizes, streamed) = stream(&fx.store, fx.project.id, as_of, 500).await;
        assert_eq!(streamed.len(), expected.len(), "as of {as_of}");
        assert_eq!(streamed, expected, "as of {as_of}");
        assert!(sizes.iter().all(|&n| n <= 500));
    }
}

/// Batches dropped before the end close their connection: no transaction is left open, and
/// the pool keeps working.
#[tokio::test]
async fn batches_dropped_early_leave_no_transaction_behind() {
    let fx = Fixture::new().await;
    for i in 0..10 {
        create(
            &fx,
            &format!("finding {i}"),
            state(New, i * 10),
            at("2026-06-01T10:00:00Z"),
        )
        .await;
    }
    // A pool of one: the connection must come back usable, or be replaced.
    let store = PgStore::connect(fx.db.url(), 1).await.unwrap();
    // A batch size no other test uses, to recognise this test's cursor among the sessions.
    let fetching = "SELECT count(*) FROM pg_stat_activity \
                     WHERE state = 'idle in transaction' \
                       AND query = 'FETCH FORWARD 9 FROM krafter_report_findings'";
    let mut batches = store
        .open_findings(fx.project.id, day("2026-06-02"), 9)
        .await
        .unwrap();
    assert_eq!(batches.next_batch().await.unwrap().unwrap().len(), 9);
    assert_eq!(fx.count(fetching).await, 1);
    drop(batches);
    let deadline = Instant::now() + Duration::from_secs(10);
    while fx.count(fetching).await != 0 {
        assert!(Instant::now() < deadline, "the transaction stayed open");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        store.names(fx.project.id).await.unwrap().1,
        "web".to_owned()
    );
    let (sizes, _) = stream(&store, fx.project.id, day("2026-06-02"), 4).await;
    assert_eq!(sizes, [4, 4, 2]);
}
