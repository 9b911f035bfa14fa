//! A small time-bounded cache of what authorisation reads on every request (the key by its
//! prefix, the project by its slug), so that a request costs no round trip for either.
//!
//! The bound is the point: an entry is used for at most its time to live after it was read,
//! so a revoked key stops working, and a renamed or moved project is seen, within that time on
//! every node. Entries are never refreshed by use, only by reading the store again.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Entries at most; when full, the cache starts over (cheaper than an eviction order, and a
/// full cache means more distinct callers than a node sees within one time to live).
const MAX_ENTRIES: usize = 10_000;

pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    entries: Mutex<HashMap<K, (Instant, V)>>,
}

impl<K: Eq + Hash, V: Clone> TtlCache<K, V> {
    /// A cache whose entries live `ttl`; zero keeps nothing.
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value read for `key` less than the time to live ago.
    pub(crate) fn get(&self, key: &K) -> Option<V> {
        if self.ttl.is_zero() {
            return None;
        }
        let mut entries = self.lock();
        match entries.get(key) {
            Some((read_at, value)) if read_at.elapsed() < self.ttl => Some(value.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `value`, read from the store at `read_at` (taken before the read, so that the
    /// bound holds from the moment the store was asked).
    pub(crate) fn insert(&self, key: K, value: V, read_at: Instant) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(key, (read_at, value));
    }

    /// Changes the value kept for `key`, if any, without extending its life.
    pub(crate) fn update(&self, key: &K, change: impl FnOnce(&mut V)) {
        if let Some((_, value)) = self.lock().get_mut(key) {
            change(value);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<K, (Instant, V)>> {
        // A panic while holding the lock leaves nothing half-changed that matters: a cache.
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_live_their_time_and_no_longer() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let now = Instant::now();
        cache.insert("a", 1, now);
        assert_eq!(cache.get(&"a"), Some(1));
        cache.update(&"a", |v| *v = 2);
        assert_eq!(cache.get(&"a"), Some(2));
        let long_ago = now - Duration::from_secs(61);
        cache.insert("b", 3, long_ago);
        assert_eq!(cache.get(&"b"), None);
        assert_eq!(cache.get(&"c"), None);
    }

    #[test]
    fn a_zero_time_to_live_keeps_nothing() {
        let cache = TtlCache::new(Duration::ZERO);
        cache.insert("a", 1, Instant::now());
        assert_eq!(cache.get(&"a"), None);
    }

    #[test]
    fn a_full_cache_starts_over() {
        let cache = TtlCache::new(Duration::from_secs(60));
        let now = Instant::now();
        for i in 0..MAX_ENTRIES {
            cache.insert(i, i, now);
        }
        assert_eq!(cache.get(&0), Some(0));
        cache.insert(MAX_ENTRIES, 0, now);
        assert_eq!(cache.get(&0), None);
        assert_eq!(cache.get(&MAX_ENTRIES), Some(0));
    }
}
