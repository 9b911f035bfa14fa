#![doc = include_str!("../README.md")]

mod dto;
mod envelope;
mod errors;
mod extract;
pub mod openapi;
mod routes;
pub(crate) mod viewer;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use krafter_domain::access::{ApiKeyRepository, Authorizer};
use krafter_domain::export::{
    ArtefactStore, ExportRepository, Exports, ReportRenderer, ReportSource,
};
use krafter_domain::health::Readiness;
use krafter_domain::ledger::{Ledger, LedgerRepository};
use krafter_domain::metrics::{MetricsRepository, Summaries};
use krafter_domain::project::ProjectRepository;
use krafter_domain::share::{LinkSigner, ShareRepository, Shares, SharesDeps, Webhooks};
use krafter_domain::Clock;

pub use envelope::REQUEST_ID_HEADER;

/// Exports left this month, on every export response.
pub const QUOTA_REMAINING_HEADER: &str = "x-quota-remaining";
use routes::{findings, health, regressions, reports, shares, summary};

/// Largest request body accepted; the ledger's bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The use cases the routes call.
pub struct Services {
    pub authorizer: Authorizer,
    pub ledger: Ledger,
    pub summaries: Summaries,
    pub exports: Exports,
    pub shares: Shares,
    /// Renders the public viewer's page (the `html` format).
    pub page_renderer: Arc<dyn ReportRenderer>,
    pub readiness: Arc<dyn Readiness>,
}

/// What sharing needs beyond the store, chosen by the composition root.
pub struct Sharing {
    pub webhooks: Arc<dyn Webhooks>,
    pub links: Arc<dyn LinkSigner>,
    pub renderer: Arc<dyn ReportRenderer>,
    /// `KRAFTER_PUBLIC_URL`: the start of every URL the service hands out.
    pub public_url: String,
    /// Whether SMTP is configured (email shares are refused otherwise).
    pub email_enabled: bool,
}

impl Services {
    /// The services over one store that implements every storage port (PostgreSQL in
    /// production) and an artefact store.
    pub fn over<S>(
        store: S,
        artefacts: Arc<dyn ArtefactStore>,
        clock: Arc<dyn Clock>,
        sharing: Sharing,
    ) -> Self
    where
        S: ApiKeyRepository
            + ProjectRepository
            + LedgerRepository
            + MetricsRepository
            + ExportRepository
            + ShareRepository
            + ReportSource
            + Readiness
            + Clone
            + 'static,
    {
        let shared = Arc::new(store);
        Self {
            authorizer: Authorizer::new(shared.clone(), shared.clone(), clock.clone()),
            ledger: Ledger::new(shared.clone(), clock.clone()),
            summaries: Summaries::new(shared.clone(), clock.clone()),
            exports: Exports::new(
                shared.clone(),
                shared.clone(),
                artefacts.clone(),
                clock.clone(),
            ),
            shares: Shares::new(SharesDeps {
                repo: shared.clone(),
                exports: shared.clone(),
                metrics: shared.clone(),
                source: shared.clone(),
                artefacts,
                webhooks: sharing.webhooks,
                links: sharing.links,
                clock,
                public_url: sharing.public_url,
                email_enabled: sharing.email_enabled,
            }),
            page_renderer: sharing.renderer,
            readiness: shared,
        }
    }
}

/// Registers every route, so that tests and the server build the same application.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let audit = "/api/v1/orgs/{org_id}/projects/{project_id}/audit";
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .route("/healthz", web::get().to(health::healthz))
        .route("/readyz", web::get().to(health::readyz))
        .route("/api/v1/openapi.json", web::get().to(openapi::document))
        .service(
            web::resource(format!("{audit}/findings"))
                .get(findings::list)
                .post(findings::create)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}"))
                .patch(findings::update)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}/verifications"))
                .post(findings::verify)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}/regressions"))
                .post(findings::open_regression)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/regressions/{{regression_id}}"))
                .patch(regressions::close)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/summary"))
                .get(summary::summary)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/export"))
                .post(reports::export)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/share"))
                .post(shares::share)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports"))
                .get(reports::list)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/shares/{{share_id}}"))
                .delete(shares::revoke)
                .default_service(web::to(method_not_allowed)),
        )
        // After `summary` and `export`, which would otherwise be taken for report ids.
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}"))
                .get(reports::get)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/download"))
                .get(reports::download)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/deliveries"))
                .get(shares::deliveries)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/shares"))
                .get(shares::shares)
                .default_service(web::to(method_not_allowed)),
        )
        .service(
            web::resource("/insights/audit/reports/shared/{token}")
                .get(viewer::page)
                .default_service(web::to(viewer::other)),
        )
        .service(
            web::resource("/insights/audit/reports/shared/{token}/download")
                .get(viewer::download)
                .default_service(web::to(viewer::other)),
        )
        .service(
            web::scope("/insights/audit/reports/shared").default_service(web::to(viewer::other)),
        );
}

async fn method_not_allowed() -> HttpResponse {
    HttpResponse::MethodNotAllowed().finish()
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// The HTTP server on an already bound listener (bind port 0 in tests). Await it to run it; its
/// `handle()` stops it gracefully.
pub fn server(
    listener: TcpListener,
    services: Services,
) -> std::io::Result<actix_web::dev::Server> {
    let services = web::Data::new(services);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(services.clone())
            .configure(configure)
            .default_service(web::to(not_found))
            .wrap(from_fn(envelope::envelope_middleware))
    })
    // The binary handles SIGINT and SIGTERM itself and stops the server gracefully.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
