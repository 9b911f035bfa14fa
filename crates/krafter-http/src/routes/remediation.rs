//! Remediation metrics of a project and of a whole organisation, the organisation summary, and
//! the organisation's SLA policy.

use actix_web::{web, HttpRequest};
use krafter_domain::access::Scope;
use krafter_domain::metrics::remediation::{BySeverity, RemediationQuery, SlaPolicy};
use krafter_domain::validation::{FieldError, InvalidParams};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::dto::{GranularityDto, RemediationDto, SlaPolicyDto, SummaryDto};
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::{json_body, query};
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

/// The window and granularity the request asks for, checked against today.
fn remediation_query(req: &HttpRequest, services: &Services) -> Result<RemediationQuery, ApiError> {
    let params: RemediationQueryParams = query(req)?;
    Ok(services.remediation.query(
        params.date_from.as_deref(),
        params.date_to.as_deref(),
        params.granularity.as_deref(),
    )?)
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
    let query = remediation_query(&req, &services)?;
    let report = services
        .remediation
        .project_report(project.org_id, project.id, &query)
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
    let query = remediation_query(&req, &services)?;
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

/// The SLA policy to store: every severity's days, 1 to 3650, or null for none. All five are
/// required, so that a policy never keeps a value by omission.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlaPolicyBody {
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 1, maximum = 3650)]
    critical: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 1, maximum = 3650)]
    high: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 1, maximum = 3650)]
    medium: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 1, maximum = 3650)]
    low: Option<Option<i64>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<i64>, required = true, minimum = 1, maximum = 3650)]
    info: Option<Option<i64>>,
}

/// A field that was given, null or not (a missing one stays `None` through `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<i64>>, D::Error> {
    Option::<i64>::deserialize(d).map(Some)
}

impl SlaPolicyBody {
    fn parse(self) -> Result<SlaPolicy, ApiError> {
        let given = BySeverity {
            critical: self.critical,
            high: self.high,
            medium: self.medium,
            low: self.low,
            info: self.info,
        };
        let missing: Vec<FieldError> = given
            .iter()
            .filter(|(_, days)| days.is_none())
            .map(|(severity, _)| FieldError {
                field: severity.as_str().to_owned(),
                message: "is required (a number of days, or null for no SLA)".to_owned(),
            })
            .collect();
        if !missing.is_empty() {
            return Err(InvalidParams(missing).into());
        }
        Ok(SlaPolicy::parse(given.map(|_, days| days.flatten()))?)
    }
}

/// The organisation's SLA policy in force now (the default until one is stored).
#[utoipa::path(
    get,
    operation_id = "get_sla_policy",
    path = "/api/v1/orgs/{org_id}/audit/sla-policy",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<SlaPolicyDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn sla_policy(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<OrgPath>,
) -> Result<Reply<SlaPolicyDto>, ApiError> {
    let org = org_access(&req, &services, Scope::AuditRead, &path).await?;
    let current = services.remediation.sla_policy(org).await?;
    Ok(Reply::ok(SlaPolicyDto::new(
        &current.policy,
        current.effective_from,
    )))
}

/// Stores a new SLA policy, in force from now on. Findings created earlier keep their due
/// dates; the previous policies are kept (`…/sla-policy/history`).
#[utoipa::path(
    put,
    operation_id = "set_sla_policy",
    path = "/api/v1/orgs/{org_id}/audit/sla-policy",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid)),
    request_body(content = SlaPolicyBody, example = json!({"critical": 5, "high": 30, "medium": 90, "low": 180, "info": null})),
    responses(
        (status = 200, body = Envelope<SlaPolicyDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope, description = "`invalid_params`: the fields at fault are in `error.details`"),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn set_sla_policy(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<OrgPath>,
    body: web::Bytes,
) -> Result<Reply<SlaPolicyDto>, ApiError> {
    let org = org_access(&req, &services, Scope::AuditWrite, &path).await?;
    let policy = json_body::<SlaPolicyBody>(&req, &body)?.parse()?;
    let stored = services.remediation.set_sla_policy(org, policy).await?;
    Ok(Reply::ok(SlaPolicyDto::new(
        &stored.policy,
        Some(stored.effective_from),
    )))
}

/// Every SLA policy the organisation stored, oldest first, each with the instant it took effect
/// (the default, in force before the first, is not listed).
#[utoipa::path(
    get,
    operation_id = "list_sla_policies",
    path = "/api/v1/orgs/{org_id}/audit/sla-policy/history",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<Vec<SlaPolicyDto>>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn sla_policy_history(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<OrgPath>,
) -> Result<Reply<Vec<SlaPolicyDto>>, ApiError> {
    let org = org_access(&req, &services, Scope::AuditRead, &path).await?;
    let policies = services.remediation.sla_policy_history(org).await?;
    Ok(Reply::ok(
        policies
            .iter()
            .map(|p| SlaPolicyDto::new(&p.policy, Some(p.effective_from)))
            .collect(),
    ))
}
