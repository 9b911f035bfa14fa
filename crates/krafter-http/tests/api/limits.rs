//! What protects the service under load: per-key rate limits, the pool's wait bound (503, not a
//! hang), and the short-lived key and project cache with its revocation bound.

use std::time::{Duration, Instant};

use chrono::Utc;
use krafter_domain::access::{ApiKeyRepository, ApiKeySecret, Scope};
use krafter_http::RateLimit;
use krafter_postgres::PoolSettings;
use krafter_test_support::TestApp;
use reqwest::StatusCode;

use crate::helpers::{envelope, error};

/// `GET url` with `key`.
async fn get(app: &TestApp, url: &str, key: &str) -> reqwest::Response {
    app.client.get(url).bearer_auth(key).send().await.unwrap()
}

#[tokio::test]
async fn a_key_past_its_burst_gets_429_with_retry_after_and_other_keys_do_not() {
    let app = TestApp::builder()
        .rate_limit(RateLimit {
            per_minute: 60,
            burst: 3,
        })
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let url = app.audit_url(&t, "/reports/summary");
    for _ in 0..3 {
        let ok = get(&app, &url, &t.key).await;
        envelope(ok, StatusCode::OK).await;
    }
    let limited = get(&app, &url, &t.key).await;
    assert_eq!(limited.headers()["retry-after"], "1");
    let body = error(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        body["message"],
        "too many requests for this API key; try again in 1 s"
    );
    // A key's bucket is its own; a request without a valid key is still 401, never 429.
    let other = get(&app, &url, &t.read_key).await;
    envelope(other, StatusCode::OK).await;
    let anonymous = app.client.get(&url).send().await.unwrap();
    error(anonymous, StatusCode::UNAUTHORIZED, "unauthorized").await;

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap();
    let text = metrics.text().await.unwrap();
    assert!(text.contains("\nkrafter_rate_limited_total 1\n"), "{text}");
}

#[tokio::test]
async fn with_every_connection_busy_a_request_waits_the_pool_timeout_then_gets_503() {
    let app = TestApp::builder()
        .pool(PoolSettings {
            max_size: 1,
            wait_timeout: Duration::from_millis(300),
        })
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let url = app.audit_url(&t, "/reports/summary");
    // The first request takes the only connection and waits on the lock with it.
    let mut lock = app.lock_table("api_keys").await;
    let first = tokio::spawn({
        let (client, url, key) = (app.client.clone(), url.clone(), t.key.clone());
        async move { client.get(&url).bearer_auth(&key).send().await.unwrap() }
    });
    lock.wait_for_waiters(1).await;
    let asked = Instant::now();
    let unavailable = get(&app, &url, &t.key).await;
    let waited = asked.elapsed();
    assert!(waited >= Duration::from_millis(300), "{waited:?}");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
    assert_eq!(unavailable.headers()["retry-after"], "1");
    let body = error(
        unavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    assert_eq!(
        body["message"],
        "the service is briefly unavailable; try again shortly"
    );
    drop(lock);
    envelope(first.await.unwrap(), StatusCode::OK).await;
    let after = get(&app, &url, &t.key).await;
    envelope(after, StatusCode::OK).await;
}

#[tokio::test]
async fn a_revoked_key_is_refused_within_the_cache_time_and_served_without_a_lookup_before() {
    const TTL: Duration = Duration::from_secs(2);
    let app = TestApp::builder().auth_cache(TTL).spawn().await;
    let t = app.tenant("web").await;
    let key = app.key(t.org, &[Scope::AuditRead]).await;
    let url = app.audit_url(&t, "/reports/summary");
    let ok = get(&app, &url, &key).await;
    envelope(ok, StatusCode::OK).await;

    // Served from the cache: the key and project tables locked away answer no lookup.
    let lock = app.lock_table("api_keys").await;
    let cached = tokio::time::timeout(
        Duration::from_secs(5),
        app.client.get(&url).bearer_auth(&key).send(),
    )
    .await;
    drop(lock);
    envelope(cached.expect("answered").unwrap(), StatusCode::OK).await;

    let prefix = ApiKeySecret::parse(&key).unwrap().prefix();
    let revoked_at = Instant::now();
    assert!(app.store.revoke(t.org, &prefix, Utc::now()).await.unwrap());
    let deadline = revoked_at + TTL + Duration::from_secs(5);
    loop {
        let response = get(&app, &url, &key).await;
        if response.status() == StatusCode::UNAUTHORIZED {
            break;
        }
        envelope(response, StatusCode::OK).await;
        assert!(
            Instant::now() < deadline,
            "still accepted 5 s past the bound"
        );
    }
    let refused_after = revoked_at.elapsed();
    // The bound: the time to live, plus one request's time.
    assert!(
        refused_after <= TTL + Duration::from_millis(500),
        "{refused_after:?}"
    );
}

#[tokio::test]
async fn without_a_cache_a_revoked_key_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let key = app.key(t.org, &[Scope::AuditRead]).await;
    let url = app.audit_url(&t, "/reports/summary");
    envelope(get(&app, &url, &key).await, StatusCode::OK).await;
    let prefix = ApiKeySecret::parse(&key).unwrap().prefix();
    assert!(app.store.revoke(t.org, &prefix, Utc::now()).await.unwrap());
    error(
        get(&app, &url, &key).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_under_load_answers_503_then_serves_again_without_a_restart() {
    use std::os::unix::fs::PermissionsExt;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    use krafter_postgres::local_cluster::{Durability, LocalCluster};

    // Declared first, dropped last: the app's schema is dropped while the server still runs.
    let dir = tempfile::tempdir().unwrap();
    // Reachable by the unprivileged user that runs PostgreSQL when we are root.
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut cluster = LocalCluster::start(dir.path(), Durability::Throwaway).unwrap();
    let app = TestApp::builder()
        .database_server(cluster.database_url())
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let url = app.audit_url(&t, "/reports/summary");
    envelope(get(&app, &url, &t.key).await, StatusCode::OK).await;

    // Load: four clients in a loop, every status and its time kept.
    let stop = Arc::new(AtomicBool::new(false));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let clients: Vec<_> = (0..4)
        .map(|_| {
            let (client, url, key) = (app.client.clone(), url.clone(), t.key.clone());
            let (stop, seen) = (stop.clone(), seen.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let asked = Instant::now();
                    let status = client
                        .get(&url)
                        .bearer_auth(&key)
                        .send()
                        .await
                        .unwrap()
                        .status();
                    seen.lock().unwrap().push((status, asked.elapsed()));
                }
            })
        })
        .collect();

    tokio::task::block_in_place(|| cluster.stop());
    let down = Instant::now();
    let unavailable = get(&app, &url, &t.key).await;
    assert!(
        down.elapsed() < Duration::from_secs(3),
        "{:?}",
        down.elapsed()
    );
    assert_eq!(unavailable.headers()["retry-after"], "1");
    error(
        unavailable,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "service_unavailable",
    )
    .await;

    tokio::task::block_in_place(|| cluster.start_again()).unwrap();
    let back = Instant::now();
    loop {
        let response = get(&app, &url, &t.key).await;
        if response.status() == StatusCode::OK {
            break;
        }
        error(
            response,
            StatusCode::SERVICE_UNAVAILABLE,
            "service_unavailable",
        )
        .await;
        assert!(
            back.elapsed() < Duration::from_secs(5),
            "not serving 5 s after the restart"
        );
    }
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    envelope(ready, StatusCode::OK).await;
    stop.store(true, Ordering::Relaxed);
    for client in clients {
        client.await.unwrap();
    }

    // Under load: only answers and fast refusals, never a 500 nor a hang.
    let seen = seen.lock().unwrap();
    let statuses: std::collections::BTreeSet<u16> = seen.iter().map(|(s, _)| s.as_u16()).collect();
    assert!(statuses.is_subset(&[200, 503].into()), "{statuses:?}");
    assert!(statuses.contains(&503), "{statuses:?}");
    let slowest = seen.iter().map(|(_, took)| *took).max().unwrap();
    assert!(slowest < Duration::from_secs(3), "{slowest:?}");
}
