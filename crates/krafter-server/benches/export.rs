//! `just bench`: exports through the real `krafter serve` binary (a child process, so that its
//! peak resident memory can be read from /proc), over PostgreSQL.
//!
//! - a CSV export of about 1,000,000 open findings, from the POST to `exported`;
//! - 1,000 small JSON exports queued at once, until all are `exported`, with the default two
//!   workers;
//! - a PDF of 1,000 open findings, from the POST to `exported`.

mod support;

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use krafter_domain::export::{ExportRepository, QuotaLimit};
use krafter_domain::ids::OrgId;
use krafter_domain::project::Project;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};
use krafter_postgres::PgStore;
use krafter_test_support::TestDatabase;
use serde_json::{json, Value};
use support::{tenant, Server};

/// About 55% of synthetic findings end open: this many give about a million open ones.
const CSV_FINDINGS: u64 = 1_820_000;
const SMALL_EXPORTS: usize = 1_000;

async fn seed(store: &PgStore, project: &Project, findings: u64) {
    let bar = ProgressBar::new(findings);
    bar.set_style(
        ProgressStyle::with_template("seeding {pos}/{len} findings [{bar:40}] {elapsed_precise}")
            .unwrap(),
    );
    let spec = SyntheticSpec {
        findings,
        verifications: findings / 5,
        regressions: findings / 50,
        days: 365,
        end: Utc::now().date_naive(),
    };
    synthetic_history(store, project.id, &spec, &|done| bar.set_position(done))
        .await
        .unwrap();
    bar.finish();
}

fn url(server: &Server, org: OrgId, project: &Project, rest: &str) -> String {
    format!(
        "{}/api/v1/orgs/{org}/projects/{}/audit{rest}",
        server.base, project.slug
    )
}

/// Polls the report until it is exported; answers when it was seen so.
async fn wait_exported(client: &reqwest::Client, report_url: &str, key: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let body: Value = client
            .get(report_url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        match body["data"]["status"].as_str() {
            Some("exported") => return body["data"].clone(),
            Some("failed") => panic!("export failed: {body}"),
            _ => {}
        }
        assert!(Instant::now() < deadline, "export never finished");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Exports the project's last seven days in `format` and waits for the artefact; answers the
/// report id and how many findings were open.
async fn export_and_wait(
    client: &reqwest::Client,
    server: &Server,
    org: OrgId,
    project: &Project,
    key: &str,
    format: &str,
) -> (String, i64) {
    let response: Value = client
        .post(url(server, org, project, "/reports/export"))
        .bearer_auth(key)
        .json(&json!({ "format": format }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = response["data"]["id"].as_str().expect("queued").to_owned();
    let open = response["data"]["snapshot"]["open_findings"]
        .as_i64()
        .unwrap();
    wait_exported(
        client,
        &url(server, org, project, &format!("/reports/{id}")),
        key,
    )
    .await;
    (id, open)
}

#[tokio::main]
async fn main() {
    let db = TestDatabase::new().await;
    let store = PgStore::connect(db.url(), 8).await.unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let (csv_org, csv_project, csv_key) = tenant(&store, "bench-csv").await;
    let (small_org, small_project, small_key) = tenant(&store, "bench-small").await;
    let (pdf_org, pdf_project, pdf_key) = tenant(&store, "bench-pdf").await;
    let started = Instant::now();
    seed(&store, &csv_project, CSV_FINDINGS).await;
    println!(
        "seeded {CSV_FINDINGS} findings in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    seed(&store, &small_project, 100).await;
    seed(&store, &pdf_project, 1_950).await;
    store
        .set_quota_limit(small_org, QuotaLimit::parse(SMALL_EXPORTS as i64).unwrap())
        .await
        .unwrap();

    let server = Server::start(db.url(), data_dir.path());
    server.wait_ready(&client).await;
    println!("server ready; peak RSS {:.1} MiB", server.peak_rss_mib());

    // 1. CSV of about a million open findings.
    let started = Instant::now();
    let (id, open) =
        export_and_wait(&client, &server, csv_org, &csv_project, &csv_key, "csv").await;
    let csv_seconds = started.elapsed().as_secs_f64();
    let csv_rss = server.peak_rss_mib();
    let mut download = client
        .get(url(
            &server,
            csv_org,
            &csv_project,
            &format!("/reports/{id}/download"),
        ))
        .bearer_auth(&csv_key)
        .send()
        .await
        .unwrap();
    let (mut bytes, mut lines) = (0usize, 0usize);
    while let Some(chunk) = download.chunk().await.unwrap() {
        bytes += chunk.len();
        lines += chunk.iter().filter(|b| **b == b'\n').count();
    }
    assert_eq!(
        lines as i64,
        open + 1,
        "one row per open finding and a header"
    );
    println!("CSV export of {open} open findings: {csv_seconds:.2} s from POST to exported, {:.1} MiB artefact; server peak RSS {csv_rss:.1} MiB", bytes as f64 / 1048576.0);

    // 2. A thousand small JSON exports at once, two workers.
    let export_url = url(&server, small_org, &small_project, "/reports/export");
    let started = Instant::now();
    let ids: Vec<String> = futures::stream::iter(0..SMALL_EXPORTS)
        .map(|_| {
            let client = client.clone();
            let (export_url, key) = (export_url.clone(), small_key.clone());
            async move {
                let body: Value = client
                    .post(&export_url)
                    .bearer_auth(&key)
                    .json(&json!({"format": "json"}))
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                body["data"]["id"].as_str().expect("queued").to_owned()
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    let queued_seconds = started.elapsed().as_secs_f64();
    for id in &ids {
        wait_exported(
            &client,
            &url(
                &server,
                small_org,
                &small_project,
                &format!("/reports/{id}"),
            ),
            &small_key,
        )
        .await;
    }
    println!(
        "{SMALL_EXPORTS} small JSON exports: all queued in {queued_seconds:.2} s, all exported {:.2} s after the first POST",
        started.elapsed().as_secs_f64()
    );

    // 3. A PDF of 1,000 open findings.
    let started = Instant::now();
    let (_, open) = export_and_wait(&client, &server, pdf_org, &pdf_project, &pdf_key, "pdf").await;
    println!(
        "PDF export of {open} open findings: {:.2} s from POST to exported",
        started.elapsed().as_secs_f64()
    );
    println!(
        "server peak RSS over the whole run: {:.1} MiB",
        server.peak_rss_mib()
    );
}
