//! Share a report, list its shares and deliveries, revoke a share.

use actix_web::{web, HttpRequest, HttpResponse};
use krafter_domain::access::Scope;
use krafter_domain::export::ReportId;
use krafter_domain::share::{ShareChannel, ShareId, ShareRequest};
use krafter_domain::validation::{Collector, FieldError};
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::dto::{DeliveryDto, ShareDto, ShareRecordDto};
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::extract::json_body;
use crate::routes::{path_id, project_access, ProjectPath};
use crate::Services;

const NO_REPORT: &str = "no such report in this project";
const NO_SHARE: &str = "no such share in this project";
const FIELDS: [&str; 5] = [
    "channel",
    "recipients",
    "webhook_url",
    "report_id",
    "expires_in_days",
];

/// The body of a share: one shape per `channel`. A field of another channel is ignored, whatever
/// it holds (each shape allows it with any value); any other field is refused.
// Exactly what `parse_share` and `ShareRequest::parse` accept: keep them in step.
#[derive(Debug, ToSchema)]
#[serde(untagged)]
#[schema(discriminator(
    property_name = "channel",
    mapping(
        ("email" = "#/components/schemas/EmailShareBody"),
        ("slack" = "#/components/schemas/SlackShareBody"),
        ("link" = "#/components/schemas/LinkShareBody"),
    )
))]
#[allow(dead_code)] // a schema only: the body is read field by field
pub enum ShareBody {
    Email(EmailShareBody),
    Slack(SlackShareBody),
    Link(LinkShareBody),
}

/// A share by email: a message with a signed link to each recipient, sent by the workers.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct EmailShareBody {
    #[schema(inline)]
    channel: EmailChannel,
    /// 1 to 50 email addresses (`local@domain`, at most 254 characters); a repeated address is
    /// sent to once.
    #[schema(min_items = 1, max_items = 50)]
    recipients: Vec<EmailAddressDto>,
    /// The report to share; the project's latest when absent or null.
    #[schema(format = Uuid)]
    #[serde(default)]
    report_id: Option<String>,
    /// Not used by this channel: ignored, whatever it holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    webhook_url: (),
    /// Not used by this channel (the links in emails work 30 days): ignored, whatever it holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    expires_in_days: (),
}

/// A share to Slack: a message posted to an incoming webhook by the workers.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct SlackShareBody {
    #[schema(inline)]
    channel: SlackChannel,
    /// The incoming-webhook URL: `https`, no user information, a host on the server's allow-list
    /// (`KRAFTER_WEBHOOK_ALLOWED_HOSTS`, when set) whose every address is public, at most 2048
    /// characters, no control or bidirectional override character.
    #[schema(
        format = "uri",
        min_length = 9,
        max_length = 2048,
        pattern = "^https://"
    )]
    webhook_url: String,
    /// The report to share; the project's latest when absent or null.
    #[schema(format = Uuid)]
    #[serde(default)]
    report_id: Option<String>,
    /// Not used by this channel: ignored, whatever it holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    recipients: (),
    /// Not used by this channel (the link in the message works 30 days): ignored, whatever it
    /// holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    expires_in_days: (),
}

/// A signed link to the public viewer, answered in `share_url`.
#[derive(Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct LinkShareBody {
    #[schema(inline)]
    channel: LinkChannel,
    /// How many days the link works: 1 to 365; 30 when absent or null.
    #[schema(minimum = 1, maximum = 365)]
    #[serde(default)]
    expires_in_days: Option<i64>,
    /// The report to share; the project's latest when absent or null.
    #[schema(format = Uuid)]
    #[serde(default)]
    report_id: Option<String>,
    /// Not used by this channel: ignored, whatever it holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    recipients: (),
    /// Not used by this channel: ignored, whatever it holds.
    #[schema(value_type = Value)]
    #[serde(default)]
    webhook_url: (),
}

#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum EmailChannel {
    Email,
}

#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum SlackChannel {
    Slack,
}

#[derive(Debug, ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)]
enum LinkChannel {
    Link,
}

/// An email address as [`krafter_domain::share::EmailAddress::parse`] accepts it: at most 254
/// characters; a local part of 1 to 64 characters (letters, digits and
/// ``!#$%&'*+-/=?^_`{|}~``, in dot-separated runs); a domain of at least two dot-separated labels
/// of 1 to 63 letters, digits and inner hyphens, the last of letters only.
#[derive(Debug)]
#[allow(dead_code)]
pub struct EmailAddressDto(String);

/// A local part of 1 to 64 characters, then `@`: the second pattern of [`EmailAddressDto`],
/// since one regular expression cannot bound a part's length and its shape at once (without a
/// lookahead, which generators cannot follow).
const EMAIL_LOCAL_LENGTH: &str = "^[^@]{1,64}@[^@]+$";
const EMAIL_SHAPE: &str = concat!(
    "^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
    "@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+[A-Za-z]{1,63}$"
);

impl utoipa::PartialSchema for EmailAddressDto {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Type};
        let pattern = |p: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(Some(p))
        };
        AllOfBuilder::new()
            .schema_type(Type::String)
            .description(Some(
                "An email address (`local@domain`): at most 254 characters, the local part at most 64",
            ))
            .examples([serde_json::json!("security@example.com")])
            .item(pattern(EMAIL_SHAPE).max_length(Some(254)))
            .item(pattern(EMAIL_LOCAL_LENGTH))
            .into()
    }
}

impl ToSchema for EmailAddressDto {}

#[derive(Debug, Deserialize)]
pub struct ReportPath {
    #[serde(flatten)]
    project: ProjectPath,
    report_id: String,
}

#[derive(Debug, Deserialize)]
pub struct SharePath {
    #[serde(flatten)]
    project: ProjectPath,
    share_id: String,
}

/// Reads the share body field by field: the channel first (`invalid_channel`), then only the
/// fields the channel uses, so that the others are ignored whatever they hold.
fn parse_share(body: &Map<String, Value>) -> Result<(ShareRequest, bool), ApiError> {
    let channel = body
        .get("channel")
        .and_then(Value::as_str)
        .and_then(|raw| ShareChannel::parse(raw).ok())
        .ok_or(ApiError::InvalidChannel)?;
    let mut errors = Collector::new();
    for key in body.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        errors.push(FieldError::new(key.as_str(), "unknown field"));
    }
    let recipients = match (channel, body.get("recipients")) {
        (ShareChannel::Email, Some(Value::Array(items))) => {
            let strings: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            if strings.is_none() {
                errors.push(FieldError::new(
                    "recipients",
                    "must be an array of email addresses",
                ));
            }
            strings
        }
        (ShareChannel::Email, Some(Value::Null) | None) => None,
        (ShareChannel::Email, Some(_)) => {
            errors.push(FieldError::new(
                "recipients",
                "must be an array of email addresses",
            ));
            None
        }
        _ => None,
    };
    let webhook_url = match (channel, body.get("webhook_url")) {
        (ShareChannel::Slack, Some(Value::String(url))) => Some(url.as_str()),
        (ShareChannel::Slack, Some(Value::Null) | None) => None,
        (ShareChannel::Slack, Some(_)) => {
            errors.push(FieldError::new("webhook_url", "must be a URL string"));
            None
        }
        _ => None,
    };
    let report_id = match body.get("report_id") {
        None | Some(Value::Null) => None,
        Some(Value::String(id)) => Some(id.as_str()),
        Some(_) => {
            errors.push(FieldError::new("report_id", "must be a report id (UUID)"));
            None
        }
    };
    let expires_in_days = match (channel, body.get("expires_in_days")) {
        (ShareChannel::Link, None | Some(Value::Null)) | (_, None) => None,
        (ShareChannel::Link, Some(v)) => match v.as_i64() {
            Some(days) => Some(days),
            None => {
                errors.push(FieldError::new(
                    "expires_in_days",
                    "must be a whole number of days from 1 to 365",
                ));
                None
            }
        },
        _ => None,
    };
    let parsed = errors.take(ShareRequest::parse(
        channel,
        recipients.as_deref(),
        webhook_url,
        report_id,
        expires_in_days,
    ));
    errors.finish()?;
    Ok(parsed.expect("checked"))
}

/// Share a report by email, Slack or a signed link.
///
/// Shares the report named by `report_id`, or the project's latest (an empty placeholder JSON
/// report is made, free of charge, when there is none). Email and Slack messages are sent by the
/// workers: follow them with `GET …/reports/{report_id}/deliveries`.
#[utoipa::path(
    post,
    operation_id = "share_report",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/share",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path)),
    request_body(content = ShareBody, examples(
        ("link" = (summary = "A signed link to the viewer, for 7 days", value = json!({"channel": "link", "expires_in_days": 7}))),
        ("email" = (summary = "An email to the security team", value = json!({"channel": "email", "recipients": ["security@example.com"]}))),
        ("slack" = (summary = "A Slack message", value = json!({"channel": "slack", "webhook_url": "https://hooks.slack.com/services/T0000/B0000/XXXXXXXX"}))),
    )),
    responses(
        (status = 200, body = Envelope<ShareDto>),
        (status = 400, body = ErrorEnvelope, description = "`invalid_json`"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope, description = "`not_found`: no such project, or no such report"),
        (status = 409, body = ErrorEnvelope, description = "`report_failed`: the report's export failed"),
        (status = 422, body = ErrorEnvelope, description = "`invalid_channel`, `invalid_params`, `channel_unavailable` (email without SMTP configured) or `request_failed`"),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn share(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ProjectPath>,
    body: web::Bytes,
) -> Result<Reply<ShareDto>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path).await?;
    let body: Map<String, Value> = json_body(&req, &body)?;
    let (request, unknown_report) = parse_share(&body)?;
    if unknown_report {
        return Err(ApiError::NotFound(NO_REPORT));
    }
    let shared = services.shares.share(&project, request).await?;
    Ok(Reply::ok(ShareDto::from(&shared)))
}

/// The deliveries of a report's email and Slack shares, oldest first.
#[utoipa::path(
    get,
    operation_id = "list_deliveries",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}/deliveries",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("report_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<Vec<DeliveryDto>>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn deliveries(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ReportPath>,
) -> Result<Reply<Vec<DeliveryDto>>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path.project).await?;
    let id: ReportId = path_id(&path.report_id, NO_REPORT)?;
    let deliveries = services.shares.deliveries(&project, id).await?;
    Ok(Reply::ok(
        deliveries.iter().map(DeliveryDto::from).collect(),
    ))
}

/// The shares of a report, oldest first.
#[utoipa::path(
    get,
    operation_id = "list_shares",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/{report_id}/shares",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("report_id" = String, Path, format = Uuid)),
    responses(
        (status = 200, body = Envelope<Vec<ShareRecordDto>>),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:read"]))
)]
pub async fn shares(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<ReportPath>,
) -> Result<Reply<Vec<ShareRecordDto>>, ApiError> {
    let project = project_access(&req, &services, Scope::AuditRead, &path.project).await?;
    let id: ReportId = path_id(&path.report_id, NO_REPORT)?;
    let shares = services.shares.shares(&project, id).await?;
    Ok(Reply::ok(shares.iter().map(ShareRecordDto::from).collect()))
}

/// Revoke a share: its links answer 404 from now on. Revoking again changes nothing.
#[utoipa::path(
    delete,
    operation_id = "revoke_share",
    path = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/reports/shares/{share_id}",
    tag = "reports",
    params(("org_id" = String, Path, format = Uuid), ("project_id" = String, Path), ("share_id" = String, Path, format = Uuid)),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, body = ErrorEnvelope), (status = 403, body = ErrorEnvelope),
        (status = 404, body = ErrorEnvelope),
    ),
    security(("bearer" = ["audit:write"]))
)]
pub async fn revoke(
    req: HttpRequest,
    services: web::Data<Services>,
    path: web::Path<SharePath>,
) -> Result<HttpResponse, ApiError> {
    let project = project_access(&req, &services, Scope::AuditWrite, &path.project).await?;
    let id: ShareId = path_id(&path.share_id, NO_SHARE)?;
    services.shares.revoke(&project, id).await?;
    Ok(HttpResponse::NoContent().finish())
}
