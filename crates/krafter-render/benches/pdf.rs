//! `cargo bench -p krafter-render --bench pdf`: a 1,000-finding PDF (5 runs, min and median)
//! and a CSV of 1,000,000 findings written to a temporary file.

use std::fs::File;
use std::io::Write;
use std::time::{Duration, Instant};

use chrono::{Days, NaiveDate, TimeZone, Utc};
use krafter_domain::export::{
    ExportFormat, Report, ReportFinding, ReportHeader, ReportId, ReportRenderer, ReportStatus,
};
use krafter_domain::ids::{FindingId, OrgId, ProjectId};
use krafter_domain::ledger::{FindingStatus, Severity};
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_render::Renderer;

fn header(format: ExportFormat) -> ReportHeader {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap();
    let days = 90;
    let at = Utc.with_ymd_and_hms(2026, 4, 1, 8, 0, 0).unwrap();
    ReportHeader {
        report: Report {
            id: ReportId::generate(),
            org_id: OrgId::generate(),
            project_id: ProjectId::generate(),
            period_start: start,
            period_end: start + Days::new(days - 1),
            format,
            status: ReportStatus::Exporting,
            snapshot: Summary {
                risk_burn_down: (0..days)
                    .map(|i| BurnDownPoint {
                        date: start + Days::new(i),
                        open_risk_score: 20_000 - i as i64 * 97 + (i as i64 % 7) * 130,
                    })
                    .collect(),
                verification_pass_rate: 0.8125,
                regression_rate: 0.0625,
                open_findings: 1_000_000,
            },
            error: None,
            artefact: None,
            exported_at: None,
            shared_at: None,
            created_at: at,
            updated_at: at,
            definitions_version: 1,
            remediation: None,
        },
        organisation_name: "Benchmark Organisation".to_owned(),
        project_slug: "bench".to_owned(),
        project_name: "Benchmark Project".to_owned(),
        generated_at: at,
        download_url: None,
        listed_total: None,
    }
}

fn batch(offset: usize, n: usize) -> Vec<ReportFinding> {
    let base = Utc.with_ymd_and_hms(2025, 12, 1, 0, 0, 0).unwrap();
    (offset..offset + n)
        .map(|i| ReportFinding {
            id: FindingId::generate(),
            title: format!(
                "SQL injection in /api/v{}/orders?id= parameter, \"quoted\", case {i}",
                i % 5
            ),
            severity: Severity::ALL[i % Severity::ALL.len()],
            status: FindingStatus::Triaged,
            priority_score: 1000 - (i % 1000) as i32,
            created_at: base + chrono::Duration::seconds(i as i64),
            updated_at: base + chrono::Duration::seconds(i as i64 * 3),
            due_on: None,
            provenance: Default::default(),
        })
        .collect()
}

/// A writer that only counts.
struct Count(u64);

impl Write for Count {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len() as u64;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn median(mut runs: Vec<Duration>) -> (Duration, Duration) {
    runs.sort();
    (runs[0], runs[runs.len() / 2])
}

fn main() {
    let renderer = Renderer::new();

    // PDF: 1,000 findings (and 1,000 more counted), five runs.
    let pdf_header = header(ExportFormat::Pdf);
    let findings = batch(0, 2_000);
    let mut runs = Vec::new();
    let mut size = 0;
    for _ in 0..5 {
        let out = tempfile::NamedTempFile::new().unwrap();
        let started = Instant::now();
        let mut session = renderer
            .start(&pdf_header, Box::new(out.reopen().unwrap()))
            .unwrap();
        for chunk in findings.chunks(500) {
            session.push(chunk).unwrap();
        }
        session.finish().unwrap();
        runs.push(started.elapsed());
        size = out.as_file().metadata().unwrap().len();
    }
    let (min, med) = median(runs);
    println!(
        "pdf, 1,000 findings listed: min {:.3} s, median {:.3} s over 5 runs, {size} bytes",
        min.as_secs_f64(),
        med.as_secs_f64()
    );

    // HTML: the same report.
    let html_header = header(ExportFormat::Html);
    let started = Instant::now();
    let mut session = renderer.start(&html_header, Box::new(Count(0))).unwrap();
    for chunk in findings.chunks(500) {
        session.push(chunk).unwrap();
    }
    session.finish().unwrap();
    println!(
        "html, 1,000 findings listed: {:.3} s",
        started.elapsed().as_secs_f64()
    );

    // CSV and JSON: 1,000,000 findings in batches of 1,000, to a temporary file.
    let one_batch = batch(0, 1_000);
    for format in [ExportFormat::Csv, ExportFormat::Json] {
        let out = tempfile::NamedTempFile::new().unwrap();
        let file: File = out.reopen().unwrap();
        let started = Instant::now();
        let mut session = renderer.start(&header(format), Box::new(file)).unwrap();
        for _ in 0..1_000 {
            session.push(&one_batch).unwrap();
        }
        session.finish().unwrap();
        let elapsed = started.elapsed().as_secs_f64();
        let bytes = out.as_file().metadata().unwrap().len();
        println!(
            "{format}, 1,000,000 findings to a file: {elapsed:.3} s, {bytes} bytes, {:.0} MB/s, {:.0} rows/s",
            bytes as f64 / elapsed / 1e6,
            1e6 / elapsed
        );
    }
}
