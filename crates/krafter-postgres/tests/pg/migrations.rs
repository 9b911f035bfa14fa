use diesel::sql_types::Bool;
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_domain::health::{NotReady, Readiness};
use krafter_postgres::{pending_migrations, revert_all_migrations, run_migrations, PgStore};
use krafter_test_support::TestDatabase;

const TABLES: [&str; 14] = [
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
];

/// How many migrations the crate embeds.
const MIGRATIONS: usize = 3;

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
