use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::access::api_key::{
    ApiKey, ApiKeyRepoError, ApiKeyRepository, ApiKeySecret, KeyPrefix, Scope,
};
use crate::access::cache::TtlCache;
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
///
/// Keys and projects it has read may be kept for a short time to live ([`Authorizer::cache_for`];
/// none by default): a key revoked in the store is refused within that time, on every node. The
/// secret is still checked against the key's hash on every request.
pub struct Authorizer {
    keys: Arc<dyn ApiKeyRepository>,
    projects: Arc<dyn ProjectRepository>,
    clock: Arc<dyn Clock>,
    known_keys: TtlCache<KeyPrefix, ApiKey>,
    known_projects: TtlCache<(OrgId, ProjectSlug), Project>,
}

impl Authorizer {
    /// An authorizer that reads the store on every request.
    pub fn new(
        keys: Arc<dyn ApiKeyRepository>,
        projects: Arc<dyn ProjectRepository>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            keys,
            projects,
            clock,
            known_keys: TtlCache::new(Duration::ZERO),
            known_projects: TtlCache::new(Duration::ZERO),
        }
    }

    /// Keeps what it reads for `ttl` (zero: nothing), so that a request costs no round trip
    /// for its key or its project.
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.known_keys = TtlCache::new(ttl);
        self.known_projects = TtlCache::new(ttl);
        self
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
        let prefix = secret.prefix();
        let key = match self.known_keys.get(&prefix) {
            Some(key) => key,
            None => {
                let asked_at = Instant::now();
                let key = self
                    .keys
                    .find_by_prefix(&prefix)
                    .await?
                    .ok_or(AccessError::Unauthenticated)?;
                self.known_keys.insert(prefix, key.clone(), asked_at);
                key
            }
        };
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
        let cache_key = (org, slug);
        if let Some(project) = self.known_projects.get(&cache_key) {
            return Ok(project);
        }
        let asked_at = Instant::now();
        let project = self
            .projects
            .find(org, &cache_key.1)
            .await?
            .ok_or(AccessError::NotFound)?;
        self.known_projects
            .insert(cache_key, project.clone(), asked_at);
        Ok(project)
    }

    /// Whether the key's last use is old enough to be worth recording again; recording every
    /// request would add a write to each read. A `true` claims the recording: the cached key
    /// counts as used now, so that the requests right behind this one do not record it too.
    pub fn use_worth_recording(&self, caller: &Caller) -> bool {
        let now = self.clock.now();
        let worth = caller
            .key
            .last_used_at
            .is_none_or(|at| now - at >= LAST_USED_PRECISION);
        if worth {
            self.known_keys
                .update(&caller.key.prefix, |key| key.last_used_at = Some(now));
        }
        worth
    }

    /// Records that the key was used; a failure here must not fail the request it served.
    pub async fn record_use(&self, caller: &Caller) -> Result<(), AccessError> {
        self.keys.touch(caller.key.id, self.clock.now()).await?;
        Ok(())
    }
}
