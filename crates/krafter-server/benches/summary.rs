//! `just bench`: the summary and remediation endpoints through HTTP over PostgreSQL, at 10,000
//! and 1,000,000 findings.
//!
//! Seeds two projects in a schema of its own (DATABASE_URL, or a throwaway cluster), then measures
//! sequential requests over one keep-alive connection and prints p50/p99 per case: the summary
//! (default and 366-day windows) and the remediation report over 366 days by week and by day.

use std::time::{Duration, Instant};

use chrono::{Days, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use krafter_domain::access::Scope;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};
use krafter_test_support::TestApp;

const REQUESTS: usize = 2_000;
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
    let mut samples = Vec::with_capacity(REQUESTS);
    for i in 0..WARMUP + REQUESTS {
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
}
