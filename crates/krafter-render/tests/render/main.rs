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
    ExportFormat, Report, ReportFinding, ReportHeader, ReportId, ReportRemediation, ReportRenderer,
    ReportStatus,
};
use krafter_domain::ids::{FindingId, OrgId, ProjectId};
use krafter_domain::ledger::{
    FindingHistory, FindingState, FindingStatus, PriorityScore, ProjectHistory, Severity,
};
use krafter_domain::metrics::remediation::reference::daily_deltas;
use krafter_domain::metrics::remediation::{
    DatedRemediationDelta, RemediationLedger, REMEDIATION_DEFINITIONS_VERSION,
};
use krafter_domain::metrics::{BurnDownPoint, DateWindow, Summary};
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

/// A small history whose remediation figures are worked out by hand (default SLA policy:
/// critical 7 days, high 30, medium 90), for a 7-day period from 1 March 2026:
///
/// | finding | severity | created (due)            | then                          |
/// | A       | critical | 23 Feb 10:00 (2 Mar)     | resolved 2 Mar 10:00: 168 h, within |
/// | B       | critical | 1 Mar 00:00 (8 Mar)      | resolved 4 Mar 12:00: 84 h, within  |
/// | C       | critical | 20 Feb 08:00 (27 Feb)    | open: overdue                 |
/// | D       | high     | 2 Mar 09:00 (1 Apr)      | open                          |
/// | E       | high     | 1 Jan 00:00 (31 Jan)     | resolved 5 Mar 00:00: 63 days, late |
/// | F       | medium   | 25 Feb 00:00 (26 May)    | open                          |
///
/// In the period: 2 opened (B, D), 3 resolved (A, B, E), 2 of 3 within SLA, critical mean
/// 126 h (5.25 days), 1 overdue at the end (C). In the previous period (22 to 28 February):
/// 2 opened (A, F), none resolved, 2 overdue at its end (C, E).
pub fn remediation(period: &DateWindow, previous_risk: i64) -> ReportRemediation {
    let at = |s: &str| s.parse::<DateTime<Utc>>().unwrap();
    let state = |status| FindingState {
        status,
        priority_score: PriorityScore::parse(100).unwrap(),
    };
    let findings = [
        (
            Severity::Critical,
            "2026-02-23T10:00:00Z",
            Some("2026-03-02T10:00:00Z"),
        ),
        (
            Severity::Critical,
            "2026-03-01T00:00:00Z",
            Some("2026-03-04T12:00:00Z"),
        ),
        (Severity::Critical, "2026-02-20T08:00:00Z", None),
        (Severity::High, "2026-03-02T09:00:00Z", None),
        (
            Severity::High,
            "2026-01-01T00:00:00Z",
            Some("2026-03-05T00:00:00Z"),
        ),
        (Severity::Medium, "2026-02-25T00:00:00Z", None),
    ];
    let mut severities = std::collections::HashMap::new();
    let history = ProjectHistory {
        findings: findings
            .iter()
            .map(|(severity, created, resolved)| {
                let finding_id = FindingId::generate();
                severities.insert(finding_id, *severity);
                let mut events = vec![(at(created), state(FindingStatus::New))];
                if let Some(resolved) = resolved {
                    events.push((at(resolved), state(FindingStatus::Resolved)));
                }
                FindingHistory { finding_id, events }
            })
            .collect(),
        verifications: Vec::new(),
        regressions: Vec::new(),
    };
    let ledger = RemediationLedger {
        before: Default::default(),
        days: daily_deltas(&history, |id| severities[&id], &[])
            .into_iter()
            .map(|((day, severity), delta)| DatedRemediationDelta {
                day,
                severity,
                delta,
            })
            .collect(),
    };
    let previous = period.previous();
    let previous_summary = Summary {
        risk_burn_down: previous
            .days()
            .map(|date| BurnDownPoint {
                date,
                open_risk_score: previous_risk,
            })
            .collect(),
        verification_pass_rate: 0.5,
        regression_rate: 0.25,
        open_findings: 4000,
    };
    ReportRemediation::new(period, &ledger, &ledger, previous_summary, &[])
}

/// What the HTML and PDF of the 7-day report from [`header`] show of [`remediation`], as the
/// reader sees them (white space aside): the executive summary first, then the severity panels,
/// the time to resolve against the SLA, overdue and aging, and the comparison.
pub const EXECUTIVE_SHOWS: &[&str] = &[
    "Executive summary",
    "Open risk fell 34.8% (1,500 → 978) since the previous period.",
    "1 critical finding is past its SLA.",
    "Critical findings took 5.3 days to resolve on average, within the 7-day SLA.",
    "3 findings were resolved and 2 opened in the period; 66.7% of resolutions met their SLA.",
    "1 overdue",
    "Remediation, 1 to 7 March 2026",
    "Time to resolve against the SLA",
    "7 days 2 of 2 (100.0%) Within SLA",
    "30 days 0 of 1 (0.0%) Over SLA",
    "Critical 2 5.3",
    "High 1 63.0",
    "SLA compliance over the period: 66.7%",
    "Overdue and aging at the end of 7 March 2026",
    "Critical 1 1 0 1 0 0 0",
    "High 1 0 1 0 0 0 0",
    "Medium 1 0 0 1 0 0 0",
    "All 3 1 1 2 0 0 0",
    "Compared with the previous period (22 to 28 February 2026)",
    "Open risk score at the end 1,500 978 -522 -34.8%",
    "Open findings at the end 4,000 4,321 +321 +8.0%",
    "Overdue at the end 2 1 -1 -50.0%",
    "Opened 2 2 0 0.0%",
    "Resolved 0 3 +3 –",
    "Mean time to resolve (days) – 24.5 – –",
    "SLA compliance – 66.7% – –",
    "Verification pass rate 50.0% 66.7% +16.7 pts +33.3%",
    "Regression rate 25.0% 12.5% -12.5 pts -50.0%",
    "Generated 2026-03-08T09:31:07.123456Z · metric definitions v1",
];

pub fn period(days: u64) -> DateWindow {
    DateWindow::new(
        start_date(),
        start_date() + Days::new(days - 1),
        start_date() + Days::new(days - 1),
        ("from", "to"),
    )
    .unwrap()
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
        remediation: Some(remediation(&period(days), 1500)),
        definitions_version: REMEDIATION_DEFINITIONS_VERSION,
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
                // Every third without an SLA; the others due from 10 February on, one a day,
                // so that some are overdue at the end of a period from 1 March.
                due_on: (i % 3 != 2).then(|| {
                    NaiveDate::from_ymd_opt(2026, 2, 10).unwrap() + Days::new(i as u64 % 40)
                }),
                provenance: Default::default(),
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
