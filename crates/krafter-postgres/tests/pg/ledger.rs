use std::collections::BTreeMap;

use krafter_domain::ids::VerificationId;
use krafter_domain::ids::{FindingId, RegressionId};
use krafter_domain::ledger::{
    Decide, Finding, FindingCursor, FindingHistory, FindingQuery, FindingStatus, LedgerRepoError,
    LedgerRepository, Regression, RegressionStatus, Rejection, Verification, VerificationResult,
};
use krafter_domain::page::PageLimit;

use crate::{assert_totals_replay_history, at, change_to, new_finding, refuse, state, Fixture};

use FindingStatus::*;

fn verify(result: VerificationResult, occurred_at: &str) -> Decide<Finding, Verification> {
    let occurred_at = at(occurred_at);
    Box::new(move |f: &Finding| {
        Ok(Verification {
            id: VerificationId::generate(),
            finding_id: f.id,
            result,
            occurred_at,
        })
    })
}

fn open_at(occurred_at: &str) -> Decide<Finding, Regression> {
    let occurred_at = at(occurred_at);
    Box::new(move |f: &Finding| Ok(Regression::open(f.id, occurred_at)))
}

fn close_at(occurred_at: &str) -> Decide<Regression, Regression> {
    let occurred_at = at(occurred_at);
    Box::new(move |r: &Regression| Ok(r.transition(RegressionStatus::Closed, occurred_at)?))
}

fn all(status: Option<FindingStatus>, limit: u32) -> FindingQuery {
    FindingQuery {
        status,
        source: None,
        limit: PageLimit::parse(Some(&limit.to_string())).unwrap(),
        after: None,
    }
}

#[tokio::test]
async fn a_created_finding_has_its_creation_event_and_delta() {
    let fx = Fixture::new().await;
    let f = new_finding(
        "SQL injection",
        state(Triaged, 400),
        at("2026-06-01T10:00:00.654321Z"),
    );
    fx.store.create_finding(fx.project.id, &f).await.unwrap();

    let page = fx
        .store
        .list_findings(fx.project.id, &all(None, 50))
        .await
        .unwrap();
    assert_eq!(page.items, vec![f.clone()]);
    assert_eq!(page.next, None);
    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(
        history.findings,
        vec![FindingHistory {
            finding_id: f.id,
            events: vec![(f.created_at, f.state)],
        }]
    );
    let totals = fx.store.daily_totals(fx.project.id).await.unwrap();
    assert_eq!(totals.len(), 1);
    let day = totals[&"2026-06-01".parse().unwrap()];
    assert_eq!(
        (
            day.open_risk_score,
            day.open_findings,
            day.terminal_findings
        ),
        (400, 1, 0)
    );
}

#[tokio::test]
async fn a_taken_finding_id_is_refused_and_writes_nothing() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(Triaged, 400), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let again = krafter_domain::ledger::Finding {
        title: krafter_domain::ledger::FindingTitle::parse("Another").unwrap(),
        ..new_finding("x", state(Triaged, 900), at("2026-06-02T10:00:00Z"))
    };
    let again = krafter_domain::ledger::Finding { id: f.id, ..again };
    assert!(matches!(
        fx.store.create_finding(fx.project.id, &again).await,
        Err(LedgerRepoError::FindingExists)
    ));
    assert_eq!(fx.count("SELECT count(*) FROM finding_events").await, 1);
    assert_eq!(fx.store.daily_totals(fx.project.id).await.unwrap().len(), 1);
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn a_change_appends_an_event_and_moves_the_finding() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(New, 100), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();

    let changed = fx
        .store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(InProgress, 250), at("2026-06-02T11:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(
        changed,
        Finding {
            state: state(InProgress, 250),
            updated_at: at("2026-06-02T11:00:00Z"),
            ..f.clone()
        }
    );
    let resolved = fx
        .store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(Resolved, 250), at("2026-06-03T12:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(resolved.state, state(Resolved, 250));

    let listed = fx
        .store
        .list_findings(fx.project.id, &all(None, 50))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![resolved]);
    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(
        history.findings[0].events,
        vec![
            (at("2026-06-01T10:00:00Z"), state(New, 100)),
            (at("2026-06-02T11:00:00Z"), state(InProgress, 250)),
            (at("2026-06-03T12:00:00Z"), state(Resolved, 250)),
        ]
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM finding_events WHERE seq = 2")
            .await,
        1
    );
    let totals = fx.store.daily_totals(fx.project.id).await.unwrap();
    let risk: Vec<(String, i64)> = totals
        .iter()
        .map(|(d, t)| (d.to_string(), t.open_risk_score))
        .collect();
    assert_eq!(
        risk,
        [
            ("2026-06-01".to_string(), 100),
            ("2026-06-02".to_string(), 150),
            ("2026-06-03".to_string(), -250)
        ]
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn a_change_that_decides_nothing_writes_nothing() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(New, 100), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let before = fx.store.daily_totals(fx.project.id).await.unwrap();

    let same = fx
        .store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(New, 100), at("2026-06-02T00:00:00Z")),
        )
        .await
        .unwrap();
    assert_eq!(same, f);
    assert_eq!(fx.count("SELECT count(*) FROM finding_events").await, 1);
    assert_eq!(fx.store.daily_totals(fx.project.id).await.unwrap(), before);
}

#[tokio::test]
async fn rejections_leave_nothing_written() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(New, 100), at("2026-06-05T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let regression = fx
        .store
        .open_regression(fx.project.id, f.id, open_at("2026-06-06T00:00:00Z"))
        .await
        .unwrap();
    let totals = fx.store.daily_totals(fx.project.id).await.unwrap();
    let history = fx.store.history(fx.project.id).await.unwrap();

    let err = fx
        .store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(Resolved, 100), at("2026-06-04T00:00:00Z")),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerRepoError::Rejected(Rejection::Invalid(_))),
        "{err:?}"
    );
    let err = fx
        .store
        .add_verification(fx.project.id, f.id, refuse())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::Rejected(_)), "{err:?}");
    let err = fx
        .store
        .open_regression(fx.project.id, f.id, refuse())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::Rejected(_)), "{err:?}");
    let err = fx
        .store
        .close_regression(fx.project.id, regression.id, refuse())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::Rejected(_)), "{err:?}");

    assert_eq!(fx.store.daily_totals(fx.project.id).await.unwrap(), totals);
    assert_eq!(fx.store.history(fx.project.id).await.unwrap(), history);
    let listed = fx
        .store
        .list_findings(fx.project.id, &all(None, 50))
        .await
        .unwrap();
    assert_eq!(listed.items, vec![f]);
}

#[tokio::test]
async fn another_projects_findings_and_regressions_are_not_found() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let f = new_finding("XSS", state(New, 100), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let regression = fx
        .store
        .open_regression(fx.project.id, f.id, open_at("2026-06-02T00:00:00Z"))
        .await
        .unwrap();
    let snapshot = (
        fx.store.history(fx.project.id).await.unwrap(),
        fx.store.daily_totals(fx.project.id).await.unwrap(),
    );

    let err = fx
        .store
        .change_finding(
            other.id,
            f.id,
            change_to(state(Resolved, 1), at("2026-06-03T00:00:00Z")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
    let err = fx
        .store
        .add_verification(
            other.id,
            f.id,
            verify(VerificationResult::Passed, "2026-06-03T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
    let err = fx
        .store
        .open_regression(other.id, f.id, open_at("2026-06-03T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
    let err = fx
        .store
        .close_regression(other.id, regression.id, close_at("2026-06-03T00:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerRepoError::RegressionNotFound),
        "{err:?}"
    );
    let err = fx
        .store
        .change_finding(
            fx.project.id,
            FindingId::generate(),
            change_to(state(New, 1), at("2026-06-03T00:00:00Z")),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
    let err = fx
        .store
        .close_regression(
            fx.project.id,
            RegressionId::generate(),
            close_at("2026-06-03T00:00:00Z"),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerRepoError::RegressionNotFound),
        "{err:?}"
    );

    let listed = fx
        .store
        .list_findings(other.id, &all(None, 50))
        .await
        .unwrap();
    assert!(listed.items.is_empty() && listed.next.is_none());
    assert_eq!(
        fx.store.history(other.id).await.unwrap(),
        Default::default()
    );
    assert_eq!(
        fx.store.daily_totals(other.id).await.unwrap(),
        BTreeMap::new()
    );
    assert_eq!(
        (
            fx.store.history(fx.project.id).await.unwrap(),
            fx.store.daily_totals(fx.project.id).await.unwrap(),
        ),
        snapshot
    );
}

#[tokio::test]
async fn verifications_are_stored_with_their_delta() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(ReadyVerify, 100), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let failed = fx
        .store
        .add_verification(
            fx.project.id,
            f.id,
            verify(VerificationResult::Failed, "2026-06-02T10:00:00Z"),
        )
        .await
        .unwrap();
    let passed = fx
        .store
        .add_verification(
            fx.project.id,
            f.id,
            verify(VerificationResult::Passed, "2026-06-02T11:00:00Z"),
        )
        .await
        .unwrap();
    assert_eq!(failed.finding_id, f.id);
    assert_eq!(passed.result, VerificationResult::Passed);
    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(history.verifications, vec![failed, passed]);
    let day = fx.store.daily_totals(fx.project.id).await.unwrap()[&"2026-06-02".parse().unwrap()];
    assert_eq!((day.verifications, day.verifications_passed), (2, 1));
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn a_regression_opens_and_closes_once() {
    let fx = Fixture::new().await;
    let f = new_finding("XSS", state(Resolved, 100), at("2026-06-01T10:00:00Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    let opened = fx
        .store
        .open_regression(fx.project.id, f.id, open_at("2026-06-02T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        (opened.finding_id, opened.opened_at, opened.closed_at),
        (f.id, at("2026-06-02T10:00:00Z"), None)
    );
    let closed = fx
        .store
        .close_regression(fx.project.id, opened.id, close_at("2026-06-04T10:00:00Z"))
        .await
        .unwrap();
    assert_eq!(
        closed,
        Regression {
            closed_at: Some(at("2026-06-04T10:00:00Z")),
            ..opened.clone()
        }
    );
    let err = fx
        .store
        .close_regression(fx.project.id, opened.id, close_at("2026-06-05T10:00:00Z"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, LedgerRepoError::Rejected(Rejection::Transition(_))),
        "{err:?}"
    );

    let history = fx.store.history(fx.project.id).await.unwrap();
    assert_eq!(history.regressions, vec![closed]);
    let totals = fx.store.daily_totals(fx.project.id).await.unwrap();
    let regressions: Vec<(String, i64)> = totals
        .iter()
        .map(|(d, t)| (d.to_string(), t.open_regressions))
        .collect();
    assert_eq!(
        regressions,
        [
            ("2026-06-01".to_string(), 0),
            ("2026-06-02".to_string(), 1),
            ("2026-06-04".to_string(), -1)
        ]
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

/// Pages through a listing, checking every page but the last is full and points at its last item.
async fn pages(fx: &Fixture, status: Option<FindingStatus>, limit: u32) -> Vec<Vec<Finding>> {
    let mut query = all(status, limit);
    let mut pages = Vec::new();
    loop {
        let page = fx.store.list_findings(fx.project.id, &query).await.unwrap();
        match page.next {
            Some(cursor) => {
                assert_eq!(page.items.len(), limit as usize);
                assert_eq!(Some(cursor), page.items.last().map(FindingCursor::after));
                // The cursor survives its trip through a client.
                query.after = Some(FindingCursor::parse(&cursor.encode()).unwrap());
                pages.push(page.items);
            }
            None => {
                pages.push(page.items);
                return pages;
            }
        }
    }
}

#[tokio::test]
async fn listings_are_newest_first_across_pages_with_and_without_a_status() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let statuses = [New, Triaged, Resolved];
    let mut created = Vec::new();
    for i in 0..23u32 {
        // Several findings share a creation time, so that ids break the ties.
        let t = at("2026-05-01T00:00:00Z") + chrono::Duration::minutes(i64::from(i / 3));
        let f = new_finding(
            &format!("finding {i}"),
            state(statuses[i as usize % 3], i64::from(i)),
            t,
        );
        fx.store.create_finding(fx.project.id, &f).await.unwrap();
        created.push(f);
    }
    let noise = new_finding("elsewhere", state(New, 1), at("2026-05-01T00:03:00Z"));
    fx.store.create_finding(other.id, &noise).await.unwrap();
    // One of them moves from new to triaged: the filter sees its current status.
    let moved = fx
        .store
        .change_finding(
            fx.project.id,
            created[0].id,
            change_to(state(Triaged, 0), at("2026-05-02T00:00:00Z")),
        )
        .await
        .unwrap();
    created[0] = moved;

    let mut newest_first = created.clone();
    newest_first.sort_by_key(|f| std::cmp::Reverse((f.created_at, f.id)));

    let got = pages(&fx, None, 5).await;
    assert_eq!(
        got.iter().map(Vec::len).collect::<Vec<_>>(),
        [5, 5, 5, 5, 3]
    );
    assert_eq!(got.concat(), newest_first);

    let triaged: Vec<Finding> = newest_first
        .iter()
        .filter(|f| f.state.status == Triaged)
        .cloned()
        .collect();
    assert_eq!(triaged.len(), 9);
    let got = pages(&fx, Some(Triaged), 4).await;
    assert_eq!(got.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 1]);
    assert_eq!(got.concat(), triaged);

    // A page that ends exactly at the last item has no next page.
    let got = pages(&fx, Some(Triaged), 9).await;
    assert_eq!(got, vec![triaged]);
    let got = pages(&fx, Some(Dismissed), 10).await;
    assert_eq!(got, vec![Vec::<Finding>::new()]);
}

#[tokio::test]
async fn a_finding_is_read_back_with_its_history_verifications_and_regressions() {
    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let f = new_finding("XSS", state(New, 100), at("2026-06-01T10:00:00.123456Z"));
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    // Another finding of the project, whose records must not show up.
    let g = new_finding("CSRF", state(New, 5), at("2026-06-01T11:00:00Z"));
    fx.store.create_finding(fx.project.id, &g).await.unwrap();
    fx.store
        .add_verification(
            fx.project.id,
            g.id,
            verify(VerificationResult::Failed, "2026-06-01T12:00:00Z"),
        )
        .await
        .unwrap();
    fx.store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(Triaged, 100), at("2026-06-02T00:00:00Z")),
        )
        .await
        .unwrap();
    fx.store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(Triaged, 400), at("2026-06-03T00:00:00Z")),
        )
        .await
        .unwrap();
    let failed = fx
        .store
        .add_verification(
            fx.project.id,
            f.id,
            verify(VerificationResult::Failed, "2026-06-03T01:00:00Z"),
        )
        .await
        .unwrap();
    let passed = fx
        .store
        .add_verification(
            fx.project.id,
            f.id,
            verify(VerificationResult::Passed, "2026-06-03T02:00:00Z"),
        )
        .await
        .unwrap();
    let now = fx
        .store
        .change_finding(
            fx.project.id,
            f.id,
            change_to(state(Resolved, 400), at("2026-06-04T00:00:00Z")),
        )
        .await
        .unwrap();
    let first = fx
        .store
        .open_regression(fx.project.id, f.id, open_at("2026-06-05T00:00:00Z"))
        .await
        .unwrap();
    let first = fx
        .store
        .close_regression(fx.project.id, first.id, close_at("2026-06-06T00:00:00Z"))
        .await
        .unwrap();
    let second = fx
        .store
        .open_regression(fx.project.id, f.id, open_at("2026-06-07T00:00:00Z"))
        .await
        .unwrap();

    let detail = fx.store.finding(fx.project.id, f.id).await.unwrap();
    assert_eq!(detail.finding, now);
    assert_eq!(
        detail.history,
        vec![
            (at("2026-06-01T10:00:00.123456Z"), state(New, 100)),
            (at("2026-06-02T00:00:00Z"), state(Triaged, 100)),
            (at("2026-06-03T00:00:00Z"), state(Triaged, 400)),
            (at("2026-06-04T00:00:00Z"), state(Resolved, 400)),
        ]
    );
    assert_eq!(detail.verifications, vec![failed, passed]);
    assert_eq!(detail.regressions, vec![first, second]);

    let err = fx.store.finding(other.id, f.id).await.unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
    let err = fx
        .store
        .finding(fx.project.id, FindingId::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, LedgerRepoError::FindingNotFound), "{err:?}");
}
