//! Integration tests of the PostgreSQL adapter: each test gets a migrated schema of its own.
//!
//! Run with `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo test -p krafter-postgres`.

mod api_keys;
mod concurrency;
mod exports;
mod imports;
mod jobs;
mod ledger;
mod metrics;
mod migrations;
mod organisations;
mod pool;
mod projects;
mod regression_rate;
mod remediation;
mod report_source;
mod seed;
mod vectors;

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use diesel::sql_types::BigInt;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::ids::{FindingId, OrgId, ProjectId};
use krafter_domain::ledger::{
    Decide, Finding, FindingChange, FindingState, FindingStatus, FindingTitle, PriorityScore,
    Rejection, Severity,
};
use krafter_domain::metrics::remediation::{reference as remediation_reference, EffectivePolicy};
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository, ProjectSlug};
use krafter_domain::InvalidParams;
use krafter_postgres::PgStore;
use krafter_test_support::TestDatabase;

/// A migrated schema, a store over it, and one organisation with one project.
pub struct Fixture {
    pub store: PgStore,
    pub org: Organisation,
    pub project: Project,
    // Dropped last: drops the schema.
    pub db: TestDatabase,
}

impl Fixture {
    pub async fn new() -> Self {
        let db = TestDatabase::new().await;
        let store = PgStore::connect(db.url(), 8).await.expect("connect");
        let org = organisation(&store, "Acme").await;
        let project = project(&store, org.id, "web").await;
        Self {
            store,
            org,
            project,
            db,
        }
    }

    /// Another project of the fixture's organisation.
    pub async fn project(&self, slug: &str) -> Project {
        project(&self.store, self.org.id, slug).await
    }

    /// A plain connection to the test schema, for checking what was written.
    pub async fn sql(&self) -> AsyncPgConnection {
        AsyncPgConnection::establish(self.db.url())
            .await
            .expect("connect")
    }

    /// `SELECT count(*) …` over the test schema.
    pub async fn count(&self, sql: &str) -> i64 {
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = BigInt)]
            n: i64,
        }
        let rows: Vec<Count> = diesel::sql_query(format!("SELECT ({sql}) AS n"))
            .load(&mut self.sql().await)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        rows[0].n
    }
}

pub async fn organisation(store: &PgStore, name: &str) -> Organisation {
    let org = Organisation {
        id: OrgId::generate(),
        name: name.into(),
        created_at: at("2026-01-01T00:00:00Z"),
    };
    OrganisationRepository::create(store, &org)
        .await
        .expect("create organisation");
    org
}

pub async fn project(store: &PgStore, org: OrgId, slug: &str) -> Project {
    let project = Project::new(
        org,
        ProjectSlug::parse(slug).unwrap(),
        None,
        at("2026-01-02T00:00:00Z"),
    )
    .unwrap();
    ProjectRepository::create(store, &project)
        .await
        .expect("create project");
    project
}

pub fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

pub fn state(status: FindingStatus, score: i64) -> FindingState {
    FindingState {
        status,
        priority_score: PriorityScore::parse(score).unwrap(),
    }
}

/// A high finding, with the due date the store gives it under the default SLA policy (30 days).
pub fn new_finding(title: &str, state: FindingState, created_at: DateTime<Utc>) -> Finding {
    Finding {
        id: FindingId::generate(),
        title: FindingTitle::parse(title).unwrap(),
        severity: Severity::High,
        state,
        created_at,
        updated_at: created_at,
        due_on: Some(created_at.date_naive() + chrono::Days::new(30)),
        provenance: Default::default(),
    }
}

/// A decision that moves the finding to `after` at `occurred_at`, refusing (like the domain)
/// a time before its latest change, and recording nothing when the state would not change.
pub fn change_to(
    after: FindingState,
    occurred_at: DateTime<Utc>,
) -> Decide<Finding, Option<FindingChange>> {
    Box::new(move |f: &Finding| {
        if occurred_at < f.updated_at {
            return Err(Rejection::Invalid(InvalidParams::field(
                "occurred_at",
                "earlier than the latest change",
            )));
        }
        Ok((after != f.state).then_some(FindingChange {
            finding_id: f.id,
            occurred_at,
            before: Some(f.state),
            after,
        }))
    })
}

/// A decision that always refuses.
pub fn refuse<S, T>() -> Decide<S, T> {
    Box::new(|_: &S| Err(Rejection::Invalid(InvalidParams::field("x", "refused"))))
}

/// The project's totals (the summary's and the remediation ones, under the default SLA policy)
/// must equal a replay of its stored history, before and after a rebuild.
pub async fn assert_totals_replay_history(store: &PgStore, project: ProjectId) {
    assert_summary_totals_replay_history(store, project).await;
    assert_remediation_replays_history(store, project, &[]).await;
    assert_org_totals_sum_their_projects(store).await;
}

/// Every organisation's totals equal the sum of its projects' (the triggers' work).
pub async fn assert_org_totals_sum_their_projects(store: &PgStore) {
    assert_eq!(
        store.org_totals_differing().await.unwrap(),
        0,
        "organisation totals that differ from their projects' sums"
    );
}

/// The project's remediation totals must equal a replay of its stored history under `policies`
/// (the organisation's), before and after a rebuild.
pub async fn assert_remediation_replays_history(
    store: &PgStore,
    project: ProjectId,
    policies: &[EffectivePolicy],
) {
    use krafter_domain::ledger::LedgerRepository;
    let history = store.history(project).await.expect("history");
    let mut severities = HashMap::new();
    for finding in &history.findings {
        let stored = store
            .finding(project, finding.finding_id)
            .await
            .expect("the finding exists");
        severities.insert(finding.finding_id, stored.finding.severity);
    }
    let expected = remediation_reference::daily_deltas(&history, |id| severities[&id], policies);
    assert_eq!(
        store.remediation_totals(project).await.unwrap(),
        expected,
        "maintained remediation totals"
    );
    store
        .rebuild_remediation_totals(project)
        .await
        .expect("rebuild");
    assert_eq!(
        store.remediation_totals(project).await.unwrap(),
        expected,
        "rebuilt remediation totals"
    );
}

async fn assert_summary_totals_replay_history(store: &PgStore, project: ProjectId) {
    use krafter_domain::ledger::LedgerRepository;
    use krafter_domain::metrics::reference;
    let history = store.history(project).await.expect("history");
    let expected = reference::daily_deltas(&history);
    assert_eq!(
        store.daily_totals(project).await.unwrap(),
        expected,
        "maintained totals"
    );
    store.rebuild_daily_totals(project).await.expect("rebuild");
    assert_eq!(
        store.daily_totals(project).await.unwrap(),
        expected,
        "rebuilt totals"
    );
}
