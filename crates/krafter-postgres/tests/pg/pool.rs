use std::time::{Duration, Instant};

use krafter_domain::export::ReportSource;
use krafter_postgres::{PgStore, PoolSettings};

use crate::Fixture;

#[tokio::test]
async fn a_caller_waits_at_most_the_pool_timeout_for_a_connection() {
    let fx = Fixture::new().await;
    let wait = Duration::from_millis(300);
    let store = PgStore::connect_with(
        fx.db.url(),
        PoolSettings {
            max_size: 1,
            wait_timeout: wait,
        },
    )
    .await
    .unwrap();
    // The batches hold the pool's only connection until they are dropped.
    let batches = store
        .open_findings(fx.project.id, chrono::Utc::now().date_naive(), 10)
        .await
        .unwrap();
    let started = Instant::now();
    let error = store.pending_migrations().await.unwrap_err();
    let waited = started.elapsed();
    assert!(waited >= wait && waited < wait * 5, "{waited:?}");
    assert!(error.to_string().contains("Timeout"), "{error}");
    drop(batches);
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
}
