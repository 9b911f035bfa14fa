//! Readiness: whether this node can serve requests now.

use async_trait::async_trait;

/// Why a node is not ready. The `Display` text is for operators (it may carry a database error);
/// clients get `public_reason`.
#[derive(Debug, thiserror::Error)]
pub enum NotReady {
    #[error("the database is unreachable: {0}")]
    Unreachable(String),
    #[error("{0} database migration(s) are not applied")]
    PendingMigrations(usize),
}

impl NotReady {
    /// A short reason fit for any client: no database error, host name or path.
    pub fn public_reason(&self) -> String {
        match self {
            NotReady::Unreachable(_) => "the database is unreachable".to_owned(),
            NotReady::PendingMigrations(1) => {
                "1 database migration is pending: run krafter migrate".to_owned()
            }
            NotReady::PendingMigrations(n) => {
                format!("{n} database migrations are pending: run krafter migrate")
            }
        }
    }
}

/// Contract: `check` answers `Ok` only when the store is reachable and fully migrated; it never
/// waits longer than a few seconds.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn check(&self) -> Result<(), NotReady>;
}

#[cfg(test)]
mod tests {
    use super::NotReady;

    #[test]
    fn the_public_reason_carries_no_internal_text() {
        let down = NotReady::Unreachable(
            "connection to server at \"10.0.0.7\", port 5432 failed: password authentication failed"
                .to_owned(),
        );
        assert_eq!(down.public_reason(), "the database is unreachable");
        assert!(
            down.to_string().contains("10.0.0.7"),
            "operators keep the detail"
        );
        assert_eq!(
            NotReady::PendingMigrations(1).public_reason(),
            "1 database migration is pending: run krafter migrate"
        );
        assert_eq!(
            NotReady::PendingMigrations(3).public_reason(),
            "3 database migrations are pending: run krafter migrate"
        );
    }
}
