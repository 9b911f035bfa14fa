//! `just bench`: the ledger's write rate through HTTP — findings created per second by 16
//! concurrent clients over keep-alive connections — with the remediation bookkeeping (a due date
//! read under the organisation's lock, and the remediation totals upserted in the creation's
//! transaction) and without it (the write path as it was before remediation metrics, kept for
//! this comparison only: `PgStore::without_remediation_totals`), measured in one run.
//!
//! The two are measured in turns (baseline, remediation, baseline, remediation), each in a fresh
//! schema of its own, and the best round of each is compared, so that a slow moment of the
//! machine does not decide the ratio.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use krafter_postgres::{PgStore, PoolSettings};
use krafter_test_support::TestApp;
use serde_json::json;

const CLIENTS: usize = 16;
const WARMUP: Duration = Duration::from_secs(2);
const MEASURED: Duration = Duration::from_secs(12);
const ROUNDS: usize = 2;
const SEVERITIES: [&str; 5] = ["critical", "high", "medium", "low", "info"];

/// Findings created per second over [`MEASURED`], after [`WARMUP`].
async fn rate(adapt: fn(PgStore) -> PgStore) -> f64 {
    let app = Arc::new(
        TestApp::builder()
            .pool(PoolSettings::new(CLIENTS))
            .store(adapt)
            .spawn()
            .await,
    );
    let tenant = Arc::new(app.tenant("writes").await);
    let created = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let counting_from = started + WARMUP;
    let until = counting_from + MEASURED;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (app, tenant, created) = (app.clone(), tenant.clone(), created.clone());
            tokio::spawn(async move {
                let http = reqwest::Client::new();
                let url = app.audit_url(&tenant, "/findings");
                let mut n = 0usize;
                while Instant::now() < until {
                    let body = json!({
                        "title": format!("Finding {client}-{n}"),
                        "severity": SEVERITIES[n % SEVERITIES.len()],
                        "priority_score": (n * 37) % 1001,
                    });
                    let response = http
                        .post(&url)
                        .bearer_auth(&tenant.write_key)
                        .json(&body)
                        .send()
                        .await
                        .expect("request");
                    assert_eq!(response.status(), 201, "{}", response.text().await.unwrap());
                    if Instant::now() >= counting_from && Instant::now() < until {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                    n += 1;
                }
            })
        })
        .collect();
    for client in clients {
        client.await.expect("a client");
    }
    created.load(Ordering::Relaxed) as f64 / MEASURED.as_secs_f64()
}

#[tokio::main]
async fn main() {
    println!(
        "ledger writes: {CLIENTS} clients creating findings through HTTP for {} s after {} s, {ROUNDS} rounds each\n",
        MEASURED.as_secs(),
        WARMUP.as_secs()
    );
    let (mut before, mut with) = (Vec::new(), Vec::new());
    for round in 1..=ROUNDS {
        let b = rate(PgStore::without_remediation_totals).await;
        println!("round {round}: without remediation totals {b:.0} findings/s");
        let w = rate(std::convert::identity).await;
        println!("round {round}: with remediation totals    {w:.0} findings/s");
        before.push(b);
        with.push(w);
    }
    let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
    let (b, w) = (best(&before), best(&with));
    println!("\n| write path | findings/s (best of {ROUNDS}) |");
    println!("| --- | ---: |");
    println!("| without remediation totals (before) | {b:.0} |");
    println!("| with remediation totals | {w:.0} |");
    println!(
        "\nwith / without: {:.1}% ({:+.1}%)",
        w / b * 100.0,
        (w / b - 1.0) * 100.0
    );
}
