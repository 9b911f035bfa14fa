use std::sync::Arc;

use crate::access::api_key::{ApiKey, ApiKeyRepoError, ApiKeyRepository, ApiKeySecret, Scope};
use crate::clock::Clock;
use crate::ids::OrgId;
use crate::project::{Project, ProjectRepoError, ProjectRepository, ProjectSlug};
use crate::storage::StorageError;

/// `last_used_at` is kept to this precision.
const LAST_USED_PRECISION: chrono::TimeDelta = chrono::TimeDelta::seconds(60);

/// Why a request may not go on. The order of checks is: key (401), scope (403), ownership (404).
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("missing, malformed, unknown or revoked API key")]
    Unauthenticated,
    #[error("the API key lacks the {0} scope")]
    MissingScope(Scope),
    /// The organisation or project does not exist or belongs to another organisation; the two are
    /// never told apart.
    #[error("no such organisation or project")]
    NotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ApiKeyRepoError> for AccessError {
    fn from(error: ApiKeyRepoError) -> Self {
        match error {
            ApiKeyRepoError::Storage(e) => Self::Storage(e),
            other => Self::Storage(StorageError::new(other.to_string())),
        }
    }
}

impl From<ProjectRepoError> for AccessError {
    fn from(error: ProjectRepoError) -> Self {
        match error {
            ProjectRepoError::Storage(e) => Self::Storage(e),
            other => Self::Storage(StorageError::new(other.to_string())),
        }
    }
}

/// An authenticated key, checked for one scope.
#[derive(Debug, Clone)]
pub struct Caller {
    pub key: ApiKey,
}

/// Turns a presented bearer string into a caller allowed to act on one project.
pub struct Authorizer {
    keys: Arc<dyn ApiKeyRepository>,
    projects: Arc<dyn ProjectRepository>,
    clock: Arc<dyn Clock>,
}

impl Authorizer {
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        projects: Arc<dyn ProjectRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            projects,
            clock,
        }
    }

    /// Checks the key and its scope.
    pub async fn authenticate(
        &self,
        bearer: Option<&str>,
        needed: Scope,
    ) -> Result<Caller, AccessError> {
        let secret = bearer
            .and_then(ApiKeySecret::parse)
            .ok_or(AccessError::Unauthenticated)?;
        let key = self
            .keys
            .find_by_prefix(&secret.prefix())
            .await?
            .ok_or(AccessError::Unauthenticated)?;
        if !key.hash.matches(&secret.hash()) || key.revoked_at.is_some() {
            return Err(AccessError::Unauthenticated);
        }
        if !key.scopes.contains(needed) {
            return Err(AccessError::MissingScope(needed));
        }
        Ok(Caller { key })
    }

    /// The project `slug` of organisation `org`, if the caller's organisation owns it. A project of
    /// another organisation and one that does not exist are the same `NotFound`.
    pub async fn project(
        &self,
        caller: &Caller,
        org: OrgId,
        slug: &str,
    ) -> Result<Project, AccessError> {
        if caller.key.org_id != org {
            return Err(AccessError::NotFound);
        }
        let slug = ProjectSlug::parse(slug).map_err(|_| AccessError::NotFound)?;
        self.projects
            .find(org, &slug)
            .await?
            .ok_or(AccessError::NotFound)
    }

    /// Whether the key's last use is old enough to be worth recording again; recording every
    /// request would add a write to each read.
    pub fn use_worth_recording(&self, caller: &Caller) -> bool {
        caller
            .key
            .last_used_at
            .is_none_or(|at| self.clock.now() - at >= LAST_USED_PRECISION)
    }

    /// Records that the key was used; a failure here must not fail the request it served.
    pub async fn record_use(&self, caller: &Caller) -> Result<(), AccessError> {
        self.keys.touch(caller.key.id, self.clock.now()).await?;
        Ok(())
    }
}
