//! Imports of scanner results: a SARIF 2.1.0 log or the native bulk format in, the counts of
//! what it changed out.

use actix_web::http::header;
use actix_web::{web, HttpRequest};
use bytes::BytesMut;
use futures::StreamExt;
use krafter_domain::access::Scope;
use krafter_domain::import::{parse_document, BodyKind, ImportQuery, ImportRecord, ImportRequest};
use krafter_domain::ledger::SourceName;
use krafter_domain::validation::Collector;
use krafter_domain::InvalidParams;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::dto::rfc3339;
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::{query, utf8_media_type};
use crate::routes::findings::optional_instant;
use crate::routes::{page_params, page_reply, project_access, ProjectPath};
use crate::Services;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportParams {
    /// The tool the results come from; defaults to the SARIF log's `tool.driver.name` (when every
    /// run names the same tool) or the native document's `source`. 1 to 100 characters.
    #[param(min_length = 1, max_length = 100, example = "Bandit")]
    source: Option<String>,
    /// `true` resolves the open findings of this source that the import does not hold.
    #[param(value_type = Option<bool>, example = false)]
    close_missing: Option<String>,
    /// When the scan ran (RFC 3339): the time of every change the import makes; defaults to
    /// now, never in the future nor before the latest change of a finding it changes.
    #[param(value_type = Option<String>, format = DateTime)]
    occurred_at: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListImportsQuery {
    /// 1 to 100; 50 by default.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 100, example = 20)]
    limit: Option<String>,
    /// `meta.next_cursor` of the previous page.
    cursor: Option<String>,
}

/// An import and what it did: `received = created + unchanged + reopened + ignored_dismissed`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportDto {
    #[schema(format = Uuid)]
    pub import_id: String,
    #[schema(min_length = 1, max_length = 100)]
    pub source: String,
    /// The document it was read from.
    #[schema(value_type = ImportFormatDto)]
    pub format: &'static str,
    pub close_missing: bool,
    /// When the scan ran: the time of every change it made.
    #[schema(format = DateTime)]
    pub occurred_at: String,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// Results in the document (those of `kind` `pass` or `notApplicable` left out).
    #[schema(minimum = 0)]
    pub received: u32,
    /// Results no finding of the source had: created.
    #[schema(minimum = 0)]
    pub created: u32,
    /// Results matching an open finding: left open (a changed priority score recorded).
    #[schema(minimum = 0)]
    pub unchanged: u32,
    /// Results matching a resolved finding: reopened, with a regression opened on it.
    #[schema(minimum = 0)]
    pub reopened: u32,
    /// Open findings of the source the import did not hold, resolved (`close_missing`).
    #[schema(minimum = 0)]
    pub resolved: u32,
    /// Results matching a dismissed finding: left dismissed.
    #[schema(minimum = 0)]
    pub ignored_dismissed: u32,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ImportFormatDto {
    Sarif,
    Native,
}

impl From<&ImportRecord> for ImportDto {
    fn from(r: &ImportRecord) -> Self {
        Self {
            import_id: r.id.to_string(),
            source: r.source.as_str().to_owned(),
            format: r.format.as_str(),
            close_missing: r.close_missing,
            occurred_at: rfc3339(r.occurred_at),
            created_at: rfc3339(r.created_at),
            received: r.counts.received,
            created: r.counts.created,
            unchanged: r.counts.unchanged,
            reopened: r.counts.reopened,
            resolved: r.counts.resolved,
            ignored_dismissed: r.counts.ignored_dismissed,
        }
    }
}

/// The document's kind from `Content-Type` (a charset only as UTF-8); 415 for anything else.
fn body_kind(req: &HttpRequest) -> Result<BodyKind, ApiError> {
    match utf8_media_type(req).as_deref() {
        Some("application/sarif+json") => Ok(BodyKind::Sarif),
        Some("application/json") => Ok(BodyKind::Json),
        _ => Err(ApiError::UnsupportedMediaType),
    }
}

/// The whole body in one buffer, refused with 413 as soon as it passes `limit` (at once when
/// `Content-Length` says it will).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<BytesMut, ApiError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let mut body = BytesMut::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk
            .map_err(|_| ApiError::InvalidJson("the request body did not arrive whole".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn parse_flag(field: &str, raw: Option<&str>) -> Result<bool, InvalidParams> {
    match raw {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(InvalidParams::field(field, "must be true or false")),
    }
}

/// Import scanner results.
///
/// The body is a SARIF 2.1.0 log (`application/sarif+json`, or `application/json` with
/// `version` and `runs`) or the native format (`application/json`:
/// `{"source", "findings": [{external_id, title, severity, priority_score?, status?, rule_id?,
/// location?, description?}]}`), up to 50,000 results. Results match the project's findings of
/// the same source by external id (for SARIF, computed from the result's fingerprints, else its
/// snippet: see docs/imports.md): unknown ones are created, resolved ones reopened with a
/// regression, dismissed ones left dismissed, open ones left open. All or nothing; the same
/// document twice changes nothing the second time.
#[utoipa::path(
    post,
    operation_id = "import_results",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/imports",
    tag = "imports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ImportParams),
    request_body(
        description = "A SARIF 2.1.0 log or the native bulk format",
        content(
            (serde_json::Value = "application/sarif+json", example = json!({
                "version": "2.1.0",
                "runs": [{"tool": {"driver": {"name": "Bandit"}}, "results": [{
                    "ruleId": "B602", "level": "error",
                    "message": {"text": "subprocess call with shell=True identified, security issue."},
                    "locations": [{"physicalLocation": {"artifactLocation": {"uri": "app/run.py"},
                        "region": {"startLine": 12, "snippet": {"text": "subprocess.call(cmd, shell=True)"}}}}]
                }]}]
            })),
            (serde_json::Value = "application/json", example = json!({
                "source": "pentest-2026-q4",
                "findings": [{"external_id": "PT-17", "title": "IDOR on /invoices", "severity": "high"}]
            })),
        )
    ),
    responses(
        (status = 201, body = Envelope<ImportDto>),
        (status = 400, body = ErrorEnvelope, description = "`invalid_json`: the body is not JSON"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
        (status = 413, body = ErrorEnvelope, description = "`payload_too_large`: over the import body limit (64 MiB by default)"),
        (status = 415, body = ErrorEnvelope, description = "`unsupported_media_type`: neither application/sarif+json nor application/json"),
        (status = 422, body = ErrorEnvelope, description = "`invalid_import` (the JSON path of the document's first problem in `error.details`) or `invalid_params` (`source`, `close_missing`, `occurred_at`)"),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn create(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
    payload: web::Payload,
) -> Result<Reply<ImportDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path).await?;
    let raw: ImportParams = query(&req)?;
    let mut errors = Collector::new();
    let source = errors.take(raw.source.as_deref().map(SourceName::parse).transpose());
    let close_missing = errors.take(parse_flag("close_missing", raw.close_missing.as_deref()));
    let occurred_at = errors.take(optional_instant(raw.occurred_at.as_deref()));
    errors.finish()?;
    let kind = body_kind(&req)?;
    let body = read_body(&req, payload, services.import_body_limit).await?;
    let source = source.flatten();
    // Reading 64 MiB of JSON takes a while: off the thread that serves other requests.
    let document = web::block(move || parse_document(&body, kind, source))
        .await
        .map_err(|e| ApiError::Internal(Box::new(e)))??;
    let request = ImportRequest {
        document,
        close_missing: close_missing.expect("checked"),
        occurred_at: occurred_at.flatten(),
    };
    let record = services.imports.import(project.id, request).await?;
    tracing::info!(
        import_id = %record.id,
        source = record.source.as_str(),
        received = record.counts.received,
        created = record.counts.created,
        reopened = record.counts.reopened,
        resolved = record.counts.resolved,
        "import applied"
    );
    Ok(Reply::created(ImportDto::from(&record)))
}

/// List the project's imports, newest first.
#[utoipa::path(
    get,
    operation_id = "list_imports",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/imports",
    tag = "imports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ListImportsQuery),
    responses(
        (status = 200, body = Envelope<Vec<ImportDto>>, description = "A page; `meta.next_cursor` is null on the last page"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope), (status = 422, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn list(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
) -> Result<Reply<Vec<ImportDto>>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path).await?;
    let raw: ListImportsQuery = query(&req)?;
    let mut errors = Collector::new();
    let (limit, after) = page_params(&mut errors, raw.limit.as_deref(), raw.cursor.as_deref());
    errors.finish()?;
    let query = ImportQuery {
        limit: limit.expect("checked"),
        after,
    };
    let page = services.imports.list(project.id, query).await?;
    Ok(page_reply(page, |r| ImportDto::from(r)))
}

/// The schemas of an import's two bodies, as strictly as `krafter_domain::import` reads them:
/// the members of a SARIF log it reads (every other member is allowed and ignored) and the
/// native format. `text` is the pattern of a title (1 to N characters of text, see
/// `CreateFindingBody.title`), given by the caller from the generated document.
pub(crate) fn body_schemas(text: &str) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    // A description keeps line breaks and tabs: the title's pattern with those allowed.
    let multiline = text.replace(
        "\\u0000-\\u001F",
        "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F",
    );
    let text_of =
        |max: u32| json!({"type": "string", "minLength": 1, "maxLength": max, "pattern": text});
    let nullable_text_of = |max: u32, pattern: &str| json!({"type": ["string", "null"], "minLength": 1, "maxLength": max, "pattern": pattern});
    let string = json!({"type": ["string", "null"]});
    let message = json!({"type": "object", "properties": {"text": string}});
    let nullable = |mut schema: serde_json::Value| {
        schema["type"] = json!([schema["type"].clone(), "null"]);
        schema
    };
    let level = json!({"enum": ["none", "note", "warning", "error", null], "description": "Absent or null: the rule's `defaultConfiguration.level`, else `warning`"});
    let i64_index = json!({"type": ["integer", "null"], "minimum": i64::MIN, "maximum": i64::MAX});
    let properties = json!({"type": ["object", "null"], "description": "`security-severity` (a number, or a numeric string, from 0 to 10) sets the severity; anything else there is no score"});
    let fingerprints =
        json!({"type": ["object", "null"], "additionalProperties": {"type": "string"}});
    let mut schemas = serde_json::Map::new();
    schemas.insert("SarifLog".into(), json!({
        "type": "object",
        "description": "A SARIF 2.1.0 log: the members an import reads (docs/imports.md). The runs hold at most 50,000 results in all.",
        "required": ["version", "runs"],
        "properties": {
            "version": {"type": "string", "enum": ["2.1.0"]},
            "runs": {"type": "array", "items": {"$ref": "#/components/schemas/SarifRun"}},
        },
    }));
    schemas.insert("SarifRun".into(), json!({
        "type": "object",
        "required": ["tool"],
        "properties": {
            "tool": {"type": "object", "required": ["driver"], "properties": {
                "driver": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string", "description": "The import's `source` unless `?source=` names one: then every run must name the same tool, as 1 to 100 characters of text"},
                    "rules": {"type": ["array", "null"], "items": {"$ref": "#/components/schemas/SarifRule"}},
                }},
            }},
            "results": {"type": ["array", "null"], "maxItems": MAX_RESULTS_U32, "items": {"$ref": "#/components/schemas/SarifResult"}},
        },
    }));
    schemas.insert("SarifRule".into(), json!({
        "type": "object",
        "required": ["id"],
        "properties": {
            "id": {"type": "string"},
            "shortDescription": nullable(message.clone()),
            "defaultConfiguration": {"type": ["object", "null"], "properties": {"level": level}},
            "properties": properties,
        },
    }));
    schemas.insert("SarifResult".into(), json!({
        "type": "object",
        "required": ["message"],
        "properties": {
            "ruleId": string,
            "ruleIndex": i64_index,
            "rule": {"type": ["object", "null"], "properties": {"id": string, "index": i64_index}},
            "message": message,
            "level": level,
            "kind": {"type": ["string", "null"], "description": "`pass` and `notApplicable` results are left out"},
            "locations": {"type": ["array", "null"], "items": {"type": "object", "properties": {
                "physicalLocation": {"type": ["object", "null"], "properties": {
                    "artifactLocation": {"type": ["object", "null"], "properties": {"uri": string}},
                    "region": {"type": ["object", "null"], "properties": {
                        "startLine": {"type": ["integer", "null"], "minimum": 0, "maximum": u64::MAX},
                        "snippet": {"type": ["object", "null"], "properties": {"text": string}},
                    }},
                }},
            }}},
            "fingerprints": fingerprints,
            "partialFingerprints": fingerprints,
            "properties": properties,
        },
    }));
    schemas.insert("NativeImport".into(), json!({
        "type": "object",
        "description": "The native bulk format. A document with `version` or `runs` is a SARIF log.",
        "required": ["findings"],
        "not": {"anyOf": [{"required": ["version"]}, {"required": ["runs"]}]},
        "properties": {
            "source": nullable_text_of(100, text),
            "findings": {"type": "array", "maxItems": MAX_RESULTS_U32, "items": {"$ref": "#/components/schemas/NativeFinding"}},
        },
    }));
    schemas.insert("NativeFinding".into(), json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["external_id", "title", "severity"],
        "properties": {
            "external_id": {"description": "Unique in the document, and per project and source", "allOf": [text_of(500)]},
            "title": text_of(500),
            "severity": {"$ref": "#/components/schemas/SeverityDto"},
            "priority_score": {"type": ["integer", "null"], "minimum": 0, "maximum": 1000, "description": "Default: critical 900, high 700, medium 400, low 100, info 0"},
            "status": {"oneOf": [{"$ref": "#/components/schemas/FindingStatusDto"}, {"type": "null"}], "description": "The status a finding created from it starts in; default `new`"},
            "rule_id": nullable_text_of(500, text),
            "location": nullable_text_of(2000, text),
            "description": nullable_text_of(10_000, &multiline),
        },
    }));
    schemas
}

/// [`krafter_domain::import::MAX_RESULTS`], as the schemas write it.
pub(crate) const MAX_RESULTS_U32: u32 = krafter_domain::import::MAX_RESULTS as u32;
