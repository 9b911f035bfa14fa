#![doc = include_str!("../README.md")]

use std::net::TcpListener;
use std::sync::Arc;

use krafter_domain::access::Authorizer;
use krafter_domain::health::Readiness;
use krafter_domain::ledger::Ledger;
use krafter_domain::metrics::Summaries;

/// The use cases the routes call.
pub struct Services {
    pub authorizer: Authorizer,
    pub ledger: Ledger,
    pub summaries: Summaries,
    pub readiness: Arc<dyn Readiness>,
}

/// The HTTP server on an already bound listener (bind port 0 in tests). Await it to run it; its
/// `handle()` stops it gracefully.
pub fn server(listener: TcpListener, services: Services) -> std::io::Result<actix_web::dev::Server> {
    let _ = (listener, services);
    todo!("routes")
}
