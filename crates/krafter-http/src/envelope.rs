//! The response envelope `{data, meta: {request_id}, error}`, the request id, and the middleware
//! that gives every response, handled or not, that shape and a log line.

use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, Responder};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use serde::Serialize;
use utoipa::ToSchema;

use crate::errors::{body_for_status, ApiError, ErrorBody};

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// 20 URL-safe characters (15 random bytes), sent as `x-request-id` and in `meta.request_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(String);

impl RequestId {
    fn generate() -> Self {
        let mut bytes = [0u8; 15];
        rand::thread_rng().fill_bytes(&mut bytes);
        Self(URL_SAFE_NO_PAD.encode(bytes))
    }

    fn of(req: &HttpRequest) -> String {
        req.extensions()
            .get::<RequestId>()
            .map(|id| id.0.clone())
            .unwrap_or_default()
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    pub request_id: String,
    /// The cursor of the next page, on listings; absent elsewhere.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<Option<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    pub data: T,
    pub meta: Meta,
    #[schema(value_type = Option<ErrorBody>)]
    pub error: Option<ErrorBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorEnvelope {
    #[schema(value_type = Option<Object>)]
    pub data: Option<()>,
    pub meta: Meta,
    pub error: ErrorBody,
}

/// A successful answer: `data` with a status, and for listings the next cursor.
pub struct Reply<T> {
    status: StatusCode,
    data: T,
    next_cursor: Option<Option<String>>,
}

impl<T: Serialize> Reply<T> {
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            next_cursor: None,
        }
    }

    pub fn created(data: T) -> Self {
        Self {
            status: StatusCode::CREATED,
            data,
            next_cursor: None,
        }
    }

    pub fn accepted(data: T) -> Self {
        Self {
            status: StatusCode::ACCEPTED,
            data,
            next_cursor: None,
        }
    }

    pub fn page(data: T, next_cursor: Option<String>) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            next_cursor: Some(next_cursor),
        }
    }
}

impl<T: Serialize> Reply<T> {
    /// The response, for handlers that add headers to it.
    pub fn respond(self, req: &HttpRequest) -> HttpResponse {
        self.respond_to(req)
    }
}

impl<T: Serialize> Responder for Reply<T> {
    type Body = BoxBody;

    fn respond_to(self, req: &HttpRequest) -> HttpResponse {
        let envelope = Envelope {
            data: self.data,
            meta: Meta {
                request_id: RequestId::of(req),
                next_cursor: self.next_cursor,
            },
            error: None,
        };
        HttpResponse::build(self.status).json(envelope)
    }
}

fn error_response(status: StatusCode, error: ErrorBody, request_id: &RequestId) -> HttpResponse {
    HttpResponse::build(status).json(ErrorEnvelope {
        data: None,
        meta: Meta {
            request_id: request_id.0.clone(),
            next_cursor: None,
        },
        error,
    })
}

/// Tags the request with an id, puts every error response into the envelope, and logs one line.
pub async fn envelope_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = RequestId::generate();
    req.extensions_mut().insert(request_id.clone());
    let method = req.method().clone();
    // A viewer token is a credential: it never reaches the log.
    // The decoded path, as routing sees it: `%73hared` must not slip past either check.
    let decoded = req.match_info().as_str().to_owned();
    let path = crate::viewer::loggable_path(&decoded);
    let viewer = crate::viewer::is_viewer_path(&decoded);

    // Handlers and extractors answer errors as responses; an `Err` could only come from another
    // middleware, of which there is none inside this one.
    let response = next.call(req).await?.map_into_boxed_body();
    // The public viewer answers pages, not envelopes, and writes its own errors.
    let mut response = if viewer {
        response
    } else {
        envelope_errors(response, &request_id)
    };
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    tracing::info!(request_id = %request_id.0, %method, %path, status, elapsed_ms, "request");
    Ok(response)
}

/// Replaces the body of any error response with the envelope; successful responses pass as they are.
fn envelope_errors(
    res: ServiceResponse<BoxBody>,
    request_id: &RequestId,
) -> ServiceResponse<BoxBody> {
    let status = res.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let body = match res
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
    {
        Some(api_error) => {
            if let ApiError::Internal(source) = api_error {
                tracing::error!(request_id = %request_id.0, error = %source, details = ?source, "internal error");
            }
            api_error.body()
        }
        None => body_for_status(status),
    };
    let (req, original) = res.into_parts();
    let mut replaced = error_response(status, body, request_id);
    // Keep headers that matter to the client (e.g. `Allow` on 405), and the error for the log line.
    for (name, value) in original.headers() {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    ServiceResponse::new(req, replaced)
}
