//! Bad input from a hostile or careless client: always the envelope with an exact status, code and
//! field, never a 500 and never a hang.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use krafter_test_support::{Tenant, TestApp};
use reqwest::header::{AUTHORIZATION, CONTENT_TYPE};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field};

async fn post_json(app: &TestApp, t: &Tenant, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, path))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// A body sent as given, with `content_type` if any.
async fn send_raw(
    app: &TestApp,
    t: &Tenant,
    method: reqwest::Method,
    path: &str,
    content_type: Option<&str>,
    body: &str,
) -> reqwest::Response {
    let mut request = app
        .client
        .request(method, app.audit_url(t, path))
        .bearer_auth(&t.key)
        .body(body.to_owned());
    if let Some(content_type) = content_type {
        request = request.header(CONTENT_TYPE, content_type);
    }
    request.send().await.unwrap()
}

async fn create_finding(app: &TestApp, t: &Tenant) -> String {
    let created = post_json(
        app,
        t,
        "/findings",
        json!({"title": "Open redirect", "severity": "low", "priority_score": 10, "occurred_at": "2026-01-01T00:00:00Z"}),
    )
    .await;
    envelope(created, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn list_findings(app: &TestApp, t: &Tenant) -> Value {
    let listed = app
        .client
        .get(app.audit_url(t, "/findings"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(listed, StatusCode::OK).await
}

#[tokio::test]
async fn text_fields_refuse_control_bidi_and_invisible_characters() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    for title in [
        "NUL \u{0} in the middle",
        "\u{0}",
        "escape \u{1b}[31m red",
        "line\nbreak",
        "del \u{7f}",
        "c1 \u{85} next line",
        "invoice\u{202E}fdp.exe",
        "\u{202A}embedded",
        "isolate \u{2066}x\u{2069}",
        "\u{2068}first strong",
        "",
        "   ",
        "\u{200B}\u{FEFF}\u{2060}",
        "\u{3000}\u{00A0}",
    ] {
        let response = post_json(
            &app,
            &t,
            "/findings",
            json!({"title": title, "severity": "high", "priority_score": 1}),
        )
        .await;
        invalid_field(response, "title").await;
    }
    // Nothing was stored, and the listing still answers.
    assert_eq!(list_findings(&app, &t).await, json!([]));

    // Visible text in any script, with inner spaces and joiners, is fine.
    let kept = post_json(
        &app,
        &t,
        "/findings",
        json!({"title": "  Überprüfung: ‏שלום‏ 👩‍💻  ", "severity": "high", "priority_score": 1}),
    )
    .await;
    let kept = envelope(kept, StatusCode::CREATED).await;
    assert_eq!(kept["title"], "  Überprüfung: ‏שלום‏ 👩‍💻  ");

    // The share route's free text (a Slack webhook URL) follows the same rule.
    for url in [
        "https://hooks.slack.com/services/T/B/\u{0}",
        "https://hooks.slack.com/services/T/B/\u{202E}x",
    ] {
        let shared = post_json(
            &app,
            &t,
            "/reports/share",
            json!({"channel": "slack", "webhook_url": url}),
        )
        .await;
        invalid_field(shared, "webhook_url").await;
    }
}

fn forged_cursor(micros: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{micros}:{}", uuid::Uuid::nil()))
}

#[tokio::test]
async fn forged_cursors_outside_postgresql_timestamps_name_the_cursor() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    create_finding(&app, &t).await;
    // One microsecond before 4714-11-24 00:00:00 BC, about 7538 BC, and the i64 extremes.
    let unstorable = [
        -210_866_803_200_000_001,
        -300_000_000_000_000_000,
        i64::MIN,
        i64::MAX,
    ];
    for listing in ["/findings", "/reports"] {
        for micros in unstorable {
            let response = app
                .client
                .get(app.audit_url(&t, listing))
                .query(&[("cursor", forged_cursor(micros))])
                .bearer_auth(&t.read_key)
                .send()
                .await
                .unwrap();
            invalid_field(response, "cursor").await;
        }
        // The extremes PostgreSQL holds are forged but harmless: an ordinary page.
        for micros in [
            -210_866_803_200_000_000,
            // 200000-01-01T00:00:00Z
            6_249_223_180_800_000_000,
        ] {
            let response = app
                .client
                .get(app.audit_url(&t, listing))
                .query(&[("cursor", forged_cursor(micros))])
                .bearer_auth(&t.read_key)
                .send()
                .await
                .unwrap();
            envelope(response, StatusCode::OK).await;
        }
    }
}

#[tokio::test]
async fn leap_seconds_are_refused_wherever_an_instant_is_parsed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let leap = "2016-12-31T23:59:60Z";
    let created = post_json(
        &app,
        &t,
        "/findings",
        json!({"title": "Leap", "severity": "low", "priority_score": 1, "occurred_at": leap}),
    )
    .await;
    invalid_field(created, "occurred_at").await;
    let offset_leap = post_json(
        &app,
        &t,
        "/findings",
        json!({"title": "Leap", "severity": "low", "priority_score": 1, "occurred_at": "2017-01-01T00:59:60.5+01:00"}),
    )
    .await;
    invalid_field(offset_leap, "occurred_at").await;

    let id = create_finding(&app, &t).await;
    let patched = app
        .client
        .patch(app.audit_url(&t, &format!("/findings/{id}")))
        .bearer_auth(&t.key)
        .json(&json!({"status": "triaged", "occurred_at": "2026-01-01T23:59:60Z"}))
        .send()
        .await
        .unwrap();
    invalid_field(patched, "occurred_at").await;
    let verified = post_json(
        &app,
        &t,
        &format!("/findings/{id}/verifications"),
        json!({"result": "passed", "occurred_at": "2026-01-01T23:59:60Z"}),
    )
    .await;
    invalid_field(verified, "occurred_at").await;
    let opened = post_json(
        &app,
        &t,
        &format!("/findings/{id}/regressions"),
        json!({"occurred_at": "2026-01-01T23:59:60Z"}),
    )
    .await;
    invalid_field(opened, "occurred_at").await;
    let opened = post_json(&app, &t, &format!("/findings/{id}/regressions"), json!({})).await;
    let rid = envelope(opened, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let closed = app
        .client
        .patch(app.audit_url(&t, &format!("/regressions/{rid}")))
        .bearer_auth(&t.key)
        .json(&json!({"status": "closed", "occurred_at": "2026-01-01T23:59:60Z"}))
        .send()
        .await
        .unwrap();
    invalid_field(closed, "occurred_at").await;
}

#[tokio::test]
async fn dates_and_instants_need_four_digit_years() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    for bad in [
        "-2026-01-01",
        "-202-01-01",
        "+2026-01-01",
        "12026-01-01",
        "02026-01-01",
    ] {
        for field in ["date_from", "date_to"] {
            let response = app
                .client
                .get(app.audit_url(&t, "/reports/summary"))
                .query(&[(field, bad)])
                .bearer_auth(&t.read_key)
                .send()
                .await
                .unwrap();
            invalid_field(response, field).await;
        }
        for field in ["period_start", "period_end"] {
            let response = post_json(&app, &t, "/reports/export", json!({ field: bad })).await;
            invalid_field(response, field).await;
        }
    }
    for bad in [
        "-2026-01-01T00:00:00Z",
        "+2026-01-01T00:00:00Z",
        "12026-01-01T00:00:00Z",
        "226-01-01T00:00:00Z",
    ] {
        let response = post_json(
            &app,
            &t,
            "/findings",
            json!({"title": "Year", "severity": "low", "priority_score": 1, "occurred_at": bad}),
        )
        .await;
        invalid_field(response, "occurred_at").await;
    }
    // Nothing was queued or stored.
    assert_eq!(list_findings(&app, &t).await, json!([]));
}

#[tokio::test]
async fn bodies_must_be_json_by_their_content_type() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let body = r#"{"title": "Typed", "severity": "low", "priority_score": 1}"#;
    for content_type in [
        Some("text/plain"),
        Some("text/plain; charset=utf-8"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=xyz"),
        Some("application/xml"),
        Some("application/json; charset=iso-8859-1"),
        Some("application/jsonp"),
        Some("not a media type"),
        None,
    ] {
        let response = send_raw(
            &app,
            &t,
            reqwest::Method::POST,
            "/findings",
            content_type,
            body,
        )
        .await;
        error(
            response,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        )
        .await;
    }
    let shared = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/reports/share",
        Some("text/plain"),
        r#"{"channel": "link"}"#,
    )
    .await;
    error(
        shared,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let exported = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/reports/export",
        Some("application/x-www-form-urlencoded"),
        "format=csv",
    )
    .await;
    error(
        exported,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;

    // JSON with parameters is JSON.
    let created = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        "/findings",
        Some("Application/JSON; charset=UTF-8"),
        body,
    )
    .await;
    let id = envelope(created, StatusCode::CREATED).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // No body and no Content-Type: the routes that take an empty body still do.
    let opened = send_raw(
        &app,
        &t,
        reqwest::Method::POST,
        &format!("/findings/{id}/regressions"),
        None,
        "",
    )
    .await;
    envelope(opened, StatusCode::CREATED).await;
    let exported = send_raw(&app, &t, reqwest::Method::POST, "/reports/export", None, "").await;
    envelope(exported, StatusCode::ACCEPTED).await;
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn two_authorization_headers_are_unauthorized() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let both = |first: &str, second: &str| {
        app.client
            .get(app.audit_url(&t, "/findings"))
            .header(AUTHORIZATION, format!("Bearer {first}"))
            .header(AUTHORIZATION, format!("Bearer {second}"))
    };
    for (first, second) in [
        (t.key.as_str(), t.key.as_str()),
        (t.key.as_str(), "kr_live_nonsense"),
        ("kr_live_nonsense", t.key.as_str()),
    ] {
        let response = both(first, second).send().await.unwrap();
        error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
    }
    let created = app
        .client
        .post(app.audit_url(&t, "/findings"))
        .header(AUTHORIZATION, format!("Bearer {}", t.key))
        .header(AUTHORIZATION, format!("Bearer {}", t.key))
        .json(&json!({"title": "Twice", "severity": "low", "priority_score": 1}))
        .send()
        .await
        .unwrap();
    error(created, StatusCode::UNAUTHORIZED, "unauthorized").await;
    // One header still works.
    list_findings(&app, &t).await;
}

#[tokio::test]
async fn duplicate_json_keys_are_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let json = Some("application/json");
    let post = reqwest::Method::POST;
    let created = send_raw(
        &app,
        &t,
        post.clone(),
        "/findings",
        json,
        r#"{"title": "First", "severity": "low", "priority_score": 1, "title": "Second"}"#,
    )
    .await;
    invalid_field(created, "title").await;
    let created = send_raw(
        &app,
        &t,
        post.clone(),
        "/findings",
        json,
        r#"{"title": "T", "severity": "low", "priority_score": 1, "priority_score": 1000}"#,
    )
    .await;
    invalid_field(created, "priority_score").await;
    let id = create_finding(&app, &t).await;
    let patched = send_raw(
        &app,
        &t,
        reqwest::Method::PATCH,
        &format!("/findings/{id}"),
        json,
        r#"{"status": "triaged", "status": "resolved"}"#,
    )
    .await;
    invalid_field(patched, "status").await;
    let exported = send_raw(
        &app,
        &t,
        post.clone(),
        "/reports/export",
        json,
        r#"{"format": "csv", "format": "pdf"}"#,
    )
    .await;
    invalid_field(exported, "format").await;
    let shared = send_raw(
        &app,
        &t,
        post,
        "/reports/share",
        json,
        r#"{"channel": "link", "channel": "email"}"#,
    )
    .await;
    invalid_field(shared, "channel").await;
    // The finding was left as it was.
    let listed = list_findings(&app, &t).await;
    assert_eq!(listed[0]["status"], "new");
    assert_eq!(listed[0]["priority_score"], 10);
}
