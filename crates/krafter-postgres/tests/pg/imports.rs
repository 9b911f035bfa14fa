//! Imports through the PostgreSQL adapter: the matching rules on stored findings, all or
//! nothing, concurrent imports of one source, and totals that equal a replay of the history.

use std::sync::Arc;

use krafter_domain::import::{
    ImportError, ImportFormat, ImportQuery, ImportRecord, ImportRequest, Imports, ParsedImport,
    ScanResult,
};
use krafter_domain::ledger::{
    ExternalId, FindingStatus, FindingTitle, LedgerRepository, Location, PriorityScore, Severity,
    SourceName,
};
use krafter_domain::page::PageLimit;
use krafter_domain::FixedClock;

use crate::{assert_totals_replay_history, at, change_to, state, Fixture};

fn result(external_id: &str, severity: Severity) -> ScanResult {
    ScanResult {
        external_id: ExternalId::parse(external_id).unwrap(),
        title: FindingTitle::parse(&format!("Result {external_id}")).unwrap(),
        severity,
        priority_score: krafter_domain::import::default_priority(severity),
        status: FindingStatus::New,
        rule_id: None,
        location: Some(Location::parse(&format!("src/{external_id}.py:1")).unwrap()),
        description: None,
    }
}

fn document(source: &str, results: Vec<ScanResult>) -> ParsedImport {
    ParsedImport {
        format: ImportFormat::Native,
        source: SourceName::parse(source).unwrap(),
        results,
    }
}

async fn import(
    fx: &Fixture,
    document: ParsedImport,
    close_missing: bool,
    when: &str,
) -> Result<ImportRecord, ImportError> {
    let imports = Imports::new(
        Arc::new(fx.store.clone()),
        Arc::new(FixedClock(at("2026-07-01T00:00:00Z"))),
    );
    let request = ImportRequest {
        document,
        close_missing,
        occurred_at: Some(at(when)),
    };
    imports.import(fx.project.id, request).await
}

/// The finding of `source` with `external_id`, as stored.
async fn finding_of(
    fx: &Fixture,
    source: &str,
    external_id: &str,
) -> krafter_domain::ledger::Finding {
    let page = fx
        .store
        .list_findings(
            fx.project.id,
            &krafter_domain::ledger::FindingQuery {
                status: None,
                source: Some(SourceName::parse(source).unwrap()),
                limit: PageLimit::parse(Some("100")).unwrap(),
                after: None,
            },
        )
        .await
        .unwrap();
    page.items
        .into_iter()
        .find(|f| f.provenance.external_id().unwrap().as_str() == external_id)
        .unwrap_or_else(|| panic!("no finding {external_id}"))
}

fn counts(r: &ImportRecord) -> [u32; 6] {
    let c = r.counts;
    [
        c.received,
        c.created,
        c.unchanged,
        c.reopened,
        c.resolved,
        c.ignored_dismissed,
    ]
}

#[tokio::test]
async fn reimports_reopen_resolved_keep_dismissed_and_close_what_is_missing() {
    let fx = Fixture::new().await;
    let three = || {
        vec![
            result("a", Severity::High),
            result("b", Severity::Medium),
            result("c", Severity::Low),
        ]
    };
    let first = import(
        &fx,
        document("bandit", three()),
        false,
        "2026-06-01T10:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(counts(&first), [3, 3, 0, 0, 0, 0]);
    let a = finding_of(&fx, "bandit", "a").await;
    assert_eq!(a.state, state(FindingStatus::New, 700));
    assert_eq!(a.created_at, at("2026-06-01T10:00:00Z"));
    // A high finding under the default policy: due 30 days after its creation date.
    assert_eq!(a.due_on, Some("2026-07-01".parse().unwrap()));
    assert_eq!(
        a.provenance.location.as_ref().unwrap().as_str(),
        "src/a.py:1"
    );

    // The same document again changes nothing.
    let again = import(
        &fx,
        document("bandit", three()),
        false,
        "2026-06-01T11:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(counts(&again), [3, 0, 3, 0, 0, 0]);
    assert_eq!(fx.count("SELECT count(*) FROM finding_events").await, 3);

    // a is fixed, b is accepted as a risk.
    let b = finding_of(&fx, "bandit", "b").await;
    fx.store
        .change_finding(
            fx.project.id,
            a.id,
            change_to(
                state(FindingStatus::Resolved, 700),
                at("2026-06-02T00:00:00Z"),
            ),
        )
        .await
        .unwrap();
    fx.store
        .change_finding(
            fx.project.id,
            b.id,
            change_to(
                state(FindingStatus::Dismissed, 400),
                at("2026-06-02T00:00:00Z"),
            ),
        )
        .await
        .unwrap();

    // The next scan finds a and b again, c at a higher severity, and d for the first time.
    let mut next = three();
    next[2] = result("c", Severity::Critical);
    next.push(result("d", Severity::Info));
    let second = import(&fx, document("bandit", next), true, "2026-06-03T00:00:00Z")
        .await
        .unwrap();
    assert_eq!(counts(&second), [4, 1, 1, 1, 0, 1]);
    assert_eq!(
        finding_of(&fx, "bandit", "a").await.state,
        state(FindingStatus::New, 700)
    );
    assert_eq!(
        finding_of(&fx, "bandit", "b").await.state.status,
        FindingStatus::Dismissed
    );
    // The changed severity is recorded as a priority change; the severity stays as first seen.
    let c = finding_of(&fx, "bandit", "c").await;
    assert_eq!(c.state, state(FindingStatus::New, 900));
    assert_eq!(c.severity, Severity::Low);
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM regressions WHERE finding_id = '{}' AND closed_at IS NULL",
            a.id
        ))
        .await,
        1
    );

    // A scan that holds only d resolves the open findings it no longer finds: a and c.
    let third = import(
        &fx,
        document("bandit", vec![result("d", Severity::Info)]),
        true,
        "2026-06-05T00:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(counts(&third), [1, 0, 1, 0, 2, 0]);
    assert_eq!(
        finding_of(&fx, "bandit", "a").await.state.status,
        FindingStatus::Resolved
    );
    assert_eq!(
        finding_of(&fx, "bandit", "c").await.state.status,
        FindingStatus::Resolved
    );
    assert_eq!(
        finding_of(&fx, "bandit", "b").await.state.status,
        FindingStatus::Dismissed
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;

    let listed = Imports::new(
        Arc::new(fx.store.clone()),
        Arc::new(FixedClock(at("2026-07-01T00:00:00Z"))),
    )
    .list(
        fx.project.id,
        ImportQuery {
            limit: PageLimit::parse(Some("2")).unwrap(),
            after: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(listed.items.len(), 2);
    assert!(listed.next.is_some());
    // Newest first: the ids are time-ordered and the clock is fixed, so the id breaks the tie.
    assert_eq!(listed.items[0].id, third.id);
    assert_eq!(listed.items[1].id, second.id);
}

#[tokio::test]
async fn close_missing_resolves_only_the_imports_source() {
    let fx = Fixture::new().await;
    import(
        &fx,
        document("bandit", vec![result("a", Severity::High)]),
        false,
        "2026-06-01T00:00:00Z",
    )
    .await
    .unwrap();
    import(
        &fx,
        document("semgrep", vec![result("a", Severity::High)]),
        false,
        "2026-06-01T00:00:00Z",
    )
    .await
    .unwrap();
    let by_hand = crate::new_finding(
        "By hand",
        state(FindingStatus::New, 10),
        at("2026-06-01T00:00:00Z"),
    );
    fx.store
        .create_finding(fx.project.id, &by_hand)
        .await
        .unwrap();

    let emptied = import(
        &fx,
        document("bandit", vec![]),
        true,
        "2026-06-02T00:00:00Z",
    )
    .await
    .unwrap();
    assert_eq!(counts(&emptied), [0, 0, 0, 0, 1, 0]);
    assert_eq!(
        finding_of(&fx, "bandit", "a").await.state.status,
        FindingStatus::Resolved
    );
    assert_eq!(
        finding_of(&fx, "semgrep", "a").await.state.status,
        FindingStatus::New
    );
    assert_eq!(
        fx.count("SELECT count(*) FROM findings WHERE status = 4")
            .await,
        1,
        "only bandit's finding is resolved"
    );
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn a_refused_import_writes_nothing() {
    let fx = Fixture::new().await;
    import(
        &fx,
        document("bandit", vec![result("a", Severity::High)]),
        false,
        "2026-06-01T00:00:00Z",
    )
    .await
    .unwrap();
    let a = finding_of(&fx, "bandit", "a").await;
    fx.store
        .change_finding(
            fx.project.id,
            a.id,
            change_to(
                state(FindingStatus::Triaged, 700),
                at("2026-06-05T00:00:00Z"),
            ),
        )
        .await
        .unwrap();
    let before = (
        fx.count("SELECT count(*) FROM findings").await,
        fx.count("SELECT count(*) FROM finding_events").await,
        fx.count("SELECT count(*) FROM project_daily_totals").await,
        fx.count("SELECT count(*) FROM imports").await,
    );
    // A scan dated before a's latest change, which would resolve a, creates b, too: neither lands.
    let refused = import(
        &fx,
        document("bandit", vec![result("b", Severity::Low)]),
        true,
        "2026-06-03T00:00:00Z",
    )
    .await;
    match refused {
        Err(ImportError::Invalid(e)) => assert_eq!(e.fields()[0].field, "occurred_at"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let after = (
        fx.count("SELECT count(*) FROM findings").await,
        fx.count("SELECT count(*) FROM finding_events").await,
        fx.count("SELECT count(*) FROM project_daily_totals").await,
        fx.count("SELECT count(*) FROM imports").await,
    );
    assert_eq!(after, before);
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn two_imports_of_one_source_at_once_create_each_finding_once() {
    let fx = Fixture::new().await;
    let results = || {
        (0..300)
            .map(|i| result(&format!("r{i}"), Severity::Medium))
            .collect::<Vec<_>>()
    };
    let (one, two) = tokio::join!(
        import(
            &fx,
            document("bandit", results()),
            false,
            "2026-06-01T00:00:00Z"
        ),
        import(
            &fx,
            document("bandit", results()),
            false,
            "2026-06-01T00:00:00Z"
        ),
    );
    let mut created = [one.unwrap().counts.created, two.unwrap().counts.created];
    created.sort();
    assert_eq!(created, [0, 300]);
    assert_eq!(fx.count("SELECT count(*) FROM findings").await, 300);
    // And two sources at once do not wait for each other's findings: both create theirs.
    let (a, b) = tokio::join!(
        import(
            &fx,
            document("semgrep", results()),
            true,
            "2026-06-02T00:00:00Z"
        ),
        import(
            &fx,
            document("bandit", results()[..100].to_vec()),
            true,
            "2026-06-02T00:00:00Z"
        ),
    );
    assert_eq!(counts(&a.unwrap()), [300, 300, 0, 0, 0, 0]);
    assert_eq!(counts(&b.unwrap()), [100, 0, 100, 0, 200, 0]);
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}

#[tokio::test]
async fn an_imported_findings_priority_and_score_are_as_given() {
    let fx = Fixture::new().await;
    let mut given = result("x", Severity::Critical);
    given.priority_score = PriorityScore::parse(123).unwrap();
    given.status = FindingStatus::Triaged;
    import(
        &fx,
        document("pentest", vec![given]),
        false,
        "2026-06-01T00:00:00Z",
    )
    .await
    .unwrap();
    let x = finding_of(&fx, "pentest", "x").await;
    assert_eq!(x.state, state(FindingStatus::Triaged, 123));
    assert_eq!(x.due_on, Some("2026-06-08".parse().unwrap()));
    assert_totals_replay_history(&fx.store, fx.project.id).await;
}
