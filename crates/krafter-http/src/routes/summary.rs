use actix_web::{web, HttpRequest};
use krafter_domain::access::Scope;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::dto::SummaryDto;
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::query;
use crate::routes::{project_access, ProjectPath};
use crate::Services;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SummaryQueryParams {
    /// First day (YYYY-MM-DD, UTC); defaults to `date_to` minus 6 days.
    #[param(format = Date, example = "2026-01-01")]
    pub(crate) date_from: Option<String>,
    /// Last day (YYYY-MM-DD, UTC); defaults to today; not after today; at most 366 days after `date_from`.
    #[param(format = Date, example = "2026-03-31")]
    pub(crate) date_to: Option<String>,
}

/// The project's risk burn-down, verification pass rate, regression rate and open findings.
///
/// Without dates: the last 7 days, and the pass rate over all verifications ever. With dates: one
/// point per day of the window, the pass rate over verifications in the window, and the regression
/// rate and open findings as of the end of `date_to`.
#[utoipa::path(
    get,
    operation_id = "get_summary",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/summary",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), SummaryQueryParams),
    responses(
        (status = 200, body = Envelope<SummaryDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn summary(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
) -> Result<Reply<SummaryDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path).await?;
    let params: SummaryQueryParams = query(&req)?;
    let query = services
        .summaries
        .query(params.date_from.as_deref(), params.date_to.as_deref())?;
    let summary = services.summaries.summary(project.id, &query).await?;
    Ok(Reply::ok(SummaryDto::from(&summary)))
}
