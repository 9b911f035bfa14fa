//! Times `seed::synthetic_history` and the `deltas` query in a scratch schema.
//!
//! `DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!  cargo run --release -p krafter-postgres --example synthetic -- 1000000 200000 20000 365`
//!
//! Arguments: findings, verifications, regressions, days (defaults: 100000 20000 2000 365).
//! The scratch schema is dropped at the end.

mod common;

use std::time::Instant;

use chrono::{Days, Utc};
use krafter_domain::metrics::{DateWindow, MetricsRepository};
use krafter_postgres::seed::{synthetic_history, SyntheticSpec};

use common::{scratch, Error, Scratch};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let args: Vec<u64> = std::env::args()
        .skip(1)
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    let arg = |i: usize, default: u64| args.get(i).copied().unwrap_or(default);
    run(arg(0, 100_000), arg(1, 20_000), arg(2, 2_000), arg(3, 365)).await
}

async fn run(findings: u64, verifications: u64, regressions: u64, days: u64) -> Result<(), Error> {
    let Scratch { store, project, .. } = &scratch().await?;
    let now = Utc::now();

    let today = now.date_naive();
    let spec = SyntheticSpec {
        findings,
        verifications,
        regressions,
        days: u32::try_from(days)?,
        end: today,
    };
    let started = Instant::now();
    synthetic_history(store, project.id, &spec, &|done| {
        eprintln!("{done} findings after {:.1?}", started.elapsed());
    })
    .await?;
    println!("synthetic_history {spec:?}: {:.2?}", started.elapsed());

    let window = DateWindow::new(today - Days::new(6), today, today, ("date_from", "date_to"))?;
    let mut timings = Vec::new();
    for _ in 0..200 {
        let started = Instant::now();
        let ledger = store.deltas(project.id, &window).await?;
        timings.push(started.elapsed());
        assert!(ledger.days.len() <= 7);
    }
    timings.sort();
    println!(
        "deltas over {} days of totals (7-day window), 200 runs: median {:.0?}, p95 {:.0?}",
        store.daily_totals(project.id).await?.len(),
        timings[100],
        timings[190]
    );
    let started = Instant::now();
    store.rebuild_daily_totals(project.id).await?;
    println!("rebuild_daily_totals: {:.2?}", started.elapsed());
    Ok(())
}
