use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpRequest, HttpResponse};
use futures::TryStreamExt;
use krafter_domain::access::Scope;
use krafter_domain::export::{
    ExportFields, ExportRequest, IdempotencyKey, Report, ReportId, ReportQuery, ReportStatus,
};
use krafter_domain::project::Project;
use krafter_domain::validation::Collector;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use crate::dto::{ExportFormatDto, ReportDetailDto, ReportDto};
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::{json_body, query};
use crate::routes::{page_params, page_reply, path_id, project_access, ProjectPath};
use crate::{Services, QUOTA_REMAINING_HEADER};

const NO_REPORT: &str = "no such report in this project";

#[derive(Debug, Deserialize)]
pub struct ReportPath {
    #[serde(flatten)]
    project: ProjectPath,
    report_id: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportBody {
    /// `pdf` by default.
    #[schema(value_type = Option<ExportFormatDto>)]
    format: Option<String>,
    /// First day (YYYY-MM-DD, UTC); defaults to 6 days before `period_end`.
    #[schema(format = Date)]
    period_start: Option<String>,
    /// Last day (YYYY-MM-DD, UTC); defaults to today; not after today; at most 366 days long.
    #[schema(format = Date)]
    period_end: Option<String>,
}

impl ExportBody {
    /// The request as idempotency compares it (the domain's stable encoding): key order, spacing
    /// and explicit nulls do not matter.
    fn fields(&self) -> ExportFields<'_> {
        ExportFields {
            format: self.format.as_deref(),
            period_start: self.period_start.as_deref(),
            period_end: self.period_end.as_deref(),
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListReportsQuery {
    /// 1 to 100; 50 by default.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, example = 20)]
    limit: Option<String>,
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
}

/// Queue an export of the project's summary over a period.
///
/// Consumes one unit of the organisation's monthly quota (given back if the export fails). With an
/// `Idempotency-Key`, the same key and body within 24 hours answer the first request's report
/// without a second charge.
#[utoipa::path(
    post,
    operation_id = "export_report",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/export",
    tag = "reports",
    params(
        ("org_id" = String, Path, format = Uuid), ("project_id" = String, Path),
        ("Idempotency-Key" = Option<String>, Header, description = "Up to 255 visible ASCII characters", example = "weekly-2026-12-01"),
    ),
    request_body(content = ExportBody, description = "May be empty", example = json!({
        "format": "pdf", "period_start": "2026-11-19", "period_end": "2026-12-01",
    })),
    responses(
        (status = 202, body = Envelope<ReportDto>, headers(("x-quota-remaining" = u32, description = "Exports left this month"))),
        (status = 400, body = ErrorEnvelope), (status = 401, body = ErrorEnvelope),
        (status = 403, body = ErrorEnvelope), (status = 404, body = ErrorEnvelope),
        (status = 422, body = ErrorEnvelope, description = "`invalid_params` or `idempotency_key_reused`"),
        (status = 429, body = ErrorEnvelope, description = "`quota_exceeded`", headers(("x-quota-remaining" = u32))),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn export(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path).await?;
    let body: ExportBody = json_body(&req, &body)?;
    let mut errors = Collector::new();
    let idempotency = errors.take(
        req.headers()
            .get("idempotency-key")
            .map(|v| IdempotencyKey::parse(v.to_str().unwrap_or("\u{0}")))
            .transpose(),
    );
    let request = errors.take(ExportRequest::parse(
        body.format.as_deref(),
        body.period_start.as_deref(),
        body.period_end.as_deref(),
        services.exports.today(),
    ));
    errors.finish()?;
    let idempotency = idempotency
        .flatten()
        .map(|key| (key, body.fields().fingerprint(project.org_id, project.id)));
    let exported = services
        .exports
        .request(&project, request.expect("checked"), idempotency)
        .await?;
    let mut response =
        Reply::accepted(ReportDto::new(&exported.report, project.slug.as_str())).respond(&req);
    response.headers_mut().insert(
        header::HeaderName::from_static(QUOTA_REMAINING_HEADER),
        header::HeaderValue::from(exported.remaining),
    );
    if exported.replayed {
        response.headers_mut().insert(
            header::HeaderName::from_static("idempotent-replayed"),
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(response)
}

/// The report with its `download_url`, built from the configured public URL: never from the
/// request's `Host` or `X-Forwarded-*` headers, which the client controls.
fn detail(services: &Services, project: &Project, report: &Report) -> ReportDetailDto {
    let download_url =
        matches!(report.status, ReportStatus::Exported | ReportStatus::Shared).then(|| {
            format!(
                "{}/api/v1/orgs/{}/projects/{}/audit/reports/{}/download",
                services.shares.public_url(),
                project.org_id,
                project.slug,
                report.id
            )
        });
    ReportDetailDto {
        report: ReportDto::new(report, project.slug.as_str()),
        error: report
            .error
            .clone()
            .filter(|_| report.status == ReportStatus::Failed),
        download_url,
    }
}

/// List the project's reports, newest first.
#[utoipa::path(
    get,
    operation_id = "list_reports",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ListReportsQuery),
    responses(
        (status = 200, body = Envelope<Vec<ReportDetailDto>>, description = "A page; `meta.next_cursor` is null on the last page"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn list(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
) -> Result<Reply<Vec<ReportDetailDto>>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path).await?;
    let raw: ListReportsQuery = query(&req)?;
    let mut errors = Collector::new();
    let (limit, after) = page_params(&mut errors, raw.limit.as_deref(), raw.cursor.as_deref());
    errors.finish()?;
    let query = ReportQuery {
        limit: limit.expect("checked"),
        after,
    };
    let page = services.exports.reports(&project, query).await?;
    Ok(page_reply(page, |r| detail(&services, &project, r)))
}

/// A report: its status, `error` once failed, `download_url` once exported.
#[utoipa::path(
    get,
    operation_id = "get_report",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("report_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<ReportDetailDto>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn get(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ReportPath>,
) -> Result<Reply<ReportDetailDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path.project).await?;
    let id: ReportId = path_id(&path.report_id, NO_REPORT)?;
    let report = services.exports.report(&project, id).await?;
    Ok(Reply::ok(detail(&services, &project, &report)))
}

/// Download a report's artefact.
#[utoipa::path(
    get,
    operation_id = "download_report",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}/download",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("report_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, description = "The artefact, with its Content-Type and `Content-Disposition: attachment`",
            content(("application/pdf"), ("text/csv"), ("application/json"), ("text/html"))),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 409, body = ErrorEnvelope, description = "`report_not_ready`: still queued or exporting"),
        (status = 410, body = ErrorEnvelope, description = "`report_failed`: the export failed; `artefact_missing`: the artefact is no longer in the store"),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn download(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ReportPath>,
) -> Result<HttpResponse, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path.project).await?;
    let id: ReportId = path_id(&path.report_id, NO_REPORT)?;
    let (report, stream) = services.exports.download(&project, id).await?;
    let mut response = HttpResponse::Ok();
    if let Some(artefact) = &report.artefact {
        response.no_chunking(artefact.size_bytes);
    }
    Ok(response
        .content_type(report.format.content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(
                report.file_name(project.slug.as_str()),
            )],
        })
        .streaming(stream.map_err(crate::errors::artefact_stream_error)))
}
