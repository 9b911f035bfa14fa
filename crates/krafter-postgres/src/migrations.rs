//! The embedded migrations (`migrations/` at the workspace root) and the functions that apply them.
//!
//! diesel's migration harness is synchronous: it runs over diesel-async's `AsyncConnectionWrapper`
//! on a blocking thread, so that it never blocks the async runtime.

use std::collections::HashSet;

use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{Bool, Text};
use diesel::QueryableByName;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use krafter_domain::storage::StorageError;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// The table in which diesel records applied migrations (in the first schema of the search path).
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

type Wrapper = AsyncConnectionWrapper<AsyncPgConnection>;

/// Applies every pending migration, then the backfills they left to do (the remediation totals
/// of the projects that existed before them, computed from their history); answers how many
/// migrations were applied. Safe to run again after an interruption at any point: a backfill
/// resumes where it stopped.
pub async fn run_migrations(database_url: &str) -> Result<usize, StorageError> {
    let applied = with_harness(database_url, |conn| {
        conn.run_pending_migrations(MIGRATIONS)
            .map(|applied| applied.len())
    })
    .await?;
    let backfilled = crate::repos::remediation::backfill_pending(database_url).await?;
    if backfilled > 0 {
        tracing::info!(
            projects = backfilled,
            "remediation totals computed from the history"
        );
    }
    Ok(applied)
}

/// Reverts every applied migration, newest first.
pub async fn revert_all_migrations(database_url: &str) -> Result<(), StorageError> {
    with_harness(database_url, |conn| {
        conn.revert_all_migrations(MIGRATIONS).map(|_| ())
    })
    .await
}

/// How many of the embedded migrations the database has not applied yet.
pub async fn pending_migrations(database_url: &str) -> Result<usize, StorageError> {
    with_harness(database_url, |conn| {
        conn.pending_migrations(MIGRATIONS)
            .map(|pending| pending.len())
    })
    .await
}

type HarnessResult<T> = Result<T, Box<dyn std::error::Error + Send + Sync>>;

async fn with_harness<T, F>(database_url: &str, work: F) -> Result<T, StorageError>
where
    T: Send + 'static,
    F: FnOnce(&mut Wrapper) -> HarnessResult<T> + Send + 'static,
{
    // Connect here, on the runtime, so that the connection's driver task lives on it.
    let conn = AsyncPgConnection::establish(database_url)
        .await
        .map_err(crate::store::storage_error)?;
    tokio::task::spawn_blocking(move || {
        let mut wrapper = Wrapper::from(conn);
        work(&mut wrapper)
    })
    .await
    .map_err(crate::store::storage_error)?
    .map_err(crate::store::storage_error)
}

#[derive(QueryableByName)]
struct Exists {
    #[diesel(sql_type = Bool)]
    exists: bool,
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

/// The number of pending migrations, asked over an async connection (for readiness checks).
pub(crate) async fn count_pending(conn: &mut AsyncPgConnection) -> Result<usize, StorageError> {
    let embedded: Vec<String> = MigrationSource::<Pg>::migrations(&MIGRATIONS)
        .map_err(crate::store::storage_error)?
        .iter()
        .map(|m| m.name().version().to_string())
        .collect();
    let table: Exists = diesel::sql_query(format!(
        "SELECT to_regclass('{MIGRATIONS_TABLE}') IS NOT NULL AS exists"
    ))
    .get_result(conn)
    .await
    .map_err(crate::store::storage_error)?;
    let applied: HashSet<String> = if table.exists {
        diesel::sql_query(format!(
            "SELECT version::text AS version FROM {MIGRATIONS_TABLE}"
        ))
        .load::<Version>(conn)
        .await
        .map_err(crate::store::storage_error)?
        .into_iter()
        .map(|v| v.version)
        .collect()
    } else {
        HashSet::new()
    };
    Ok(embedded
        .iter()
        .filter(|version| !applied.contains(*version))
        .count())
}

impl crate::PgStore {
    /// How many of the embedded migrations the database has not applied yet, read over the
    /// pool without writing anything (unlike diesel's harness, which creates its table).
    pub async fn pending_migrations(&self) -> Result<usize, StorageError> {
        let mut conn = self.conn().await?;
        count_pending(&mut conn).await
    }
}
