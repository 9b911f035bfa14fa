//! Share Report end to end: the request and its answers, the placeholder, links and the public
//! viewer, Slack deliveries through a real HTTP server on loopback, and deliveries that wait for
//! their export or outlive their worker.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{TimeDelta, Utc};
use krafter_delivery::links::{JwtLinks, SigningKeys};
use krafter_domain::export::{
    Claimed, ExportRepository, JobQueue, QuotaMonth, RenderError, RenderSession, ReportHeader,
    ReportRenderer,
};
use krafter_domain::share::{DeliveryQueue, LinkSigner, ShareId, EXPORT_FAILED, OUTCOME_UNKNOWN};
use krafter_test_support::app::TEST_SIGNING_KEYS;
use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{envelope, error, invalid_field};

const VIEWER_HEADERS: [(&str, &str); 5] = [
    ("cache-control", "private, no-store"),
    ("referrer-policy", "no-referrer"),
    ("x-robots-tag", "noindex"),
    ("x-content-type-options", "nosniff"),
    (
        "content-security-policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    ),
];
const SLACK_PATH: &str = "/services/T0SECRET/B0SECRET/xoxsecretpath";

async fn share(app: &TestApp, t: &Tenant, body: Value) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, "/reports/share"))
        .bearer_auth(&t.write_key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn get(app: &TestApp, t: &Tenant, rest: &str) -> Value {
    let response = app
        .client
        .get(app.audit_url(t, rest))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await
}

async fn finding(app: &TestApp, t: &Tenant, title: &str, score: i32) {
    let response = app
        .client
        .post(app.audit_url(t, "/findings"))
        .bearer_auth(&t.key)
        .json(&json!({"title": title, "severity": "critical", "priority_score": score}))
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::CREATED).await;
}

/// Queues an export and answers the report's id.
async fn export(app: &TestApp, t: &Tenant, format: &str) -> String {
    let response = app
        .client
        .post(app.audit_url(t, "/reports/export"))
        .bearer_auth(&t.write_key)
        .json(&json!({ "format": format }))
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::ACCEPTED).await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Polls the report's deliveries until every one is final.
async fn settled_deliveries(app: &TestApp, t: &Tenant, report: &str) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let list = get(app, t, &format!("/reports/{report}/deliveries")).await;
        let list = list.as_array().unwrap().clone();
        if !list.is_empty()
            && list
                .iter()
                .all(|d| ["delivered", "failed"].contains(&d["status"].as_str().unwrap()))
        {
            return list;
        }
        assert!(
            Instant::now() < deadline,
            "deliveries still running: {list:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs the due jobs in this task until `GET rest` satisfies `done`, polling with a deadline
/// (for retries and leases that become due with time); answers that body.
async fn run_jobs_until(
    app: &TestApp,
    t: &Tenant,
    rest: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        app.run_pending_jobs().await;
        let body = get(app, t, rest).await;
        if done(&body) {
            return body;
        }
        assert!(Instant::now() < deadline, "{rest} never settled: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn token_of(share_url: &str) -> &str {
    share_url.rsplit('/').next().unwrap()
}

fn assert_viewer_headers(response: &reqwest::Response) {
    for (name, value) in VIEWER_HEADERS {
        assert_eq!(
            response.headers().get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}"
        );
    }
}

/// The one 404 every unusable link gets: same status, headers and body.
async fn assert_plain_404(app: &TestApp, url: &str) -> String {
    let response = app.client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND, "{url}");
    assert_viewer_headers(&response);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/html; charset=utf-8"
    );
    let body = response.text().await.unwrap();
    assert!(body.contains("There is no shared report at this address."));
    body
}

#[tokio::test]
async fn a_link_share_without_reports_makes_a_free_placeholder_and_the_viewer_shows_it() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    finding(&app, &t, "SQL injection in /search", 800).await;
    finding(&app, &t, "<script>alert(1)</script> in comments", 300).await;

    let before = Utc::now();
    let shared = envelope(
        share(&app, &t, json!({"channel": "link"})).await,
        StatusCode::OK,
    )
    .await;
    let keys: Vec<&str> = {
        let mut k: Vec<&str> = shared
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        k.sort();
        k
    };
    assert_eq!(
        keys,
        [
            "channel",
            "expires_at",
            "id",
            "recipients",
            "share_id",
            "share_url",
            "shared_at"
        ]
    );
    assert_eq!(shared["channel"], "link");
    assert_eq!(shared["recipients"], json!([]));
    let report_id = shared["id"].as_str().unwrap().to_owned();
    let share_url = shared["share_url"].as_str().unwrap().to_owned();
    assert!(
        share_url.starts_with(&format!("{}/insights/audit/reports/shared/", app.base_url)),
        "{share_url}"
    );
    let shared_at: chrono::DateTime<Utc> = shared["shared_at"].as_str().unwrap().parse().unwrap();
    let expires_at: chrono::DateTime<Utc> = shared["expires_at"].as_str().unwrap().parse().unwrap();
    assert!(shared_at >= before - TimeDelta::seconds(1));
    assert_eq!(expires_at - shared_at, TimeDelta::days(30));

    // The placeholder: JSON over the last week, charged nothing.
    let report = get(&app, &t, &format!("/reports/{report_id}")).await;
    assert_eq!(report["format"], "json");
    assert_eq!(report["shared_at"], shared["shared_at"]);
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!(usage.used, 0);

    // Until its export ran, the link shows nothing yet.
    assert_plain_404(&app, &share_url).await;
    app.run_pending_jobs().await;
    let report = get(&app, &t, &format!("/reports/{report_id}")).await;
    assert_eq!(report["status"], "shared");
    assert_eq!(
        report["download_url"],
        format!(
            "{}/api/v1/orgs/{}/projects/web/audit/reports/{report_id}/download",
            app.base_url, t.org
        )
    );

    let page = app.client.get(&share_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert_viewer_headers(&page);
    assert!(page.headers().get("x-request-id").is_some());
    let html = page.text().await.unwrap();
    assert!(html.contains("SQL injection in /search"));
    assert!(html.contains("alert(1)"));
    assert!(!html.contains("<script>"), "the title is escaped");
    assert!(html.contains(&format!("href=\"{share_url}/download\"")));
    assert!(html.contains("<svg"));

    let artefact = app
        .client
        .get(format!("{share_url}/download"))
        .send()
        .await
        .unwrap();
    assert_eq!(artefact.status(), StatusCode::OK);
    assert_viewer_headers(&artefact);
    assert_eq!(
        artefact.headers().get("content-type").unwrap(),
        "application/json"
    );
    let json: Value = artefact.json().await.unwrap();
    assert_eq!(json["findings"].as_array().unwrap().len(), 2);

    let shares = get(&app, &t, &format!("/reports/{report_id}/shares")).await;
    assert_eq!(shares.as_array().unwrap().len(), 1);
    assert_eq!(shares[0]["id"], shared["share_id"]);
    assert_eq!(shares[0]["view_count"], 1);
    assert_eq!(shares[0]["revoked_at"], Value::Null);
    assert_eq!(shares[0]["expires_at"], shared["expires_at"]);
    assert!(shares[0]["last_viewed_at"].is_string());

    // A second share takes the latest report: the same one, no second placeholder.
    let again = envelope(
        share(&app, &t, json!({"channel": "link", "expires_in_days": 1})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["id"], report_id.as_str());
    let reports = get(&app, &t, "/reports").await;
    assert_eq!(reports.as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn unusable_links_all_get_the_same_plain_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "html").await;
    app.run_pending_jobs().await;
    let shared = envelope(
        share(&app, &t, json!({"channel": "link", "report_id": report})).await,
        StatusCode::OK,
    )
    .await;
    let url = shared["share_url"].as_str().unwrap().to_owned();
    let token = token_of(&url).to_owned();
    let base = url.trim_end_matches(&token).to_owned();
    let share_id: ShareId = shared["share_id"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        app.client.get(&url).send().await.unwrap().status(),
        StatusCode::OK
    );

    let mut bodies = Vec::new();
    // Tampered: another share id under the same signature.
    let parts: Vec<&str> = token.split('.').collect();
    let claims =
        json!({"sub": ShareId::generate().to_string(), "exp": Utc::now().timestamp() + 3600});
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        parts[2]
    );
    bodies.push(assert_plain_404(&app, &format!("{base}{tampered}")).await);
    // Unknown share, properly signed.
    let links = JwtLinks::new(SigningKeys::parse(TEST_SIGNING_KEYS).unwrap());
    let unknown = links.sign(ShareId::generate(), Utc::now() + TimeDelta::hours(1));
    bodies.push(assert_plain_404(&app, &format!("{base}{unknown}")).await);
    // Expired, properly signed.
    let expired = links.sign(share_id, Utc::now() - TimeDelta::seconds(1));
    bodies.push(assert_plain_404(&app, &format!("{base}{expired}")).await);
    // Signed with a key the server no longer holds.
    let rotated_out =
        JwtLinks::new(SigningKeys::parse("retired:abcdefghijklmnopqrstuvwxyz0123456789").unwrap())
            .sign(share_id, Utc::now() + TimeDelta::hours(1));
    bodies.push(assert_plain_404(&app, &format!("{base}{rotated_out}")).await);
    // `alg: none`, and another algorithm.
    let payload = URL_SAFE_NO_PAD.encode(
        json!({"sub": share_id.to_string(), "exp": Utc::now().timestamp() + 3600}).to_string(),
    );
    let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT","kid":"test-key"}"#);
    bodies.push(assert_plain_404(&app, &format!("{base}{none}.{payload}.")).await);
    let hs512 = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS512","typ":"JWT","kid":"test-key"}"#);
    bodies.push(assert_plain_404(&app, &format!("{base}{hs512}.{payload}.{}", parts[2])).await);
    bodies.push(assert_plain_404(&app, &format!("{base}not-a-token")).await);
    bodies.push(assert_plain_404(&app, &format!("{base}{token}/download/more")).await);

    // Revoked: 204, then the link is dead; revoking again changes nothing.
    let revoke = |id: String| {
        app.client
            .delete(app.audit_url(&t, &format!("/reports/shares/{id}")))
            .bearer_auth(&t.write_key)
            .send()
    };
    let response = revoke(share_id.to_string()).await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    bodies.push(assert_plain_404(&app, &url).await);
    bodies.push(assert_plain_404(&app, &format!("{url}/download")).await);
    let first = get(&app, &t, &format!("/reports/{report}/shares")).await[0]["revoked_at"].clone();
    assert!(first.is_string());
    assert_eq!(
        revoke(share_id.to_string()).await.unwrap().status(),
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        get(&app, &t, &format!("/reports/{report}/shares")).await[0]["revoked_at"],
        first
    );
    error(
        revoke(ShareId::generate().to_string()).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(
        revoke("nope".into()).await.unwrap(),
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    bodies.dedup();
    assert_eq!(bodies.len(), 1, "every 404 says the same");
}

#[tokio::test]
async fn share_requests_are_validated() {
    let app = TestApp::builder()
        .renderer(Arc::new(Broken))
        .fast_retries()
        .spawn()
        .await;
    let t = app.tenant("web").await;
    for body in [
        json!({}),
        json!({"channel": "fax"}),
        json!({"channel": 5}),
        json!({"channel": null}),
    ] {
        error(
            share(&app, &t, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_channel",
        )
        .await;
    }
    let unavailable = error(
        share(
            &app,
            &t,
            json!({"channel": "email", "recipients": ["a@example.com"]}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "channel_unavailable",
    )
    .await;
    assert!(unavailable["message"]
        .as_str()
        .unwrap()
        .contains("KRAFTER_SMTP_URL"));
    invalid_field(
        share(&app, &t, json!({"channel": "slack"})).await,
        "webhook_url",
    )
    .await;
    for url in [
        "http://hooks.slack.com/services/x",
        "https://10.0.0.1/services/x",
        "https://169.254.169.254/latest",
        "https://user:pw@hooks.slack.com/x",
        "not a url",
    ] {
        let refused = error(
            share(&app, &t, json!({"channel": "slack", "webhook_url": url})).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_params",
        )
        .await;
        assert_eq!(refused["details"][0]["field"], "webhook_url", "{url}");
        assert!(!refused.to_string().contains("/services/x"), "{refused}");
    }
    invalid_field(
        share(&app, &t, json!({"channel": "link", "expires_in_days": 0})).await,
        "expires_in_days",
    )
    .await;
    invalid_field(
        share(&app, &t, json!({"channel": "link", "expires_in_days": 366})).await,
        "expires_in_days",
    )
    .await;
    invalid_field(
        share(&app, &t, json!({"channel": "link", "colour": "red"})).await,
        "colour",
    )
    .await;
    // Fields of other channels are ignored, whatever they hold.
    envelope(
        share(
            &app,
            &t,
            json!({"channel": "link", "recipients": 5, "webhook_url": ["x"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for id in [uuid::Uuid::new_v4().to_string(), "nope".to_owned()] {
        error(
            share(&app, &t, json!({"channel": "link", "report_id": id})).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Another project's report is not found either.
    let other = app.tenant("other").await;
    let theirs = export(&app, &other, "json").await;
    error(
        share(&app, &t, json!({"channel": "link", "report_id": theirs})).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A failed report cannot be shared.
    let doomed = export(&app, &t, "pdf").await;
    run_jobs_until(&app, &t, &format!("/reports/{doomed}"), |r| {
        r["status"] == "failed"
    })
    .await;
    error(
        share(&app, &t, json!({"channel": "link", "report_id": doomed})).await,
        StatusCode::CONFLICT,
        "report_failed",
    )
    .await;
    // The read key cannot share; the write key cannot list.
    let response = app
        .client
        .post(app.audit_url(&t, "/reports/share"))
        .bearer_auth(&t.read_key)
        .json(&json!({"channel": "link"}))
        .send()
        .await
        .unwrap();
    error(response, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn the_download_url_comes_from_the_public_url_never_the_host_header() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let id = export(&app, &t, "csv").await;
    app.run_pending_jobs().await;
    let response = app
        .client
        .get(app.audit_url(&t, &format!("/reports/{id}")))
        .bearer_auth(&t.read_key)
        .header("host", "evil.example")
        .header("x-forwarded-host", "evil.example")
        .header("x-forwarded-proto", "gopher")
        .send()
        .await
        .unwrap();
    let report = envelope(response, StatusCode::OK).await;
    assert_eq!(
        report["download_url"],
        format!(
            "{}/api/v1/orgs/{}/projects/web/audit/reports/{id}/download",
            app.base_url, t.org
        )
    );
}

async fn slack_server(responses: Vec<ResponseTemplate>) -> MockServer {
    let server = MockServer::start().await;
    let n = responses.len() as u64;
    for (i, response) in responses.into_iter().enumerate() {
        let mock = Mock::given(method("POST"))
            .and(path(SLACK_PATH))
            .respond_with(response);
        // Each answer once, in order; the last one for every later request.
        if (i as u64) + 1 < n {
            mock.up_to_n_times(1)
                .with_priority(1 + i as u8)
                .mount(&server)
                .await;
        } else {
            mock.with_priority(100).mount(&server).await;
        }
    }
    server
}

async fn slack_share(app: &TestApp, t: &Tenant, server: &MockServer, report: &str) -> Value {
    let url = format!("{}{SLACK_PATH}", server.uri());
    envelope(
        share(
            app,
            t,
            json!({"channel": "slack", "webhook_url": url, "report_id": report}),
        )
        .await,
        StatusCode::OK,
    )
    .await
}

#[tokio::test]
async fn a_slack_share_is_retried_after_a_500_and_its_path_never_shows() {
    let app = TestApp::builder().workers(1).fast_retries().spawn().await;
    let t = app.tenant("web").await;
    finding(&app, &t, "Open redirect", 640).await;
    let report = export(&app, &t, "pdf").await;
    let server = slack_server(vec![ResponseTemplate::new(500), ResponseTemplate::new(200)]).await;
    let shared = slack_share(&app, &t, &server, &report).await;
    assert_eq!(shared["channel"], "slack");
    assert_eq!(shared["recipients"], json!([]));
    assert_eq!(shared["share_url"], Value::Null);
    assert_eq!(shared["expires_at"], Value::Null);
    assert_eq!(shared["id"], report.as_str());

    let deliveries = settled_deliveries(&app, &t, &report).await;
    assert_eq!(deliveries.len(), 1);
    let d = &deliveries[0];
    assert_eq!(d["status"], "delivered", "{d}");
    assert_eq!(d["attempts"], 2);
    assert_eq!(d["channel"], "slack");
    assert_eq!(d["target"], "127.0.0.1");
    assert_eq!(d["last_error"], Value::Null);
    assert_eq!(d["share_id"], shared["share_id"]);
    assert!(d["delivered_at"].is_string());

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    let payload: Value = serde_json::from_slice(&requests[1].body).unwrap();
    let text = payload["text"].as_str().unwrap();
    assert!(text.contains("web"), "{text}");
    assert!(payload["blocks"].as_array().is_some_and(|b| !b.is_empty()));
    let viewer = text
        .split_whitespace()
        .find(|w| w.contains("/insights/audit/reports/shared/"))
        .map(|w| w.trim_matches(|c: char| c == '<' || c == '>' || c == '|'))
        .expect("a viewer link in the text");
    let viewer = viewer.split('|').next().unwrap();
    assert!(viewer.starts_with(&app.base_url), "{viewer}");
    assert_eq!(
        app.client.get(viewer).send().await.unwrap().status(),
        StatusCode::OK
    );

    // The webhook's path is a secret: in no answer of the API.
    for rest in [
        format!("/reports/{report}/deliveries"),
        format!("/reports/{report}/shares"),
        format!("/reports/{report}"),
    ] {
        let body = get(&app, &t, &rest).await.to_string();
        assert!(
            !body.contains("SECRET") && !body.contains("xoxsecretpath"),
            "{rest}: {body}"
        );
    }
    let shares = get(&app, &t, &format!("/reports/{report}/shares")).await;
    assert_eq!(shares[0]["webhook_host"], "127.0.0.1");
}

#[tokio::test]
async fn slack_answers_decide_retries_404_is_final_and_429_waits() {
    let app = TestApp::builder().fast_retries().spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    app.run_pending_jobs().await;

    let gone = slack_server(vec![ResponseTemplate::new(404)]).await;
    slack_share(&app, &t, &gone, &report).await;
    app.run_pending_jobs().await;
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[0]["status"], "failed");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(deliveries[0]["last_error"], "HTTP 404 Not Found");
    assert_eq!(gone.received_requests().await.unwrap().len(), 1);

    let busy = slack_server(vec![
        ResponseTemplate::new(429).insert_header("retry-after", "2"),
        ResponseTemplate::new(200),
    ])
    .await;
    let asked_at = Utc::now();
    slack_share(&app, &t, &busy, &report).await;
    app.run_pending_jobs().await;
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[1]["status"], "pending");
    assert_eq!(deliveries[1]["attempts"], 1);
    assert_eq!(deliveries[1]["last_error"], "HTTP 429 Too Many Requests");
    // Not due before the two seconds the server asked for (fast retries would be milliseconds).
    let due = app.job_run_at(deliveries[1]["id"].as_str().unwrap()).await;
    assert!(
        due >= asked_at + TimeDelta::seconds(2),
        "due {due}, asked {asked_at}"
    );
    let d = run_jobs_until(&app, &t, &format!("/reports/{report}/deliveries"), |d| {
        d[1]["status"] == "delivered"
    })
    .await;
    assert_eq!(d[1]["attempts"], 2);
    assert!(Utc::now() >= asked_at + TimeDelta::seconds(2));
}

#[tokio::test]
async fn a_slack_server_that_never_answers_fails_after_the_timeouts() {
    let app = TestApp::builder()
        .workers(1)
        .fast_retries()
        .webhook_timeout(Duration::from_millis(200))
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    let silent = slack_server(vec![
        ResponseTemplate::new(200).set_delay(Duration::from_secs(30))
    ])
    .await;
    slack_share(&app, &t, &silent, &report).await;
    let deliveries = settled_deliveries(&app, &t, &report).await;
    assert_eq!(deliveries[0]["status"], "failed");
    assert_eq!(deliveries[0]["attempts"], 5);
    let reason = deliveries[0]["last_error"].as_str().unwrap();
    assert!(reason.starts_with("no answer within"), "{reason}");
}

#[tokio::test]
async fn a_delivery_waits_for_its_export_and_fails_with_it() {
    let app = TestApp::builder()
        .renderer(Arc::new(Broken))
        .fast_retries()
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "pdf").await;
    let server = slack_server(vec![ResponseTemplate::new(200)]).await;
    slack_share(&app, &t, &server, &report).await;
    // Shared while queued: `shared_at` is set, the status is the export's until it ends.
    let current = get(&app, &t, &format!("/reports/{report}")).await;
    assert_eq!(current["status"], "queued");
    assert!(current["shared_at"].is_string());
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[0]["status"], "pending");
    let deliveries = run_jobs_until(&app, &t, &format!("/reports/{report}/deliveries"), |d| {
        d[0]["status"] == "failed"
    })
    .await;
    assert_eq!(deliveries[0]["last_error"], EXPORT_FAILED);
    assert_eq!(deliveries[0]["attempts"], 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_delivery_shared_while_exporting_is_sent_once_the_export_ends() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    let server = slack_server(vec![ResponseTemplate::new(200)]).await;
    slack_share(&app, &t, &server, &report).await;
    app.run_pending_jobs().await;
    let current = get(&app, &t, &format!("/reports/{report}")).await;
    assert_eq!(current["status"], "shared");
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[0]["status"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 1);
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_worker_that_died_while_sending_is_not_followed_by_a_second_send() {
    let app = TestApp::builder()
        .lease(Duration::from_millis(300))
        .spawn_paused()
        .await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    app.run_pending_jobs().await;
    let server = slack_server(vec![ResponseTemplate::new(200)]).await;
    slack_share(&app, &t, &server, &report).await;
    // A worker claims the delivery, records that it is sending, and dies there.
    let claimed = match app
        .store
        .claim("doomed", Duration::from_millis(300))
        .await
        .unwrap()
    {
        Some(Claimed::Delivery(job)) => job,
        other => panic!("expected the delivery job, got {other:?}"),
    };
    app.store.begin_send(&claimed).await.unwrap();
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[0]["status"], "sending");
    // Its lease runs out; the next worker finds `sending` and does not send again.
    let d = run_jobs_until(&app, &t, &format!("/reports/{report}/deliveries"), |d| {
        d[0]["status"] == "failed"
    })
    .await;
    assert_eq!(d[0]["last_error"], OUTCOME_UNKNOWN);
    assert_eq!(d[0]["attempts"], 1);
    assert!(server.received_requests().await.unwrap().is_empty());
    assert!(
        app.store.delivered(&claimed).await.is_err(),
        "the dead worker can write nothing"
    );
}

/// A renderer that always fails.
struct Broken;

impl ReportRenderer for Broken {
    fn start(
        &self,
        _: &ReportHeader,
        _: Box<dyn std::io::Write + Send>,
    ) -> Result<Box<dyn RenderSession>, RenderError> {
        Err(RenderError::Render("the renderer is broken".into()))
    }
}

/// The metric cards of a page's DOM: (label, value) in order.
fn metric_cards(dom: &str) -> Vec<(String, String)> {
    let text_of = |chunk: &str, class: &str| -> String {
        let start = chunk.find(&format!("class=\"{class}\"")).expect(class);
        let open = chunk[start..].find('>').unwrap() + start + 1;
        let close = chunk[open..].find('<').unwrap() + open;
        chunk[open..close].trim().to_owned()
    };
    dom.split("class=\"metric\"")
        .skip(1)
        .map(|card| (text_of(card, "label"), text_of(card, "value")))
        .collect()
}

#[tokio::test]
#[ignore = "needs chromium; .ci/run runs it"]
async fn the_viewer_page_renders_in_chromium_without_a_request_of_its_own() {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find(|c| {
            std::process::Command::new(c)
                .arg("--version")
                .output()
                .is_ok()
        })
        .expect("chromium is installed (Debian: apt-get install -y chromium)");
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    finding(&app, &t, "SQL injection in /search", 800).await;
    finding(&app, &t, "Weak TLS ciphers", 300).await;
    let report = export(&app, &t, "pdf").await;
    app.run_pending_jobs().await;
    let shared = envelope(
        share(&app, &t, json!({"channel": "link", "report_id": report})).await,
        StatusCode::OK,
    )
    .await;
    let url = shared["share_url"].as_str().unwrap();
    let served = app.client.get(url).send().await.unwrap();
    let csp = served.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    let page = served.text().await.unwrap();

    // Chromium reaches the page through a recording proxy, so that every request it makes is seen.
    let proxy = MockServer::start().await;
    let viewer_path = url.strip_prefix(&app.base_url).unwrap().to_owned();
    Mock::given(method("GET"))
        .and(path(viewer_path.clone()))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("content-security-policy", csp.as_str())
                .set_body_raw(page.into_bytes(), "text/html; charset=utf-8"),
        )
        .mount(&proxy)
        .await;
    let profile = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
            &format!("--proxy-server=http://{}", proxy.address()),
            "--proxy-bypass-list=<-loopback>",
            &format!("--user-data-dir={}", profile.path().display()),
            "--dump-dom",
            &format!("http://viewer.krafter.test{viewer_path}"),
        ])
        .output()
        .await
        .expect("chromium runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dom = String::from_utf8(output.stdout).unwrap();
    assert!(
        dom.contains("<h1>web <span class=\"slug\">web</span></h1>"),
        "{dom}"
    );
    assert_eq!(
        metric_cards(&dom),
        [
            ("Open risk score".to_owned(), "1,100".to_owned()),
            ("Verification pass rate".to_owned(), "0.0%".to_owned()),
            ("Regression rate".to_owned(), "0.0%".to_owned()),
            ("Open findings".to_owned(), "2".to_owned()),
        ]
    );
    assert!(dom.contains("SQL injection in /search"));
    // Chromium's own services (time, updates, accounts) go through the proxy too: they are the
    // browser's, not the page's, and are told apart by their hosts.
    let browser_own = |host: &str| {
        let host = host.split(':').next().unwrap_or("");
        [".google.com", ".googleapis.com", ".gvt1.com"]
            .iter()
            .any(|suffix| host.ends_with(suffix))
    };
    let requests = proxy.received_requests().await.unwrap();
    let of_the_page: Vec<String> = requests
        .iter()
        .filter_map(|r| {
            let host = r.headers.get("host")?.to_str().ok()?;
            (!browser_own(host)).then(|| format!("{} {host}{}", r.method, r.url.path()))
        })
        .collect();
    assert_eq!(
        of_the_page,
        [format!("GET viewer.krafter.test{viewer_path}")],
        "the page asked for nothing else"
    );
}

#[tokio::test]
async fn the_spec_error_shapes_and_a_report_row_that_cannot_be_updated() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    app.run_pending_jobs().await;

    let response = share(&app, &t, json!({"channel": "pigeon"})).await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = response.json().await.unwrap();
    let mut keys: Vec<&String> = body.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["data", "error", "meta"]);
    assert_eq!(body["data"], Value::Null);
    assert!(body["meta"]["request_id"].is_string());
    assert_eq!(body["error"]["code"], "invalid_channel");
    assert_eq!(
        body["error"]["message"],
        "channel must be one of email, slack, link"
    );

    // A trigger that skips every update of the report row: the share cannot mark it shared.
    let mut conn = AsyncPgConnection::establish(app.db.url()).await.unwrap();
    conn.batch_execute(
        "CREATE FUNCTION skip_update() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL; END $$;
         CREATE TRIGGER reports_frozen BEFORE UPDATE ON reports FOR EACH ROW EXECUTE FUNCTION skip_update();",
    )
    .await
    .unwrap();
    let server = slack_server(vec![ResponseTemplate::new(200)]).await;
    let url = format!("{}{SLACK_PATH}", server.uri());
    let response = share(
        &app,
        &t,
        json!({"channel": "slack", "webhook_url": url, "report_id": report}),
    )
    .await;
    let failed = error(response, StatusCode::UNPROCESSABLE_ENTITY, "request_failed").await;
    assert_eq!(
        failed["message"],
        "the report could not be updated; try again"
    );
    conn.batch_execute("DROP TRIGGER reports_frozen ON reports; DROP FUNCTION skip_update();")
        .await
        .unwrap();
    // Nothing of it was stored: no share, no delivery, no job.
    assert_eq!(
        get(&app, &t, &format!("/reports/{report}/shares")).await,
        json!([])
    );
    assert_eq!(
        get(&app, &t, &format!("/reports/{report}/deliveries")).await,
        json!([])
    );
    assert!(app.run_pending_jobs().await.is_empty());
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_revoked_share_is_not_sent() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    let server = slack_server(vec![ResponseTemplate::new(200)]).await;
    let shared = slack_share(&app, &t, &server, &report).await;
    let response = app
        .client
        .delete(app.audit_url(
            &t,
            &format!("/reports/shares/{}", shared["share_id"].as_str().unwrap()),
        ))
        .bearer_auth(&t.write_key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    app.run_pending_jobs().await;
    let deliveries = get(&app, &t, &format!("/reports/{report}/deliveries")).await;
    assert_eq!(deliveries[0]["status"], "failed");
    assert_eq!(
        deliveries[0]["last_error"],
        "the share was revoked before it was sent"
    );
    assert_eq!(deliveries[0]["attempts"], 0);
    assert!(server.received_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_shared_report_whose_artefact_is_gone_gets_the_plain_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "csv").await;
    app.run_pending_jobs().await;
    let shared = envelope(
        share(&app, &t, json!({"channel": "link", "report_id": report})).await,
        StatusCode::OK,
    )
    .await;
    let url = shared["share_url"].as_str().unwrap().to_owned();
    assert_eq!(
        app.client
            .get(format!("{url}/download"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );
    assert!(app.remove_artefact(&report) > 0);
    assert_plain_404(&app, &format!("{url}/download")).await;
}

#[tokio::test]
async fn the_viewer_shows_the_names_as_exported() {
    use diesel_async::{AsyncConnection, AsyncPgConnection, SimpleAsyncConnection};
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = export(&app, &t, "json").await;
    app.run_pending_jobs().await;
    let shared = envelope(
        share(&app, &t, json!({"channel": "link", "report_id": report})).await,
        StatusCode::OK,
    )
    .await;
    let mut conn = AsyncPgConnection::establish(app.db.url()).await.unwrap();
    conn.batch_execute("UPDATE projects SET name = 'Renamed later'; UPDATE organisations SET name = 'Acme Renamed'")
        .await
        .unwrap();
    let page = app
        .client
        .get(shared["share_url"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("<h1>web <span class=\"slug\">web</span></h1>"),
        "{page}"
    );
    assert!(page.contains(">Acme</span>"), "{page}");
    assert!(!page.contains("Renamed"));
}

/// The viewer's page and download answer any method but GET and HEAD with 405, `Allow` and the
/// viewer's headers, the same for a working link and a made-up one.
#[tokio::test]
async fn the_viewer_answers_other_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let shared = envelope(
        share(&app, &t, json!({"channel": "link"})).await,
        StatusCode::OK,
    )
    .await;
    app.run_pending_jobs().await;
    let working = shared["share_url"].as_str().unwrap().to_owned();
    let made_up = format!("{}/insights/audit/reports/shared/not-a-token", app.base_url);
    for link in [working, made_up] {
        for url in [link.clone(), format!("{link}/download")] {
            for method in ["POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"] {
                let response = app
                    .client
                    .request(
                        reqwest::Method::from_bytes(method.as_bytes()).unwrap(),
                        &url,
                    )
                    .send()
                    .await
                    .unwrap();
                let at = format!("{method} {url}");
                assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{at}");
                assert_eq!(response.headers()["allow"], "GET, HEAD", "{at}");
                assert_viewer_headers(&response);
            }
        }
    }
}
