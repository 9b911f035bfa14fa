//! The pool as the metrics see it: its size and use, read at scrape time from deadpool's
//! status, and how long callers waited for a connection.

use std::time::Duration;

use diesel_async::pooled_connection::deadpool::{Pool, PoolError};
use diesel_async::AsyncPgConnection;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::PgStore;

/// Upper bounds of the wait histogram, in seconds: a free connection is had in well under a
/// millisecond; waits of a second or more mean the pool is too small for the load.
const WAIT_BUCKETS: [f64; 11] = [
    0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0,
];

/// What every clone of a store records about getting connections from the pool.
#[derive(Debug, Clone)]
pub(crate) struct PoolMetrics {
    wait: Histogram,
    timeouts: Counter,
}

impl Default for PoolMetrics {
    fn default() -> Self {
        Self {
            wait: Histogram::new(WAIT_BUCKETS),
            timeouts: Counter::default(),
        }
    }
}

impl PoolMetrics {
    /// Records one `pool.get()`: how long it took, and whether it gave up waiting.
    pub(crate) fn waited<T>(&self, waited: Duration, result: &Result<T, PoolError>) {
        self.wait.observe(waited.as_secs_f64());
        if let Err(PoolError::Timeout(_)) = result {
            self.timeouts.inc();
        }
    }
}

/// The pool's size and use, as deadpool reports them at each scrape.
struct PoolGauges(Pool<AsyncPgConnection>);

impl std::fmt::Debug for PoolGauges {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("PoolGauges").field(&self.0.status()).finish()
    }
}

impl Collector for PoolGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let status = self.0.status();
        let gauges = [
            (
                "krafter_db_pool_max_connections",
                "Connections the database pool may open at most",
                status.max_size,
            ),
            (
                "krafter_db_pool_connections",
                "Connections the database pool holds open (idle or in use)",
                status.size,
            ),
            (
                "krafter_db_pool_idle_connections",
                "Open connections of the database pool that are free",
                status.available,
            ),
            (
                "krafter_db_pool_waiting",
                "Callers waiting for a connection from the database pool now",
                status.waiting,
            ),
        ];
        for (name, help, value) in gauges {
            let gauge = ConstGauge::new(i64::try_from(value).unwrap_or(i64::MAX));
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

impl PgStore {
    /// Adds the pool's metrics to `registry`: `krafter_db_pool_max_connections`,
    /// `krafter_db_pool_connections`, `krafter_db_pool_idle_connections` and
    /// `krafter_db_pool_waiting` (gauges read at each scrape), `krafter_db_pool_wait_seconds` (a
    /// histogram of how long each request for a connection took) and
    /// `krafter_db_pool_timeouts_total` (requests that gave up waiting). Every clone of this
    /// store reports into the same metrics.
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register_collector(Box::new(PoolGauges(self.pool.clone())));
        registry.register_with_unit(
            "krafter_db_pool_wait",
            "How long a request for a database connection waited for it",
            Unit::Seconds,
            self.pool_metrics.wait.clone(),
        );
        registry.register(
            "krafter_db_pool_timeouts",
            "Requests for a database connection that gave up waiting for one",
            self.pool_metrics.timeouts.clone(),
        );
    }
}
