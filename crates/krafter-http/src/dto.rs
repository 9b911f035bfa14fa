//! What the API sends back, converted from domain values at the edge.

use chrono::{DateTime, SecondsFormat, Utc};
use krafter_domain::export::Report;
use krafter_domain::ledger::{Finding, Regression, Verification};
use krafter_domain::metrics::Summary;
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339 in UTC with a `Z`, with as many fractional digits as the instant has.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDto {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    #[schema(example = "high")]
    pub severity: &'static str,
    #[schema(minimum = 0, maximum = 1000)]
    pub priority_score: i32,
    #[schema(example = "new")]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the latest change occurred.
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<&Finding> for FindingDto {
    fn from(f: &Finding) -> Self {
        Self {
            id: f.id.to_string(),
            title: f.title.as_str().to_owned(),
            severity: f.severity.as_str(),
            priority_score: f.state.priority_score.get(),
            status: f.state.status.as_str(),
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub finding_id: String,
    #[schema(example = "passed")]
    pub result: &'static str,
    #[schema(format = DateTime)]
    pub occurred_at: String,
}

impl From<&Verification> for VerificationDto {
    fn from(v: &Verification) -> Self {
        Self {
            id: v.id.to_string(),
            finding_id: v.finding_id.to_string(),
            result: v.result.as_str(),
            occurred_at: rfc3339(v.occurred_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RegressionDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub finding_id: String,
    #[schema(example = "open")]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub opened_at: String,
    #[schema(format = DateTime)]
    pub closed_at: Option<String>,
}

impl From<&Regression> for RegressionDto {
    fn from(r: &Regression) -> Self {
        Self {
            id: r.id.to_string(),
            finding_id: r.finding_id.to_string(),
            status: r.status().as_str(),
            opened_at: rfc3339(r.opened_at),
            closed_at: r.closed_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BurnDownPointDto {
    #[schema(format = Date, example = "2025-06-10")]
    pub date: String,
    pub open_risk_score: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryDto {
    /// One point per day of the window, oldest first.
    pub risk_burn_down: Vec<BurnDownPointDto>,
    #[schema(minimum = 0, maximum = 1)]
    pub verification_pass_rate: f64,
    #[schema(minimum = 0, maximum = 1)]
    pub regression_rate: f64,
    pub open_findings: i64,
}

impl From<&Summary> for SummaryDto {
    fn from(s: &Summary) -> Self {
        Self {
            risk_burn_down: s
                .risk_burn_down
                .iter()
                .map(|p| BurnDownPointDto {
                    date: p.date.format("%Y-%m-%d").to_string(),
                    open_risk_score: p.open_risk_score,
                })
                .collect(),
            verification_pass_rate: s.verification_pass_rate,
            regression_rate: s.regression_rate,
            open_findings: s.open_findings,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusDto {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// A report as the spec shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub org_id: String,
    /// The project's slug.
    pub project_id: String,
    #[schema(format = Date)]
    pub period_start: String,
    #[schema(format = Date)]
    pub period_end: String,
    #[schema(example = "pdf")]
    pub format: &'static str,
    /// `queued`, `exporting`, `exported`, `shared` or `failed`.
    #[schema(example = "queued")]
    pub status: &'static str,
    /// The summary over the period, captured when the export was requested.
    pub snapshot: SummaryDto,
    #[schema(format = DateTime)]
    pub exported_at: Option<String>,
    #[schema(format = DateTime)]
    pub shared_at: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl ReportDto {
    pub fn new(report: &Report, project_slug: &str) -> Self {
        Self {
            id: report.id.to_string(),
            org_id: report.org_id.to_string(),
            project_id: project_slug.to_owned(),
            period_start: report.period_start.to_string(),
            period_end: report.period_end.to_string(),
            format: report.format.as_str(),
            status: report.status.as_str(),
            snapshot: SummaryDto::from(&report.snapshot),
            exported_at: report.exported_at.map(rfc3339),
            shared_at: report.shared_at.map(rfc3339),
            created_at: rfc3339(report.created_at),
            updated_at: rfc3339(report.updated_at),
        }
    }
}

/// A report with what a poller needs: why it failed, or where to download it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReportDetailDto {
    #[serde(flatten)]
    pub report: ReportDto,
    /// Why the export failed; null otherwise.
    pub error: Option<String>,
    /// Where the artefact can be downloaded, once exported; null otherwise.
    pub download_url: Option<String>,
}
