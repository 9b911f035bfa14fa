//! Organisations: the tenants.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::OrgId;
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// A display name: 1 to 200 characters after trimming, with the rules of all free text
/// ([`crate::validation::check_text`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrganisationName(String);

impl OrganisationName {
    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        let trimmed = raw.trim();
        crate::validation::check_text("name", trimmed, 200)?;
        Ok(Self(trimmed.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    pub id: OrgId,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, thiserror::Error)]
pub enum OrganisationRepoError {
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where organisations live.
///
/// Contract: `create` stores a new organisation with the given id and fails only with `Storage`;
/// `find` answers `Ok(None)` for an id that does not exist; `any` answers whether at least one
/// organisation exists; `list` answers every organisation, oldest first (by creation, then id).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait OrganisationRepository: Send + Sync {
    async fn create(&self, organisation: &Organisation) -> Result<(), OrganisationRepoError>;
    async fn find(&self, id: OrgId) -> Result<Option<Organisation>, OrganisationRepoError>;
    async fn any(&self) -> Result<bool, OrganisationRepoError>;
    async fn list(&self) -> Result<Vec<Organisation>, OrganisationRepoError>;
}
