//! Renders every format from hand-built reports and reads the artefacts back.

mod csv;
mod html;
mod json;
mod pdf;
mod s3;
mod store;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Days, NaiveDate, TimeZone, Utc};
use krafter_domain::export::{
    ExportFormat, Report, ReportFinding, ReportHeader, ReportId, ReportRenderer, ReportStatus,
};
use krafter_domain::ids::{FindingId, OrgId, ProjectId};
use krafter_domain::ledger::{FindingStatus, Severity};
use krafter_domain::metrics::{BurnDownPoint, Summary};
use krafter_render::Renderer;

pub const ORGANISATION: &str = "Acme \"Secure\" <Labs> & Co";
pub const PROJECT_NAME: &str = "Payments API #1 [beta]";
pub const PROJECT_SLUG: &str = "payments-api";

/// Titles that break naive CSV, HTML, JSON and Typst output.
pub const TRICKY_TITLES: &[&str] = &[
    r#"Typst #set page(width: 1pt) $x^2$ [link] *bold* _em_ \ @ref <lbl> // c ~ `raw`"#,
    r#"<script>alert("x")</script> in the login form"#,
    r#"Quote "double" and 'single', with commas, too"#,
    "Line one\nline two",
    "=cmd()",
    "+SUM(A1:A9)",
    "-2+3",
    "@import",
    "\tTabbed start",
    "\rCarriage start",
    "Ünïcödé café — naïve résumé, 日本語",
    "Back\\slash and #hash and $dollar",
];

pub fn start_date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, 1).unwrap()
}

pub fn snapshot(days: u64) -> Summary {
    Summary {
        risk_burn_down: (0..days)
            .map(|i| BurnDownPoint {
                date: start_date() + Days::new(i),
                open_risk_score: 1200 - (i as i64 * 37) % 500,
            })
            .collect(),
        verification_pass_rate: 2.0 / 3.0,
        regression_rate: 0.125,
        open_findings: 4321,
    }
}

pub fn header(format: ExportFormat, days: u64) -> ReportHeader {
    let created = Utc.with_ymd_and_hms(2026, 3, 8, 9, 30, 0).unwrap();
    let report = Report {
        id: ReportId::generate(),
        org_id: OrgId::generate(),
        project_id: ProjectId::generate(),
        period_start: start_date(),
        period_end: start_date() + Days::new(days - 1),
        format,
        status: ReportStatus::Exporting,
        snapshot: snapshot(days),
        error: None,
        artefact: None,
        exported_at: None,
        shared_at: None,
        created_at: created,
        updated_at: created,
    };
    ReportHeader {
        report,
        organisation_name: ORGANISATION.to_owned(),
        project_slug: PROJECT_SLUG.to_owned(),
        project_name: PROJECT_NAME.to_owned(),
        generated_at: Utc.with_ymd_and_hms(2026, 3, 8, 9, 31, 7).unwrap()
            + chrono::Duration::microseconds(123_456),
        download_url: None,
        listed_total: None,
    }
}

/// `n` findings, highest priority first; the tricky titles come first.
pub fn findings(n: usize) -> Vec<ReportFinding> {
    let base: DateTime<Utc> = Utc.with_ymd_and_hms(2026, 2, 1, 12, 0, 0).unwrap();
    (0..n)
        .map(|i| {
            let title = match TRICKY_TITLES.get(i) {
                Some(t) => (*t).to_owned(),
                None => format!("Finding number {i} in the ledger"),
            };
            ReportFinding {
                id: FindingId::generate(),
                title,
                severity: Severity::ALL[i % Severity::ALL.len()],
                status: [
                    FindingStatus::New,
                    FindingStatus::Triaged,
                    FindingStatus::InProgress,
                    FindingStatus::ReadyVerify,
                ][i % 4],
                priority_score: 1000 - (i as i32 * 1000 / n.max(1) as i32),
                created_at: base + chrono::Duration::seconds(i as i64 * 61),
                updated_at: base
                    + chrono::Duration::days(3)
                    + chrono::Duration::microseconds(i as i64 * 1_000_001),
            }
        })
        .collect()
}

/// A `Write` whose bytes the test can read after the renderer dropped it.
#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Vec<u8>>>);

impl Shared {
    pub fn bytes(&self) -> Vec<u8> {
        self.0.lock().unwrap().clone()
    }
}

impl Write for Shared {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Renders `findings` pushed in batches of `batch`.
pub fn render(header: &ReportHeader, findings: &[ReportFinding], batch: usize) -> Vec<u8> {
    let out = Shared::default();
    let mut session = Renderer::new()
        .start(header, Box::new(out.clone()))
        .expect("start");
    for chunk in findings.chunks(batch) {
        session.push(chunk).expect("push");
    }
    session.finish().expect("finish");
    out.bytes()
}

/// A directory for the test's files, kept under the target directory for looking at later.
pub fn artefact_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("krafter-render")
        .join(name);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn a_failing_writer_is_an_io_error() {
    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Err(std::io::Error::other("disk full"))
        }
    }
    for format in [ExportFormat::Json, ExportFormat::Csv, ExportFormat::Html] {
        let header = header(format, 3);
        let result = Renderer::new()
            .start(&header, Box::new(Broken))
            .and_then(|mut session| {
                session.push(&findings(3))?;
                session.finish()
            });
        match result {
            Err(krafter_domain::export::RenderError::Io(e)) => {
                assert!(e.to_string().contains("disk full"), "{format}: {e}")
            }
            Err(other) => panic!("{format}: expected an I/O error, got {other:?}"),
            Ok(()) => panic!("{format}: rendering into a broken writer succeeded"),
        }
    }
}
