//! The handlers, one module per resource.

pub mod findings;
pub mod health;
pub mod imports;
pub mod regressions;
pub mod remediation;
pub mod reports;
pub mod shares;
pub mod summary;

use actix_web::{web, HttpRequest};
use krafter_domain::access::{Caller, Scope};
use krafter_domain::ids::OrgId;
use krafter_domain::project::Project;
use tracing::Instrument;

use crate::errors::ApiError;
use crate::extract::bearer;
use crate::Services;

/// `{org_id}` and `{project_id}` (the project's slug) of every project route.
#[derive(Debug, serde::Deserialize)]
pub struct ProjectPath {
    pub org_id: String,
    pub project_id: String,
}

/// Authenticates the caller for `scope` and resolves the project it may act on.
/// Order: 401 (key) before 403 (scope) before 429 (the key's rate) before 404 (ownership), so
/// that nothing about another organisation is revealed to a caller without a valid key.
pub async fn project_access(
    req: &HttpRequest,
    services: &web::Data<Services>,
    scope: Scope,
    path: &ProjectPath,
) -> Result<Project, ApiError> {
    let caller = authenticated(req, services, scope).await?;
    let org: OrgId = path
        .org_id
        .parse()
        .map_err(|_| ApiError::NotFound("no such organisation or project"))?;
    let project = services
        .authorizer
        .project(&caller, org, &path.project_id)
        .await?;
    record_use(services, caller);
    Ok(project)
}

/// `{org_id}` of the organisation-wide routes.
#[derive(Debug, serde::Deserialize)]
pub struct OrgPath {
    pub org_id: String,
}

/// Authenticates the caller for `scope` on its own organisation: the same order as
/// [`project_access`] (401, 403, 429, then 404 for another organisation or a malformed id).
pub async fn org_access(
    req: &HttpRequest,
    services: &web::Data<Services>,
    scope: Scope,
    path: &OrgPath,
) -> Result<OrgId, ApiError> {
    let caller = authenticated(req, services, scope).await?;
    let org: OrgId = path
        .org_id
        .parse()
        .map_err(|_| ApiError::NotFound("no such organisation"))?;
    if caller.key.org_id != org {
        return Err(ApiError::NotFound("no such organisation"));
    }
    record_use(services, caller);
    Ok(org)
}

/// The caller of a key valid for `scope` (401, 403) whose request rate allows it (429).
async fn authenticated(
    req: &HttpRequest,
    services: &web::Data<Services>,
    scope: Scope,
) -> Result<Caller, ApiError> {
    let caller = services.authorizer.authenticate(bearer(req), scope).await?;
    if let Err(refusal) = services.rate_limiter.check(caller.key.id) {
        services.metrics.count_rate_limited();
        return Err(refusal);
    }
    Ok(caller)
}

/// Records the key's use in the background when it is worth it, in the request's span.
fn record_use(services: &web::Data<Services>, caller: Caller) {
    if services.authorizer.use_worth_recording(&caller) {
        let services = services.clone();
        // In the request's span: a failure names the request that used the key.
        actix_web::rt::spawn(
            async move {
                if let Err(error) = services.authorizer.record_use(&caller).await {
                    tracing::warn!(key_prefix = caller.key.prefix.as_str(), %error, "could not record API key use");
                }
            }
            .in_current_span(),
        );
    }
}

/// A listing's `limit` and `cursor`, their errors collected with the request's others.
pub fn page_params<Id: krafter_domain::page::KeysetId>(
    errors: &mut krafter_domain::validation::Collector,
    limit: Option<&str>,
    cursor: Option<&str>,
) -> (
    Option<krafter_domain::page::PageLimit>,
    Option<krafter_domain::page::KeysetCursor<Id>>,
) {
    let limit = errors.take(krafter_domain::page::PageLimit::parse(limit));
    let after = errors.take(
        cursor
            .map(krafter_domain::page::KeysetCursor::parse)
            .transpose(),
    );
    (limit, after.flatten())
}

/// A page as a listing answers it: its items as `dto` makes them, `meta.next_cursor`.
pub fn page_reply<T, D: serde::Serialize, Id: krafter_domain::page::KeysetId>(
    page: krafter_domain::page::Page<T, krafter_domain::page::KeysetCursor<Id>>,
    dto: impl FnMut(&T) -> D,
) -> crate::envelope::Reply<Vec<D>> {
    crate::envelope::Reply::page(
        page.items.iter().map(dto).collect(),
        page.next.map(|c| c.encode()),
    )
}

/// A UUID from the path; anything else cannot name a resource.
pub fn path_id<T: std::str::FromStr>(raw: &str, what: &'static str) -> Result<T, ApiError> {
    raw.parse().map_err(|_| ApiError::NotFound(what))
}
