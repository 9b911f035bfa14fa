//! Per-key request rate limits, per node: a GCRA bucket per API key (the `governor` crate),
//! refilled at `per_minute` requests a minute and holding up to `burst` at once.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU32, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use krafter_domain::ids::ApiKeyId;

use crate::errors::ApiError;

/// How many checks between two sweeps of the buckets of keys that have refilled (idle keys
/// would otherwise be kept for the life of the process).
const SWEEP_EVERY: u32 = 4096;

/// The configured limit; [`RateLimit::OFF`] lets every request through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Requests a minute per key, sustained; 0 turns limiting off.
    pub per_minute: u32,
    /// Requests a key may send at once after a quiet period (at least 1 when on).
    pub burst: u32,
}

impl RateLimit {
    pub const OFF: RateLimit = RateLimit {
        per_minute: 0,
        burst: 0,
    };
    /// `KRAFTER_RATE_LIMIT` and `KRAFTER_RATE_LIMIT_BURST` when unset.
    pub const DEFAULT: RateLimit = RateLimit {
        per_minute: 1200,
        burst: 200,
    };
}

/// The node's buckets.
pub struct RateLimiter {
    limiter: Option<DefaultKeyedRateLimiter<ApiKeyId>>,
    clock: DefaultClock,
    checks: AtomicU32,
}

impl RateLimiter {
    pub fn new(limit: RateLimit) -> Self {
        let limiter = NonZeroU32::new(limit.per_minute).map(|per_minute| {
            let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
            governor::RateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst))
        });
        Self {
            limiter,
            clock: DefaultClock::default(),
            checks: AtomicU32::new(0),
        }
    }

    /// Takes one request from `key`'s bucket, or says how many seconds (rounded up, at least 1)
    /// until the next one is allowed.
    pub fn check(&self, key: ApiKeyId) -> Result<(), ApiError> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        if self.checks.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
            limiter.retain_recent();
        }
        limiter.check_key(&key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::RateLimited {
                retry_after: retry_after.max(1),
            }
        })
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new(RateLimit::OFF)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_waits_while_others_are_served() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 60,
            burst: 3,
        });
        let (a, b) = (ApiKeyId::generate(), ApiKeyId::generate());
        for _ in 0..3 {
            limiter.check(a).unwrap();
        }
        match limiter.check(a) {
            Err(ApiError::RateLimited { retry_after }) => assert_eq!(retry_after, 1),
            other => panic!("expected a refusal, got {other:?}"),
        }
        limiter.check(b).unwrap();
    }

    #[test]
    fn the_wait_is_rounded_up_to_whole_seconds() {
        let limiter = RateLimiter::new(RateLimit {
            per_minute: 1,
            burst: 1,
        });
        let key = ApiKeyId::generate();
        limiter.check(key).unwrap();
        match limiter.check(key) {
            Err(ApiError::RateLimited { retry_after }) => {
                assert!((59..=60).contains(&retry_after), "{retry_after}")
            }
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn off_lets_everything_through() {
        let limiter = RateLimiter::new(RateLimit::OFF);
        let key = ApiKeyId::generate();
        for _ in 0..10_000 {
            limiter.check(key).unwrap();
        }
    }
}
