use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use krafter_domain::export::{
    ExportRepository, JobQueue, QuotaLimit, QuotaMonth, RenderError, RenderSession, ReportHeader,
    ReportRenderer, WorkOutcome,
};
use krafter_test_support::{Tenant, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{envelope, error, invalid_field};

async fn seed(app: &TestApp, t: &Tenant) -> Vec<Value> {
    let mut open = Vec::new();
    for (i, (title, score, status)) in [
        ("=HYPERLINK(\"http://evil\")", 900, "new"),
        ("Stored XSS, in \"comments\"", 700, "triaged"),
        ("Weak TLS ciphers", 300, "in_progress"),
        ("Old jQuery", 100, "resolved"),
    ]
    .into_iter()
    .enumerate()
    {
        let response = app
            .client
            .post(app.audit_url(t, "/findings"))
            .bearer_auth(&t.key)
            .json(&json!({"title": title, "severity": "high", "priority_score": score, "status": status, "occurred_at": format!("2026-01-0{}T10:00:00Z", i + 1)}))
            .send()
            .await
            .unwrap();
        let f = envelope(response, StatusCode::CREATED).await;
        if status != "resolved" {
            open.push(f);
        }
    }
    open
}

async fn export(app: &TestApp, t: &Tenant, body: Value) -> reqwest::Response {
    app.client
        .post(app.audit_url(t, "/reports/export"))
        .bearer_auth(&t.key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Queues an export and answers the report's id.
async fn queue(app: &TestApp, t: &Tenant, body: Value) -> String {
    let report = envelope(export(app, t, body).await, StatusCode::ACCEPTED).await;
    report["id"].as_str().unwrap().to_owned()
}

/// The report as `GET …/reports/{id}` answers it.
async fn report(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let response = app
        .client
        .get(app.audit_url(t, &format!("/reports/{id}")))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    envelope(response, StatusCode::OK).await
}

/// Polls the report until it reaches a final status.
async fn settled(app: &TestApp, t: &Tenant, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let current = report(app, t, id).await;
        if ["exported", "failed", "shared"].contains(&current["status"].as_str().unwrap()) {
            return current;
        }
        assert!(
            Instant::now() < deadline,
            "report {id} still {}",
            current["status"]
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    format!("{:x}", sha2::Sha256::digest(bytes))
}

fn created_date(finding: &Value) -> Option<chrono::NaiveDate> {
    let at = chrono::DateTime::parse_from_rfc3339(finding["created_at"].as_str()?).ok()?;
    Some(at.date_naive())
}

async fn download(app: &TestApp, t: &Tenant, id: &str) -> reqwest::Response {
    app.client
        .get(app.audit_url(t, &format!("/reports/{id}/download")))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_json_export_is_queued_exported_and_downloaded() {
    let app = TestApp::builder().workers(1).spawn().await;
    let t = app.tenant("web").await;
    let open = seed(&app, &t).await;
    let today = Utc::now().date_naive();
    let start = today - chrono::Days::new(2);

    let response = export(
        &app,
        &t,
        json!({"format": "json", "period_start": start, "period_end": today}),
    )
    .await;
    assert_eq!(response.headers()["x-quota-remaining"], "99");
    let report = envelope(response, StatusCode::ACCEPTED).await;
    let id = report["id"].as_str().unwrap().to_owned();
    let keys: HashSet<&str> = report
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let spec_keys: HashSet<&str> = [
        "id",
        "org_id",
        "project_id",
        "period_start",
        "period_end",
        "format",
        "status",
        "snapshot",
        "exported_at",
        "shared_at",
        "created_at",
        "updated_at",
        // Beyond the spec: what makes the report traceable.
        "sha256",
        "definitions_version",
    ]
    .into();
    assert_eq!(keys, spec_keys);
    assert_eq!(report["sha256"], Value::Null, "nothing is exported yet");
    assert_eq!(report["definitions_version"], 1);
    assert_eq!(report["org_id"], t.org.to_string());
    assert_eq!(report["project_id"], "web");
    assert_eq!(report["format"], "json");
    assert_eq!(report["status"], "queued");
    assert_eq!(
        (report["exported_at"].clone(), report["shared_at"].clone()),
        (Value::Null, Value::Null)
    );

    // The snapshot is the summary over the period.
    let summary = app
        .client
        .get(app.audit_url(
            &t,
            &format!("/reports/summary?date_from={start}&date_to={today}"),
        ))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(report["snapshot"], envelope(summary, StatusCode::OK).await);
    assert_eq!(
        report["snapshot"]["risk_burn_down"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let done = settled(&app, &t, &id).await;
    assert_eq!(done["status"], "exported");
    assert_eq!(done["error"], Value::Null);
    assert!(done["exported_at"].is_string());
    assert_eq!(
        done["download_url"],
        app.audit_url(&t, &format!("/reports/{id}/download"))
    );

    let file = download(&app, &t, &id).await;
    assert_eq!(file.status(), StatusCode::OK);
    assert_eq!(file.headers()["content-type"], "application/json");
    assert_eq!(
        file.headers()["content-disposition"],
        format!("attachment; filename=\"web-report-{start}-{today}.json\"")
    );
    let bytes = file.bytes().await.unwrap();
    // The report names the hash of exactly these bytes.
    assert_eq!(done["sha256"], sha256_hex(&bytes));
    assert_eq!(done["definitions_version"], 1);
    let artefact: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(artefact["report"]["id"], id);
    assert_eq!(artefact["report"]["definitions_version"], 1);
    // The remediation of the period by week, as its endpoint answers it; and the 3 days before.
    let remediation = app
        .client
        .get(app.audit_url(
            &t,
            &format!("/reports/remediation?date_from={start}&date_to={today}&granularity=week"),
        ))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        artefact["remediation"],
        envelope(remediation, StatusCode::OK).await
    );
    let previous = &artefact["previous_period"];
    assert_eq!(
        previous["date_from"],
        (start - chrono::Days::new(3)).to_string()
    );
    assert_eq!(
        previous["date_to"],
        (start - chrono::Days::new(1)).to_string()
    );
    assert_eq!(previous["summary"]["open_findings"], 3);
    assert_eq!(previous["remediation"]["total"]["all"]["open_at_end"], 3);
    assert_eq!(previous["remediation"]["total"]["all"]["overdue_at_end"], 3);
    assert_eq!(artefact["report"]["project_id"], "web");
    assert_eq!(artefact["summary"], report["snapshot"]);
    let mut expected = open.clone();
    expected.sort_by_key(|f| -f["priority_score"].as_i64().unwrap());
    assert_eq!(artefact["findings"], Value::Array(expected));

    let listed = app
        .client
        .get(app.audit_url(&t, "/reports"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    let listed = envelope(listed, StatusCode::OK).await;
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["id"], id);
    assert_eq!(listed[0]["status"], "exported");
}

#[tokio::test]
async fn csv_pdf_and_html_artefacts_read_back() {
    let app = TestApp::builder().workers(1).spawn().await;
    let t = app.tenant("web").await;
    let open = seed(&app, &t).await;

    let csv_id = queue(&app, &t, json!({"format": "csv"})).await;
    let pdf_id = queue(&app, &t, json!({})).await;
    let html_id = queue(&app, &t, json!({"format": "html"})).await;

    assert_eq!(settled(&app, &t, &csv_id).await["status"], "exported");
    let csv = download(&app, &t, &csv_id).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let text = csv.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    assert_eq!(
        reader.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "id",
            "title",
            "severity",
            "status",
            "priority_score",
            "created_at",
            "updated_at",
            "due_on",
            "age_days",
            "overdue",
            "source",
            "external_id",
            "rule_id",
            "location",
            "description"
        ]
    );
    let today = Utc::now().date_naive();
    let rows: Vec<Vec<String>> = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    let expected: Vec<Vec<String>> = {
        let mut open = open.clone();
        open.sort_by_key(|f| -f["priority_score"].as_i64().unwrap());
        open.iter()
            .map(|f| {
                let title = f["title"].as_str().unwrap();
                let title = if title.starts_with('=') {
                    format!("'{title}")
                } else {
                    title.to_owned()
                };
                vec![
                    f["id"].as_str().unwrap().to_owned(),
                    title,
                    "high".into(),
                    f["status"].as_str().unwrap().to_owned(),
                    f["priority_score"].to_string(),
                    f["created_at"].as_str().unwrap().to_owned(),
                    f["updated_at"].as_str().unwrap().to_owned(),
                    // High: 30 days after its creation in January, so long past.
                    f["due_on"].as_str().unwrap().to_owned(),
                    created_date(f)
                        .map(|d| (today - d).num_days().to_string())
                        .unwrap(),
                    "true".into(),
                    // Recorded by hand: no scanner details.
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ]
            })
            .collect()
    };
    assert_eq!(rows, expected);

    assert_eq!(settled(&app, &t, &pdf_id).await["status"], "exported");
    let pdf = download(&app, &t, &pdf_id).await;
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    // Read back in Rust (lopdf), so that the test needs nothing installed.
    let pdf = lopdf::Document::load_mem(&bytes).expect("the artefact parses as a PDF");
    let pages: Vec<u32> = pdf.get_pages().into_keys().collect();
    assert_eq!(
        pages,
        [1, 2, 3],
        "the summary, the remediation, the findings"
    );
    let text = pdf.extract_text(&pages).expect("the PDF's text reads back");
    for needle in [
        "Acme",
        "web",
        "Executive summary",
        "3 open findings are past their SLA; none of them is critical.",
        "Time to resolve against the SLA",
        "Stored XSS",
        "Weak TLS ciphers",
        "HYPERLINK",
    ] {
        let squeeze = |s: &str| s.split_whitespace().collect::<String>();
        assert!(
            squeeze(&text).contains(&squeeze(needle)),
            "{needle:?} missing from the PDF text: {text}"
        );
    }
    assert!(!text.contains("Old jQuery"), "a resolved finding is listed");

    assert_eq!(settled(&app, &t, &html_id).await["status"], "exported");
    let html = download(&app, &t, &html_id).await;
    assert_eq!(html.headers()["content-type"], "text/html; charset=utf-8");
    let html = html.text().await.unwrap();
    assert!(html.contains("<svg") && html.contains("Weak TLS ciphers"));
    assert!(
        html.contains("Stored XSS, in &quot;comments&quot;")
            || html.contains("Stored XSS, in &#34;comments&#34;")
    );
}

#[tokio::test]
async fn export_requests_are_validated_field_by_field() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let today = Utc::now().date_naive();
    let cases = [
        (json!({"format": "docx"}), "format"),
        (json!({"period_start": "2026-13-01"}), "period_start"),
        (json!({"period_end": "tomorrow"}), "period_end"),
        (
            json!({"period_start": today, "period_end": today - chrono::Days::new(1)}),
            "period_start",
        ),
        (
            json!({"period_end": today + chrono::Days::new(1)}),
            "period_end",
        ),
        (
            json!({"period_start": today - chrono::Days::new(366), "period_end": today}),
            "period_start",
        ),
        (json!({"format": "csv", "recipients": []}), "recipients"),
    ];
    for (body, field) in cases {
        invalid_field(export(&app, &t, body).await, field).await;
    }
    let response = app
        .client
        .post(app.audit_url(&t, "/reports/export"))
        .bearer_auth(&t.key)
        .header("idempotency-key", "x".repeat(256))
        .send()
        .await
        .unwrap();
    invalid_field(response, "Idempotency-Key").await;
    // Nothing was charged.
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!(usage.used, 0);
    let read_only = app
        .client
        .post(app.audit_url(&t, "/reports/export"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    error(read_only, StatusCode::FORBIDDEN, "forbidden").await;
}

#[tokio::test]
async fn a_hundred_concurrent_exports_against_ten_remaining() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    app.store
        .set_quota_limit(t.org, QuotaLimit::parse(15).unwrap())
        .await
        .unwrap();
    for _ in 0..5 {
        envelope(
            export(&app, &t, json!({"format": "json"})).await,
            StatusCode::ACCEPTED,
        )
        .await;
    }
    let requests = (0..100).map(|_| export(&app, &t, json!({"format": "csv"})));
    let responses = futures::future::join_all(requests).await;
    let mut accepted = 0;
    let mut refused = 0;
    for response in responses {
        match response.status() {
            StatusCode::ACCEPTED => accepted += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert_eq!(response.headers()["x-quota-remaining"], "0");
                error(response, StatusCode::TOO_MANY_REQUESTS, "quota_exceeded").await;
                refused += 1;
            }
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((accepted, refused), (10, 90));
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!((usage.limit, usage.used), (15, 15));
    let listed = app
        .client
        .get(app.audit_url(&t, "/reports?limit=100"))
        .bearer_auth(&t.read_key)
        .send()
        .await
        .unwrap();
    assert_eq!(
        envelope(listed, StatusCode::OK)
            .await
            .as_array()
            .unwrap()
            .len(),
        15
    );
    let outcomes = app.run_pending_jobs().await;
    assert_eq!(outcomes.len(), 15);
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, WorkOutcome::Exported(_))),
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn idempotency_keys_replay_and_refuse_reuse() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let post = |key: &'static str, body: Value| {
        app.client
            .post(app.audit_url(&t, "/reports/export"))
            .bearer_auth(&t.key)
            .header("idempotency-key", key)
            .json(&body)
            .send()
    };
    let first = post(
        "nightly-2026-06-10",
        json!({"format": "csv", "period_end": Utc::now().date_naive()}),
    )
    .await
    .unwrap();
    assert_eq!(first.headers()["x-quota-remaining"], "99");
    let first = envelope(first, StatusCode::ACCEPTED).await;
    let again = post(
        "nightly-2026-06-10",
        json!({"period_end": Utc::now().date_naive(), "format": "csv"}),
    )
    .await
    .unwrap();
    assert_eq!(again.headers()["x-quota-remaining"], "99");
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(
        envelope(again, StatusCode::ACCEPTED).await["id"],
        first["id"]
    );
    let reused = post("nightly-2026-06-10", json!({"format": "pdf"}))
        .await
        .unwrap();
    error(
        reused,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!(usage.used, 1);
    let other = post("another-key", json!({"format": "csv"})).await.unwrap();
    assert_ne!(
        envelope(other, StatusCode::ACCEPTED).await["id"],
        first["id"]
    );
    assert_eq!(app.run_pending_jobs().await.len(), 2);
}

#[tokio::test]
async fn downloads_wait_for_the_export_and_unknown_reports_are_404() {
    let app = TestApp::spawn().await;
    let t = app.tenant("web").await;
    let report = envelope(
        export(&app, &t, json!({"format": "csv"})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = report["id"].as_str().unwrap();
    error(
        download(&app, &t, id).await,
        StatusCode::CONFLICT,
        "report_not_ready",
    )
    .await;
    error(
        download(&app, &t, &uuid::Uuid::new_v4().to_string()).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    error(
        download(&app, &t, "nope").await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let other = app.tenant("other").await;
    let theirs = app
        .client
        .get(app.audit_url(&other, &format!("/reports/{id}")))
        .bearer_auth(&other.read_key)
        .send()
        .await
        .unwrap();
    error(theirs, StatusCode::NOT_FOUND, "not_found").await;
    app.expect_unprocessed_jobs(1);
}

/// A renderer that fails on every attempt.
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

#[tokio::test]
async fn an_export_that_always_fails_ends_failed_and_refunds_once() {
    let app = TestApp::builder()
        .workers(2)
        .renderer(Arc::new(Broken))
        .fast_retries()
        .spawn()
        .await;
    let t = app.tenant("web").await;
    let report = envelope(
        export(&app, &t, json!({"format": "pdf"})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = report["id"].as_str().unwrap();
    let done = settled(&app, &t, id).await;
    assert_eq!(done["status"], "failed");
    // The renderer's own message is detail for the log; clients get the public reason.
    assert_eq!(done["error"], "rendering failed");
    assert_eq!(done["download_url"], Value::Null);
    let gone = error(
        download(&app, &t, id).await,
        StatusCode::GONE,
        "report_failed",
    )
    .await;
    assert_eq!(gone["message"], "the export failed: rendering failed");
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!(usage.used, 0);
    assert_eq!(app.job_attempts(id).await, 5);
}

#[tokio::test]
async fn a_job_abandoned_mid_export_is_reclaimed_and_finishes_once() {
    let app = TestApp::builder()
        .workers(1)
        .lease(Duration::from_millis(400))
        .spawn_paused()
        .await;
    let t = app.tenant("web").await;
    seed(&app, &t).await;
    let report = envelope(
        export(&app, &t, json!({"format": "csv"})).await,
        StatusCode::ACCEPTED,
    )
    .await;
    let id = report["id"].as_str().unwrap().to_owned();
    // A worker claims the job and dies without a word.
    let dead = app
        .store
        .claim("doomed-worker", Duration::from_millis(400))
        .await
        .unwrap()
        .and_then(krafter_domain::export::Claimed::into_export)
        .expect("a job");
    assert_eq!(dead.attempt, 1);
    assert_eq!(settled_status(&app, &t, &id).await, "exporting");
    app.start_workers();
    let done = settled(&app, &t, &id).await;
    assert_eq!(done["status"], "exported");
    assert_eq!(app.job_attempts(&id).await, 2);
    // The dead worker's lease is gone: it can no longer write.
    assert!(app
        .store
        .heartbeat(&dead, Duration::from_secs(5))
        .await
        .is_err());
    assert_eq!(app.artefact_files(), 1);
    let usage = app
        .store
        .quota(t.org, QuotaMonth::of(Utc::now()))
        .await
        .unwrap();
    assert_eq!(usage.used, 1);
}

async fn settled_status(app: &TestApp, t: &Tenant, id: &str) -> String {
    report(app, t, id).await["status"]
        .as_str()
        .unwrap()
        .to_owned()
}
