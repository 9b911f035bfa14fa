use actix_web::web;

use crate::dto::StatusDto;
use crate::envelope::{Envelope, ErrorEnvelope, Reply};
use crate::errors::ApiError;
use crate::Services;

/// The process is up.
#[utoipa::path(get, operation_id = "healthz", path = "/healthz", tag = "health", responses((status = 200, body = Envelope<StatusDto>)))]
pub async fn healthz() -> Reply<StatusDto> {
    Reply::ok(StatusDto { status: "ok" })
}

/// The database is reachable and fully migrated.
#[utoipa::path(
    get,
    operation_id = "readyz",
    path = "/readyz",
    tag = "health",
    responses((status = 200, body = Envelope<StatusDto>), (status = 503, body = ErrorEnvelope))
)]
pub async fn readyz(services: web::Data<Services>) -> Result<Reply<StatusDto>, ApiError> {
    services.readiness.check().await.map_err(|error| {
        // The detail (a database error, say) is for operators; the client gets a short reason.
        tracing::warn!(%error, "not ready");
        ApiError::Unavailable(error.public_reason())
    })?;
    Ok(Reply::ok(StatusDto { status: "ready" }))
}
