//! The failure every port shares: the store could not be reached or answered unexpectedly.

use std::error::Error;

/// An infrastructure failure behind a port. Its message is for logs, never for API clients.
#[derive(Debug, thiserror::Error)]
#[error("storage unavailable: {0}")]
pub struct StorageError(#[source] pub Box<dyn Error + Send + Sync>);

impl StorageError {
    pub fn new(error: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self(error.into())
    }
}
