//! The response envelope `{data, meta: {request_id}, error}`, the request id, and the middleware
//! that gives every response, handled or not, that shape and a log line.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use actix_web::body::{BodySize, BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, Responder};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::Stream;
use rand::RngCore;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::errors::{body_for_status, ApiError, ErrorBody};
use crate::metrics::Metrics;

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

/// The `meta` of every answer but a listing's (`PageMeta`).
#[derive(Debug, Serialize, ToSchema)]
pub struct Meta {
    /// The request's id: 20 URL-safe characters, also sent as `x-request-id`.
    #[schema(pattern = "^[A-Za-z0-9_-]{20}$")]
    pub request_id: String,
    /// The cursor of the next page, on listings only (described by [`PageMeta`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(ignore)]
    pub next_cursor: Option<Option<String>>,
}

/// The `meta` of a listing: the request's id and the cursor of the next page.
// How `Meta` serialises for a `Reply::page`; a schema of its own so that other answers' `meta`
// shows no cursor.
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // a schema only
pub struct PageMeta {
    /// The request's id: 20 URL-safe characters, also sent as `x-request-id`.
    #[schema(pattern = "^[A-Za-z0-9_-]{20}$")]
    request_id: String,
    /// The cursor of the next page, to pass back as `?cursor=…` with the same filters; null on
    /// the last page.
    #[schema(required = true)]
    next_cursor: Option<String>,
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

/// How long a request body may take to arrive once its headers have (app data of the server).
#[derive(Debug, Clone, Copy)]
pub struct BodyTimeout(pub Duration);

/// Tags the request with an id, bounds the time its body may take, puts every error response
/// into the envelope, adds the API's response headers, and logs one line.
pub async fn envelope_middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id = RequestId::generate();
    // The route's pattern, never the path itself: no id or viewer token in a span or a label.
    let route = req.match_pattern();
    // Everything the request does, in every layer (and in the tasks it spawns, which carry the
    // span along), is logged in this span, so that each line names the request.
    let span = tracing::info_span!(
        "request",
        request_id = %request_id.0,
        method = %req.method(),
        route = route.as_deref().unwrap_or(crate::metrics::UNMATCHED_ROUTE),
    );
    let response = respond(req, next, request_id, route, started)
        .instrument(span.clone())
        .await?;
    // A streamed body (a download) is read after this returns: in the request's span too.
    Ok(response.map_body(|_, body| match body.size() {
        BodySize::Stream => BoxBody::new(InSpan { body, span }),
        _ => body,
    }))
}

async fn respond(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
    request_id: RequestId,
    route: Option<String>,
    started: Instant,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    req.extensions_mut().insert(request_id.clone());
    bound_body(&mut req);
    let bearer_given = bearer_given(&req);
    let method = req.method().clone();
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    // A viewer token is a credential: it never reaches the log.
    // The decoded path, as routing sees it: `%73hared` must not slip past either check.
    let decoded = req.match_info().as_str().to_owned();
    let path = crate::viewer::loggable_path(&decoded);
    let viewer = crate::viewer::is_viewer_path(&decoded);

    // Handlers and extractors answer errors as responses; an `Err` could only come from another
    // middleware, of which there is none inside this one.
    let mut response = next.call(req).await?.map_into_boxed_body();
    let timed_out = body_timed_out(&response);
    if timed_out {
        let (req, _) = response.into_parts();
        response = ServiceResponse::new(req, HttpResponse::RequestTimeout().finish());
    }
    if is_quota_refusal(&response) {
        if let Some(metrics) = &metrics {
            metrics.count_quota_refusal();
        }
    }
    // The public viewer answers pages, not envelopes, writes its own errors and sets its own
    // headers (`private, no-store` among them).
    let mut response = if viewer {
        response
    } else {
        let mut response = envelope_errors(response, &request_id);
        api_headers(&mut response, bearer_given);
        response
    };
    if timed_out {
        // The rest of the body is not waited for: the connection cannot carry another request.
        response
            .response_mut()
            .head_mut()
            .set_connection_type(ConnectionType::Close);
    }
    if let Ok(value) = HeaderValue::from_str(&request_id.0) {
        response
            .headers_mut()
            .insert(header::HeaderName::from_static(REQUEST_ID_HEADER), value);
    }
    let took = started.elapsed();
    if let Some(metrics) = &metrics {
        metrics.count_request(&method, route.as_deref(), response.status(), took);
    }
    let status = response.status().as_u16();
    let elapsed_ms = took.as_secs_f64() * 1000.0;
    // The request id and method are the span's.
    tracing::info!(%path, status, elapsed_ms, "request");
    Ok(response)
}

/// Whether the answer is a refusal for the organisation's export quota (counted where the
/// error becomes a response, whichever handler produced it).
fn is_quota_refusal(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .response()
        .error()
        .and_then(|e| e.as_error::<ApiError>())
        .is_some_and(|e| matches!(e, ApiError::QuotaExceeded))
}

/// A streamed response body, polled in the request's span.
struct InSpan {
    body: BoxBody,
    span: tracing::Span,
}

impl MessageBody for InSpan {
    type Error = Box<dyn std::error::Error>;

    fn size(&self) -> BodySize {
        self.body.size()
    }

    fn poll_next(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Bytes, Self::Error>>> {
        let this = self.get_mut();
        let _entered = this.span.enter();
        Pin::new(&mut this.body).poll_next(cx)
    }
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
            match api_error {
                ApiError::Internal(source) => {
                    tracing::error!(error = %source, details = ?source, "internal error");
                }
                ApiError::StoreUnavailable(source) => {
                    tracing::warn!(error = %source, "database unavailable; answered 503");
                }
                _ => {}
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

/// Headers on every API answer: no content sniffing, no caching (answers carry tenant data and
/// downloads), and on a 401 the scheme to authenticate with (RFC 6750 §3).
fn api_headers(response: &mut ServiceResponse<BoxBody>, bearer_given: bool) {
    let status = response.status();
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if status == StatusCode::UNAUTHORIZED {
        let challenge = match bearer_given {
            true => r#"Bearer error="invalid_token""#,
            false => "Bearer",
        };
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(challenge),
        );
    }
}

/// Whether the request offered a bearer token (right or wrong), as opposed to none at all.
fn bearer_given(req: &ServiceRequest) -> bool {
    req.headers().get_all(header::AUTHORIZATION).any(|value| {
        value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, token)| {
                scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty()
            })
    })
}

/// Puts the request's body behind the server's [`BodyTimeout`]: a body that stops arriving fails
/// its extractor with a timed-out payload error, answered 408 by the middleware.
fn bound_body(req: &mut ServiceRequest) {
    let timeout = req
        .app_data::<BodyTimeout>()
        .map_or_else(|| crate::Timeouts::default().request_body, |t| t.0);
    let payload = req.take_payload();
    if let Payload::None = payload {
        return;
    }
    let bounded: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(Deadline {
        inner: payload,
        sleep: Box::pin(tokio::time::sleep(timeout)),
        expired: false,
    });
    req.set_payload(Payload::from(bounded));
}

fn body_timed_out(response: &ServiceResponse<BoxBody>) -> bool {
    response
        .response()
        .error()
        .and_then(|e| e.as_error::<PayloadError>())
        .is_some_and(
            |e| matches!(e, PayloadError::Io(io) if io.kind() == std::io::ErrorKind::TimedOut),
        )
}

/// A payload that fails once its deadline has passed.
struct Deadline {
    inner: Payload,
    sleep: Pin<Box<tokio::time::Sleep>>,
    expired: bool,
}

impl Stream for Deadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.expired {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut this.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        if this.sleep.as_mut().poll(cx).is_ready() {
            this.expired = true;
            let error = std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the request body did not arrive in time",
            );
            return Poll::Ready(Some(Err(PayloadError::Io(error))));
        }
        Poll::Pending
    }
}
