//! The store: a deadpool pool of diesel-async PostgreSQL connections, and readiness.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::Integer;
use diesel::IntoSql;
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use krafter_domain::health::{NotReady, Readiness};
use krafter_domain::storage::StorageError;

/// How long `connect` waits for its first connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a readiness check may take in all.
const READINESS_TIMEOUT: Duration = Duration::from_secs(2);

/// The PostgreSQL implementation of every domain port. Cheap to clone: clones share the pool
/// and the job queue's listening connection.
#[derive(Clone)]
pub struct PgStore {
    pub(crate) pool: Pool<AsyncPgConnection>,
    /// Set once a readiness check has seen every migration applied; never unset.
    migrated: Arc<AtomicBool>,
    /// Where the job queue's listening connection (outside the pool) connects to.
    database_url: Arc<str>,
    pub(crate) listener: Arc<crate::repos::jobs::Listener>,
    /// How long callers waited for connections (shared by the clones; see `register_metrics`).
    pub(crate) pool_metrics: crate::pool_metrics::PoolMetrics,
    /// Whether creations keep the remediation totals (always, but in the write benchmark's
    /// baseline: [`PgStore::without_remediation_totals`]).
    pub(crate) remediation_totals: bool,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("max_connections", &status.max_size)
            .field("connections", &status.size)
            .field("idle", &status.available)
            .finish()
    }
}

/// The pool's size and how long a caller waits for one of its connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most (at least 1 is used).
    pub max_size: usize,
    /// How long `conn` waits for a free connection before it fails (deadpool's wait timeout).
    pub wait_timeout: Duration,
}

impl PoolSettings {
    /// The wait timeout when none is configured.
    pub const DEFAULT_WAIT_TIMEOUT: Duration = Duration::from_secs(2);

    pub fn new(max_size: usize) -> Self {
        Self {
            max_size,
            wait_timeout: Self::DEFAULT_WAIT_TIMEOUT,
        }
    }
}

impl PgStore {
    /// The ledger's creations as they were before remediation metrics: no due date read, no
    /// remediation totals written. Only the write benchmark's baseline (feature
    /// `bench-baseline`) uses it: the remediation reports of a store like this are wrong.
    #[cfg(feature = "bench-baseline")]
    pub fn without_remediation_totals(mut self) -> Self {
        self.remediation_totals = false;
        self
    }

    /// Refreshes the planner's statistics of the ledger and totals tables (`ANALYZE`): after a
    /// bulk load, before autovacuum gets to it, plans chosen for small tables would scan whole
    /// tables.
    pub async fn refresh_statistics(&self) -> Result<(), StorageError> {
        self.maintain("ANALYZE").await
    }

    /// `VACUUM ANALYZE` of the same tables: after a bulk load, also marks the pages all-visible,
    /// so that reads stop checking the fresh rows' visibility one by one (a year's remediation
    /// of a million findings read its rows in 7 ms before, 1 ms after).
    pub async fn vacuum_after_bulk_load(&self) -> Result<(), StorageError> {
        self.maintain("VACUUM ANALYZE").await
    }

    async fn maintain(&self, command: &str) -> Result<(), StorageError> {
        use diesel_async::SimpleAsyncConnection;
        let mut conn = self.conn().await?;
        conn.batch_execute(&format!(
            "{command} findings, finding_events, verifications, regressions, \
                       project_daily_totals, project_remediation_totals, org_daily_totals, \
                       org_remediation_totals"
        ))
        .await
        .map_err(crate::store::storage_error)
    }

    /// A pool of at most `max_connections` (at least 1) connections to `database_url`, waiting
    /// at most [`PoolSettings::DEFAULT_WAIT_TIMEOUT`] for one. See [`PgStore::connect_with`].
    pub async fn connect(
        database_url: &str,
        max_connections: usize,
    ) -> Result<PgStore, StorageError> {
        Self::connect_with(database_url, PoolSettings::new(max_connections)).await
    }

    /// A pool of connections to `database_url` as `settings` say. One connection is opened
    /// now, so that a wrong URL or an unreachable server fails here.
    pub async fn connect_with(
        database_url: &str,
        settings: PoolSettings,
    ) -> Result<PgStore, StorageError> {
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(database_url);
        let pool = Pool::builder(manager)
            .max_size(settings.max_size.max(1))
            .wait_timeout(Some(settings.wait_timeout))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(crate::store::storage_error)?;
        let first = tokio::time::timeout(CONNECT_TIMEOUT, pool.get())
            .await
            .map_err(|_| crate::store::storage_error("timed out connecting to PostgreSQL"))?
            .map_err(crate::store::storage_error)?;
        drop(first);
        Ok(PgStore {
            pool,
            migrated: Arc::new(AtomicBool::new(false)),
            database_url: database_url.into(),
            remediation_totals: true,
            listener: Arc::default(),
            pool_metrics: Default::default(),
        })
    }

    pub(crate) async fn conn(&self) -> Result<Object<AsyncPgConnection>, StorageError> {
        let asked = std::time::Instant::now();
        let got = self.pool.get().await;
        self.pool_metrics.waited(asked.elapsed(), &got);
        got.map_err(StorageError::unavailable)
    }

    pub(crate) fn database_url(&self) -> &str {
        &self.database_url
    }
}

/// A store failure, classified: a lost connection, or a server that is stopping or starting,
/// is [`StorageError::unavailable`] (the request may be tried again); anything else failed.
pub(crate) fn storage_error(
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> StorageError {
    let error = error.into();
    let lost = match error.downcast_ref::<DieselError>() {
        Some(DieselError::DatabaseError(DatabaseErrorKind::ClosedConnection, _)) => true,
        Some(DieselError::DatabaseError(_, info)) => server_going_away(info.message()),
        Some(DieselError::BrokenTransactionManager) => true,
        _ => false,
    };
    if lost {
        StorageError::unavailable(error)
    } else {
        StorageError::new(error)
    }
}

/// PostgreSQL's messages for a server that is shutting down or not yet accepting work
/// (SQLSTATE 57P01–57P03) and for a connection gone mid-query; diesel gives no code for them.
fn server_going_away(message: &str) -> bool {
    [
        "terminating connection",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery mode",
        "connection closed",
        "server closed the connection",
    ]
    .iter()
    .any(|m| message.contains(m))
}

/// The constraint a database error names, if it is of the given kind.
pub(crate) fn violated(error: &DieselError, kind: DatabaseErrorKind) -> Option<&str> {
    match error {
        DieselError::DatabaseError(k, info) if *k == kind => {
            Some(info.constraint_name().unwrap_or(""))
        }
        _ => None,
    }
}

#[async_trait]
impl Readiness for PgStore {
    async fn check(&self) -> Result<(), NotReady> {
        let unreachable = |e: &dyn fmt::Display| NotReady::Unreachable(e.to_string());
        let work = async {
            let mut conn = self.pool.get().await.map_err(|e| unreachable(&e))?;
            diesel::select(1.into_sql::<Integer>())
                .get_result::<i32>(&mut conn)
                .await
                .map_err(|e| unreachable(&e))?;
            if !AtomicBool::load(&self.migrated, Ordering::Acquire) {
                let pending = crate::migrations::count_pending(&mut conn)
                    .await
                    .map_err(|e| unreachable(&e))?;
                if pending > 0 {
                    return Err(NotReady::PendingMigrations(pending));
                }
                self.migrated.store(true, Ordering::Release);
            }
            Ok(())
        };
        tokio::time::timeout(READINESS_TIMEOUT, work)
            .await
            .unwrap_or_else(|_| {
                Err(NotReady::Unreachable(format!(
                    "no answer within {} ms",
                    READINESS_TIMEOUT.as_millis()
                )))
            })
    }
}
