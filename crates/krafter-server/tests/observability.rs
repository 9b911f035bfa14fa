//! Observability of the real `krafter` binary: JSON log lines that carry the request's id at
//! every layer and the job's report id, `GET /metrics` with exact counts, `KRAFTER_METRICS_BIND`,
//! and an invalid `RUST_LOG` refused at start-up.

mod support;

use std::collections::HashMap;

use krafter_test_support::TestDatabase;
use reqwest::StatusCode;
use serde_json::Value;
use support::{data, Node, Tenant};

/// The routes as the logs and metrics name them: patterns, no ids.
const AUDIT: &str = "/api/v1/orgs/{org_id}/projects/{project_id}/audit";

fn request_id(response: &reqwest::Response) -> String {
    response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned()
}

fn parsed(lines: &[String]) -> Vec<Value> {
    lines
        .iter()
        .map(|line| {
            let value: Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            assert!(value.is_object(), "not a JSON object: {line}");
            value
        })
        .collect()
}

#[tokio::test]
async fn json_logs_carry_the_request_id_at_every_layer_and_jobs_their_report_id() {
    let db = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new(&db, 1);
    let mut node = Node::start("serve", &db, dir.path(), &[("KRAFTER_WORKERS", "1")]).await;

    let accepted = node.export(&tenant).await;
    assert_eq!(accepted.status(), StatusCode::ACCEPTED);
    let accepted_id = request_id(&accepted);
    let report = data(accepted).await["id"].as_str().unwrap().to_owned();
    node.wait_for(|l| l["message"] == "export job done" && l["report_id"] == report.as_str())
        .await;

    // The quota (1) is used up: the repository refuses and says so, in the request's span.
    let refused = node.export(&tenant).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    let refused_id = request_id(&refused);
    node.wait_for(|l| l["message"] == "request" && l["request_id"] == refused_id.as_str())
        .await;
    let lines = parsed(&node.stop().await);

    let export_route = format!("{AUDIT}/reports/export");
    let refusal: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"].as_str().unwrap().starts_with("export refused"))
        .collect();
    assert_eq!(refusal.len(), 1, "{lines:#?}");
    let refusal = refusal[0];
    assert_eq!(refusal["target"], "krafter_postgres::repos::exports");
    assert_eq!(refusal["level"], "WARN");
    assert_eq!(refusal["request_id"], refused_id.as_str());
    assert_eq!(refusal["method"], "POST");
    assert_eq!(refusal["route"], export_route.as_str());
    assert_eq!(refusal["org"], tenant.org.as_str());
    assert_eq!(refusal["limit"], 1);

    // Each request's own line, with its status.
    for (id, status) in [(&accepted_id, 202), (&refused_id, 429)] {
        let line = lines
            .iter()
            .find(|l| l["message"] == "request" && l["request_id"] == id.as_str())
            .unwrap_or_else(|| panic!("no request line for {id}: {lines:#?}"));
        assert_eq!(line["status"], status);
        assert_eq!(line["route"], export_route.as_str());
    }

    // The job's lines, from the worker and below it, name the report; none names a request.
    let job: Vec<&Value> = lines
        .iter()
        .filter(|l| l["spans"].as_str().is_some_and(|s| s.contains("job")))
        .collect();
    let messages: Vec<&str> = job.iter().map(|l| l["message"].as_str().unwrap()).collect();
    assert_eq!(
        messages,
        ["export started", "export job done"],
        "{lines:#?}"
    );
    for line in job {
        assert_eq!(line["report_id"], report.as_str());
        assert_eq!(line["job_kind"], "export");
        assert_eq!(line["target"], "krafter_domain::export::worker");
        assert!(line["worker"].as_str().unwrap().starts_with("krafter-"));
        assert!(line.get("request_id").is_none(), "{line}");
    }
}

/// The samples of a Prometheus text exposition: `name{labels}` → value. Checks that every
/// line is a comment or a sample.
fn samples(text: &str) -> HashMap<String, f64> {
    let mut samples = HashMap::new();
    for line in text.lines() {
        if line.starts_with("# HELP ") || line.starts_with("# TYPE ") {
            continue;
        }
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("not a sample: {line}"));
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("not a value: {line}")),
        };
        assert!(samples.insert(series.to_owned(), value).is_none(), "{line}");
    }
    samples
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!(
        "krafter_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
    )
}

async fn scrape(client: &reqwest::Client, url: &str) -> (String, HashMap<String, f64>) {
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = response.text().await.unwrap();
    let samples = samples(&text);
    (text, samples)
}

#[tokio::test]
async fn metrics_count_requests_by_route_pattern_and_status_and_read_the_queue() {
    let db = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new(&db, 3);
    let node = Node::start(
        "serve",
        &db,
        dir.path(),
        &[("KRAFTER_WORKERS", "0"), ("KRAFTER_DB_POOL_SIZE", "5")],
    )
    .await;

    for _ in 0..3 {
        let summary = node.get(&tenant, "/reports/summary").await;
        assert_eq!(summary.status(), StatusCode::OK);
    }
    for _ in 0..2 {
        let missing = node
            .get(&tenant, &format!("/findings/{}", uuid::Uuid::new_v4()))
            .await;
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    }
    let anonymous = node
        .client
        .get(node.audit(&tenant, "/reports/summary"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let unknown = node
        .client
        .get(format!("{}/no/such/{}", node.base, tenant.org))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // Three exports are queued (no worker runs them); the fourth is over the quota.
    for _ in 0..3 {
        assert_eq!(node.export(&tenant).await.status(), StatusCode::ACCEPTED);
    }
    assert_eq!(
        node.export(&tenant).await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );

    let url = format!("{}/metrics", node.base);
    let (text, samples) = scrape(&node.client, &url).await;
    let summary = format!("{AUDIT}/reports/summary");
    let export = format!("{AUDIT}/reports/export");
    let finding = format!("{AUDIT}/findings/{{finding_id}}");
    let requests_total: Vec<(&String, &f64)> = samples
        .iter()
        .filter(|(series, _)| series.starts_with("krafter_http_requests_total{"))
        .collect();
    let expected = [
        (requests("GET", &summary, 200), 3.0),
        (requests("GET", &summary, 401), 1.0),
        (requests("GET", &finding, 404), 2.0),
        (requests("GET", "unmatched", 404), 1.0),
        (requests("POST", &export, 202), 3.0),
        (requests("POST", &export, 429), 1.0),
    ];
    assert_eq!(requests_total.len(), expected.len(), "{text}");
    for (series, value) in &expected {
        assert_eq!(samples.get(series), Some(value), "{series}\n{text}");
    }
    let latency = |suffix: &str, extra: &str| {
        format!(
            "krafter_http_request_duration_seconds_{suffix}{{method=\"GET\",route=\"{summary}\"{extra}}}"
        )
    };
    assert_eq!(samples[&latency("count", "")], 4.0, "{text}");
    assert_eq!(samples[&latency("bucket", ",le=\"+Inf\"")], 4.0, "{text}");
    assert!(samples[&latency("sum", "")] > 0.0);
    assert!(text.contains("# TYPE krafter_http_request_duration_seconds histogram\n"));

    let depth = |kind: &str, status: &str| {
        samples[&format!("krafter_job_queue_depth{{kind=\"{kind}\",status=\"{status}\"}}")]
    };
    assert_eq!(depth("export", "queued"), 3.0, "{text}");
    assert_eq!(depth("export", "running"), 0.0);
    assert_eq!(depth("delivery", "queued"), 0.0);
    assert_eq!(depth("delivery", "running"), 0.0);
    assert!(
        !text.contains("krafter_jobs_total{"),
        "no worker ran: {text}"
    );
    assert_eq!(samples["krafter_quota_refusals_total"], 1.0);
    assert_eq!(samples["krafter_rate_limited_total"], 0.0);
    assert_eq!(samples["krafter_db_pool_max_connections"], 5.0);
    assert!(samples["krafter_db_pool_connections"] >= 1.0);
    assert_eq!(samples["krafter_db_pool_waiting"], 0.0);
    assert!(
        samples["krafter_db_pool_wait_seconds_count"] >= 10.0,
        "{text}"
    );
    assert_eq!(samples["krafter_db_pool_timeouts_total"], 0.0);
    // No id in any label: routes are patterns.
    assert!(!text.contains(&tenant.org), "{text}");

    // The scrape itself is counted once it has been answered.
    let (_, again) = scrape(&node.client, &url).await;
    assert_eq!(again[&requests("GET", "/metrics", 200)], 1.0);
    node.stop().await;
}

#[tokio::test]
async fn metrics_bind_serves_the_metrics_on_their_own_address_for_api_and_worker_nodes() {
    let db = TestDatabase::new().await;
    let dir = tempfile::tempdir().unwrap();
    let tenant = Tenant::new(&db, 10);
    let bind = [
        ("KRAFTER_WORKERS", "0"),
        ("KRAFTER_METRICS_BIND", "127.0.0.1:0"),
    ];
    let mut api = Node::start("serve", &db, dir.path(), &bind).await;
    let metrics = api
        .wait_for(|l| l["message"] == "metrics are served on their own address")
        .await;
    let metrics_url = format!("http://{}/metrics", metrics["address"].as_str().unwrap());

    // Not on the API's port then: an unknown route there.
    let on_api = api
        .client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status(), StatusCode::NOT_FOUND);
    let body: Value = on_api.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let (text, samples) = scrape(&api.client, &metrics_url).await;
    assert_eq!(
        samples.get(&requests("GET", "unmatched", 404)),
        Some(&1.0),
        "{text}"
    );
    let elsewhere = api
        .client
        .get(metrics_url.replace("/metrics", "/healthz"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    // A worker node serves its own: the outcome of the job it ran.
    let export = api.export(&tenant).await;
    assert_eq!(export.status(), StatusCode::ACCEPTED);
    let report = data(export).await["id"].as_str().unwrap().to_owned();
    let worker_env = [
        ("KRAFTER_WORKERS", "1"),
        ("KRAFTER_METRICS_BIND", "127.0.0.1:0"),
    ];
    let mut worker = Node::start("worker", &db, dir.path(), &worker_env).await;
    let address = worker
        .wait_for(|l| l["message"] == "metrics are served on their own address")
        .await["address"]
        .as_str()
        .unwrap()
        .to_owned();
    worker
        .wait_for(|l| l["message"] == "export job done" && l["report_id"] == report.as_str())
        .await;
    let (text, samples) = scrape(&api.client, &format!("http://{address}/metrics")).await;
    assert_eq!(
        samples.get("krafter_jobs_total{kind=\"export\",outcome=\"exported\"}"),
        Some(&1.0),
        "{text}"
    );
    assert_eq!(
        samples.get("krafter_job_queue_depth{kind=\"export\",status=\"queued\"}"),
        Some(&0.0),
        "{text}"
    );
    assert!(!text.contains("krafter_http_requests_total{"), "{text}");
    worker.stop().await;
    api.stop().await;
}

#[test]
fn an_invalid_rust_log_stops_start_up_naming_it() {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_krafter"))
        .arg("serve")
        // Never reached: the configuration is refused first.
        .env("DATABASE_URL", "postgres://postgres@127.0.0.1:1/none")
        .env("RUST_LOG", "krafter=loud")
        .output()
        .expect("krafter runs");
    assert_eq!(output.status.code(), Some(2), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.starts_with("error: RUST_LOG is not a valid log filter"),
        "{stderr}"
    );
}
