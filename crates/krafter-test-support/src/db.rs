//! A PostgreSQL schema of its own for each test, migrated, and dropped when the test ends.
//!
//! The server is `DATABASE_URL` when set, otherwise a throwaway cluster started once per test
//! binary (see [`crate::cluster`]). Schemas rather than databases: `CREATE DATABASE` copies a
//! template under a cluster-wide lock and serialises parallel tests.

use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
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
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        let sql = format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema);
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread of our own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let mut conn = AsyncPgConnection::establish(&server_url)
                    .await
                    .map_err(|e| e.to_string())?;
                conn.batch_execute(&sql).await.map_err(|e| e.to_string())
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
