use std::collections::HashMap;
use std::sync::Arc;

use krafter_domain::FixedClock;
use krafter_test_support::vectors::{self, Step};
use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{assert_same_json, envelope, invalid_field, write};

/// Every shared vector, imported through the API in time order and read back through the API.
#[tokio::test]
async fn the_summary_vectors_hold_through_http_and_postgres() {
    let vectors = vectors::load();
    let app = TestApp::with_clock(Arc::new(FixedClock(vectors.now))).await;
    let org = app.org("Vectors").await;
    let key = app
        .key(
            org,
            &[
                krafter_domain::access::Scope::AuditRead,
                krafter_domain::access::Scope::AuditWrite,
            ],
        )
        .await;
    let mut checked = 0;
    for (n, scenario) in vectors.scenarios.iter().enumerate() {
        let project = app.project(org, &format!("scenario-{n}")).await;
        let t = Tenant {
            org,
            project,
            key: key.clone(),
            read_key: key.clone(),
            write_key: key.clone(),
        };
        let mut findings: HashMap<&str, String> = HashMap::new();
        let mut regressions: HashMap<usize, String> = HashMap::new();
        for step in scenario.steps() {
            use reqwest::Method;
            match step {
                Step::CreateFinding {
                    key,
                    at,
                    status,
                    priority_score,
                } => {
                    let f = write(&app, &t, Method::POST, "/findings", json!({"title": key, "severity": "medium", "status": status, "priority_score": priority_score, "occurred_at": at})).await;
                    findings.insert(key, f["id"].as_str().unwrap().to_owned());
                }
                Step::ChangeFinding {
                    key,
                    at,
                    status,
                    priority_score,
                } => {
                    write(&app, &t, Method::PATCH, &format!("/findings/{}", findings[key]), json!({"status": status, "priority_score": priority_score, "occurred_at": at})).await;
                }
                Step::Verify { key, at, result } => {
                    write(
                        &app,
                        &t,
                        Method::POST,
                        &format!("/findings/{}/verifications", findings[key]),
                        json!({"result": result, "occurred_at": at}),
                    )
                    .await;
                }
                Step::OpenRegression { index, key, at } => {
                    let r = write(
                        &app,
                        &t,
                        Method::POST,
                        &format!("/findings/{}/regressions", findings[key]),
                        json!({"occurred_at": at}),
                    )
                    .await;
                    regressions.insert(index, r["id"].as_str().unwrap().to_owned());
                }
                Step::CloseRegression { index, at } => {
                    write(
                        &app,
                        &t,
                        Method::PATCH,
                        &format!("/regressions/{}", regressions[&index]),
                        json!({"status": "closed", "occurred_at": at}),
                    )
                    .await;
                }
            }
        }
        for q in &scenario.queries {
            let mut params = Vec::new();
            if let Some(d) = &q.date_from {
                params.push(("date_from", d.as_str()));
            }
            if let Some(d) = &q.date_to {
                params.push(("date_to", d.as_str()));
            }
            let response = app
                .client
                .get(app.audit_url(&t, "/reports/summary"))
                .query(&params)
                .bearer_auth(&key)
                .send()
                .await
                .unwrap();
            let data = envelope(response, StatusCode::OK).await;
            assert_same_json(&data, &q.expected, &format!("{} {params:?}", scenario.name));
            checked += 1;
        }
    }
    assert_eq!(checked, 40);
}

#[tokio::test]
async fn the_default_summary_has_the_spec_shape() {
    let app = TestApp::with_clock(Arc::new(FixedClock(
        "2025-06-10T15:00:00Z".parse().unwrap(),
    )))
    .await;
    let t = app.tenant("production-website").await;
    let response = app
        .client
        .get(app.audit_url(&t, "/reports/summary"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    let days: Vec<Value> = (4..=10)
        .map(|d| json!({"date": format!("2025-06-{d:02}"), "open_risk_score": 0}))
        .collect();
    let request_id = body["meta"]["request_id"].clone();
    assert_eq!(
        body,
        json!({
            "data": {"risk_burn_down": days, "verification_pass_rate": 0.0, "regression_rate": 0.0, "open_findings": 0},
            "meta": {"request_id": request_id},
            "error": null
        })
    );
}

#[tokio::test]
async fn bad_windows_are_422_naming_the_field() {
    let app = TestApp::with_clock(Arc::new(FixedClock(
        "2026-06-10T15:00:00Z".parse().unwrap(),
    )))
    .await;
    let t = app.tenant("web").await;
    for (query, field) in [
        ("date_from=2026-13-01", "date_from"),
        ("date_from=06/01/2026", "date_from"),
        ("date_to=2026-06-11", "date_to"),
        ("date_from=2026-06-09&date_to=2026-06-08", "date_from"),
        ("date_from=2025-06-09&date_to=2026-06-10", "date_from"),
    ] {
        let response = app
            .client
            .get(app.audit_url(&t, &format!("/reports/summary?{query}")))
            .bearer_auth(&t.read_key)
            .send()
            .await
            .unwrap();
        invalid_field(response, field).await;
    }
    let longest = app
        .client
        .get(app.audit_url(
            &t,
            "/reports/summary?date_from=2025-06-10&date_to=2026-06-10",
        ))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    let data = envelope(longest, StatusCode::OK).await;
    assert_eq!(data["risk_burn_down"].as_array().unwrap().len(), 366);
}

/// The regression rate through the API: each terminal finding that came back counts once,
/// regressions on open findings do not, and status changes and closings move it.
#[tokio::test]
async fn the_regression_rate_is_the_share_of_closed_findings_that_came_back() {
    use reqwest::Method;

    let app = TestApp::with_clock(Arc::new(FixedClock(
        "2026-06-10T15:00:00Z".parse().unwrap(),
    )))
    .await;
    let t = app.tenant("web").await;
    let rate = |query: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let response = app
                .client
                .get(app.audit_url(t, &format!("/reports/summary{query}")))
                .bearer_auth(&t.read_key)
                .send()
                .await
                .unwrap();
            envelope(response, StatusCode::OK).await["regression_rate"]
                .as_f64()
                .unwrap()
        }
    };
    let finding = |status: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let body = json!({"title": status, "severity": "low", "priority_score": 5,
                              "status": status, "occurred_at": "2026-06-01T10:00:00Z"});
            let f = write(app, t, Method::POST, "/findings", body).await;
            f["id"].as_str().unwrap().to_owned()
        }
    };
    let resolved = finding("resolved").await;
    let open = finding("new").await;
    finding("dismissed").await;
    let regression = |id: String, at: &'static str| {
        let (app, t) = (&app, &t);
        async move {
            let path = format!("/findings/{id}/regressions");
            let r = write(app, t, Method::POST, &path, json!({"occurred_at": at})).await;
            r["id"].as_str().unwrap().to_owned()
        }
    };
    regression(resolved.clone(), "2026-06-02T10:00:00Z").await;
    regression(resolved.clone(), "2026-06-03T10:00:00Z").await;
    let on_open = regression(open.clone(), "2026-06-02T10:00:00Z").await;
    assert_eq!(rate("").await, 0.5);
    assert_eq!(rate("?date_to=2026-06-01").await, 0.0);
    assert_eq!(rate("?date_to=2026-06-02").await, 0.5);

    let patch = |path: String, body: Value| {
        let (app, t) = (&app, &t);
        async move { write(app, t, Method::PATCH, &path, body).await }
    };
    patch(format!("/findings/{open}"), json!({"status": "dismissed"})).await;
    assert_eq!(rate("").await, 2.0 / 3.0);
    patch(
        format!("/regressions/{on_open}"),
        json!({"status": "closed"}),
    )
    .await;
    assert_eq!(rate("").await, 1.0 / 3.0);
    patch(
        format!("/findings/{resolved}"),
        json!({"status": "triaged"}),
    )
    .await;
    assert_eq!(rate("").await, 0.0);
    // The past is unchanged.
    assert_eq!(rate("?date_to=2026-06-09").await, 0.5);
}

#[tokio::test]
async fn the_openapi_document_defines_the_regression_rate() {
    let app = TestApp::spawn().await;
    let response = app
        .client
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let doc: Value = response.json().await.unwrap();
    let rate = &doc["components"]["schemas"]["SummaryDto"]["properties"]["regression_rate"];
    assert_eq!(
        (rate["minimum"].as_f64(), rate["maximum"].as_f64()),
        (Some(0.0), Some(1.0))
    );
    let description = rate["description"].as_str().expect("a description");
    assert!(
        description.contains("terminal status")
            && description.contains("at least one open regression"),
        "{description}"
    );
}
