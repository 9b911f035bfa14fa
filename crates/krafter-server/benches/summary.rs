//! `just bench`: the summary and remediation endpoints through HTTP over PostgreSQL, at 10,000
//! and 1,000,000 findings.
//!
//! Seeds two projects in a schema of its own (DATABASE_URL, or a throwaway cluster), then measures
//! sequential requests over one keep-alive connection and prints p50/p99 per case: the summary
//! (default and 366-day windows) and the remediation report over 366 days by week and by day.
//! Then an organisation of 1,000 projects holding 1,000,000 findings: its summary and its
//! remediation over 366 days.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use krafter_domain::access::Scope;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};
use krafter_test_support::TestApp;

const REQUESTS: usize = 2_000;
const ORG_PROJECTS: u64 = 1_000;
const ORG_FINDINGS_PER_PROJECT: u64 = 1_000;
const ORG_REQUESTS: usize = 300;
const WARMUP: usize = 100;

struct Case {
    findings: u64,
    verifications: u64,
    regressions: u64,
}

const CASES: [Case; 2] = [
    Case {
        findings: 10_000,
        verifications: 2_000,
        regressions: 200,
    },
    Case {
        findings: 1_000_000,
        verifications: 200_000,
        regressions: 20_000,
    },
];

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[index].as_secs_f64() * 1000.0
}

async fn measure(client: &reqwest::Client, url: &str, key: &str) -> (f64, f64) {
    measure_n(client, url, key, REQUESTS).await
}

async fn measure_n(client: &reqwest::Client, url: &str, key: &str, requests: usize) -> (f64, f64) {
    let mut samples = Vec::with_capacity(requests);
    for i in 0..WARMUP + requests {
        let started = Instant::now();
        let response = client
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status(), 200, "{url}");
        response.bytes().await.expect("body");
        if i >= WARMUP {
            samples.push(started.elapsed());
        }
    }
    samples.sort();
    (percentile(&samples, 0.50), percentile(&samples, 0.99))
}

#[tokio::main]
async fn main() {
    // The harness passes --bench; accept and ignore arguments.
    let app = TestApp::spawn().await;
    let org = app.org("Bench").await;
    let key = app.key(org, &[Scope::AuditRead]).await;
    let today = Utc::now().date_naive();
    let window_from = today - Days::new(365);
    println!("summary benchmark: {REQUESTS} sequential requests per case after {WARMUP} warm-up\n");
    let mut rows = Vec::new();
    let mut remediation_rows = Vec::new();
    for case in CASES {
        let project = app.project(org, &format!("bench-{}", case.findings)).await;
        let spec = SyntheticSpec {
            findings: case.findings,
            verifications: case.verifications,
            regressions: case.regressions,
            days: 365,
            end: today,
        };
        let bar = ProgressBar::new(case.findings);
        bar.set_style(
            ProgressStyle::with_template(
                "seeding {pos}/{len} findings [{bar:40}] {elapsed_precise}",
            )
            .expect("a valid template"),
        );
        let started = Instant::now();
        synthetic_history(&app.store, project.id, &spec, &|done| {
            bar.set_position(done)
        })
        .await
        .expect("seeding");
        bar.finish();
        app.store.vacuum_after_bulk_load().await.expect("vacuum");
        println!(
            "seeded {} findings, {} verifications, {} regressions in {:.1} s",
            case.findings,
            case.verifications,
            case.regressions,
            started.elapsed().as_secs_f64()
        );
        let base = app.url(&format!(
            "/api/v1/orgs/{org}/projects/{}/audit/reports/summary",
            project.slug
        ));
        let client = reqwest::Client::new();
        let default = measure(&client, &base, &key).await;
        let year = format!("{base}?date_from={window_from}&date_to={today}");
        let year = measure(&client, &year, &key).await;
        let remediation = app.url(&format!(
            "/api/v1/orgs/{org}/projects/{}/audit/reports/remediation?date_from={window_from}&date_to={today}",
            project.slug
        ));
        let by_week = measure(&client, &format!("{remediation}&granularity=week"), &key).await;
        let by_day = measure(&client, &format!("{remediation}&granularity=day"), &key).await;
        rows.push((case.findings, default, year));
        remediation_rows.push((case.findings, by_week, by_day));
    }
    println!("\n| findings | default p50 | default p99 | 366-day p50 | 366-day p99 |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for (findings, (d50, d99), (y50, y99)) in &rows {
        println!("| {findings} | {d50:.2} ms | {d99:.2} ms | {y50:.2} ms | {y99:.2} ms |");
    }
    let (small, large) = (&rows[0], &rows[1]);
    println!(
        "\n1,000,000 vs 10,000 findings, p50: default {:.2}x, 366-day {:.2}x",
        (large.1).0 / (small.1).0,
        (large.2).0 / (small.2).0
    );
    println!("\nremediation, 366 days:\n");
    println!("| findings | by week p50 | by week p99 | by day p50 | by day p99 |");
    println!("| ---: | ---: | ---: | ---: | ---: |");
    for (findings, (w50, w99), (d50, d99)) in &remediation_rows {
        println!("| {findings} | {w50:.2} ms | {w99:.2} ms | {d50:.2} ms | {d99:.2} ms |");
    }
    let (small, large) = (&remediation_rows[0], &remediation_rows[1]);
    println!(
        "\n1,000,000 vs 10,000 findings, p50: by week {:.2}x, by day {:.2}x",
        (large.1).0 / (small.1).0,
        (large.2).0 / (small.2).0
    );

    organisation(&app, today, window_from).await;
}

/// An organisation of [`ORG_PROJECTS`] projects of [`ORG_FINDINGS_PER_PROJECT`] findings each:
/// its summary and remediation (by week and by day) over 366 days.
async fn organisation(app: &TestApp, today: chrono::NaiveDate, window_from: chrono::NaiveDate) {
    let org = app.org("Bench organisation").await;
    let key = app.key(org, &[Scope::AuditRead]).await;
    let spec = SyntheticSpec {
        findings: ORG_FINDINGS_PER_PROJECT,
        verifications: ORG_FINDINGS_PER_PROJECT / 5,
        regressions: ORG_FINDINGS_PER_PROJECT / 50,
        days: 365,
        end: today,
    };
    let bar = ProgressBar::new(ORG_PROJECTS);
    bar.set_style(
        ProgressStyle::with_template("seeding project {pos}/{len} [{bar:40}] {elapsed_precise}")
            .expect("a valid template"),
    );
    let started = Instant::now();
    for p in 0..ORG_PROJECTS {
        let project = app.project(org, &format!("project-{p}")).await;
        synthetic_history(&app.store, project.id, &spec, &|_| {})
            .await
            .expect("seeding");
        // Plans made for the small tables of the first projects would scan the large ones.
        if p % 50 == 0 {
            app.store.refresh_statistics().await.expect("analyze");
        }
        bar.set_position(p + 1);
    }
    bar.finish();
    app.store.vacuum_after_bulk_load().await.expect("vacuum");
    println!(
        "\nseeded an organisation of {ORG_PROJECTS} projects, {} findings in all, in {:.1} s",
        ORG_PROJECTS * ORG_FINDINGS_PER_PROJECT,
        started.elapsed().as_secs_f64()
    );
    let client = reqwest::Client::new();
    let window = format!("date_from={window_from}&date_to={today}");
    let summary = app.url(&format!(
        "/api/v1/orgs/{org}/audit/reports/summary?{window}"
    ));
    let remediation = app.url(&format!(
        "/api/v1/orgs/{org}/audit/reports/remediation?{window}"
    ));
    let summary = measure_n(&client, &summary, &key, ORG_REQUESTS).await;
    let by_week = measure_n(
        &client,
        &format!("{remediation}&granularity=week"),
        &key,
        ORG_REQUESTS,
    )
    .await;
    let by_day = measure_n(
        &client,
        &format!("{remediation}&granularity=day"),
        &key,
        ORG_REQUESTS,
    )
    .await;
    println!(
        "\norganisation of {ORG_PROJECTS} projects, 366 days, {ORG_REQUESTS} requests each:\n"
    );
    println!("| endpoint | p50 | p99 |");
    println!("| --- | ---: | ---: |");
    for (name, (p50, p99)) in [
        ("summary", summary),
        ("remediation by week", by_week),
        ("remediation by day", by_day),
    ] {
        println!("| {name} | {p50:.2} ms | {p99:.2} ms |");
    }
}
