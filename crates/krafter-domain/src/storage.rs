//! The failure every port shares: the store could not be reached or answered unexpectedly.

use std::error::Error;

/// An infrastructure failure behind a port. Its message is for logs, never for API clients.
#[derive(Debug, thiserror::Error)]
#[error("storage unavailable: {source}")]
pub struct StorageError {
    kind: StorageErrorKind,
    #[source]
    source: Box<dyn Error + Send + Sync>,
}

/// Whether trying again later can help: the API answers the first 503 with `Retry-After`, the
/// second 500.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum StorageErrorKind {
    /// The store could not be reached in time: every connection busy past the pool's wait
    /// timeout, the server down or restarting, a connection lost mid-request. Nothing was done.
    Unavailable,
    /// The store answered, but not as the adapter expected.
    Failed,
}

impl StorageError {
    /// The store answered, but not as the adapter expected (not [`Self::is_unavailable`]).
    pub fn new(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            kind: StorageErrorKind::Failed,
            source: error.into(),
        }
    }

    /// The store could not be reached: [`Self::is_unavailable`], worth a retry.
    pub fn unavailable(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            kind: StorageErrorKind::Unavailable,
            source: error.into(),
        }
    }

    pub fn is_unavailable(&self) -> bool {
        self.kind == StorageErrorKind::Unavailable
    }
}
