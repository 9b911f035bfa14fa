//! Projects: addressed by a slug unique within their organisation.

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::ids::{OrgId, ProjectId};
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// `^[a-z0-9][a-z0-9-]{0,62}$`
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProjectSlug(String);

impl ProjectSlug {
    pub fn parse(raw: &str) -> Result<Self, InvalidParams> {
        let bytes = raw.as_bytes();
        let valid = (1..=63).contains(&bytes.len())
            && matches!(bytes[0], b'a'..=b'z' | b'0'..=b'9')
            && bytes
                .iter()
                .all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'-'));
        if valid {
            Ok(Self(raw.to_owned()))
        } else {
            Err(InvalidParams::field(
                "slug",
                "must match ^[a-z0-9][a-z0-9-]{0,62}$",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ProjectSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    pub id: ProjectId,
    pub org_id: OrgId,
    pub slug: ProjectSlug,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl Project {
    /// A new project; the name defaults to the slug.
    pub fn new(
        org_id: OrgId,
        slug: ProjectSlug,
        name: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self, InvalidParams> {
        let name = match name.map(str::trim) {
            None => slug.as_str().to_owned(),
            Some(n) if (1..=200).contains(&n.chars().count()) => n.to_owned(),
            Some(_) => return Err(InvalidParams::field("name", "must be 1 to 200 characters")),
        };
        Ok(Self {
            id: ProjectId::generate(),
            org_id,
            slug,
            name,
            created_at: now,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProjectRepoError {
    #[error("the organisation does not exist")]
    UnknownOrganisation,
    #[error("the organisation already has a project with this slug")]
    SlugTaken,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// Where projects live. Every lookup is scoped by organisation.
///
/// Contract: `create` fails with `UnknownOrganisation` when the organisation does not exist and
/// with `SlugTaken` when the slug is in use in that organisation; `find` answers `Ok(None)` when
/// the organisation has no project with that slug (including when the organisation does not exist);
/// `list` answers the organisation's projects by slug (none for an organisation that does not exist).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait ProjectRepository: Send + Sync {
    async fn create(&self, project: &Project) -> Result<(), ProjectRepoError>;
    async fn find(
        &self,
        org: OrgId,
        slug: &ProjectSlug,
    ) -> Result<Option<Project>, ProjectRepoError>;
    async fn list(&self, org: OrgId) -> Result<Vec<Project>, ProjectRepoError>;
}
