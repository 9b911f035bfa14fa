//! A PostgreSQL schema of its own for each test, migrated, and dropped when the test ends.
//!
//! The server is `DATABASE_URL` when set, otherwise a throwaway cluster started once per test
//! binary (see [`crate::cluster`]). Schemas rather than databases: `CREATE DATABASE` copies a
//! template under a cluster-wide lock and serialises parallel tests.

use std::time::Duration;

use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use rand::Rng;

/// A migrated schema that lives as long as this value.
pub struct TestDatabase {
    server_url: String,
    schema: String,
    url: String,
}

impl TestDatabase {
    pub async fn new() -> Self {
        Self::on(crate::cluster::server_url()).await
    }

    /// A schema of its own on the server at `server_url` (a cluster the test controls, say).
    pub async fn on(server_url: String) -> Self {
        let schema = format!("test_{:016x}", rand::thread_rng().gen::<u64>());
        let mut conn = AsyncPgConnection::establish(&server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {server_url}: {e}"));
        conn.batch_execute(&format!("CREATE SCHEMA {schema}"))
            .await
            .expect("create the test schema");
        let url = with_search_path(&server_url, &schema);
        krafter_postgres::run_migrations(&url)
            .await
            .expect("migrations apply");
        Self {
            server_url,
            schema,
            url,
        }
    }

    /// A URL whose connections see only this test's schema.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn schema(&self) -> &str {
        &self.schema
    }

    /// The rows of `select` as JSON objects (column name → value), through a connection of its
    /// own: for tests that check what a process wrote.
    pub async fn rows(&self, select: &str) -> Vec<serde_json::Value> {
        #[derive(QueryableByName)]
        struct Rows {
            #[diesel(sql_type = diesel::sql_types::Text)]
            rows: String,
        }
        let mut conn = AsyncPgConnection::establish(self.url())
            .await
            .expect("connect");
        let sql = format!("SELECT coalesce(json_agg(r), '[]')::text AS rows FROM ({select}) r");
        let rows: Rows = diesel::sql_query(&sql)
            .get_result(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("{select}: {e}"));
        serde_json::from_str(&rows.rows).expect("JSON rows")
    }

    /// Locks `table` (ACCESS EXCLUSIVE) from a connection of its own until the answer is
    /// dropped: every other session's query that touches it waits, holding its connection.
    pub async fn lock_table(&self, table: &str) -> TableLock {
        let mut conn = AsyncPgConnection::establish(self.url())
            .await
            .expect("connect");
        for statement in [
            "BEGIN".to_owned(),
            format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
        ] {
            diesel::sql_query(statement)
                .execute(&mut conn)
                .await
                .expect("lock the table");
        }
        TableLock { conn }
    }
}

/// How often the drop tries again when a leftover session takes a lock on the schema anew.
const DROP_ATTEMPTS: u32 = 20;

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let schema = self.schema.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of our own.
        // That runtime is blocked meanwhile, so a task of the test (a worker, say) caught inside a
        // transaction can never finish it: sessions that still hold a lock on the schema's tables
        // are leftovers of the finished test and are ended, so that the drop never waits forever.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&server_url)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.batch_execute("SET lock_timeout = '1s'")
                    .await
                    .map_err(|e| e.to_string())?;
                let end_leftovers = format!(
                    "SELECT pg_terminate_backend(l.pid) FROM pg_locks l \
                       JOIN pg_class c ON c.oid = l.relation \
                       JOIN pg_namespace n ON n.oid = c.relnamespace \
                      WHERE n.nspname = '{schema}' AND l.pid <> pg_backend_pid()"
                );
                let drop = format!("DROP SCHEMA IF EXISTS {schema} CASCADE");
                let mut last = String::new();
                for _ in 0..DROP_ATTEMPTS {
                    match conn.batch_execute(&drop).await {
                        Ok(()) => return Ok(()),
                        Err(e) => last = e.to_string(),
                    }
                    conn.batch_execute(&end_leftovers)
                        .await
                        .map_err(|e| e.to_string())?;
                }
                Err(last)
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) && !std::thread::panicking() {
            panic!("could not drop test schema {}: {dropped:?}", self.schema);
        }
    }
}

/// Adds `-c search_path=<schema>` to the connection's startup options.
pub fn with_search_path(server_url: &str, schema: &str) -> String {
    let separator = if server_url.contains('?') { '&' } else { '?' };
    format!("{server_url}{separator}options=-csearch_path%3D{schema}")
}

/// A table lock held by a connection of its own ([`TestDatabase::lock_table`]); released on drop.
pub struct TableLock {
    conn: AsyncPgConnection,
}

impl TableLock {
    /// Waits (up to 10 s) until `n` other sessions wait for a lock in the database.
    pub async fn wait_for_waiters(&mut self, n: i64) {
        #[derive(QueryableByName)]
        struct Waiting {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            waiting: i64,
        }
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let row: Waiting = diesel::sql_query(
                "SELECT count(*) AS waiting FROM pg_stat_activity \
                 WHERE datname = current_database() AND wait_event_type = 'Lock'",
            )
            .get_result(&mut self.conn)
            .await
            .expect("read pg_stat_activity");
            if row.waiting >= n {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} of {n} sessions waiting on the lock after 10 s",
                row.waiting
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}
