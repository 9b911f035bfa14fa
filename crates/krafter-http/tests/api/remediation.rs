//! Remediation metrics and the organisation summary through HTTP and PostgreSQL: exact figures
//! of a small history, the defaults, the 422s, the organisation endpoints over two projects, and
//! other organisations' 404s.

use std::sync::Arc;

use krafter_domain::FixedClock;
use krafter_test_support::remediation::within_two_percent;
use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field, write};

async fn create(app: &TestApp, t: &Tenant, severity: &str, at: &str) -> String {
    let body = json!({"title": "A finding", "severity": severity, "priority_score": 100, "occurred_at": at});
    write(app, t, reqwest::Method::POST, "/findings", body).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn get(app: &TestApp, url: String, key: &str) -> reqwest::Response {
    app.client.get(url).bearer_auth(key).send().await.unwrap()
}

fn metrics(opened: i64, resolved: i64, within: Option<i64>, open: i64, overdue: i64) -> Value {
    json!({
        "opened": opened, "reopened": 0, "resolved": resolved, "dismissed": 0,
        "resolved_within_sla": within, "time_to_resolve_hours": null,
        "open_at_end": open, "overdue_at_end": overdue,
    })
}

/// The time to resolve, checked (percentiles within 2 %) and then replaced by null so that the
/// rest compares exactly.
fn take_time_to_resolve(m: &mut Value, count: i64, hours: f64) {
    let t = m["time_to_resolve_hours"].take();
    assert_eq!(t["count"], count, "{t}");
    assert_eq!(t["mean"].as_f64().unwrap(), hours, "{t}");
    for p in ["p50", "p90"] {
        assert!(within_two_percent(t[p].as_f64().unwrap(), hours), "{t}");
    }
}

fn aging(a: [i64; 5]) -> Value {
    json!({"0-7": a[0], "8-30": a[1], "31-90": a[2], "91-180": a[3], "181+": a[4]})
}

#[tokio::test]
async fn a_projects_remediation_is_exact_by_severity_bucket_and_window() {
    let app = TestApp::with_clock(Arc::new(FixedClock(
        "2026-06-10T15:00:00Z".parse().unwrap(),
    )))
    .await;
    let t = app.tenant("web").await;
    // Critical, due 06-08, resolved after 48 h; critical due 06-08 still open (overdue from
    // 06-09); high due 07-02, open; info (no SLA), open.
    let fixed = create(&app, &t, "critical", "2026-06-01T10:00:00Z").await;
    write(
        &app,
        &t,
        reqwest::Method::PATCH,
        &format!("/findings/{fixed}"),
        json!({"status": "resolved", "occurred_at": "2026-06-03T10:00:00Z"}),
    )
    .await;
    create(&app, &t, "critical", "2026-06-01T00:00:00Z").await;
    create(&app, &t, "high", "2026-06-02T00:00:00Z").await;
    create(&app, &t, "info", "2026-06-05T00:00:00Z").await;

    let url = app.audit_url(
        &t,
        "/reports/remediation?date_from=2026-06-01&date_to=2026-06-10&granularity=week",
    );
    let mut data = envelope(get(&app, url, &t.read_key).await, StatusCode::OK).await;
    take_time_to_resolve(&mut data["total"]["by_severity"]["critical"], 1, 48.0);
    take_time_to_resolve(&mut data["total"]["all"], 1, 48.0);
    take_time_to_resolve(&mut data["buckets"][0]["by_severity"]["critical"], 1, 48.0);
    take_time_to_resolve(&mut data["buckets"][0]["all"], 1, 48.0);
    let none = metrics(0, 0, Some(0), 0, 0);
    let first_week = json!({
        "critical": metrics(2, 1, Some(1), 1, 0),
        "high": metrics(1, 0, Some(0), 1, 0),
        "medium": none,
        "low": none,
        "info": metrics(1, 0, None, 1, 0),
    });
    let second_week = json!({
        "critical": metrics(0, 0, Some(0), 1, 1),
        "high": metrics(0, 0, Some(0), 1, 0),
        "medium": none,
        "low": none,
        "info": metrics(0, 0, None, 1, 0),
    });
    assert_eq!(
        data,
        json!({
            "date_from": "2026-06-01",
            "date_to": "2026-06-10",
            "granularity": "week",
            "sla_days": {"critical": 7, "high": 30, "medium": 90, "low": 120, "info": null},
            "buckets": [
                {"start": "2026-06-01", "end": "2026-06-07", "by_severity": first_week,
                 "all": metrics(4, 1, Some(1), 3, 0)},
                {"start": "2026-06-08", "end": "2026-06-10", "by_severity": second_week,
                 "all": metrics(0, 0, Some(0), 3, 1)},
            ],
            "total": {"by_severity": first_week.as_object().unwrap().iter().map(|(k, v)| {
                let mut v = v.clone();
                v["overdue_at_end"] = second_week[k]["overdue_at_end"].clone();
                (k.clone(), v)
            }).collect::<serde_json::Map<_, _>>(), "all": metrics(4, 1, Some(1), 3, 1)},
            "aging_at_end": {
                "critical": aging([0, 1, 0, 0, 0]),
                "high": aging([0, 1, 0, 0, 0]),
                "medium": aging([0; 5]),
                "low": aging([0; 5]),
                "info": aging([1, 0, 0, 0, 0]),
                "all": aging([1, 2, 0, 0, 0]),
            },
            "sla_compliance": 1.0,
        })
    );

    // The defaults: 90 days to today, by week (ISO weeks, the first clipped).
    let url = app.audit_url(&t, "/reports/remediation");
    let data = envelope(get(&app, url, &t.read_key).await, StatusCode::OK).await;
    assert_eq!(data["date_from"], "2026-03-13");
    assert_eq!(data["date_to"], "2026-06-10");
    assert_eq!(data["granularity"], "week");
    assert_eq!(
        data["buckets"][0],
        json!({"start": "2026-03-13", "end": "2026-03-15",
        "by_severity": {"critical": none, "high": none, "medium": none, "low": none,
                        "info": metrics(0, 0, None, 0, 0)},
        "all": none})
    );
    assert_eq!(data["buckets"].as_array().unwrap().len(), 14);
    assert_eq!(data["total"]["all"]["opened"], 4);

    for (query, field) in [
        ("granularity=year", "granularity"),
        ("date_to=2026-06-11", "date_to"),
        ("date_from=2025-06-09&date_to=2026-06-10", "date_from"),
    ] {
        let url = app.audit_url(&t, &format!("/reports/remediation?{query}"));
        invalid_field(get(&app, url, &t.read_key).await, field).await;
    }
    let url = app.audit_url(
        &t,
        "/reports/remediation?granularity=day&date_from=2026-06-10",
    );
    let data = envelope(get(&app, url, &t.read_key).await, StatusCode::OK).await;
    assert_eq!(data["buckets"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn the_organisation_reports_sum_its_projects_and_other_organisations_are_404() {
    let app = TestApp::with_clock(Arc::new(FixedClock(
        "2026-06-10T15:00:00Z".parse().unwrap(),
    )))
    .await;
    let t = app.tenant("web").await;
    create(&app, &t, "critical", "2026-06-01T00:00:00Z").await;
    let api = Tenant {
        project: app.project(t.org, "api").await,
        ..t.clone()
    };
    create(&app, &api, "critical", "2026-06-09T00:00:00Z").await;
    create(&app, &api, "low", "2026-06-09T00:00:00Z").await;
    let other = app.tenant("web").await;
    create(&app, &other, "critical", "2026-06-09T00:00:00Z").await;

    let org_url =
        |org: &str, rest: &str| app.url(&format!("/api/v1/orgs/{org}/audit/reports{rest}"));
    let org = t.org.to_string();
    let remediation = envelope(
        get(
            &app,
            org_url(&org, "/remediation?date_from=2026-06-01&granularity=month"),
            &t.read_key,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(remediation["buckets"].as_array().unwrap().len(), 1);
    assert_eq!(
        remediation["total"]["by_severity"]["critical"],
        metrics(2, 0, Some(0), 2, 1)
    );
    assert_eq!(
        remediation["total"]["by_severity"]["low"],
        metrics(1, 0, Some(0), 1, 0)
    );
    assert_eq!(remediation["total"]["all"], metrics(3, 0, Some(0), 3, 1));
    assert_eq!(remediation["sla_compliance"], Value::Null);

    let summary = envelope(
        get(&app, org_url(&org, "/summary"), &t.read_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(summary["open_findings"], 3);
    assert_eq!(summary["risk_burn_down"].as_array().unwrap().len(), 7);
    assert_eq!(
        summary["risk_burn_down"][6],
        json!({"date": "2026-06-10", "open_risk_score": 300})
    );
    let url = org_url(&org, "/summary?date_from=2026-06-11");
    invalid_field(get(&app, url, &t.read_key).await, "date_from").await;

    // Another organisation's key, a malformed id, an unknown one: 404, nothing revealed.
    for (org, key) in [
        (org.as_str(), other.read_key.as_str()),
        ("not-a-uuid", t.read_key.as_str()),
        ("0190a0b0-0000-7000-8000-000000000000", t.read_key.as_str()),
    ] {
        for rest in ["/summary", "/remediation"] {
            error(
                get(&app, org_url(org, rest), key).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
    }
    let response = app
        .client
        .get(org_url(&org, "/remediation"))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::UNAUTHORIZED, "unauthorized").await;
}

#[tokio::test]
async fn the_sla_policy_is_the_default_until_one_is_stored_and_keeps_its_history() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let url = app.url(&format!("/api/v1/orgs/{}/audit/sla-policy", t.org));
    let put = |body: Value, key: String| {
        let request = app.client.put(url.clone()).bearer_auth(key).json(&body);
        async move { request.send().await.unwrap() }
    };

    let current = envelope(get(&app, url.clone(), &t.read_key).await, StatusCode::OK).await;
    assert_eq!(
        current,
        json!({"critical": 7, "high": 30, "medium": 90, "low": 120, "info": null, "effective_from": null})
    );
    let history_url = format!("{url}/history");
    let history = envelope(
        get(&app, history_url.clone(), &t.read_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history, json!([]));

    // Every bound, every missing or unknown field, all at fault at once; nothing stored.
    for (body, fields) in [
        (
            json!({"critical": 0, "high": 3651, "medium": 90, "low": 120, "info": null}),
            vec!["critical", "high"],
        ),
        (
            json!({"critical": 5, "high": 30}),
            vec!["medium", "low", "info"],
        ),
    ] {
        let response = put(body, t.write_key.clone()).await;
        let error = error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params").await;
        let named: Vec<&str> = error["details"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["field"].as_str().unwrap())
            .collect();
        assert_eq!(named, fields, "{error}");
    }
    for body in [
        json!({"critical": 5, "high": 30, "medium": 90, "low": 120, "info": null, "extra": 1}),
        json!({"critical": "5", "high": 30, "medium": 90, "low": 120, "info": null}),
    ] {
        let response = put(body, t.write_key.clone()).await;
        error(response, StatusCode::UNPROCESSABLE_ENTITY, "invalid_params").await;
    }
    let response = put(
        json!({"critical": 5, "high": 30, "medium": 90, "low": 120, "info": null}),
        t.read_key.clone(),
    )
    .await;
    error(response, StatusCode::FORBIDDEN, "forbidden").await;
    let other = app.tenant("web").await;
    let response = put(
        json!({"critical": 5, "high": 30, "medium": 90, "low": 120, "info": null}),
        other.key.clone(),
    )
    .await;
    error(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(
        envelope(
            get(&app, history_url.clone(), &t.read_key).await,
            StatusCode::OK
        )
        .await,
        json!([])
    );

    let before = chrono::Utc::now();
    let stored = envelope(
        put(
            json!({"critical": 3, "high": 14, "medium": null, "low": 365, "info": 3650}),
            t.write_key.clone(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let effective_from: chrono::DateTime<chrono::Utc> =
        stored["effective_from"].as_str().unwrap().parse().unwrap();
    assert!(effective_from >= before - chrono::Duration::milliseconds(1));
    assert!(effective_from <= chrono::Utc::now());
    assert_eq!(
        stored,
        json!({"critical": 3, "high": 14, "medium": null, "low": 365, "info": 3650,
               "effective_from": stored["effective_from"]})
    );
    assert_eq!(
        envelope(get(&app, url.clone(), &t.read_key).await, StatusCode::OK).await,
        stored
    );
    let second = envelope(
        put(
            json!({"critical": 10, "high": 30, "medium": 90, "low": 120, "info": null}),
            t.key.clone(),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        envelope(get(&app, history_url, &t.read_key).await, StatusCode::OK).await,
        json!([stored, second])
    );
    // The reports show the policy in force at the end of their window; the other organisation's
    // is still the default.
    let remediation = envelope(
        get(&app, app.audit_url(&t, "/reports/remediation"), &t.read_key).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        remediation["sla_days"],
        json!({"critical": 10, "high": 30, "medium": 90, "low": 120, "info": null})
    );
    let theirs = app.url(&format!("/api/v1/orgs/{}/audit/sla-policy", other.org));
    assert_eq!(
        envelope(get(&app, theirs, &other.read_key).await, StatusCode::OK).await["effective_from"],
        Value::Null
    );
}

#[tokio::test]
async fn findings_show_the_due_date_of_the_policy_in_force_at_their_creation() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let finding = |id: String| {
        let url = app.audit_url(&t, &format!("/findings/{id}"));
        let key = t.read_key.clone();
        let client = app.client.clone();
        async move {
            let response = client.get(url).bearer_auth(key).send().await.unwrap();
            envelope(response, StatusCode::OK).await
        }
    };
    // Created late on 1 January under the default policy: critical 7 days, info none.
    let body = json!({"title": "Old", "severity": "critical", "priority_score": 100, "occurred_at": "2026-01-01T23:59:59Z"});
    let created = write(&app, &t, reqwest::Method::POST, "/findings", body).await;
    assert_eq!(created["due_on"], "2026-01-08");
    let old = created["id"].as_str().unwrap().to_owned();
    let info = create(&app, &t, "info", "2026-01-02T00:00:00Z").await;
    assert_eq!(finding(info).await["due_on"], Value::Null);

    // A stricter policy applies to findings created after it, never to earlier ones.
    let url = app.url(&format!("/api/v1/orgs/{}/audit/sla-policy", t.org));
    let response = app
        .client
        .put(url)
        .bearer_auth(&t.write_key)
        .json(&json!({"critical": 1, "high": 30, "medium": 90, "low": 120, "info": 5}))
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await;
    let today = chrono::Utc::now().date_naive();
    let body = json!({"title": "New", "severity": "info", "priority_score": 1});
    let new = write(&app, &t, reqwest::Method::POST, "/findings", body).await;
    assert_eq!(new["due_on"], (today + chrono::Days::new(5)).to_string());
    // A backdated creation takes the policy of its time; a change keeps the due date.
    let backdated = create(&app, &t, "critical", "2026-01-03T12:00:00Z").await;
    let body = json!({"status": "in_progress"});
    let changed = write(
        &app,
        &t,
        reqwest::Method::PATCH,
        &format!("/findings/{backdated}"),
        body,
    )
    .await;
    assert_eq!(changed["due_on"], "2026-01-10");
    assert_eq!(finding(old.clone()).await["due_on"], "2026-01-08");
    // And the list shows them too.
    let listed = envelope(
        get(&app, app.audit_url(&t, "/findings"), &t.read_key).await,
        StatusCode::OK,
    )
    .await;
    let due: Vec<&Value> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| &f["due_on"])
        .collect();
    let today_plus_5 = json!((today + chrono::Days::new(5)).to_string());
    assert_eq!(
        due,
        [
            &today_plus_5,
            &json!("2026-01-10"),
            &Value::Null,
            &json!("2026-01-08")
        ],
        "newest first"
    );
}
