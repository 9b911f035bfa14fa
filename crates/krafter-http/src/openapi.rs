//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use std::sync::LazyLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes::{findings, health, regressions, reports, shares, summary};
use crate::viewer;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Krafter Reports API",
        description = "Audit metrics for a project's findings, verifications and regressions. Every response is an envelope `{data, meta: {request_id}, error}`."
    ),
    paths(
        findings::create, findings::list, findings::update, findings::get, findings::verify, findings::open_regression,
        regressions::close, summary::summary, reports::export, reports::list, reports::get,
        reports::download, shares::share, shares::deliveries, shares::shares, shares::revoke,
        viewer::page, viewer::download, health::healthz, health::readyz,
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "findings", description = "The findings ledger"),
        (name = "regressions"),
        (name = "reports", description = "Metrics and exports"),
        (name = "viewer", description = "The public viewer of shared reports"),
        (name = "health"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("kr_live_…")
                    .build(),
            ),
        );
    }
}

static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_json()
        .expect("the OpenAPI document serialises")
});

/// The OpenAPI 3.1 document of this API.
pub async fn document() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(DOCUMENT.as_str())
}
