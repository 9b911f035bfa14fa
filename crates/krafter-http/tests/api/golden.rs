//! Golden tests: the example responses of the spec (`../shared/spec/reports-api.md`), copied here
//! by hand, against real responses. Every field of an example must be in the real response with
//! the same JSON type, recursively (integers stay integers; dates, instants, UUIDs and URLs keep
//! their form); where the example's value is a fixed, enum-like value, the value must match too.
//! The real responses may carry more fields: where docs/ goes beyond the spec, docs/ wins.
//!
//! Also here: URLs built from `KRAFTER_PUBLIC_URL` whatever `Host`, `X-Forwarded-*` or
//! `Forwarded` say, and `/readyz` answering a short public reason, never a database error.

use chrono::{DateTime, NaiveDate, Utc};
use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
use krafter_domain::export::{ExportRepository, QuotaLimit};
use krafter_test_support::{Tenant, TestApp};
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};

use crate::helpers::envelope;

/// The spec's project id in its examples: the tenants here use it as their slug.
const SPEC_PROJECT: &str = "production-website";

/// What a string of an example is, beyond being a string.
#[derive(Debug, PartialEq)]
enum StringForm {
    Date,
    Instant,
    Uuid,
    Url,
    Text,
}

fn form_of(s: &str) -> StringForm {
    if NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok() {
        StringForm::Date
    } else if DateTime::parse_from_rfc3339(s).is_ok() {
        StringForm::Instant
    } else if uuid::Uuid::parse_str(s).is_ok() && s.len() == 36 {
        StringForm::Uuid
    } else if s.starts_with("https://") || s.starts_with("http://") {
        StringForm::Url
    } else {
        StringForm::Text
    }
}

/// Checks that `actual` has every field of `golden`, with the same JSON type, recursively; the
/// values at the `fixed` paths (`data.status`, `error.code`, …) must be equal too.
fn assert_conforms(actual: &Value, golden: &Value, fixed: &[&str], path: &str) {
    let here = if path.is_empty() { "(root)" } else { path };
    if fixed.contains(&path) {
        assert_eq!(actual, golden, "{here}: fixed value");
    }
    match golden {
        Value::Null => assert!(actual.is_null(), "{here}: expected null, got {actual}"),
        Value::Bool(_) => assert!(
            actual.is_boolean(),
            "{here}: expected a boolean, got {actual}"
        ),
        Value::Number(n) => {
            assert!(
                actual.is_number(),
                "{here}: expected a number, got {actual}"
            );
            if n.is_i64() || n.is_u64() {
                assert!(
                    actual.is_i64() || actual.is_u64(),
                    "{here}: expected an integer, got {actual}"
                );
            }
        }
        Value::String(g) => {
            let a = actual
                .as_str()
                .unwrap_or_else(|| panic!("{here}: expected a string, got {actual}"));
            assert_eq!(
                form_of(a),
                form_of(g),
                "{here}: {a:?} is not of the form of {g:?}"
            );
        }
        Value::Array(items) => {
            let actual = actual
                .as_array()
                .unwrap_or_else(|| panic!("{here}: expected an array, got {actual}"));
            // The example's items share one shape; each real item must have it.
            if let Some(first) = items.first() {
                for item in items {
                    assert_conforms(item, first, &[], &format!("{here}[golden]"));
                }
                for (i, item) in actual.iter().enumerate() {
                    assert_conforms(item, first, fixed, &format!("{path}[{i}]"));
                }
            }
        }
        Value::Object(fields) => {
            let actual = actual
                .as_object()
                .unwrap_or_else(|| panic!("{here}: expected an object, got {actual}"));
            for (name, value) in fields {
                let child = if path.is_empty() {
                    name.clone()
                } else {
                    format!("{path}.{name}")
                };
                let got = actual.get(name).unwrap_or_else(|| {
                    panic!("{child}: missing from {}", Value::from(actual.clone()))
                });
                assert_conforms(got, value, fixed, &child);
            }
        }
    }
}

/// The whole body of a response: its status, then the envelope's three members exactly.
async fn body(response: Response, status: StatusCode) -> Value {
    assert_eq!(response.status(), status, "unexpected status");
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.expect("a JSON body");
    let mut keys: Vec<&String> = body.as_object().expect("an object").keys().collect();
    keys.sort();
    assert_eq!(keys, ["data", "error", "meta"], "{body}");
    body
}

async fn tenant(app: &TestApp) -> Tenant {
    app.tenant(SPEC_PROJECT).await
}

async fn finding(app: &TestApp, t: &Tenant, title: &str, score: i32) {
    let response = app
        .client
        .post(app.audit_url(t, "/findings"))
        .bearer_auth(&t.key)
        .json(&json!({"title": title, "severity": "high", "priority_score": score}))
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::CREATED).await;
}

async fn export(app: &TestApp, t: &Tenant, body: Value) -> Response {
    app.client
        .post(app.audit_url(t, "/reports/export"))
        .bearer_auth(&t.write_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn share(app: &TestApp, t: &Tenant, body: Value) -> Response {
    app.client
        .post(app.audit_url(t, "/reports/share"))
        .bearer_auth(&t.write_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The spec's error examples all have this shape; only the code differs.
fn golden_error(code: &str, request_id: &str) -> Value {
    json!({
        "data": null,
        "meta": { "request_id": request_id },
        "error": { "code": code }
    })
}

const ERROR_FIXED: &[&str] = &["data", "error.code"];

#[tokio::test]
async fn the_summary_matches_the_spec_example() {
    // Spec, "Report Summary", "Example Response".
    let golden = json!({
      "data": {
        "risk_burn_down": [
          { "date": "2025-06-04", "open_risk_score": 320 },
          { "date": "2025-06-05", "open_risk_score": 305 },
          { "date": "2025-06-06", "open_risk_score": 290 },
          { "date": "2025-06-07", "open_risk_score": 260 },
          { "date": "2025-06-08", "open_risk_score": 240 },
          { "date": "2025-06-09", "open_risk_score": 220 },
          { "date": "2025-06-10", "open_risk_score": 210 }
        ],
        "verification_pass_rate": 0.84,
        "regression_rate": 0.12,
        "open_findings": 11
      },
      "meta": {
        "request_id": "Z-hrvhkiE1oqzTTTXmd"
      },
      "error": null
    });
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;
    finding(&app, &t, "SQL injection in search", 320).await;
    finding(&app, &t, "Missing HSTS", 40).await;
    let response = app
        .client
        .get(app.audit_url(&t, "/reports/summary"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    let real = body(response, StatusCode::OK).await;
    assert_conforms(&real, &golden, &["error"], "");
    // "a fixed 7-element series (today and the previous 6 days)", oldest first.
    let series = real["data"]["risk_burn_down"].as_array().unwrap();
    assert_eq!(series.len(), 7, "{real}");
    let today = Utc::now().date_naive();
    assert_eq!(series[6]["date"], today.to_string());
    assert_eq!(
        series[0]["date"],
        (today - chrono::Days::new(6)).to_string()
    );
    assert_eq!(series[6]["open_risk_score"], 360);
    assert_eq!(real["data"]["open_findings"], 2);
    for rate in ["verification_pass_rate", "regression_rate"] {
        let value = real["data"][rate].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&value), "{rate}: {value}");
    }
}

#[tokio::test]
async fn the_export_matches_the_spec_example() {
    // Spec, "Export Report", "Example Response" (202 Accepted), for the example request's body.
    let golden = json!({
      "data": {
        "id": "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d",
        "org_id": "11111111-1111-1111-1111-111111111111",
        "project_id": "production-website",
        "period_start": "2025-06-01",
        "period_end": "2025-06-10",
        "format": "json",
        "status": "queued",
        "snapshot": {
          "risk_burn_down": [],
          "verification_pass_rate": 0.84,
          "regression_rate": 0.12,
          "open_findings": 11
        },
        "exported_at": null,
        "shared_at": null,
        "created_at": "2025-06-12T15:00:00Z",
        "updated_at": "2025-06-12T15:00:00Z"
      },
      "meta": {
        "request_id": "aa-iswiljF2praUUUYne"
      },
      "error": null
    });
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;
    finding(&app, &t, "Open redirect", 200).await;
    let response = export(
        &app,
        &t,
        json!({"format": "json", "period_start": "2025-06-01", "period_end": "2025-06-10"}),
    )
    .await;
    let real = body(response, StatusCode::ACCEPTED).await;
    assert_conforms(
        &real,
        &golden,
        &[
            "error",
            "data.project_id",
            "data.period_start",
            "data.period_end",
            "data.format",
            "data.status",
            "data.exported_at",
            "data.shared_at",
        ],
        "",
    );
    assert_eq!(real["data"]["org_id"], t.org.to_string());
    // The snapshot's series holds the report's window, one point a day, with the spec's shape.
    let series = real["data"]["snapshot"]["risk_burn_down"]
        .as_array()
        .unwrap();
    assert_eq!(series.len(), 10, "{real}");
    assert_conforms(
        &real["data"]["snapshot"]["risk_burn_down"],
        &json!([{ "date": "2025-06-04", "open_risk_score": 320 }]),
        &[],
        "data.snapshot.risk_burn_down",
    );
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn the_export_errors_match_the_spec_examples() {
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;

    // Spec, "Export Report", "Error Responses": 422 — invalid format, invalid date, etc.
    let golden = golden_error("invalid_params", "aa-iswiljF2praUUUYne");
    for bad in [
        json!({"format": "docx"}),
        json!({"period_start": "2025-13-01"}),
        json!({"period_start": "2025-06-10", "period_end": "2025-06-01"}),
    ] {
        let real = body(
            export(&app, &t, bad).await,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
        assert_conforms(&real, &golden, ERROR_FIXED, "");
    }

    // Spec, "Export Report", "Error Responses": 429 — quota exhausted.
    let golden = golden_error("quota_exceeded", "aa-iswiljF2praUUUYne");
    app.store
        .set_quota_limit(t.org, QuotaLimit::parse(0).unwrap())
        .await
        .unwrap();
    let response = export(&app, &t, json!({"format": "json"})).await;
    assert_eq!(response.headers()["x-quota-remaining"], "0");
    let real = body(response, StatusCode::TOO_MANY_REQUESTS).await;
    assert_conforms(&real, &golden, ERROR_FIXED, "");
}

#[tokio::test]
async fn the_share_matches_the_spec_example() {
    // Spec, "Share Report", "Example Response" (for `{"channel": "link"}`).
    let golden = json!({
      "data": {
        "id": "9a8b7c6d-5e4f-3a2b-1c0d-9e8f7a6b5c4d",
        "channel": "link",
        "recipients": [],
        "shared_at": "2025-06-12T15:00:00Z",
        "share_url": "https://app.krafter.dev/insights/audit/reports/shared/SFMyNTY.g2gDdAAAAAQ..."
      },
      "meta": {
        "request_id": "Y-gqugjhD0npySSSWlc"
      },
      "error": null
    });
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;
    // No report yet: the placeholder makes the share succeed, as the spec says.
    let real = body(
        share(&app, &t, json!({"channel": "link"})).await,
        StatusCode::OK,
    )
    .await;
    assert_conforms(
        &real,
        &golden,
        &["error", "data.channel", "data.recipients"],
        "",
    );
    let url = real["data"]["share_url"].as_str().unwrap();
    let viewer = format!("{}/insights/audit/reports/shared/", app.base_url);
    assert!(url.starts_with(&viewer), "{url}");
    app.run_pending_jobs().await;
}

#[tokio::test]
async fn the_share_errors_match_the_spec_examples() {
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;

    // Spec, "Share Report", "Error Responses": 422 — channel not in {email, slack, link}.
    let golden = golden_error("invalid_channel", "Y-gqugjhD0npySSSWlc");
    for bad in [json!({"channel": "pigeon"}), json!({})] {
        let real = body(share(&app, &t, bad).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert_conforms(&real, &golden, ERROR_FIXED, "");
    }

    // Spec, "Share Report", "Error Responses": 422 — report row update failed. A trigger that
    // skips every update of the report row makes the share unable to mark it shared.
    let golden = golden_error("request_failed", "Y-gqugjhD0npySSSWlc");
    let id = envelope(
        export(&app, &t, json!({"format": "json"})).await,
        StatusCode::ACCEPTED,
    )
    .await["id"]
        .clone();
    app.run_pending_jobs().await;
    let mut conn = AsyncPgConnection::establish(app.db.url()).await.unwrap();
    conn.batch_execute(
        "CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER reports_frozen BEFORE UPDATE ON reports FOR EACH ROW EXECUTE FUNCTION skip_update();",
    )
    .await
    .unwrap();
    let response = share(&app, &t, json!({"channel": "link", "report_id": id})).await;
    let real = body(response, StatusCode::UNPROCESSABLE_ENTITY).await;
    assert_conforms(&real, &golden, ERROR_FIXED, "");
    conn.batch_execute("DROP TRIGGER reports_frozen ON reports; DROP FUNCTION skip_update();")
        .await
        .unwrap();
}

/// Headers a client (or anything between it and us) controls; none of them may move a URL.
const FORGED: [(&str, &str); 5] = [
    ("host", "evil.example"),
    ("forwarded", "host=evil.example;proto=https"),
    ("x-forwarded-host", "evil.example"),
    ("x-forwarded-proto", "https"),
    ("x-forwarded-port", "8443"),
];

#[tokio::test]
async fn urls_come_from_the_public_url_never_from_forwarded_headers() {
    let app = TestApp::spawn().await;
    let t = tenant(&app).await;
    let id = envelope(
        export(&app, &t, json!({"format": "csv"})).await,
        StatusCode::ACCEPTED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.run_pending_jobs().await;

    // One forged header at a time, then all of them together.
    let mut cases: Vec<Vec<(&str, &str)>> = FORGED.iter().map(|h| vec![*h]).collect();
    cases.push(FORGED.to_vec());
    for headers in cases {
        let mut get = app
            .client
            .get(app.audit_url(&t, &format!("/reports/{id}")))
            .bearer_auth(&t.read_key);
        let mut post = app
            .client
            .post(app.audit_url(&t, "/reports/share"))
            .bearer_auth(&t.write_key)
            .json(&json!({"channel": "link", "report_id": id}));
        for (name, value) in &headers {
            get = get.header(*name, *value);
            post = post.header(*name, *value);
        }
        let report = envelope(get.send().await.unwrap(), StatusCode::OK).await;
        assert_eq!(
            report["download_url"],
            format!(
                "{}/api/v1/orgs/{}/projects/{SPEC_PROJECT}/audit/reports/{id}/download",
                app.base_url, t.org
            ),
            "{headers:?}"
        );
        let shared = envelope(post.send().await.unwrap(), StatusCode::OK).await;
        let url = shared["share_url"].as_str().unwrap();
        assert!(
            url.starts_with(&format!("{}/insights/audit/reports/shared/", app.base_url)),
            "{headers:?}: {url}"
        );
        assert!(!url.contains("evil") && !url.contains("8443"), "{url}");
    }
}

async fn readyz(app: &TestApp) -> Response {
    app.client.get(app.url("/readyz")).send().await.unwrap()
}

#[tokio::test]
async fn readyz_answers_a_public_reason_never_the_database_error() {
    let app = TestApp::spawn().await;
    let mut conn = AsyncPgConnection::establish(app.db.url()).await.unwrap();

    // A migrations table the readiness query fails on: the database's error stays in the log.
    conn.batch_execute(
        "ALTER TABLE __diesel_schema_migrations RENAME COLUMN version TO version_hidden",
    )
    .await
    .unwrap();
    let real = body(readyz(&app).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        real["error"],
        json!({"code": "service_unavailable", "message": "the database is unreachable"}),
        "{real}"
    );
    let text = real.to_string();
    for internal in [
        "version", "column", "__diesel", "exist", "test_", "postgres",
    ] {
        assert!(!text.contains(internal), "{internal} in {text}");
    }

    // One migration not applied: the count and what to do, nothing else.
    conn.batch_execute(
        "ALTER TABLE __diesel_schema_migrations RENAME COLUMN version_hidden TO version;
         CREATE TABLE saved_migration AS
             SELECT * FROM __diesel_schema_migrations ORDER BY version DESC LIMIT 1;
         DELETE FROM __diesel_schema_migrations WHERE version IN (SELECT version FROM saved_migration);",
    )
    .await
    .unwrap();
    let real = body(readyz(&app).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(
        real["error"]["message"],
        "1 database migration is pending: run krafter migrate"
    );

    // Put back, the node is ready.
    conn.batch_execute(
        "INSERT INTO __diesel_schema_migrations SELECT * FROM saved_migration;
         DROP TABLE saved_migration;",
    )
    .await
    .unwrap();
    let ready = envelope(readyz(&app).await, StatusCode::OK).await;
    assert_eq!(ready, json!({"status": "ready"}));
}
