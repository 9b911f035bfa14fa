#![doc = include_str!("../README.md")]

mod dto;
mod envelope;
mod errors;
mod extract;
pub mod openapi;
mod routes;

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::middleware::from_fn;
use actix_web::{web, App, HttpResponse, HttpServer};
use krafter_domain::access::{ApiKeyRepository, Authorizer};
use krafter_domain::health::Readiness;
use krafter_domain::ledger::{Ledger, LedgerRepository};
use krafter_domain::metrics::{MetricsRepository, Summaries};
use krafter_domain::project::ProjectRepository;
use krafter_domain::Clock;

pub use envelope::REQUEST_ID_HEADER;
use routes::{findings, health, regressions, summary};

/// Largest request body accepted; the ledger's bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The use cases the routes call.
pub struct Services {
    pub authorizer: Authorizer,
    pub ledger: Ledger,
    pub summaries: Summaries,
    pub readiness: Arc<dyn Readiness>,
}

impl Services {
    /// The services over one store that implements every port (PostgreSQL in production).
    pub fn over<S>(store: S, clock: Arc<dyn Clock>) -> Self
    where
        S: ApiKeyRepository
            + ProjectRepository
            + LedgerRepository
            + MetricsRepository
            + Readiness
            + Clone
            + 'static,
    {
        Self {
            authorizer: Authorizer::new(
                Arc::new(store.clone()),
                Arc::new(store.clone()),
                clock.clone(),
            ),
            ledger: Ledger::new(Arc::new(store.clone()), clock.clone()),
            summaries: Summaries::new(Arc::new(store.clone()), clock),
            readiness: Arc::new(store),
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
    .listen(listener)?
    .run();
    Ok(server)
}
