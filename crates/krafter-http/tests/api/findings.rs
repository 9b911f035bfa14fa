use chrono::{DateTime, Utc};
use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field};

async fn create(app: &TestApp, t: &Tenant, body: Value) -> Value {
    let response = app
        .client
        .post(app.audit_url(t, "/findings"))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::CREATED).await
}

async fn patch(app: &TestApp, t: &Tenant, path: &str, body: Value) -> reqwest::Response {
    app.client
        .patch(app.audit_url(t, path))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, t: &Tenant, path: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, path))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_finding_is_created_changed_and_listed() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let created = create(
        &app,
        &t,
        json!({"title": "SQL injection in /login", "severity": "critical", "priority_score": 900, "occurred_at": "2026-01-02T03:04:05Z"}),
    )
    .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        created,
        json!({
            "id": id, "title": "SQL injection in /login", "severity": "critical", "priority_score": 900,
            "status": "new", "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z",
            "due_on": "2026-01-09", "source": null, "external_id": null, "rule_id": null,
            "location": null, "description": null
        })
    );

    let changed = patch(&app, &t, &format!("/findings/{id}"), json!({"status": "triaged", "priority_score": 950, "occurred_at": "2026-01-03T00:00:00.5Z"})).await;
    let changed = envelope(changed, StatusCode::OK).await;
    assert_eq!(
        changed,
        json!({
            "id": id, "title": "SQL injection in /login", "severity": "critical", "priority_score": 950,
            "status": "triaged", "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-03T00:00:00.500Z",
            "due_on": "2026-01-09", "source": null, "external_id": null, "rule_id": null,
            "location": null, "description": null
        })
    );

    let listed = app
        .client
        .get(app.audit_url(&t, "/findings"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    let body: Value = {
        assert_eq!(listed.status(), StatusCode::OK);
        listed.json().await.unwrap()
    };
    assert_eq!(body["data"], json!([changed]));
    assert_eq!(body["meta"]["next_cursor"], Value::Null);
}

#[tokio::test]
async fn each_bad_field_is_named() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let ok = json!({"title": "t", "severity": "low", "priority_score": 1});
    let with = |k: &str, v: Value| {
        let mut b = ok.clone();
        b[k] = v;
        b
    };
    let cases = [
        (with("title", json!("")), "title"),
        (with("title", json!("   ")), "title"),
        (with("title", json!("x".repeat(501))), "title"),
        (with("title", json!(7)), "title"),
        (with("severity", json!("urgent")), "severity"),
        (with("priority_score", json!(1001)), "priority_score"),
        (with("priority_score", json!(-1)), "priority_score"),
        (with("priority_score", json!(2.5)), "priority_score"),
        (with("priority_score", json!("high")), "priority_score"),
        (with("status", json!("closed")), "status"),
        (with("occurred_at", json!("yesterday")), "occurred_at"),
        (
            with("occurred_at", json!("2999-01-01T00:00:00Z")),
            "occurred_at",
        ),
        (with("colour", json!("red")), "colour"),
        (json!({"severity": "low", "priority_score": 1}), "title"),
    ];
    for (body, field) in cases {
        invalid_field(post(&app, &t, "/findings", body).await, field).await;
    }
    let exactly_500 = create(&app, &t, with("title", json!("é".repeat(500)))).await;
    assert_eq!(exactly_500["title"].as_str().unwrap().chars().count(), 500);

    // Several bad fields are reported together.
    let response = post(
        &app,
        &t,
        "/findings",
        json!({"title": "", "severity": "x", "priority_score": 5000}),
    )
    .await;
    let e = error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params").await;
    assert_eq!(e["details"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn changes_stay_in_time_order_and_empty_patches_are_refused() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let f = create(&app, &t, json!({"title": "t", "severity": "low", "priority_score": 1, "occurred_at": "2026-03-01T00:00:00Z"})).await;
    let path = format!("/findings/{}", f["id"].as_str().unwrap());
    invalid_field(
        patch(
            &app,
            &t,
            &path,
            json!({"status": "resolved", "occurred_at": "2026-02-28T23:59:59Z"}),
        )
        .await,
        "occurred_at",
    )
    .await;
    invalid_field(
        patch(
            &app,
            &t,
            &path,
            json!({"status": "resolved", "occurred_at": "2999-01-01T00:00:00Z"}),
        )
        .await,
        "occurred_at",
    )
    .await;
    invalid_field(patch(&app, &t, &path, json!({})).await, "status").await;
    let same_instant = patch(
        &app,
        &t,
        &path,
        json!({"status": "resolved", "occurred_at": "2026-03-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(
        envelope(same_instant, StatusCode::OK).await["status"],
        "resolved"
    );
    let unknown = patch(
        &app,
        &t,
        &format!("/findings/{}", uuid::Uuid::new_v4()),
        json!({"status": "new"}),
    )
    .await;
    error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn verifications_and_regressions() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let f = create(&app, &t, json!({"title": "t", "severity": "medium", "priority_score": 50, "occurred_at": "2026-03-01T00:00:00Z"})).await;
    let id = f["id"].as_str().unwrap();

    let v = envelope(
        post(
            &app,
            &t,
            &format!("/findings/{id}/verifications"),
            json!({"result": "passed", "occurred_at": "2026-03-02T00:00:00Z"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(v["finding_id"], id);
    assert_eq!(v["result"], "passed");
    assert_eq!(v["occurred_at"], "2026-03-02T00:00:00Z");
    invalid_field(
        post(
            &app,
            &t,
            &format!("/findings/{id}/verifications"),
            json!({"result": "maybe"}),
        )
        .await,
        "result",
    )
    .await;
    invalid_field(
        post(
            &app,
            &t,
            &format!("/findings/{id}/verifications"),
            json!({"result": "failed", "occurred_at": "2026-02-01T00:00:00Z"}),
        )
        .await,
        "occurred_at",
    )
    .await;

    // An empty body opens a regression now.
    let before = Utc::now();
    let opened = app
        .client
        .post(app.audit_url(&t, &format!("/findings/{id}/regressions")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap();
    let opened = envelope(opened, StatusCode::CREATED).await;
    assert_eq!(opened["status"], "open");
    assert_eq!(opened["closed_at"], Value::Null);
    let opened_at: DateTime<Utc> = opened["opened_at"].as_str().unwrap().parse().unwrap();
    assert!(opened_at >= before - chrono::Duration::milliseconds(1) && opened_at <= Utc::now());

    let rid = opened["id"].as_str().unwrap();
    invalid_field(
        patch(
            &app,
            &t,
            &format!("/regressions/{rid}"),
            json!({"status": "reopened"}),
        )
        .await,
        "status",
    )
    .await;
    let closed = envelope(
        patch(
            &app,
            &t,
            &format!("/regressions/{rid}"),
            json!({"status": "closed"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].as_str().is_some());
    let again = patch(
        &app,
        &t,
        &format!("/regressions/{rid}"),
        json!({"status": "closed"}),
    )
    .await;
    let e = error(again, StatusCode::CONFLICT, "invalid_transition").await;
    assert_eq!(
        e["message"],
        "a regression cannot move from closed to closed"
    );
    let unknown = patch(
        &app,
        &t,
        &format!("/regressions/{}", uuid::Uuid::new_v4()),
        json!({"status": "closed"}),
    )
    .await;
    error(unknown, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn listing_pages_newest_first_with_a_status_filter() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let mut triaged = Vec::new();
    for i in 0..7 {
        let status = if i % 2 == 0 { "triaged" } else { "new" };
        let f = create(&app, &t, json!({"title": format!("f{i}"), "severity": "low", "priority_score": i, "status": status, "occurred_at": format!("2026-03-0{}T00:00:00Z", i + 1)})).await;
        if status == "triaged" {
            triaged.push(f["title"].as_str().unwrap().to_owned());
        }
    }
    triaged.reverse();
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut url = app.audit_url(&t, "/findings?status=triaged&limit=3");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let response = app
            .client
            .get(&url)
            .bearer_auth(&t.read_key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        pages += 1;
        seen.extend(
            body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["title"].as_str().unwrap().to_owned()),
        );
        match body["meta"]["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen, triaged);
    assert_eq!(pages, 2);

    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=ten", "limit"),
        ("status=open", "status"),
        ("cursor=garbage", "cursor"),
    ] {
        let response = app
            .client
            .get(app.audit_url(&t, &format!("/findings?{query}")))
            .bearer_auth(&t.read_key)
            .send()
            .await
            .unwrap();
        invalid_field(response, field).await;
    }
}
