//! Times `ReportSource::open_findings` over a synthetic history, in a scratch schema.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo run --release -p krafter-postgres --example open_findings -- 1820000 5000`
//!
//! Arguments: findings (default 1,820,000, of which about 1,000,000 end open), batch size
//! (default 5,000). Streams the findings open today (the current state) and 30 days ago (from
//! the history), and prints the time, the count and this process's peak resident memory. The
//! scratch schema is dropped at the end.

mod common;

use std::time::Instant;

use chrono::{Days, Utc};
use krafter_domain::export::ReportSource;
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};

use common::{scratch, Error, Scratch};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let findings = args.first().copied().unwrap_or(1_820_000);
    let batch_size = args.get(1).copied().unwrap_or(5_000);
    run(findings, usize::try_from(batch_size)?).await
}

/// This process's peak resident set, from /proc (Linux only).
fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

async fn run(findings: u64, batch_size: usize) -> Result<(), Error> {
    let Scratch { store, project, .. } = &scratch().await?;
    let now = Utc::now();

    let today = now.date_naive();
    let spec = SyntheticSpec {
        findings,
        verifications: 0,
        regressions: 0,
        days: 365,
        end: today,
    };
    let started = Instant::now();
    synthetic_history(store, project.id, &spec, &|_| {}).await?;
    println!(
        "synthetic_history of {findings} findings: {:.1?}",
        started.elapsed()
    );
    println!(
        "peak RSS after seeding: {:.1} MiB",
        peak_rss_mib().unwrap_or(f64::NAN)
    );

    for (label, as_of) in [
        ("today (current state)", today),
        ("30 days ago (from the history)", today - Days::new(30)),
    ] {
        let started = Instant::now();
        let mut batches = store.open_findings(project.id, as_of, batch_size).await?;
        let first = started.elapsed();
        let (mut count, mut batches_seen, mut largest) = (0usize, 0usize, 0usize);
        let mut previous = i32::MAX;
        let mut first_batch = None;
        while let Some(batch) = batches.next_batch().await? {
            first_batch.get_or_insert_with(|| started.elapsed());
            count += batch.len();
            batches_seen += 1;
            largest = largest.max(batch.len());
            for finding in &batch {
                assert!(finding.priority_score <= previous, "out of order");
                previous = finding.priority_score;
            }
        }
        println!(
            "open findings as of {label}: {count} in {batches_seen} batches of at most \
             {largest}, {:.2?} (cursor declared in {first:.2?}, first batch after {:.2?}); \
             peak RSS {:.1} MiB",
            started.elapsed(),
            first_batch.unwrap_or_default(),
            peak_rss_mib().unwrap_or(f64::NAN)
        );
    }
    Ok(())
}
