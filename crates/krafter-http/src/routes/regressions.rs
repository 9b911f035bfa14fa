use actix_web::{web, HttpRequest};
use krafter_domain::access::Scope;
use krafter_domain::ids::RegressionId;
use krafter_domain::ledger::{CloseRegression, RegressionStatus};
use krafter_domain::validation::Collector;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::dto::RegressionDto;
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::json_body;
use crate::routes::findings::optional_instant;
use crate::routes::{path_id, project_access, ProjectPath};
use crate::Services;

#[derive(Debug, Deserialize)]
pub struct RegressionPath {
    #[serde(flatten)]
    project: ProjectPath,
    regression_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CloseRegressionBody {
    /// Only `closed`: a regression opens once and closes once.
    #[schema(value_type = CloseStatus)]
    status: String,
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

/// The one status a regression can be changed to.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub enum CloseStatus {
    Closed,
}

/// Close a regression.
#[utoipa::path(
    patch,
    operation_id = "close_regression",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/regressions/{regression_id}",
    tag = "regressions",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("regression_id" = String, Path, format = Uuid)),
    request_body(content = CloseRegressionBody, example = json!({"status": "closed"})),
    responses(
        (status = 200, body = Envelope<RegressionDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "The regression is already closed"),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn close(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<RegressionPath>,
    body: web::Bytes,
) -> Result<Reply<RegressionDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path.project).await?;
    let id: RegressionId = path_id(&path.regression_id, "no such regression in this project")?;
    let body: CloseRegressionBody = json_body(&req, &body)?;
    let mut errors = Collector::new();
    let status = errors.take(RegressionStatus::parse(&body.status));
    let occurred_at = errors.take(optional_instant(body.occurred_at.as_deref()));
    errors.finish()?;
    let input = CloseRegression {
        status: status.expect("checked"),
        occurred_at: occurred_at.flatten(),
    };
    let regression = services
        .ledger
        .close_regression(project.id, id, input)
        .await?;
    Ok(Reply::ok(RegressionDto::from(&regression)))
}
