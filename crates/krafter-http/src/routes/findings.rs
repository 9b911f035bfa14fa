use actix_web::{web, HttpRequest};
use krafter_domain::access::Scope;
use krafter_domain::ids::FindingId;
use krafter_domain::ledger::{
    parse_instant, CreateFinding, FindingQuery, FindingStatus, FindingTitle, PriorityScore,
    RecordVerification, Severity, SourceName, UpdateFinding, VerificationResult,
};
use krafter_domain::validation::Collector;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::dto::{
    FindingDetailDto, FindingDto, FindingStatusDto, RegressionDto, SeverityDto, VerificationDto,
    VerificationResultDto,
};
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::{json_body, query};
use crate::routes::{page_params, page_reply, path_id, project_access, ProjectPath};
use crate::Services;

const NO_FINDING: &str = "no such finding in this project";

#[derive(Debug, Deserialize)]
pub struct FindingPath {
    #[serde(flatten)]
    project: ProjectPath,
    finding_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFindingBody {
    /// 1 to 500 characters (Unicode scalar values), with at least one visible character, and no
    /// control character (category Cc) nor bidirectional override or isolate character
    /// (U+202A–U+202E, U+2066–U+2069).
    // The pattern is `krafter_domain::validation::check_text`'s rule: no forbidden character,
    // and one character that is neither forbidden, whitespace nor default-ignorable.
    #[schema(
        min_length = 1,
        max_length = 500,
        pattern = "^[^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*[^\\u0000-\\u0020\\u007F-\\u00A0\\u00AD\\u034F\\u061C\\u115F\\u1160\\u1680\\u17B4\\u17B5\\u180B-\\u180F\\u2000-\\u200F\\u2028-\\u202F\\u205F-\\u206F\\u3000\\u3164\\uFE00-\\uFE0F\\uFEFF\\uFFA0\\uFFF0-\\uFFF8\u{1BCA0}-\u{1BCA3}\u{1D173}-\u{1D17A}\u{E0000}-\u{E0FFF}][^\\u0000-\\u001F\\u007F-\\u009F\\u202A-\\u202E\\u2066-\\u2069]*$"
    )]
    title: String,
    #[schema(value_type = SeverityDto)]
    severity: String,
    #[schema(minimum = 0, maximum = 1000)]
    priority_score: i64,
    /// Defaults to `new`.
    #[schema(value_type = Option<FindingStatusDto>)]
    status: Option<String>,
    /// When the finding was created (RFC 3339); defaults to now, never in the future.
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

impl CreateFindingBody {
    fn parse(self) -> Result<CreateFinding, ApiError> {
        let mut errors = Collector::new();
        let title = errors.take(FindingTitle::parse(&self.title));
        let severity = errors.take(Severity::parse(&self.severity));
        let priority_score = errors.take(PriorityScore::parse(self.priority_score));
        let status = errors.take(self.status.as_deref().map(FindingStatus::parse).transpose());
        let occurred_at = errors.take(optional_instant(self.occurred_at.as_deref()));
        errors.finish()?;
        Ok(CreateFinding {
            id: None,
            title: title.expect("checked"),
            severity: severity.expect("checked"),
            priority_score: priority_score.expect("checked"),
            status: status.flatten().unwrap_or(FindingStatus::New),
            occurred_at: occurred_at.flatten(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFindingBody {
    #[schema(value_type = Option<FindingStatusDto>)]
    status: Option<String>,
    #[schema(minimum = 0, maximum = 1000)]
    priority_score: Option<i64>,
    /// When the change happened (RFC 3339); defaults to now, never in the future nor before the
    /// finding's latest change.
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

impl UpdateFindingBody {
    fn parse(self) -> Result<UpdateFinding, ApiError> {
        let mut errors = Collector::new();
        let status = errors.take(self.status.as_deref().map(FindingStatus::parse).transpose());
        let priority_score = errors.take(self.priority_score.map(PriorityScore::parse).transpose());
        let occurred_at = errors.take(optional_instant(self.occurred_at.as_deref()));
        errors.finish()?;
        Ok(UpdateFinding {
            status: status.flatten(),
            priority_score: priority_score.flatten(),
            occurred_at: occurred_at.flatten(),
        })
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerificationBody {
    #[schema(value_type = VerificationResultDto)]
    result: String,
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OpenRegressionBody {
    #[schema(format = DateTime)]
    occurred_at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListFindingsQuery {
    /// Only findings in this status.
    #[param(value_type = Option<FindingStatusDto>, example = "resolved")]
    status: Option<String>,
    /// Only findings reported by this tool (an import's `source`): 1 to 100 characters.
    #[param(min_length = 1, max_length = 100, example = "Bandit")]
    source: Option<String>,
    /// 1 to 100; 50 by default.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, example = 50)]
    limit: Option<String>,
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
}

pub(crate) fn optional_instant(
    raw: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, krafter_domain::InvalidParams> {
    raw.map(|r| parse_instant("occurred_at", r)).transpose()
}

/// Record a finding.
#[utoipa::path(
    post,
    operation_id = "create_finding",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings",
    tag = "findings",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path, description = "The project's slug")),
    request_body(content = CreateFindingBody, example = json!({
        "title": "SQL injection in /search", "severity": "high", "priority_score": 700,
        "occurred_at": "2026-11-29T09:00:00Z",
    })),
    responses(
        (status = 201, body = Envelope<FindingDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn create(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
    body: web::Bytes,
) -> Result<Reply<FindingDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path).await?;
    let input = json_body::<CreateFindingBody>(&req, &body)?.parse()?;
    let finding = services.ledger.create_finding(project.id, input).await?;
    Ok(Reply::created(FindingDto::from(&finding)))
}

/// Change a finding's status or priority score.
#[utoipa::path(
    patch,
    operation_id = "update_finding",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}",
    tag = "findings",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("finding_id" = String, Path, format = Uuid)),
    request_body(content = UpdateFindingBody, example = json!({"status": "in_progress"})),
    responses(
        (status = 200, body = Envelope<FindingDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope, description = "`invalid_params`: the fields at fault are in `error.details`; `{}` (neither `status` nor `priority_score`) included"),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn update(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<FindingPath>,
    body: web::Bytes,
) -> Result<Reply<FindingDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path.project).await?;
    let id: FindingId = path_id(&path.finding_id, NO_FINDING)?;
    let input = json_body::<UpdateFindingBody>(&req, &body)?.parse()?;
    let finding = services
        .ledger
        .update_finding(project.id, id, input)
        .await?;
    Ok(Reply::ok(FindingDto::from(&finding)))
}

/// Read a finding with its history, verifications and regressions.
#[utoipa::path(
    get,
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}",
    operation_id = "get_finding",
    tag = "findings",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("finding_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<FindingDetailDto>, description = "The finding as it now is, with its history (oldest first), verifications and regressions"),
        (status = 401, body = ErrorEnvelope, description = "`unauthorized`"),
        (status = 403, body = ErrorEnvelope, description = "`forbidden`: the key lacks `audit:read`"),
        (status = 404, body = ErrorEnvelope, description = "`not_found`: no such organisation, project or finding in this project"),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn get(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<FindingPath>,
) -> Result<Reply<FindingDetailDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path.project).await?;
    let id: FindingId = path_id(&path.finding_id, NO_FINDING)?;
    let detail = services.ledger.finding(project.id, id).await?;
    Ok(Reply::ok(FindingDetailDto::from(&detail)))
}

/// List findings, newest first.
#[utoipa::path(
    get,
    operation_id = "list_findings",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings",
    tag = "findings",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ListFindingsQuery),
    responses(
        (status = 200, body = Envelope<Vec<FindingDto>>, description = "A page; `meta.next_cursor` is null on the last page"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn list(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
) -> Result<Reply<Vec<FindingDto>>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path).await?;
    let raw: ListFindingsQuery = query(&req)?;
    let mut errors = Collector::new();
    let status = errors.take(raw.status.as_deref().map(FindingStatus::parse).transpose());
    let source = errors.take(raw.source.as_deref().map(SourceName::parse).transpose());
    let (limit, after) = page_params(&mut errors, raw.limit.as_deref(), raw.cursor.as_deref());
    errors.finish()?;
    let query = FindingQuery {
        status: status.flatten(),
        source: source.flatten(),
        limit: limit.expect("checked"),
        after,
    };
    let page = services.ledger.list_findings(project.id, query).await?;
    Ok(page_reply(page, |f| FindingDto::from(f)))
}

/// Record a verification of a finding.
#[utoipa::path(
    post,
    operation_id = "verify_finding",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}/verifications",
    tag = "findings",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("finding_id" = String, Path, format = Uuid)),
    request_body(content = VerificationBody, example = json!({"result": "passed"})),
    responses(
        (status = 201, body = Envelope<VerificationDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn verify(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<FindingPath>,
    body: web::Bytes,
) -> Result<Reply<VerificationDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path.project).await?;
    let id: FindingId = path_id(&path.finding_id, NO_FINDING)?;
    let body: VerificationBody = json_body(&req, &body)?;
    let mut errors = Collector::new();
    let result = errors.take(VerificationResult::parse(&body.result));
    let occurred_at = errors.take(optional_instant(body.occurred_at.as_deref()));
    errors.finish()?;
    let input = RecordVerification {
        result: result.expect("checked"),
        occurred_at: occurred_at.flatten(),
    };
    let verification = services
        .ledger
        .record_verification(project.id, id, input)
        .await?;
    Ok(Reply::created(VerificationDto::from(&verification)))
}

/// Open a regression on a finding.
#[utoipa::path(
    post,
    operation_id = "open_regression",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings/{finding_id}/regressions",
    tag = "regressions",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("finding_id" = String, Path, format = Uuid)),
    request_body(content = OpenRegressionBody, description = "May be empty", example = json!({})),
    responses(
        (status = 201, body = Envelope<RegressionDto>),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn open_regression(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<FindingPath>,
    body: web::Bytes,
) -> Result<Reply<RegressionDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path.project).await?;
    let id: FindingId = path_id(&path.finding_id, NO_FINDING)?;
    let body: OpenRegressionBody = json_body(&req, &body)?;
    let input = krafter_domain::ledger::OpenRegression {
        occurred_at: optional_instant(body.occurred_at.as_deref())?,
    };
    let regression = services
        .ledger
        .open_regression(project.id, id, input)
        .await?;
    Ok(Reply::created(RegressionDto::from(&regression)))
}
