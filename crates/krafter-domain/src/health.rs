//! Readiness: whether this node can serve requests now.

use async_trait::async_trait;

#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    #[error("{0} database migration(s) are not applied")]
    PendingMigrations(usize),
}

/// Contract: `check` answers `Ok` only when the store is reachable and fully migrated; it never
/// waits longer than a few seconds.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), NotReady>;
}
