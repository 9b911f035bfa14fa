//! Every error the API answers, and the one place where each maps to a status and a code.

use std::error::Error as StdError;

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use krafter_domain::access::{AccessError, Scope};
use krafter_domain::export::ExportError;
use krafter_domain::import::{DocumentError, ImportError, InvalidImport};
use krafter_domain::ledger::{LedgerError, TransitionError};
use krafter_domain::metrics::remediation::RemediationError;
use krafter_domain::metrics::SummaryError;
use krafter_domain::share::{ShareChannel, ShareError};
use krafter_domain::storage::StorageError;
use krafter_domain::InvalidParams;
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    InvalidParams(#[from] InvalidParams),
    #[error("the request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("the request body must be JSON (Content-Type: application/json)")]
    UnsupportedMediaType,
    #[error("a valid API key is required (Authorization: Bearer kr_live_…)")]
    Unauthorized,
    #[error("the API key lacks the {0} scope")]
    Forbidden(Scope),
    #[error("{0}")]
    NotFound(&'static str),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error("{0}")]
    Unavailable(String),
    /// The database could not be reached in time (busy, down, restarting): try again.
    #[error("the service is briefly unavailable; try again shortly")]
    StoreUnavailable(#[source] StorageError),
    /// The key's request rate is used up for now; `retry_after` seconds until the next request.
    #[error("too many requests for this API key; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("the organisation's export quota for this month is used up")]
    QuotaExceeded,
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReused,
    #[error("the report is {0}; poll it until it is exported")]
    ReportNotReady(&'static str),
    #[error("the export failed: {0}")]
    ReportFailed(String),
    #[error("the report's artefact is no longer available; export the report again")]
    ArtefactMissing,
    #[error("channel must be one of email, slack, link")]
    InvalidChannel,
    #[error("{0}")]
    ChannelUnavailable(&'static str),
    #[error("the report's export failed; it cannot be shared")]
    ShareOfFailedReport,
    #[error("{0}")]
    RequestFailed(&'static str),
    /// A document that cannot be imported: the JSON path of its first problem.
    #[error("the document cannot be imported: {0}")]
    InvalidImport(InvalidImport),
    #[error("the request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    #[error("internal error")]
    Internal(#[source] Box<dyn StdError + Send + Sync>),
}

/// The `error` member of the envelope.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    /// Stable, machine-readable: `invalid_params`, `invalid_import`, `invalid_json`, `unauthorized`, `forbidden`,
    /// `not_found`, `method_not_allowed`, `invalid_transition`, `payload_too_large`,
    /// `unsupported_media_type`, `request_timeout`, `bad_request`, `quota_exceeded`, `idempotency_key_reused`,
    /// `report_not_ready`, `report_failed`, `artefact_missing`, `invalid_channel`, `channel_unavailable`,
    /// `request_failed`, `rate_limited`, `service_unavailable`, `internal_error`.
    #[schema(value_type = ErrorCode)]
    pub code: &'static str,
    pub message: String,
    /// The fields at fault, for `invalid_params`; for `invalid_import`, the JSON path of the
    /// document's first problem (`runs[0].results[12].locations`; `.` for the document).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<Vec<FieldErrorBody>>,
}

/// Every value of `ErrorBody.code` (a schema only: the codes are written in [`ApiError::code`] and
/// [`body_for_status`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ErrorCode {
    InvalidParams,
    InvalidImport,
    InvalidJson,
    Unauthorized,
    Forbidden,
    NotFound,
    MethodNotAllowed,
    InvalidTransition,
    PayloadTooLarge,
    UnsupportedMediaType,
    RequestTimeout,
    BadRequest,
    QuotaExceeded,
    IdempotencyKeyReused,
    ReportNotReady,
    ReportFailed,
    ArtefactMissing,
    InvalidChannel,
    ChannelUnavailable,
    RequestFailed,
    RateLimited,
    ServiceUnavailable,
    InternalError,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FieldErrorBody {
    pub field: String,
    pub message: String,
}

impl ApiError {
    fn code(&self) -> &'static str {
        match self {
            ApiError::InvalidParams(_) => "invalid_params",
            ApiError::InvalidJson(_) => "invalid_json",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::Transition(_) => "invalid_transition",
            ApiError::Unavailable(_) | ApiError::StoreUnavailable(_) => "service_unavailable",
            ApiError::RateLimited { .. } => "rate_limited",
            ApiError::QuotaExceeded => "quota_exceeded",
            ApiError::IdempotencyKeyReused => "idempotency_key_reused",
            ApiError::ReportNotReady(_) => "report_not_ready",
            ApiError::ReportFailed(_) => "report_failed",
            ApiError::ArtefactMissing => "artefact_missing",
            ApiError::InvalidChannel => "invalid_channel",
            ApiError::ChannelUnavailable(_) => "channel_unavailable",
            ApiError::ShareOfFailedReport => "report_failed",
            ApiError::RequestFailed(_) => "request_failed",
            ApiError::InvalidImport(_) => "invalid_import",
            ApiError::PayloadTooLarge(_) => "payload_too_large",
            ApiError::Internal(_) => "internal_error",
        }
    }

    pub fn body(&self) -> ErrorBody {
        let details = match self {
            ApiError::InvalidParams(p) => Some(
                p.fields()
                    .iter()
                    .map(|f| FieldErrorBody {
                        field: f.field.clone(),
                        message: f.message.clone(),
                    })
                    .collect(),
            ),
            ApiError::InvalidImport(e) => Some(vec![FieldErrorBody {
                field: e.path.clone(),
                message: e.message.clone(),
            }]),
            _ => None,
        };
        ErrorBody {
            code: self.code(),
            message: self.to_string(),
            details,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::InvalidParams(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Transition(_) => StatusCode::CONFLICT,
            ApiError::Unavailable(_) | ApiError::StoreUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::QuotaExceeded => StatusCode::TOO_MANY_REQUESTS,
            ApiError::IdempotencyKeyReused => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ReportNotReady(_) => StatusCode::CONFLICT,
            ApiError::ReportFailed(_) => StatusCode::GONE,
            ApiError::ArtefactMissing => StatusCode::GONE,
            ApiError::InvalidChannel => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ChannelUnavailable(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::ShareOfFailedReport => StatusCode::CONFLICT,
            ApiError::RequestFailed(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::InvalidImport(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The body is written by the envelope middleware, which knows the request id; headers set
    /// here are kept.
    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        match self {
            ApiError::QuotaExceeded => {
                response.insert_header((crate::QUOTA_REMAINING_HEADER, "0"));
            }
            ApiError::StoreUnavailable(_) => {
                response.insert_header((header::RETRY_AFTER, STORE_RETRY_AFTER_SECONDS));
            }
            ApiError::RateLimited { retry_after } => {
                response.insert_header((header::RETRY_AFTER, *retry_after));
            }
            _ => {}
        }
        response.finish()
    }
}

/// The error body for a response that failed outside our handlers (no route, wrong method,
/// oversized payload, …), chosen by its status alone.
pub fn body_for_status(status: StatusCode) -> ErrorBody {
    let (code, message) = match status {
        StatusCode::NOT_FOUND => ("not_found", "no such resource"),
        StatusCode::METHOD_NOT_ALLOWED => (
            "method_not_allowed",
            "this method is not allowed on this resource",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large"),
        StatusCode::REQUEST_TIMEOUT => {
            ("request_timeout", "the request body did not arrive in time")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => {
            ("unsupported_media_type", "the request body must be JSON")
        }
        s if s.is_server_error() => ("internal_error", "internal error"),
        _ => ("bad_request", "the request could not be understood"),
    };
    ErrorBody {
        code,
        message: message.to_owned(),
        details: None,
    }
}

/// The `Retry-After` of a 503 for an unreachable database: about one pool wait.
const STORE_RETRY_AFTER_SECONDS: u64 = 1;

impl From<StorageError> for ApiError {
    fn from(error: StorageError) -> Self {
        if error.is_unavailable() {
            ApiError::StoreUnavailable(error)
        } else {
            ApiError::Internal(Box::new(error))
        }
    }
}

impl From<AccessError> for ApiError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Unauthenticated => ApiError::Unauthorized,
            AccessError::MissingScope(scope) => ApiError::Forbidden(scope),
            AccessError::NotFound => ApiError::NotFound("no such organisation or project"),
            AccessError::Storage(e) => e.into(),
        }
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> Self {
        match error {
            LedgerError::Invalid(e) => e.into(),
            LedgerError::Transition(e) => e.into(),
            LedgerError::FindingNotFound => ApiError::NotFound("no such finding in this project"),
            // The API never names a new finding's id; only an embedder can meet this.
            LedgerError::FindingExists => {
                InvalidParams::field("id", "a finding with this id exists").into()
            }
            LedgerError::RegressionNotFound => {
                ApiError::NotFound("no such regression in this project")
            }
            LedgerError::Storage(e) => e.into(),
        }
    }
}

impl From<DocumentError> for ApiError {
    fn from(error: DocumentError) -> Self {
        match error {
            DocumentError::Invalid(e) => ApiError::InvalidImport(e),
            DocumentError::Params(e) => e.into(),
            DocumentError::NotJson(e) => ApiError::InvalidJson(e),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::Invalid(e) => e.into(),
            ImportError::Storage(e) => e.into(),
        }
    }
}

impl From<SummaryError> for ApiError {
    fn from(error: SummaryError) -> Self {
        match error {
            SummaryError::Invalid(e) => e.into(),
            SummaryError::Storage(e) => e.into(),
        }
    }
}

impl From<RemediationError> for ApiError {
    fn from(error: RemediationError) -> Self {
        match error {
            RemediationError::Invalid(e) => e.into(),
            RemediationError::UnknownOrganisation => ApiError::NotFound("no such organisation"),
            RemediationError::Storage(e) => e.into(),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::QuotaExceeded => ApiError::QuotaExceeded,
            ExportError::IdempotencyKeyReused => ApiError::IdempotencyKeyReused,
            ExportError::NotFound => ApiError::NotFound("no such report in this project"),
            ExportError::NotReady(status) => ApiError::ReportNotReady(status.as_str()),
            ExportError::Failed(reason) => ApiError::ReportFailed(reason),
            ExportError::ArtefactMissing => ApiError::ArtefactMissing,
            ExportError::Storage(e) => e.into(),
        }
    }
}

impl From<ShareError> for ApiError {
    fn from(error: ShareError) -> Self {
        match error {
            ShareError::Invalid(e) => e.into(),
            ShareError::ChannelUnavailable(ShareChannel::Email) => ApiError::ChannelUnavailable(
                "email sharing is not configured on this server: set KRAFTER_SMTP_URL (and KRAFTER_MAIL_FROM)",
            ),
            ShareError::ChannelUnavailable(_) => {
                ApiError::ChannelUnavailable("this channel is not configured on this server")
            }
            ShareError::ReportNotFound => ApiError::NotFound("no such report in this project"),
            ShareError::ReportFailed => ApiError::ShareOfFailedReport,
            ShareError::ShareNotFound => ApiError::NotFound("no such share in this project"),
            ShareError::ReportNotUpdated => {
                ApiError::RequestFailed("the report could not be updated; try again")
            }
            ShareError::LinkNotFound => ApiError::NotFound("no such shared report"),
            ShareError::Storage(e) => e.into(),
        }
    }
}

/// The status of a public viewer answer (an HTML page, not an envelope): every link that cannot
/// be followed is one plain 404, whatever the reason; anything else is the server's failure.
pub fn viewer_status(error: &ShareError) -> StatusCode {
    match error {
        ShareError::LinkNotFound => StatusCode::NOT_FOUND,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A failure while an artefact is already streaming: the status is sent, so the connection is cut.
pub fn artefact_stream_error(
    error: krafter_domain::export::ArtefactStoreError,
) -> actix_web::Error {
    tracing::error!(%error, "artefact stream failed mid-download");
    actix_web::error::ErrorInternalServerError("artefact stream failed")
}
