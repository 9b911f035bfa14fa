//! The node's metrics and `GET /metrics`, in the Prometheus text format (version 0.0.4).
//!
//! | metric | type | labels |
//! | --- | --- | --- |
//! | `krafter_http_requests_total` | counter | `method`, `route`, `status` |
//! | `krafter_http_request_duration_seconds` | histogram | `method`, `route` |
//! | `krafter_job_queue_depth` | gauge, read from the queue at each scrape | `kind`, `status` |
//! | `krafter_jobs_total` | counter, of the jobs this node's workers took | `kind`, `outcome` |
//! | `krafter_quota_refusals_total` | counter | |
//! | `krafter_rate_limited_total` | counter | |
//!
//! and what the composition root adds to [`Metrics::registry_mut`] (the database pool's).
//!
//! Labels never carry an id: `route` is the route's pattern
//! (`/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings`), `unmatched` for a path no
//! route knows; `method` is one of the methods HTTP defines or `other`.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpResponse};
use krafter_domain::export::{JobKind, JobObserver, JobQueue, JobStatus, WorkOutcome};
use prometheus_client::encoding::{prometheus_text, EncodeLabelSet};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// The `route` of a request no route matched.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Latency buckets, in seconds: a summary answers in a few milliseconds, an export request in
/// tens; anything past a second is slow.
const LATENCY_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    route: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: &'static str,
    route: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct JobLabels {
    kind: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DepthLabels {
    kind: &'static str,
    status: &'static str,
}

fn latency_histogram() -> Histogram {
    Histogram::new(LATENCY_BUCKETS)
}

/// Every metric of a node, and the registry `GET /metrics` encodes. One per process, shared
/// (behind an `Arc`) by the HTTP server, the metrics server and the workers.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    durations: Family<RouteLabels, Histogram, fn() -> Histogram>,
    quota_refusals: Counter,
    rate_limited: Counter,
    jobs: Family<JobLabels, Counter>,
    queue_depth: Family<DepthLabels, Gauge>,
    /// Where the queue depth is read at each scrape; none, no depth.
    queue: Option<Arc<dyn JobQueue>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics, with the queue depth read from `queue` at each scrape.
    pub fn new(queue: Option<Arc<dyn JobQueue>>) -> Self {
        let mut registry = Registry::default();
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "krafter_http_requests",
            "HTTP requests answered, by method, route pattern and status",
            requests.clone(),
        );
        let durations = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        registry.register_with_unit(
            "krafter_http_request_duration",
            "How long requests took until their response's head, by method and route pattern",
            Unit::Seconds,
            durations.clone(),
        );
        let queue_depth = Family::<DepthLabels, Gauge>::default();
        registry.register(
            "krafter_job_queue_depth",
            "Unfinished jobs in the queue (all nodes), by kind and status, read at each scrape",
            queue_depth.clone(),
        );
        let jobs = Family::<JobLabels, Counter>::default();
        registry.register(
            "krafter_jobs",
            "Jobs this node's workers took to their next state, by kind and outcome",
            jobs.clone(),
        );
        let quota_refusals = Counter::default();
        registry.register(
            "krafter_quota_refusals",
            "Export requests refused because the organisation's monthly quota was used up",
            quota_refusals.clone(),
        );
        let rate_limited = Counter::default();
        registry.register(
            "krafter_rate_limited",
            "Requests refused by the per-key rate limit",
            rate_limited.clone(),
        );
        Self {
            registry,
            requests,
            durations,
            quota_refusals,
            rate_limited,
            jobs,
            queue_depth,
            queue,
        }
    }

    /// Where other adapters add their metrics (the database pool's), before the metrics are
    /// shared.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Counts a request the rate limiter refused (`krafter_rate_limited_total`). From a
    /// middleware or handler: `req.app_data::<web::Data<Metrics>>()`.
    pub fn count_rate_limited(&self) {
        self.rate_limited.inc();
    }

    /// Counts an export refused for its quota (`krafter_quota_refusals_total`).
    pub(crate) fn count_quota_refusal(&self) {
        self.quota_refusals.inc();
    }

    /// Counts an answered request and how long it took.
    pub(crate) fn count_request(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        took: Duration,
    ) {
        let method = method_label(method);
        let route = route.unwrap_or(UNMATCHED_ROUTE).to_owned();
        self.durations
            .get_or_create(&RouteLabels {
                method,
                route: route.clone(),
            })
            .observe(took.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                method,
                route,
                status: status.as_u16(),
            })
            .inc();
    }

    /// The metrics in the Prometheus text format, the queue depth read now.
    pub async fn encode(&self) -> String {
        self.read_queue_depth().await;
        let mut text = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_text::encode(&mut text, &self.registry);
        text
    }

    /// Sets the depth gauges from the queue (every kind and status, 0 when it has no job); on
    /// failure, removes them rather than show stale numbers, and says why in the log.
    async fn read_queue_depth(&self) {
        let Some(queue) = &self.queue else {
            return;
        };
        match queue.depth().await {
            Ok(depths) => {
                for kind in JobKind::ALL {
                    for status in JobStatus::ALL {
                        let jobs = depths
                            .iter()
                            .filter(|d| d.kind == kind && d.status == status)
                            .map(|d| d.jobs)
                            .sum::<u64>();
                        self.queue_depth
                            .get_or_create(&DepthLabels {
                                kind: kind.as_str(),
                                status: status.as_str(),
                            })
                            .set(i64::try_from(jobs).unwrap_or(i64::MAX));
                    }
                }
            }
            Err(error) => {
                self.queue_depth.clear();
                tracing::warn!(%error, "could not read the job queue's depth for the metrics");
            }
        }
    }
}

impl JobObserver for Metrics {
    fn job_done(&self, outcome: &WorkOutcome) {
        if let Some((kind, outcome)) = outcome.label() {
            self.jobs
                .get_or_create(&JobLabels {
                    kind: kind.as_str(),
                    outcome,
                })
                .inc();
        }
    }
}

/// The method as a label: the ones HTTP defines, `other` for anything else (a client cannot
/// make up label values).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

/// `GET /metrics`.
pub(crate) async fn scrape(metrics: web::Data<Metrics>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(prometheus_text::CONTENT_TYPE)
        .body(metrics.encode().await)
}

/// Adds `GET /metrics` (and HEAD; 405 for other methods) to an application.
pub(crate) fn route(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/metrics")
            .route(crate::get().to(scrape))
            .default_service(crate::allow(crate::GET)),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_pattern_with_made_up_methods_folded() {
        let metrics = Metrics::new(None);
        let route = "/api/v1/orgs/{org_id}/projects/{project_id}/audit/findings";
        for _ in 0..2 {
            metrics.count_request(
                &Method::GET,
                Some(route),
                StatusCode::OK,
                Duration::from_millis(3),
            );
        }
        metrics.count_request(
            &Method::from_bytes(b"BREW").unwrap(),
            None,
            StatusCode::NOT_FOUND,
            Duration::from_millis(20),
        );
        metrics.count_rate_limited();
        let text = futures::executor::block_on(metrics.encode());
        assert!(text.contains(&format!(
            "krafter_http_requests_total{{method=\"GET\",route=\"{route}\",status=\"200\"}} 2\n"
        )));
        assert!(text.contains(
            "krafter_http_requests_total{method=\"other\",route=\"unmatched\",status=\"404\"} 1\n"
        ));
        assert!(text.contains(&format!(
            "krafter_http_request_duration_seconds_bucket{{method=\"GET\",route=\"{route}\",le=\"0.005\"}} 2\n"
        )), "{text}");
        assert!(text.contains(&format!(
            "krafter_http_request_duration_seconds_count{{method=\"GET\",route=\"{route}\"}} 2\n"
        )));
        assert!(text.contains("krafter_rate_limited_total 1\n"));
        assert!(text.contains("krafter_quota_refusals_total 0\n"));
        assert!(
            text.contains("# TYPE krafter_http_requests_total counter\n"),
            "{text}"
        );
    }

    #[test]
    fn job_outcomes_are_counted_by_kind() {
        let metrics = Metrics::new(None);
        let report = krafter_domain::export::ReportId::generate();
        metrics.job_done(&WorkOutcome::Exported(report));
        metrics.job_done(&WorkOutcome::Exported(report));
        metrics.job_done(&WorkOutcome::Failed {
            report,
            reason: "rendering failed".into(),
        });
        metrics.job_done(&WorkOutcome::Idle);
        let text = futures::executor::block_on(metrics.encode());
        assert!(text.contains("krafter_jobs_total{kind=\"export\",outcome=\"exported\"} 2\n"));
        assert!(text.contains("krafter_jobs_total{kind=\"export\",outcome=\"failed\"} 1\n"));
        assert_eq!(text.matches("krafter_jobs_total{").count(), 2, "{text}");
    }
}
