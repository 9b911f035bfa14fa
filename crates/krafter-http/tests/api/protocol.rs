//! HTTP itself: `Allow` on 405, HEAD on every GET route, the bearer challenge on 401, the
//! headers on every API answer, and clients too slow to finish a request.

use std::time::{Duration, Instant};

use krafter_http::Timeouts;
use krafter_test_support::{Tenant, TestApp};
use reqwest::{Method, Response, StatusCode};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{envelope, error};

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

/// Every resource with its exact `Allow`.
fn resources(app: &TestApp, t: &Tenant) -> Vec<(String, &'static str)> {
    let id = uuid::Uuid::new_v4();
    let audit = |rest: &str| app.audit_url(t, rest);
    vec![
        (app.url("/healthz"), "GET, HEAD"),
        (app.url("/readyz"), "GET, HEAD"),
        (app.url("/api/v1/openapi.json"), "GET, HEAD"),
        (audit("/findings"), "GET, HEAD, POST"),
        (audit(&format!("/findings/{id}")), "GET, HEAD, PATCH"),
        (audit(&format!("/findings/{id}/verifications")), "POST"),
        (audit(&format!("/findings/{id}/regressions")), "POST"),
        (audit(&format!("/regressions/{id}")), "PATCH"),
        (audit("/reports/summary"), "GET, HEAD"),
        (audit("/reports/export"), "POST"),
        (audit("/reports/share"), "POST"),
        (audit("/reports"), "GET, HEAD"),
        (audit(&format!("/reports/shares/{id}")), "DELETE"),
        (audit(&format!("/reports/{id}")), "GET, HEAD"),
        (audit(&format!("/reports/{id}/download")), "GET, HEAD"),
        (audit(&format!("/reports/{id}/deliveries")), "GET, HEAD"),
        (audit(&format!("/reports/{id}/shares")), "GET, HEAD"),
    ]
}

fn assert_api_headers(response: &Response, context: &str) {
    assert_eq!(
        response.headers()["x-content-type-options"],
        "nosniff",
        "{context}"
    );
    assert_eq!(response.headers()["cache-control"], "no-store", "{context}");
}

#[tokio::test]
async fn every_other_method_is_405_with_the_resources_allow() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    for (url, allow) in resources(&app, &t) {
        let allowed: Vec<&str> = allow.split(", ").collect();
        for method in METHODS.into_iter().filter(|m| !allowed.contains(m)) {
            let response = app
                .client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), &url)
                .bearer_auth(&t.key)
                .send()
                .await
                .unwrap();
            let context = format!("{method} {url}");
            assert_eq!(response.headers()["allow"], allow, "{context}");
            assert_api_headers(&response, &context);
            if method == "HEAD" {
                assert_eq!(
                    response.status(),
                    StatusCode::METHOD_NOT_ALLOWED,
                    "{context}"
                );
            } else {
                error(
                    response,
                    StatusCode::METHOD_NOT_ALLOWED,
                    "method_not_allowed",
                )
                .await;
            }
        }
    }
}

#[tokio::test]
async fn head_answers_every_get_route_with_the_gets_headers_and_no_body() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let created = app
        .client
        .post(app.audit_url(&t, "/findings"))
        .bearer_auth(&t.key)
        .json(&json!({"title": "XSS", "severity": "high", "priority_score": 10}))
        .send()
        .await
        .unwrap();
    let finding = envelope(created, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let report = app
        .client
        .post(app.audit_url(&t, "/reports/export"))
        .bearer_auth(&t.key)
        .json(&json!({"format": "csv"}))
        .send()
        .await
        .unwrap();
    let report = envelope(report, StatusCode::ACCEPTED).await;
    let id = report["id"].as_str().unwrap().to_owned();
    assert_eq!(app.run_pending_jobs().await.len(), 1);

    let gets = [
        app.url("/healthz"),
        app.url("/readyz"),
        app.url("/api/v1/openapi.json"),
        app.audit_url(&t, "/findings"),
        app.audit_url(&t, &format!("/findings/{finding}")),
        app.audit_url(&t, "/reports/summary"),
        app.audit_url(&t, "/reports"),
        app.audit_url(&t, &format!("/reports/{id}")),
        app.audit_url(&t, &format!("/reports/{id}/download")),
        app.audit_url(&t, &format!("/reports/{id}/deliveries")),
        app.audit_url(&t, &format!("/reports/{id}/shares")),
    ];
    for url in gets {
        let get = app
            .client
            .get(&url)
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        let head = app
            .client
            .head(&url)
            .bearer_auth(&t.key)
            .send()
            .await
            .unwrap();
        assert_eq!(get.status(), StatusCode::OK, "GET {url}");
        assert_eq!(head.status(), StatusCode::OK, "HEAD {url}");
        for name in [
            "content-type",
            "content-length",
            "content-disposition",
            "cache-control",
            "x-content-type-options",
        ] {
            assert_eq!(
                head.headers().get(name),
                get.headers().get(name),
                "{name} of HEAD {url}"
            );
        }
        assert!(head.headers().contains_key("x-request-id"), "HEAD {url}");
        assert!(!get.bytes().await.unwrap().is_empty(), "GET {url}");
        assert!(head.bytes().await.unwrap().is_empty(), "HEAD {url}");
    }

    // HEAD is authorised like GET.
    let anonymous = app
        .client
        .head(app.audit_url(&t, "/reports/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(anonymous.headers()["www-authenticate"], "Bearer");
}

#[tokio::test]
async fn a_401_names_the_bearer_scheme_and_says_when_the_token_was_wrong() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let url = app.audit_url(&t, "/reports/summary");
    for (authorization, challenge) in [
        (None, "Bearer"),
        (Some("Basic abc"), "Bearer"),
        (Some("Bearer"), "Bearer"),
        (
            Some("Bearer kr_live_short"),
            r#"Bearer error="invalid_token""#,
        ),
        (
            Some("Bearer kr_live_0123456789abcdef0123456789abcdef"),
            r#"Bearer error="invalid_token""#,
        ),
    ] {
        let mut request = app.client.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.headers()["www-authenticate"],
            challenge,
            "{authorization:?}"
        );
        assert_api_headers(&response, "401");
        error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    // Authenticated answers, and refusals that are not about the key, carry no challenge.
    let forbidden = app
        .client
        .get(&url)
        .bearer_auth(&t.write_key)
        .send()
        .await
        .unwrap();
    assert!(!forbidden.headers().contains_key("www-authenticate"));
    error(forbidden, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn api_answers_and_downloads_are_not_sniffed_or_cached() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    for url in [app.url("/healthz"), app.url("/readyz")] {
        let response = app.client.get(&url).send().await.unwrap();
        assert_api_headers(&response, &url);
        envelope(response, StatusCode::OK).await;
    }
    let summary = app
        .client
        .get(app.audit_url(&t, "/reports/summary"))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_api_headers(&summary, "summary");
    envelope(summary, StatusCode::OK).await;

    let invalid = app
        .client
        .post(app.audit_url(&t, "/findings"))
        .bearer_auth(&t.key)
        .json(&json!({"severity": "high"}))
        .send()
        .await
        .unwrap();
    assert_api_headers(&invalid, "invalid_params");
    error(invalid, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params").await;
    let nowhere = app
        .client
        .get(app.url("/api/v1/nowhere"))
        .send()
        .await
        .unwrap();
    assert_api_headers(&nowhere, "404");
    error(nowhere, StatusCode::NOT_FOUND, "not_found").await;

    let report = app
        .client
        .post(app.audit_url(&t, "/reports/export"))
        .bearer_auth(&t.key)
        .json(&json!({"format": "json"}))
        .send()
        .await
        .unwrap();
    assert_api_headers(&report, "export");
    let id = envelope(report, StatusCode::ACCEPTED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(app.run_pending_jobs().await.len(), 1);
    let download = app
        .client
        .get(app.audit_url(&t, &format!("/reports/{id}/download")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "application/json");
    assert_api_headers(&download, "download");
}

/// Writes `sent`, then waits: answers everything the server wrote until it closed the
/// connection, and how long that took. Fails past `deadline`.
async fn stall(address: &str, sent: &[u8], deadline: Duration) -> (String, Duration) {
    let started = Instant::now();
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(sent).await.unwrap();
    let mut received = Vec::new();
    let read = tokio::time::timeout(deadline, async {
        let mut buf = [0u8; 4096];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    let received = String::from_utf8_lossy(&received).into_owned();
    assert!(
        read.is_ok(),
        "the connection was still open after {deadline:?}; received {received:?}"
    );
    (received, started.elapsed())
}

#[tokio::test]
async fn slow_and_idle_clients_are_timed_out_and_disconnected() {
    let second = Duration::from_secs(1);
    let app = TestApp::builder()
        .timeouts(Timeouts {
            request_head: second,
            request_body: second,
            keep_alive: second,
            disconnect: second,
            ..Timeouts::default()
        })
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let address = app.url("").trim_start_matches("http://").to_owned();
    let path = app.audit_url(&t, "/findings").replacen(&app.url(""), "", 1);
    let deadline = Duration::from_secs(3);

    // Headers complete, the body promised and never sent.
    let body_request = format!(
        "POST {path} HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"title\": ",
        t.key
    );
    // The request head never finished.
    let head_request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n");
    // A complete request, then an idle keep-alive connection.
    let idle_request = format!("GET /healthz HTTP/1.1\r\nHost: {address}\r\n\r\n");
    let (body, head, idle) = tokio::join!(
        stall(&address, body_request.as_bytes(), deadline),
        stall(&address, head_request.as_bytes(), deadline),
        stall(&address, idle_request.as_bytes(), deadline),
    );

    let (answer, elapsed) = body;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nconnection: close\r\n"),
        "{answer}"
    );
    assert!(answer.contains(r#""code":"request_timeout""#), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("\r\nx-request-id: "),
        "{answer}"
    );
    assert!(elapsed >= second, "{elapsed:?}");

    // actix's own timers count from its coarse clock (updated every 500 ms).
    let coarse = second / 2;
    let (answer, elapsed) = head;
    assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
    assert!(elapsed >= coarse, "{elapsed:?}");

    let (answer, elapsed) = idle;
    assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"), "{answer}");
    assert_eq!(answer.matches("HTTP/1.1 ").count(), 1, "{answer}");
    assert!(elapsed >= coarse, "{elapsed:?}");

    // The server still serves.
    let health = app.client.get(app.url("/healthz")).send().await.unwrap();
    envelope(health, StatusCode::OK).await;
}
