//! Gaps a client met (issue 7): reading a finding back, a missing artefact, public failure
//! reasons, and the idempotency fingerprint.

use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error};

async fn send(
    app: &TestApp,
    method: reqwest::Method,
    key: &str,
    url: String,
    body: Option<Value>,
) -> reqwest::Response {
    let request = app.client.request(method, url).bearer_auth(key);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    request.send().await.unwrap()
}

async fn write(
    app: &TestApp,
    t: &Tenant,
    method: reqwest::Method,
    path: &str,
    body: Value,
) -> Value {
    let response = send(
        app,
        method.clone(),
        &t.key,
        app.audit_url(t, path),
        Some(body),
    )
    .await;
    let status = if method == reqwest::Method::POST {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    envelope(response, status).await
}

async fn get_finding(app: &TestApp, t: &Tenant, key: &str, id: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::GET,
        key,
        app.audit_url(t, &format!("/findings/{id}")),
        None,
    )
    .await
}

#[tokio::test]
async fn a_finding_is_read_back_with_its_history_verifications_and_regressions() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let created = write(
        &app,
        &t,
        Method::POST,
        "/findings",
        json!({"title": "SQL injection", "severity": "critical", "priority_score": 900, "occurred_at": "2026-01-02T03:04:05Z"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    // Another finding, whose records must not show up.
    let other = write(
        &app,
        &t,
        Method::POST,
        "/findings",
        json!({"title": "CSRF", "severity": "low", "priority_score": 5, "occurred_at": "2026-01-02T00:00:00Z"}),
    )
    .await;
    let other_id = other["id"].as_str().unwrap();
    write(
        &app,
        &t,
        Method::POST,
        &format!("/findings/{other_id}/verifications"),
        json!({"result": "failed", "occurred_at": "2026-01-02T01:00:00Z"}),
    )
    .await;

    // Before any change: the creation alone.
    let fresh = envelope(
        get_finding(&app, &t, &t.read_key, &id).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        fresh,
        json!({
            "id": id, "title": "SQL injection", "severity": "critical", "priority_score": 900,
            "status": "new", "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z", "due_on": "2026-01-09",
            "source": null, "external_id": null, "rule_id": null, "location": null, "description": null,
            "history": [{"status": "new", "priority_score": 900, "occurred_at": "2026-01-02T03:04:05Z"}],
            "verifications": [], "regressions": []
        })
    );

    let path = format!("/findings/{id}");
    write(
        &app,
        &t,
        Method::PATCH,
        &path,
        json!({"status": "triaged", "occurred_at": "2026-01-03T00:00:00Z"}),
    )
    .await;
    write(
        &app,
        &t,
        Method::PATCH,
        &path,
        json!({"priority_score": 950, "occurred_at": "2026-01-04T00:00:00.5Z"}),
    )
    .await;
    let failed = write(
        &app,
        &t,
        Method::POST,
        &format!("{path}/verifications"),
        json!({"result": "failed", "occurred_at": "2026-01-04T01:00:00Z"}),
    )
    .await;
    let passed = write(
        &app,
        &t,
        Method::POST,
        &format!("{path}/verifications"),
        json!({"result": "passed", "occurred_at": "2026-01-04T02:00:00Z"}),
    )
    .await;
    let resolved = write(
        &app,
        &t,
        Method::PATCH,
        &path,
        json!({"status": "resolved", "occurred_at": "2026-01-05T00:00:00Z"}),
    )
    .await;
    let first = write(
        &app,
        &t,
        Method::POST,
        &format!("{path}/regressions"),
        json!({"occurred_at": "2026-01-06T00:00:00Z"}),
    )
    .await;
    let first_id = first["id"].as_str().unwrap();
    let first = write(
        &app,
        &t,
        Method::PATCH,
        &format!("/regressions/{first_id}"),
        json!({"status": "closed", "occurred_at": "2026-01-07T00:00:00Z"}),
    )
    .await;
    let second = write(
        &app,
        &t,
        Method::POST,
        &format!("{path}/regressions"),
        json!({"occurred_at": "2026-01-08T00:00:00Z"}),
    )
    .await;

    let read = envelope(
        get_finding(&app, &t, &t.read_key, &id).await,
        StatusCode::OK,
    )
    .await;
    let mut expected = resolved.clone();
    let fields = expected.as_object_mut().unwrap();
    fields.insert(
        "history".into(),
        json!([
            {"status": "new", "priority_score": 900, "occurred_at": "2026-01-02T03:04:05Z"},
            {"status": "triaged", "priority_score": 900, "occurred_at": "2026-01-03T00:00:00Z"},
            {"status": "triaged", "priority_score": 950, "occurred_at": "2026-01-04T00:00:00.500Z"},
            {"status": "resolved", "priority_score": 950, "occurred_at": "2026-01-05T00:00:00Z"},
        ]),
    );
    fields.insert("verifications".into(), json!([failed, passed]));
    fields.insert("regressions".into(), json!([first, second]));
    assert_eq!(read, expected);
    assert_eq!(read["updated_at"], "2026-01-05T00:00:00Z");
    assert_eq!(read["regressions"][0]["closed_at"], "2026-01-07T00:00:00Z");
    assert_eq!(read["regressions"][1]["status"], "open");
    // The same fields as the list, which shows the finding as it now is.
    let listed = envelope(
        send(
            &app,
            Method::GET,
            &t.read_key,
            app.audit_url(&t, "/findings"),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed[0], resolved);
}

#[tokio::test]
async fn a_finding_of_another_project_or_a_malformed_id_is_not_found() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let created = write(
        &app,
        &t,
        reqwest::Method::POST,
        "/findings",
        json!({"title": "XSS", "severity": "high", "priority_score": 10}),
    )
    .await;
    let id = created["id"].as_str().unwrap();
    let other = app.tenant("other").await;
    for (tenant, id) in [
        (&other, id.to_owned()),
        (&t, uuid::Uuid::new_v4().to_string()),
        (&t, "not-a-uuid".to_owned()),
        (&t, format!("{id}x")),
    ] {
        let e = error(
            get_finding(&app, tenant, &tenant.read_key, &id).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        assert_eq!(e["message"], "no such finding in this project", "{id}");
    }
    // The read scope is needed; the write scope alone is not enough.
    error(
        get_finding(&app, &t, &t.write_key, id).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    error(
        get_finding(&app, &t, "kr_live_nope", id).await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    )
    .await;
}

async fn export(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let response = send(
        app,
        reqwest::Method::POST,
        &t.key,
        app.audit_url(t, "/reports/export"),
        Some(body),
    )
    .await;
    envelope(response, StatusCode::ACCEPTED).await
}

async fn download(app: &TestApp, t: &Tenant, id: &str) -> reqwest::Response {
    send(
        app,
        reqwest::Method::GET,
        &t.read_key,
        app.audit_url(t, &format!("/reports/{id}/download")),
        None,
    )
    .await
}

#[tokio::test]
async fn a_report_whose_artefact_went_missing_is_gone_with_artefact_missing() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, json!({"format": "csv"})).await;
    let id = report["id"].as_str().unwrap();
    assert_eq!(app.run_pending_jobs().await.len(), 1);
    let present = download(&app, &t, id).await;
    assert_eq!(present.status(), StatusCode::OK);
    assert!(!present.bytes().await.unwrap().is_empty());

    assert_eq!(app.remove_artefact(id), 1);
    assert_eq!(app.artefact_files(), 0);
    let gone = error(
        download(&app, &t, id).await,
        StatusCode::GONE,
        "artefact_missing",
    )
    .await;
    assert_eq!(
        gone,
        json!({
            "code": "artefact_missing",
            "message": "the report's artefact is no longer available; export the report again"
        })
    );
    // The report itself is still there and still says it was exported.
    let shown = envelope(
        send(
            &app,
            reqwest::Method::GET,
            &t.read_key,
            app.audit_url(&t, &format!("/reports/{id}")),
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown["status"], "exported");
}

/// Polls the report until it reaches a final status.
async fn settled(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let current = envelope(
            send(
                app,
                reqwest::Method::GET,
                &t.read_key,
                app.audit_url(t, &format!("/reports/{id}")),
                None,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        if ["exported", "failed", "shared"].contains(&current["status"].as_str().unwrap()) {
            return current;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "report {id} still {}",
            current["status"]
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
}

/// A renderer whose error quotes a server path, as real ones may.
struct Leaky;

impl krafter_domain::export::ReportRenderer for Leaky {
    fn start(
        &self,
        _: &krafter_domain::export::ReportHeader,
        _: Box<dyn std::io::Write + Send>,
    ) -> Result<Box<dyn krafter_domain::export::RenderSession>, krafter_domain::export::RenderError>
    {
        Err(krafter_domain::export::RenderError::Render(
            "font not found at /srv/krafter/fonts/secret.ttf".into(),
        ))
    }
}

/// Checks a failed report and its download carry `reason` and nothing else.
async fn assert_failed_with(app: &TestApp, t: &Tenant, id: &str, reason: &str) {
    let done = settled(app, t, id).await;
    assert_eq!(done["status"], "failed");
    assert_eq!(done["error"], reason);
    let gone = error(
        download(app, t, id).await,
        StatusCode::GONE,
        "report_failed",
    )
    .await;
    assert_eq!(
        gone,
        json!({"code": "report_failed", "message": format!("the export failed: {reason}")})
    );
}

#[tokio::test]
async fn a_renderer_failure_shows_a_public_reason_only() {
    let app = TestApp::builder()
        .workers(1)
        .renderer(std::sync::Arc::new(Leaky))
        .fast_retries()
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, json!({"format": "pdf"})).await;
    assert_failed_with(&app, &t, report["id"].as_str().unwrap(), "rendering failed").await;
}

#[tokio::test]
async fn a_store_failure_shows_a_public_reason_only() {
    let app = TestApp::builder().workers(1).fast_retries().spawn().await;
    app.break_artefact_store();
    let t = app.tenant("web").await;
    let report = export(&app, &t, json!({"format": "csv"})).await;
    assert_failed_with(
        &app,
        &t,
        report["id"].as_str().unwrap(),
        "artefact storage unavailable",
    )
    .await;
}

async fn keyed_export(app: &TestApp, t: &Tenant, key: &str, body: &str) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, "/reports/export"))
        .bearer_auth(&t.key)
        .header("idempotency-key", key)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_idempotency_fingerprint_compares_fields_as_sent() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let start = (chrono::Utc::now().date_naive() - chrono::Days::new(3)).to_string();
    let first = keyed_export(
        &app,
        &t,
        "k-1",
        &format!(r#"{{"format":"csv","period_start":"{start}"}}"#),
    )
    .await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = envelope(first, StatusCode::ACCEPTED).await;
    // Key order, spacing and an explicit null do not matter.
    let again = keyed_export(
        &app,
        &t,
        "k-1",
        &format!(r#"{{ "period_end": null, "period_start": "{start}",  "format": "csv" }}"#),
    )
    .await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again = envelope(again, StatusCode::ACCEPTED).await;
    assert_eq!(again["id"], first["id"]);
    // A field given that was absent is another request, even if it means the same.
    let today = chrono::Utc::now().date_naive().to_string();
    for body in [
        format!(r#"{{"format":"csv","period_start":"{start}","period_end":"{today}"}}"#),
        format!(r#"{{"period_start":"{start}"}}"#),
        r#"{"format":"csv"}"#.to_owned(),
    ] {
        error(
            keyed_export(&app, &t, "k-1", &body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )
        .await;
    }
    app.expect_unprocessed_jobs(1);
}
