use diesel::sql_types::Bool;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::health::{NotReady, Readiness};
use krafter_postgres::{pending_migrations, revert_all_migrations, run_migrations, PgStore};
use krafter_test_support::TestDatabase;

const TABLES: [&str; 20] = [
    "organisations",
    "projects",
    "api_keys",
    "findings",
    "finding_events",
    "verifications",
    "regressions",
    "project_daily_totals",
    "quota_usage",
    "reports",
    "jobs",
    "shares",
    "deliveries",
    "idempotency_keys",
    "sla_policies",
    "project_remediation_totals",
    "remediation_backfill",
    "org_daily_totals",
    "org_remediation_totals",
    "imports",
];

/// How many migrations the crate embeds.
const MIGRATIONS: usize = 10;

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

/// Which of the tables exist in the test schema.
async fn existing(db: &TestDatabase) -> Vec<&'static str> {
    let mut conn = AsyncPgConnection::establish(db.url()).await.unwrap();
    let mut found = Vec::new();
    for table in TABLES {
        let row: Exists = diesel::sql_query(format!(
            "SELECT to_regclass('{}.{table}') IS NOT NULL AS exists",
            db.schema()
        ))
        .get_result(&mut conn)
        .await
        .unwrap();
        if row.exists {
            found.push(table);
        }
    }
    found
}

#[tokio::test]
async fn migrations_go_up_down_and_up_again() {
    let db = TestDatabase::new().await;
    assert_eq!(existing(&db).await, TABLES);
    assert_eq!(pending_migrations(db.url()).await.unwrap(), 0);
    assert_eq!(run_migrations(db.url()).await.unwrap(), 0);

    revert_all_migrations(db.url()).await.unwrap();
    assert_eq!(existing(&db).await, Vec::<&str>::new());
    assert_eq!(pending_migrations(db.url()).await.unwrap(), MIGRATIONS);

    assert_eq!(run_migrations(db.url()).await.unwrap(), MIGRATIONS);
    assert_eq!(existing(&db).await, TABLES);
    assert_eq!(pending_migrations(db.url()).await.unwrap(), 0);
}

#[tokio::test]
async fn readiness_waits_for_the_migrations_and_then_remembers() {
    let db = TestDatabase::new().await;
    revert_all_migrations(db.url()).await.unwrap();
    let store = PgStore::connect(db.url(), 2).await.unwrap();
    match store.check().await {
        Err(NotReady::PendingMigrations(MIGRATIONS)) => {}
        other => panic!("unexpected {other:?}"),
    }
    run_migrations(db.url()).await.unwrap();
    store.check().await.unwrap();
    // Once seen applied, the answer is remembered: reverting now goes unnoticed by this store,
    // which still checks that the database answers.
    revert_all_migrations(db.url()).await.unwrap();
    store.check().await.unwrap();
    let fresh = PgStore::connect(db.url(), 2).await.unwrap();
    assert!(matches!(
        fresh.check().await,
        Err(NotReady::PendingMigrations(MIGRATIONS))
    ));
    run_migrations(db.url()).await.unwrap();
}

#[tokio::test]
async fn a_wrong_url_fails_at_connect() {
    let db = TestDatabase::new().await;
    // The same server and options, another database.
    let (base, options) = db.url().split_once('?').unwrap();
    let (server, _) = base.rsplit_once('/').unwrap();
    let wrong_database = format!("{server}/no_such_database?{options}");
    assert!(PgStore::connect(&wrong_database, 2).await.is_err());
    assert!(
        PgStore::connect("postgres://postgres@127.0.0.1:1/postgres", 2)
            .await
            .is_err()
    );
    assert!(run_migrations("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .is_err());
}

/// `2026-12-02-000004_regression_rate` recounts `returned_findings` from the history it finds:
/// undone and done again over a ledger with findings that came back (several regressions on one,
/// one on an open finding, a back-dated opening and a day that only the count moved), the totals
/// are the ones the writes had maintained, and the reference recount.
#[tokio::test]
async fn the_regression_rate_migration_backfills_the_returned_findings_exactly() {
    use diesel_async::SimpleAsyncConnection;
    use krafter_domain::ledger::{
        Finding, FindingStatus, LedgerRepository, Regression, RegressionStatus,
    };
    use krafter_domain::metrics::reference;

    use crate::{at, change_to, new_finding, state, Fixture};

    let fx = Fixture::new().await;
    let other = fx.project("other").await;
    let open = |at_: &str| {
        let opened_at = at(at_);
        Box::new(move |f: &Finding| Ok(Regression::open(f.id, opened_at)))
    };
    let close = |at_: &str| {
        let closed_at = at(at_);
        Box::new(move |r: &Regression| Ok(r.transition(RegressionStatus::Closed, closed_at)?))
    };
    let store = &fx.store;
    for project in [fx.project.id, other.id] {
        let came_back = new_finding(
            "came back",
            state(FindingStatus::New, 10),
            at("2026-06-01T10:00:00Z"),
        );
        let still_open = new_finding(
            "open",
            state(FindingStatus::New, 20),
            at("2026-06-01T10:00:00Z"),
        );
        for f in [&came_back, &still_open] {
            store.create_finding(project, f).await.unwrap();
        }
        store
            .change_finding(
                project,
                came_back.id,
                change_to(
                    state(FindingStatus::Resolved, 10),
                    at("2026-06-02T10:00:00Z"),
                ),
            )
            .await
            .unwrap();
        let late = store
            .open_regression(project, came_back.id, open("2026-06-05T10:00:00Z"))
            .await
            .unwrap();
        let early = store
            .open_regression(project, came_back.id, open("2026-06-03T10:00:00Z"))
            .await
            .unwrap();
        store
            .close_regression(project, late.id, close("2026-06-06T10:00:00Z"))
            .await
            .unwrap();
        store
            .close_regression(project, early.id, close("2026-06-07T10:00:00Z"))
            .await
            .unwrap();
        // The same day, a regression opens on the open finding: the 7th nets zero open
        // regressions, and only the returned findings moved.
        store
            .open_regression(project, still_open.id, open("2026-06-07T11:00:00Z"))
            .await
            .unwrap();
        store
            .open_regression(project, came_back.id, open("2026-06-08T10:00:00Z"))
            .await
            .unwrap();
        store
            .change_finding(
                project,
                came_back.id,
                change_to(
                    state(FindingStatus::Triaged, 10),
                    at("2026-06-09T10:00:00Z"),
                ),
            )
            .await
            .unwrap();
    }
    let maintained = store.daily_totals(fx.project.id).await.unwrap();
    let history = store.history(fx.project.id).await.unwrap();
    assert_eq!(maintained, reference::daily_deltas(&history));
    let day7 = maintained[&"2026-06-07".parse().unwrap()];
    assert_eq!((day7.open_regressions, day7.returned_findings), (0, -1));

    let sql = |name: &str, file: &str| {
        std::fs::read_to_string(format!(
            "{}/../../migrations/{name}/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let migration = |file| sql("2026-12-02-000004_regression_rate", file);
    // The organisation totals' triggers read the column this one adds: they (and the packed
    // histograms after them) are undone first, as the migrations go down in order, and done
    // again after.
    let org_totals = |file| sql("2026-12-03-000008_org_totals", file);
    let packed = |file| sql("2026-12-03-000009_packed_ttr_histograms", file);
    let remediation = store.remediation_totals(fx.project.id).await.unwrap();
    assert!(
        remediation.values().any(|d| !d.ttr_bins.is_empty()),
        "a resolution's histogram goes down and up too"
    );
    let mut conn = fx.sql().await;
    conn.batch_execute(&packed("down.sql")).await.unwrap();
    conn.batch_execute(&org_totals("down.sql")).await.unwrap();
    conn.batch_execute(&migration("down.sql")).await.unwrap();
    assert_eq!(
        fx.count(&format!(
            "SELECT count(*) FROM project_daily_totals WHERE project_id = '{}' AND day = '2026-06-07'",
            fx.project.id
        ))
        .await,
        0,
        "a day only the returned findings had moved is gone"
    );
    conn.batch_execute(&migration("up.sql")).await.unwrap();
    conn.batch_execute(&org_totals("up.sql")).await.unwrap();
    conn.batch_execute(&packed("up.sql")).await.unwrap();
    assert_eq!(store.daily_totals(fx.project.id).await.unwrap(), maintained);
    assert_eq!(store.daily_totals(other.id).await.unwrap(), maintained);
    assert_eq!(
        store.remediation_totals(fx.project.id).await.unwrap(),
        remediation
    );
    crate::assert_org_totals_sum_their_projects(store).await;
}
