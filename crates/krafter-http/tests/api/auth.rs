use chrono::Utc;
use krafter_domain::access::{ApiKeyRepository, ApiKeySecret};
use krafter_test_support::TestApp;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{envelope, error};

#[tokio::test]
async fn missing_malformed_unknown_and_revoked_keys_are_401() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let url = app.audit_url(&t, "/reports/summary");
    let unknown = ApiKeySecret::generate();
    let revoked = app
        .key(t.org, &[krafter_domain::access::Scope::AuditRead])
        .await;
    let prefix = ApiKeySecret::parse(&revoked).unwrap().prefix();
    assert!(app.store.revoke(t.org, &prefix, Utc::now()).await.unwrap());

    let no_header = app.client.get(&url).send().await.unwrap();
    error(no_header, StatusCode::UNAUTHORIZED, "unauthorized").await;
    for header in [
        "Bearer".to_owned(),
        "Basic abc".to_owned(),
        "Bearer kr_live_short".to_owned(),
        format!("Bearer {}", unknown.expose()),
        format!("Bearer {revoked}"),
        // The right prefix with a wrong tail: found by prefix, refused by the hash.
        format!("Bearer {}{}", &t.key[..20], "x".repeat(t.key.len() - 20)),
    ] {
        let response = app
            .client
            .get(&url)
            .header("authorization", &header)
            .send()
            .await
            .unwrap();
        error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let ok = app
        .client
        .get(&url)
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    envelope(ok, StatusCode::OK).await;
}

#[tokio::test]
async fn a_key_without_the_scope_is_403_and_scopes_do_not_imply_each_other() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let summary = app.audit_url(&t, "/reports/summary");
    let findings = app.audit_url(&t, "/findings");
    let body = json!({"title": "XSS", "severity": "high", "priority_score": 10});

    let read_only_post = app
        .client
        .post(&findings)
        .bearer_auth(&t.read_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    error(read_only_post, StatusCode::FORBIDDEN, "forbidden").await;
    let write_only_get = app
        .client
        .get(&summary)
        .bearer_auth(&t.write_key)
        .send()
        .await
        .unwrap();
    error(write_only_get, StatusCode::FORBIDDEN, "forbidden").await;

    let write_post = app
        .client
        .post(&findings)
        .bearer_auth(&t.write_key)
        .json(&body)
        .send()
        .await
        .unwrap();
    envelope(write_post, StatusCode::CREATED).await;
    let read_get = app
        .client
        .get(&summary)
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(read_get, StatusCode::OK).await;
}

#[tokio::test]
async fn another_organisations_projects_are_indistinguishable_from_missing_ones() {
    let app = TestApp::spawn().await;
    let mine = app.tenant("web").await;
    let theirs = app.tenant("secret-project").await;
    let their_finding = app
        .client
        .post(app.audit_url(&theirs, "/findings"))
        .bearer_auth(&theirs.key)
        .json(&json!({"title": "Theirs", "severity": "low", "priority_score": 1}))
        .send()
        .await
        .unwrap();
    let their_finding = envelope(their_finding, StatusCode::CREATED).await;
    let their_id = their_finding["id"].as_str().unwrap();

    let urls = [
        app.audit_url(&theirs, "/reports/summary"),
        app.audit_url(&theirs, "/findings"),
        app.url(&format!(
            "/api/v1/orgs/{}/projects/does-not-exist/audit/reports/summary",
            theirs.org
        )),
        app.url(&format!(
            "/api/v1/orgs/{}/projects/does-not-exist/audit/reports/summary",
            mine.org
        )),
        app.url(&format!(
            "/api/v1/orgs/{}/projects/web/audit/reports/summary",
            uuid::Uuid::new_v4()
        )),
        app.url("/api/v1/orgs/not-a-uuid/projects/web/audit/reports/summary"),
        app.url(&format!(
            "/api/v1/orgs/{}/projects/Not_A_Slug/audit/reports/summary",
            mine.org
        )),
    ];
    let mut bodies = Vec::new();
    for url in urls {
        let response = app
            .client
            .get(&url)
            .bearer_auth(&mine.key)
            .send()
            .await
            .unwrap();
        let e = error(response, StatusCode::NOT_FOUND, "not_found").await;
        bodies.push(e["message"].clone());
    }
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "messages differ: {bodies:?}"
    );

    // Their finding through my project: not found either.
    let patch = app
        .client
        .patch(app.audit_url(&mine, &format!("/findings/{their_id}")))
        .bearer_auth(&mine.key)
        .json(&json!({"status": "resolved"}))
        .send()
        .await
        .unwrap();
    error(patch, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn key_use_is_recorded() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let prefix = ApiKeySecret::parse(&t.read_key).unwrap().prefix();
    assert_eq!(
        app.store
            .find_by_prefix(&prefix)
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        None
    );
    let response = app
        .client
        .get(app.audit_url(&t, "/reports/summary"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await;
    // Recorded off the request path: poll with a deadline.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let key = app.store.find_by_prefix(&prefix).await.unwrap().unwrap();
        if key.last_used_at.is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "last_used_at never set"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
