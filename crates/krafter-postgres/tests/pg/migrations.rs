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
const MIGRATIONS: usize = 11;

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

#[tokio::test]
async fn the_integrity_migration_goes_down_and_up_with_data_and_refuses_what_disagrees() {
    use diesel_async::SimpleAsyncConnection;
    use krafter_domain::ledger::{
        Finding, FindingStatus, LedgerRepository, Regression, Verification, VerificationResult,
    };

    use crate::{at, new_finding, state, Fixture};

    let fx = Fixture::new().await;
    let other_org = crate::organisation(&fx.store, "Other").await;
    let foreign = crate::project(&fx.store, other_org.id, "foreign").await;
    let sibling = fx.project("sibling").await;
    let f = new_finding(
        "XSS",
        state(FindingStatus::New, 10),
        at("2026-06-01T10:00:00Z"),
    );
    fx.store.create_finding(fx.project.id, &f).await.unwrap();
    fx.store
        .add_verification(
            fx.project.id,
            f.id,
            Box::new(|f: &Finding| {
                Ok(Verification {
                    id: krafter_domain::ids::VerificationId::generate(),
                    finding_id: f.id,
                    result: VerificationResult::Failed,
                    occurred_at: at("2026-06-02T10:00:00Z"),
                })
            }),
        )
        .await
        .unwrap();
    fx.store
        .open_regression(
            fx.project.id,
            f.id,
            Box::new(|f: &Finding| Ok(Regression::open(f.id, at("2026-06-03T10:00:00Z")))),
        )
        .await
        .unwrap();
    let report = |id: uuid::Uuid,
                  org: uuid::Uuid,
                  project: uuid::Uuid,
                  status: i16,
                  error: &str| {
        format!(
            "INSERT INTO reports (id, org_id, project_id, period_start, period_end, format, status, \
             snapshot, error, quota_month, created_at, updated_at) VALUES ('{id}', '{org}', '{project}', \
             '2026-06-01', '2026-06-07', 0, {status}, '{{}}', {error}, '2026-06-01', now(), now())"
        )
    };
    let mut conn = fx.sql().await;
    let failed = uuid::Uuid::now_v7();
    conn.batch_execute(&report(
        failed,
        fx.org.id.as_uuid(),
        fx.project.id.as_uuid(),
        4,
        "'rendering failed'",
    ))
    .await
    .unwrap();

    let migration = |file: &str| {
        std::fs::read_to_string(format!(
            "{}/../../migrations/2026-12-04-000011_integrity/{file}",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    conn.batch_execute(&migration("down.sql")).await.unwrap();
    // Without the constraints, a report of a queued status with an error; going up clears it.
    let queued = uuid::Uuid::now_v7();
    conn.batch_execute(&report(
        queued,
        fx.org.id.as_uuid(),
        fx.project.id.as_uuid(),
        0,
        "'stale'",
    ))
    .await
    .unwrap();
    conn.batch_execute(&migration("up.sql")).await.unwrap();
    assert_eq!(
        fx.count("SELECT count(*) FROM reports WHERE error IS NOT NULL")
            .await,
        1
    );
    assert_eq!(fx.count("SELECT count(*) FROM verifications").await, 1);
    assert_eq!(fx.count("SELECT count(*) FROM regressions").await, 1);

    let refused = [
        // A report with an error that has not failed.
        report(uuid::Uuid::now_v7(), fx.org.id.as_uuid(), fx.project.id.as_uuid(), 2, "'x'"),
        // A report of another organisation's project.
        report(uuid::Uuid::now_v7(), fx.org.id.as_uuid(), foreign.id.as_uuid(), 0, "NULL"),
        // A verification, a regression of a finding of another project.
        format!(
            "INSERT INTO verifications (id, project_id, finding_id, result, occurred_at) \
             VALUES ('{}', '{}', '{}', 0, now())",
            uuid::Uuid::now_v7(),
            sibling.id,
            f.id
        ),
        format!(
            "INSERT INTO regressions (id, project_id, finding_id, opened_at) VALUES ('{}', '{}', '{}', now())",
            uuid::Uuid::now_v7(),
            sibling.id,
            f.id
        ),
        format!("UPDATE organisations SET name = '   ' WHERE id = '{}'", fx.org.id),
        format!("UPDATE projects SET name = '' WHERE id = '{}'", fx.project.id),
        format!("UPDATE organisations SET export_quota = 1000001 WHERE id = '{}'", fx.org.id),
    ];
    for sql in refused {
        assert!(conn.batch_execute(&sql).await.is_err(), "accepted: {sql}");
    }
    // And down and up again, with the data in place.
    conn.batch_execute(&migration("down.sql")).await.unwrap();
    conn.batch_execute(&migration("up.sql")).await.unwrap();
    assert_eq!(fx.count("SELECT count(*) FROM reports").await, 2);
}
