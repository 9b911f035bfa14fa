//! Remediation metrics of a project and of a whole organisation, and the organisation summary.

use actix_web::{web, HttpRequest};
use krafter_domain::access::Scope;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::dto::{GranularityDto, RemediationDto, SummaryDto};
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::query;
use crate::routes::summary::SummaryQueryParams;
use crate::routes::{org_access, project_access, OrgPath, ProjectPath};
use crate::Services;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RemediationQueryParams {
    /// First day (YYYY-MM-DD, UTC); defaults to `date_to` minus 89 days.
    #[param(format = Date, example = "2026-01-01")]
    date_from: Option<String>,
    /// Last day (YYYY-MM-DD, UTC); defaults to today; not after today; at most 366 days after `date_from`.
    #[param(format = Date, example = "2026-03-31")]
    date_to: Option<String>,
    /// How the window is split: `day`, `week` (ISO weeks from Monday) or `month` (calendar
    /// months); the first and last buckets are clipped to the window. Defaults to `week`.
    #[param(inline, value_type = Option<GranularityDto>, example = "week")]
    granularity: Option<String>,
}

/// The project's remediation: findings opened, reopened, resolved and dismissed, time to resolve,
/// SLA compliance, overdue and aging, by severity, per bucket and over the window.
///
/// Exact for any past window (each finding's due date is fixed when it is created, under the SLA
/// policy then in force); see `docs/metrics.md` for every definition.
#[utoipa::path(
    get,
    operation_id = "get_remediation",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/remediation",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), RemediationQueryParams),
    responses(
        (status = 200, body = Envelope<RemediationDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn project(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
) -> Result<Reply<RemediationDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path).await?;
    let params: RemediationQueryParams = query(&req)?;
    let query = services.remediation.query(
        params.date_from.as_deref(),
        params.date_to.as_deref(),
        params.granularity.as_deref(),
    )?;
    let report = services
        .remediation
        .project_report(&project, &query)
        .await?;
    Ok(Reply::ok(RemediationDto::from(&report)))
}

/// The organisation's remediation: the same report over all of its projects, summed.
#[utoipa::path(
    get,
    operation_id = "get_org_remediation",
    path = "/api/v1/orgs/{org_id}/audit/reports/remediation",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), RemediationQueryParams),
    responses(
        (status = 200, body = Envelope<RemediationDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn org(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<OrgPath>,
) -> Result<Reply<RemediationDto>, ApiError> {
    let org = org_access(&req, &services, Scope::AuditRead, &path).await?;
    let params: RemediationQueryParams = query(&req)?;
    let query = services.remediation.query(
        params.date_from.as_deref(),
        params.date_to.as_deref(),
        params.granularity.as_deref(),
    )?;
    let report = services.remediation.org_report(org, &query).await?;
    Ok(Reply::ok(RemediationDto::from(&report)))
}

/// The organisation's summary: the project summary over all of its projects, summed (risk
/// burn-down, verification pass rate, regression rate, open findings).
#[utoipa::path(
    get,
    operation_id = "get_org_summary",
    path = "/api/v1/orgs/{org_id}/audit/reports/summary",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), SummaryQueryParams),
    responses(
        (status = 200, body = Envelope<SummaryDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn org_summary(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<OrgPath>,
) -> Result<Reply<SummaryDto>, ApiError> {
    let org = org_access(&req, &services, Scope::AuditRead, &path).await?;
    let params: SummaryQueryParams = query(&req)?;
    let query = services
        .org_summaries
        .query(params.date_from.as_deref(), params.date_to.as_deref())?;
    let summary = services.org_summaries.summary(org, &query).await?;
    Ok(Reply::ok(SummaryDto::from(&summary)))
}
