//! The public viewer of shared reports: `GET /insights/audit/reports/shared/{token}` (the page)
//! and `…/{token}/download` (the artefact). No authentication: the signed token is the key.
//! Every answer, the 404 included, carries headers that keep the page private and inert.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse, HttpResponseBuilder};
use futures::TryStreamExt;
use krafter_domain::export::{ExportFormat, RenderError};
use krafter_domain::share::{ShareError, VIEWER_PATH};

use crate::Services;

/// The page needs no script, no outside resource and no frame: anything else is refused.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const NOT_FOUND_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head><body><h1>Not found</h1><p>There is no shared report at this address.</p></body></html>\n";

const METHOD_NOT_ALLOWED_PAGE: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Method not allowed</title></head><body><h1>Method not allowed</h1><p>A shared report can only be read (GET).</p></body></html>\n";

pub fn is_viewer_path(path: &str) -> bool {
    path.starts_with(VIEWER_PATH)
}

/// The path as the request log may show it: without a viewer token.
pub fn loggable_path(path: &str) -> String {
    if !is_viewer_path(path) {
        return path.to_owned();
    }
    let rest = &path[VIEWER_PATH.len()..];
    match rest.split_once('/') {
        Some((_, tail)) => format!("{VIEWER_PATH}…/{tail}"),
        None => format!("{VIEWER_PATH}…"),
    }
}

fn guarded(mut builder: HttpResponseBuilder) -> HttpResponseBuilder {
    builder
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header(("x-robots-tag", "noindex"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    builder
}

/// The one answer for every link that cannot be followed, whatever the reason.
fn not_found() -> HttpResponse {
    guarded(HttpResponse::NotFound())
        .content_type("text/html; charset=utf-8")
        .body(NOT_FOUND_PAGE)
}

fn failed(error: &dyn std::fmt::Display) -> HttpResponse {
    tracing::error!(%error, "the shared report could not be shown");
    guarded(HttpResponse::InternalServerError())
        .content_type("text/html; charset=utf-8")
        .body("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Error</title></head><body><h1>Something went wrong</h1><p>Try again later.</p></body></html>\n")
}

fn answer_error(error: ShareError) -> HttpResponse {
    match crate::errors::viewer_status(&error) {
        StatusCode::NOT_FOUND => not_found(),
        _ => failed(&error),
    }
}

/// The public viewer of a shared report (no authentication: the signed token is the key).
///
/// Shows the report as it was exported. Every unusable link (tampered, unknown, expired, revoked)
/// gets the same plain 404 page.
#[utoipa::path(
    get,
    operation_id = "view_shared_report",
    path = "/insights/audit/reports/shared/{token}",
    tag = "viewer",
    params(("token" = String, Path, description = "The signed token of a share link", max_length = 2048)),
    responses(
        (status = 200, description = "The report's page", content_type = "text/html", body = String,
            headers(("content-security-policy" = String), ("cache-control" = String), ("referrer-policy" = String), ("x-robots-tag" = String))),
        (status = 404, description = "No shared report at this address", content_type = "text/html", body = String),
    ),
    security(())
)]
pub async fn page(services: web::Data<Services>, token: web::Path<String>) -> HttpResponse {
    let page = match services.shares.view(&token).await {
        Ok(page) => page,
        Err(e) => return answer_error(e),
    };
    let renderer = services.page_renderer.clone();
    let span = tracing::Span::current();
    let rendered = actix_web::rt::task::spawn_blocking(move || -> Result<Vec<u8>, RenderError> {
        let _in_request = span.enter();
        let mut header = page.header;
        header.report.format = ExportFormat::Html;
        let buffer = SharedBuffer::default();
        let mut session = renderer.start(&header, Box::new(buffer.clone()))?;
        session.push(&page.preview.findings)?;
        session.finish()?;
        Ok(buffer.take())
    })
    .await;
    match rendered {
        Ok(Ok(body)) => guarded(HttpResponse::Ok())
            .content_type("text/html; charset=utf-8")
            .body(body),
        Ok(Err(e)) => failed(&e),
        Err(e) => failed(&e),
    }
}

/// The artefact of a shared report.
#[utoipa::path(
    get,
    operation_id = "download_shared_report",
    path = "/insights/audit/reports/shared/{token}/download",
    tag = "viewer",
    params(("token" = String, Path, description = "The signed token of a share link", max_length = 2048)),
    responses(
        (status = 200, description = "The artefact, with its Content-Type and `Content-Disposition: attachment`",
            content(("application/pdf"), ("text/csv"), ("application/json"), ("text/html")),
            headers(("content-disposition" = String))),
        (status = 404, description = "No shared report at this address", content_type = "text/html", body = String),
    ),
    security(())
)]
pub async fn download(services: web::Data<Services>, token: web::Path<String>) -> HttpResponse {
    let (report, file_name, stream) = match services.shares.view_download(&token).await {
        Ok(found) => found,
        Err(e) => return answer_error(e),
    };
    let mut response = guarded(HttpResponse::Ok());
    if let Some(artefact) = &report.artefact {
        response.no_chunking(artefact.size_bytes);
    }
    response
        .content_type(report.format.content_type())
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(file_name)],
        })
        .streaming(stream.map_err(crate::errors::artefact_stream_error))
}

/// A method other than GET and HEAD on the page or the download: 405 with `Allow`, for any token
/// (the answer says nothing about whether the link works).
pub async fn method_not_allowed() -> HttpResponse {
    guarded(HttpResponse::MethodNotAllowed())
        .insert_header((header::ALLOW, "GET, HEAD"))
        .content_type("text/html; charset=utf-8")
        .body(METHOD_NOT_ALLOWED_PAGE)
}

/// Any other path under the viewer.
pub async fn other() -> HttpResponse {
    not_found()
}

/// A writer the renderer can own while the page stays readable afterwards.
#[derive(Clone, Default)]
struct SharedBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl SharedBuffer {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut self.0.lock().expect("not poisoned"))
    }
}

impl std::io::Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("not poisoned").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_reach_the_log() {
        assert_eq!(
            loggable_path("/insights/audit/reports/shared/eyJ.abc.def"),
            "/insights/audit/reports/shared/…"
        );
        assert_eq!(
            loggable_path("/insights/audit/reports/shared/eyJ.abc.def/download"),
            "/insights/audit/reports/shared/…/download"
        );
        assert_eq!(loggable_path("/healthz"), "/healthz");
    }
}
