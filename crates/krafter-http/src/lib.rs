#![doc = include_str!("../README.md")]

mod dto;
mod envelope;
mod errors;
mod extract;
pub mod metrics;
pub mod openapi;
mod rate_limit;
mod routes;
pub(crate) mod viewer;

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::header;
use actix_web::middleware::from_fn;
use actix_web::{guard, web, App, HttpResponse, HttpServer, Route};
use krafter_domain::access::{ApiKeyRepository, Authorizer};
use krafter_domain::export::{
    ArtefactStore, ExportRepository, Exports, ExportsDeps, JobQueue, ReportRenderer, ReportSource,
};
use krafter_domain::health::Readiness;
use krafter_domain::import::{ImportRepository, Imports};
use krafter_domain::ledger::{Ledger, LedgerRepository};
use krafter_domain::metrics::remediation::{RemediationReports, RemediationRepository};
use krafter_domain::metrics::{MetricsRepository, OrgMetricsRepository, OrgSummaries, Summaries};
use krafter_domain::project::ProjectRepository;
use krafter_domain::share::{LinkSigner, ShareRepository, Shares, SharesDeps, Webhooks};
use krafter_domain::Clock;

pub use envelope::REQUEST_ID_HEADER;
pub use metrics::Metrics;
pub use rate_limit::{RateLimit, RateLimiter};

/// Exports left this month, on every export response.
pub const QUOTA_REMAINING_HEADER: &str = "x-quota-remaining";
use routes::{findings, health, imports, regressions, remediation, reports, shares, summary};

/// Largest request body accepted; the ledger's bodies are a few hundred bytes.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Largest import body by default: a scan of a large code base (50,000 results) fits.
pub const DEFAULT_IMPORT_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The use cases the routes call.
pub struct Services {
    pub authorizer: Authorizer,
    pub ledger: Ledger,
    pub imports: Imports,
    /// The largest import body taken (413 beyond); [`DEFAULT_IMPORT_BODY_BYTES`] unless set.
    pub import_body_limit: usize,
    pub summaries: Summaries,
    pub org_summaries: OrgSummaries,
    pub remediation: RemediationReports,
    pub exports: Exports,
    pub shares: Shares,
    /// Renders the public viewer's page (the `html` format).
    pub page_renderer: Arc<dyn ReportRenderer>,
    pub readiness: Arc<dyn Readiness>,
    /// The node's metrics: requests are counted into them.
    pub metrics: Arc<Metrics>,
    /// Whether the API answers `GET /metrics` (not when they have an address of their own,
    /// [`metrics_server`]).
    pub serve_metrics: bool,
    /// Per-key request rates (off unless the composition root sets a limit).
    pub rate_limiter: RateLimiter,
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
            + ImportRepository
            + MetricsRepository
            + OrgMetricsRepository
            + RemediationRepository
            + ExportRepository
            + ShareRepository
            + ReportSource
            + Readiness
            + JobQueue
            + Clone
            + 'static,
    {
        let shared = Arc::new(store);
        let metrics = Arc::new(Metrics::new(Some(shared.clone())));
        Self {
            authorizer: Authorizer::new(shared.clone(), shared.clone(), clock.clone()),
            ledger: Ledger::new(shared.clone(), clock.clone()),
            imports: Imports::new(shared.clone(), clock.clone()),
            import_body_limit: DEFAULT_IMPORT_BODY_BYTES,
            summaries: Summaries::new(shared.clone(), clock.clone()),
            org_summaries: OrgSummaries::new(shared.clone(), clock.clone()),
            remediation: RemediationReports::new(shared.clone(), clock.clone()),
            exports: Exports::new(ExportsDeps {
                repo: shared.clone(),
                metrics: shared.clone(),
                remediation: shared.clone(),
                artefacts: artefacts.clone(),
                clock: clock.clone(),
            }),
            shares: Shares::new(SharesDeps {
                repo: shared.clone(),
                exports: shared.clone(),
                metrics: shared.clone(),
                remediation: shared.clone(),
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
            metrics,
            serve_metrics: true,
            rate_limiter: RateLimiter::default(),
        }
    }
}

impl Services {
    /// Keys and projects kept for `ttl` after they are read ([`Authorizer::cache_for`]).
    pub fn with_auth_cache(mut self, ttl: std::time::Duration) -> Self {
        self.authorizer = self.authorizer.cache_for(ttl);
        self
    }

    /// Import bodies up to `bytes` (413 beyond).
    pub fn with_import_body_limit(mut self, bytes: usize) -> Self {
        self.import_body_limit = bytes;
        self
    }

    /// Per-key request rates limited as `limit` says.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limiter = RateLimiter::new(limit);
        self
    }
}

/// Registers every route, so that tests and the server build the same application.
///
/// Every GET route answers HEAD too (the same handler; actix sends its headers without the body).
/// Any other method is 405 with `Allow` listing the resource's methods; OPTIONS is one of those
/// other methods (there is no CORS). The public viewer answers pages of its own instead of
/// envelopes: 405 with `Allow` on its two resources (whatever the token), 404 elsewhere.
pub fn configure(cfg: &mut web::ServiceConfig) {
    let audit = "/api/v1/orgs/{org_id}/projects/{project_id}/audit";
    cfg.app_data(web::PayloadConfig::new(MAX_BODY_BYTES))
        .service(
            web::resource("/healthz")
                .route(get().to(health::healthz))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/readyz")
                .route(get().to(health::readyz))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/api/v1/openapi.json")
                .route(get().to(openapi::document))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/findings"))
                .route(get().to(findings::list))
                .post(findings::create)
                .default_service(allow("GET, HEAD, POST")),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}"))
                .route(get().to(findings::get))
                .patch(findings::update)
                .default_service(allow("GET, HEAD, PATCH")),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}/verifications"))
                .post(findings::verify)
                .default_service(allow("POST")),
        )
        .service(
            web::resource(format!("{audit}/findings/{{finding_id}}/regressions"))
                .post(findings::open_regression)
                .default_service(allow("POST")),
        )
        .service(
            web::resource(format!("{audit}/imports"))
                .route(get().to(imports::list))
                .post(imports::create)
                .default_service(allow("GET, HEAD, POST")),
        )
        .service(
            web::resource(format!("{audit}/regressions/{{regression_id}}"))
                .patch(regressions::close)
                .default_service(allow("PATCH")),
        )
        .service(
            web::resource(format!("{audit}/reports/summary"))
                .route(get().to(summary::summary))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/remediation"))
                .route(get().to(remediation::project))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/api/v1/orgs/{org_id}/audit/reports/summary")
                .route(get().to(remediation::org_summary))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/api/v1/orgs/{org_id}/audit/reports/remediation")
                .route(get().to(remediation::org))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/api/v1/orgs/{org_id}/audit/sla-policy")
                .route(get().to(remediation::sla_policy))
                .put(remediation::set_sla_policy)
                .default_service(allow("GET, HEAD, PUT")),
        )
        .service(
            web::resource("/api/v1/orgs/{org_id}/audit/sla-policy/history")
                .route(get().to(remediation::sla_policy_history))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/export"))
                .post(reports::export)
                .default_service(allow("POST")),
        )
        .service(
            web::resource(format!("{audit}/reports/share"))
                .post(shares::share)
                .default_service(allow("POST")),
        )
        .service(
            web::resource(format!("{audit}/reports"))
                .route(get().to(reports::list))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/shares/{{share_id}}"))
                .delete(shares::revoke)
                .default_service(allow("DELETE")),
        )
        // After `summary` and `export`, which would otherwise be taken for report ids.
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}"))
                .route(get().to(reports::get))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/download"))
                .route(get().to(reports::download))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/deliveries"))
                .route(get().to(shares::deliveries))
                .default_service(allow(GET)),
        )
        .service(
            web::resource(format!("{audit}/reports/{{report_id}}/shares"))
                .route(get().to(shares::shares))
                .default_service(allow(GET)),
        )
        .service(
            web::resource("/insights/audit/reports/shared/{token}")
                .route(get().to(viewer::page))
                .default_service(web::to(viewer::method_not_allowed)),
        )
        .service(
            web::resource("/insights/audit/reports/shared/{token}/download")
                .route(get().to(viewer::download))
                .default_service(web::to(viewer::method_not_allowed)),
        )
        .service(
            web::scope("/insights/audit/reports/shared").default_service(web::to(viewer::other)),
        );
}

/// `Allow` of a resource that answers only GET (and so HEAD).
const GET: &str = "GET, HEAD";

/// A GET route that answers HEAD as well.
fn get() -> Route {
    web::route().guard(guard::Any(guard::Get()).or(guard::Head()))
}

/// Any other method on a resource: 405 naming the resource's methods in `Allow` (RFC 9110
/// §15.5.6). The envelope middleware writes the body and keeps the header.
fn allow(methods: &'static str) -> Route {
    web::to(move || async move {
        HttpResponse::MethodNotAllowed()
            .insert_header((header::ALLOW, methods))
            .finish()
    })
}

async fn not_found() -> HttpResponse {
    HttpResponse::NotFound().finish()
}

/// How long the server waits for a client, so that a slow or idle client cannot hold a
/// connection (and its worker's attention) for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From the first byte of a connection's first request to its last header: 408 and the
    /// connection closed after it (actix's `client_request_timeout`).
    pub request_head: Duration,
    /// From the end of the headers to the last byte of the body: 408 `request_timeout` in the
    /// envelope and the connection closed after it.
    pub request_body: Duration,
    /// How long an idle keep-alive connection stays open between requests.
    pub keep_alive: Duration,
    /// How long a closing connection may take to shut down before it is dropped.
    pub disconnect: Duration,
    /// After a graceful stop begins: how long requests in flight may take before their
    /// connections are closed (actix's `shutdown_timeout`, whole seconds).
    pub shutdown: Duration,
}

impl Default for Timeouts {
    /// 10 s for the head, 30 s for a body (of at most 64 KiB), 60 s of idle keep-alive, 5 s to
    /// close, 30 s for a graceful stop.
    fn default() -> Self {
        Self {
            request_head: Duration::from_secs(10),
            request_body: Duration::from_secs(30),
            keep_alive: Duration::from_secs(60),
            disconnect: Duration::from_secs(5),
            shutdown: Duration::from_secs(30),
        }
    }
}

/// The HTTP server on an already bound listener (bind port 0 in tests), with the default
/// [`Timeouts`]. Await it to run it; its `handle()` stops it gracefully.
pub fn server(
    listener: TcpListener,
    services: Services,
) -> std::io::Result<actix_web::dev::Server> {
    server_with(listener, services, Timeouts::default())
}

/// [`server`] with other timeouts (shorter ones in tests).
pub fn server_with(
    listener: TcpListener,
    services: Services,
    timeouts: Timeouts,
) -> std::io::Result<actix_web::dev::Server> {
    let metrics = web::Data::from(services.metrics.clone());
    let serve_metrics = services.serve_metrics;
    let services = web::Data::new(services);
    let body_timeout = envelope::BodyTimeout(timeouts.request_body);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(services.clone())
            .app_data(metrics.clone())
            .app_data(body_timeout)
            .configure(configure)
            // Not an API operation: outside the OpenAPI document, and not on this port when
            // the metrics have an address of their own.
            .configure(|cfg| {
                if serve_metrics {
                    metrics::route(cfg)
                }
            })
            .default_service(web::to(not_found))
            .wrap(from_fn(envelope::envelope_middleware))
    })
    .client_request_timeout(timeouts.request_head)
    .client_disconnect_timeout(timeouts.disconnect)
    .keep_alive(timeouts.keep_alive)
    .shutdown_timeout(timeouts.shutdown.as_secs())
    // The binary handles SIGINT and SIGTERM itself and stops the server gracefully.
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}

/// A server answering only `GET /metrics` (404 elsewhere), for `KRAFTER_METRICS_BIND`: on an
/// address of its own, which operators can keep off the public network. Await it to run it; its
/// `handle()` stops it.
pub fn metrics_server(
    listener: TcpListener,
    metrics: Arc<Metrics>,
) -> std::io::Result<actix_web::dev::Server> {
    let metrics = web::Data::from(metrics);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(metrics.clone())
            .configure(metrics::route)
            .default_service(web::to(not_found))
    })
    .workers(1)
    .disable_signals()
    .listen(listener)?
    .run();
    Ok(server)
}
