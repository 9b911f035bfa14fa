//! Organisations, projects and API keys from the command line, through the domain's ports.

use chrono::{DateTime, Utc};
use krafter_domain::access::{
    ApiKeyRepoError, ApiKeyRepository, ApiKeySecret, KeyPrefix, NewApiKey, Scopes,
};
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationName, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepoError, ProjectRepository, ProjectSlug};
use krafter_domain::InvalidParams;
use krafter_postgres::PgStore;

/// How a command fails.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// The input is at fault (exit code 2).
    #[error("{0}")]
    Invalid(String),
    /// Anything else (exit code 1).
    #[error(transparent)]
    Failed(#[from] anyhow::Error),
}

impl CommandError {
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Invalid(_) => 2,
            CommandError::Failed(_) => 1,
        }
    }

    pub fn failed(error: impl Into<anyhow::Error>) -> Self {
        Self::Failed(error.into())
    }
}

impl From<InvalidParams> for CommandError {
    fn from(error: InvalidParams) -> Self {
        let parts: Vec<String> = error
            .fields()
            .iter()
            .map(|e| format!("invalid {}: {}", e.field, e.message))
            .collect();
        Self::Invalid(parts.join("; "))
    }
}

/// Parses an organisation id given on the command line.
pub fn org_id(raw: &str) -> Result<OrgId, CommandError> {
    raw.trim().parse().map_err(|_| {
        CommandError::Invalid(format!(
            "invalid org: {raw:?} is not an organisation id (a UUID)"
        ))
    })
}

fn unknown_org(org: OrgId) -> CommandError {
    CommandError::Invalid(format!("no organisation {org}"))
}

pub async fn create_org(
    store: &PgStore,
    now: DateTime<Utc>,
    name: &str,
) -> Result<Organisation, CommandError> {
    let organisation = Organisation {
        id: OrgId::generate(),
        name: OrganisationName::parse(name)?.as_str().to_owned(),
        created_at: now,
    };
    OrganisationRepository::create(store, &organisation)
        .await
        .map_err(CommandError::failed)?;
    Ok(organisation)
}

pub async fn create_project(
    store: &PgStore,
    now: DateTime<Utc>,
    org: OrgId,
    slug: &str,
    name: Option<&str>,
) -> Result<Project, CommandError> {
    let project = Project::new(org, ProjectSlug::parse(slug)?, name, now)?;
    match ProjectRepository::create(store, &project).await {
        Ok(()) => Ok(project),
        Err(ProjectRepoError::UnknownOrganisation) => Err(unknown_org(org)),
        Err(ProjectRepoError::SlugTaken) => Err(CommandError::Invalid(format!(
            "organisation {org} already has a project {slug}"
        ))),
        Err(e) => Err(CommandError::failed(e)),
    }
}

/// Stores a new key and answers its secret, which nothing keeps.
pub async fn create_key(
    store: &PgStore,
    now: DateTime<Utc>,
    org: OrgId,
    scopes: Scopes,
    name: &str,
) -> Result<ApiKeySecret, CommandError> {
    // A prefix collision is unlikely (12 base62 characters); try again with a fresh key.
    for _ in 0..3 {
        let new = NewApiKey::generate(org, name, scopes, now);
        match store.insert(&new.key).await {
            Ok(()) => return Ok(new.secret),
            Err(ApiKeyRepoError::PrefixTaken) => continue,
            Err(ApiKeyRepoError::UnknownOrganisation) => return Err(unknown_org(org)),
            Err(e) => return Err(CommandError::failed(e)),
        }
    }
    Err(CommandError::failed(anyhow::anyhow!(
        "could not find an unused key prefix"
    )))
}

pub async fn revoke_key(
    store: &PgStore,
    now: DateTime<Utc>,
    org: OrgId,
    prefix: &str,
) -> Result<KeyPrefix, CommandError> {
    // The whole key names its prefix; it is not kept, nor logged.
    let prefix = match ApiKeySecret::parse(prefix.trim()) {
        Some(secret) => secret.prefix(),
        None => KeyPrefix::parse(prefix.trim())?,
    };
    if store
        .revoke(org, &prefix, now)
        .await
        .map_err(CommandError::failed)?
    {
        Ok(prefix)
    } else {
        Err(CommandError::Invalid(format!(
            "organisation {org} has no active key {}",
            prefix.as_str()
        )))
    }
}

/// Sets the organisation's monthly export limit.
pub async fn set_quota(store: &PgStore, org: OrgId, limit: i64) -> Result<u32, CommandError> {
    use krafter_domain::export::{ExportRepoError, ExportRepository, QuotaLimit};
    let limit = QuotaLimit::parse(limit)?;
    match store.set_quota_limit(org, limit).await {
        Ok(()) => Ok(limit.get()),
        Err(ExportRepoError::UnknownOrganisation) => Err(unknown_org(org)),
        Err(error) => Err(CommandError::failed(error)),
    }
}
