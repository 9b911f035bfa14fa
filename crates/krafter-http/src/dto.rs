//! What the API sends back, converted from domain values at the edge.

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use krafter_domain::export::Report;
use krafter_domain::ledger::{
    Finding, FindingDetail, FindingState, Regression, Severity, Verification,
};
use krafter_domain::metrics::remediation::{
    AgingCounts, BySeverity, Granularity, RemediationMetrics, RemediationReport, SlaPolicy,
};
use krafter_domain::metrics::Summary;
use krafter_domain::share::{Delivery, DeliveryStatus, Share, ShareChannel, Shared};
use serde::Serialize;
use utoipa::ToSchema;

/// RFC 3339 in UTC with a `Z`, with as many fractional digits as the instant has.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A finding's severity.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only: the values are the domain's `as_str`
pub enum SeverityDto {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

/// A finding's status; `resolved` and `dismissed` are terminal.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum FindingStatusDto {
    New,
    Triaged,
    InProgress,
    ReadyVerify,
    Resolved,
    Dismissed,
}

/// A regression's status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum RegressionStatusDto {
    Open,
    Closed,
}

/// The result of a verification.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum VerificationResultDto {
    Failed,
    Passed,
}

/// The format of an export.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ExportFormatDto {
    Pdf,
    Csv,
    Json,
    Html,
}

/// A report's status.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)]
pub enum ReportStatusDto {
    Queued,
    Exporting,
    Exported,
    Shared,
    Failed,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDto {
    #[schema(format = Uuid)]
    pub id: String,
    pub title: String,
    #[schema(value_type = SeverityDto)]
    pub severity: &'static str,
    #[schema(minimum = 0, maximum = 1000)]
    pub priority_score: i32,
    #[schema(value_type = FindingStatusDto)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When the latest change occurred.
    #[schema(format = DateTime)]
    pub updated_at: String,
    /// The UTC date by which it should be resolved: its creation date plus its severity's days
    /// under the SLA policy in force when it was created; `null` when that policy gave its
    /// severity no SLA. Never changes.
    pub due_on: Option<NaiveDate>,
    /// The tool that reported it (an import's `source`); `null` for a finding recorded by hand.
    #[schema(min_length = 1, max_length = 100)]
    pub source: Option<String>,
    /// The result's identity within its source, unique per project and source; `null` with
    /// `source`.
    #[schema(min_length = 1, max_length = 500)]
    pub external_id: Option<String>,
    /// The scanner's rule.
    #[schema(min_length = 1, max_length = 500)]
    pub rule_id: Option<String>,
    /// Where in the code: `path:line`, or a path.
    #[schema(min_length = 1, max_length = 2000)]
    pub location: Option<String>,
    /// The scanner's whole message.
    #[schema(min_length = 1, max_length = 10000)]
    pub description: Option<String>,
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
            due_on: f.due_on,
            source: f.provenance.source().map(|s| s.as_str().to_owned()),
            external_id: f.provenance.external_id().map(|e| e.as_str().to_owned()),
            rule_id: f.provenance.rule_id.as_ref().map(|r| r.as_str().to_owned()),
            location: f
                .provenance
                .location
                .as_ref()
                .map(|l| l.as_str().to_owned()),
            description: f
                .provenance
                .description
                .as_ref()
                .map(|d| d.as_str().to_owned()),
        }
    }
}

/// One event of a finding's history: its creation or a change of status or priority score, with
/// the state it led to.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingEventDto {
    #[schema(value_type = FindingStatusDto)]
    pub status: &'static str,
    #[schema(minimum = 0, maximum = 1000)]
    pub priority_score: i32,
    #[schema(format = DateTime)]
    pub occurred_at: String,
}

impl From<&(DateTime<Utc>, FindingState)> for FindingEventDto {
    fn from((at, state): &(DateTime<Utc>, FindingState)) -> Self {
        Self {
            status: state.status.as_str(),
            priority_score: state.priority_score.get(),
            occurred_at: rfc3339(*at),
        }
    }
}

/// A finding with everything recorded about it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FindingDetailDto {
    #[serde(flatten)]
    pub finding: FindingDto,
    /// Oldest first; the first event is the creation.
    pub history: Vec<FindingEventDto>,
    /// Oldest first.
    pub verifications: Vec<VerificationDto>,
    /// Oldest first by `opened_at`.
    pub regressions: Vec<RegressionDto>,
}

impl From<&FindingDetail> for FindingDetailDto {
    fn from(d: &FindingDetail) -> Self {
        Self {
            finding: FindingDto::from(&d.finding),
            history: d.history.iter().map(FindingEventDto::from).collect(),
            verifications: d.verifications.iter().map(VerificationDto::from).collect(),
            regressions: d.regressions.iter().map(RegressionDto::from).collect(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct VerificationDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub finding_id: String,
    #[schema(value_type = VerificationResultDto)]
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
    #[schema(value_type = RegressionStatusDto)]
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
    // Serialised by chrono as YYYY-MM-DD straight into the body: no format string parsed and no
    // string allocated per point (a 366-day summary has 366 of them).
    #[schema(value_type = String, format = Date, example = "2025-06-10")]
    pub date: NaiveDate,
    pub open_risk_score: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SummaryDto {
    /// One point per day of the window, oldest first.
    pub risk_burn_down: Vec<BurnDownPointDto>,
    #[schema(minimum = 0, maximum = 1)]
    pub verification_pass_rate: f64,
    /// The share of closed findings that came back: findings in a terminal status (resolved or
    /// dismissed) with at least one open regression, over findings in a terminal status, at the
    /// end of `date_to` (today: now). Each finding counts once however many regressions it has;
    /// regressions on open findings do not count. 0 when no finding is terminal.
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
                    date: p.date,
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
    #[schema(value_type = ExportFormatDto)]
    pub format: &'static str,
    #[schema(value_type = ReportStatusDto)]
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
    /// The lower-case hex SHA-256 of the artefact, once exported: a downloaded file is the one
    /// the service produced when its hash is this. Null before (and for artefacts made before
    /// reports were hashed).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: Option<String>,
    /// The version of the metric definitions the report's figures follow (docs/metrics.md), so
    /// that they can be recomputed from the history under the same rules.
    #[schema(minimum = 1)]
    pub definitions_version: u32,
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
            sha256: report.artefact.as_ref().and_then(|a| a.sha256.clone()),
            definitions_version: report.definitions_version,
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

/// The answer to a share, in the spec's shape, with `share_id` and `expires_at` beyond it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareDto {
    /// The shared report's id.
    #[schema(format = Uuid)]
    pub id: String,
    pub channel: ShareChannelDto,
    /// The email addresses for `email`; empty otherwise.
    pub recipients: Vec<String>,
    #[schema(format = DateTime)]
    pub shared_at: String,
    /// The signed viewer link, for `link`; null otherwise.
    pub share_url: Option<String>,
    /// The share record: to revoke a link, and to find its deliveries.
    #[schema(format = Uuid)]
    pub share_id: String,
    /// When the link stops working, for `link`; null otherwise.
    #[schema(format = DateTime)]
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ShareChannelDto {
    Email,
    Slack,
    Link,
}

impl From<ShareChannel> for ShareChannelDto {
    fn from(c: ShareChannel) -> Self {
        match c {
            ShareChannel::Email => Self::Email,
            ShareChannel::Slack => Self::Slack,
            ShareChannel::Link => Self::Link,
        }
    }
}

impl From<&Shared> for ShareDto {
    fn from(s: &Shared) -> Self {
        let link = s.share.channel == ShareChannel::Link;
        Self {
            id: s.report.id.to_string(),
            channel: s.share.channel.into(),
            recipients: s.share.recipients.clone(),
            shared_at: rfc3339(s.report.shared_at.unwrap_or(s.share.created_at)),
            share_url: s.share_url.clone(),
            share_id: s.share.id.to_string(),
            expires_at: link.then(|| rfc3339(s.share.expires_at)),
        }
    }
}

/// A share record of a report.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShareRecordDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub report_id: String,
    pub channel: ShareChannelDto,
    pub recipients: Vec<String>,
    /// The Slack webhook's host (never its path), for `slack`.
    pub webhook_host: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// When links to this share stop working.
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(format = DateTime)]
    pub revoked_at: Option<String>,
    /// How often the viewer page was opened through this share's links.
    #[schema(minimum = 0)]
    pub view_count: u64,
    #[schema(format = DateTime)]
    pub last_viewed_at: Option<String>,
}

impl From<&Share> for ShareRecordDto {
    fn from(s: &Share) -> Self {
        Self {
            id: s.id.to_string(),
            report_id: s.report_id.to_string(),
            channel: s.channel.into(),
            recipients: s.recipients.clone(),
            webhook_host: s.webhook_host.clone(),
            created_at: rfc3339(s.created_at),
            expires_at: rfc3339(s.expires_at),
            revoked_at: s.revoked_at.map(rfc3339),
            view_count: s.view_count,
            last_viewed_at: s.last_viewed_at.map(rfc3339),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DeliveryStatusDto {
    Pending,
    Sending,
    Delivered,
    Failed,
}

/// One message of an email or Slack share, and what became of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryDto {
    #[schema(format = Uuid)]
    pub id: String,
    #[schema(format = Uuid)]
    pub share_id: String,
    pub channel: ShareChannelDto,
    /// The email address, or the webhook's host (its path is a secret and is never shown).
    pub target: String,
    pub status: DeliveryStatusDto,
    /// Send attempts so far.
    #[schema(minimum = 0)]
    pub attempts: u32,
    /// The remote side's last answer (an SMTP reply, an HTTP status) or a short description.
    pub last_error: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
    #[schema(format = DateTime)]
    pub delivered_at: Option<String>,
}

impl From<&Delivery> for DeliveryDto {
    fn from(d: &Delivery) -> Self {
        Self {
            id: d.id.to_string(),
            share_id: d.share_id.to_string(),
            channel: d.target.channel().into(),
            target: d.target.display(),
            status: match d.status {
                DeliveryStatus::Pending => DeliveryStatusDto::Pending,
                DeliveryStatus::Sending => DeliveryStatusDto::Sending,
                DeliveryStatus::Delivered => DeliveryStatusDto::Delivered,
                DeliveryStatus::Failed => DeliveryStatusDto::Failed,
            },
            attempts: d.attempts,
            last_error: d.last_error.clone(),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
            delivered_at: d.delivered_at.map(rfc3339),
        }
    }
}

/// The artefact of a `json` export, as its download answers it: the report's header, the summary
/// over its period as captured when it was requested, and the findings open at the end of
/// `period_end` (each as it was then), highest priority first (see docs/exports.md).
#[derive(Debug, ToSchema)]
#[allow(dead_code)] // a schema only: krafter-render writes the document
pub struct JsonExportDto {
    pub report: JsonExportReportDto,
    pub summary: SummaryDto,
    pub findings: Vec<FindingDto>,
}

/// The header of a `json` export.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct JsonExportReportDto {
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
    #[schema(format = DateTime)]
    pub generated_at: String,
}

/// Times to resolve of the `resolved` events counted, in hours.
#[derive(Debug, Serialize, ToSchema)]
pub struct TimeToResolveDto {
    #[schema(minimum = 1)]
    pub count: i64,
    /// The exact mean.
    #[schema(minimum = 0)]
    pub mean: f64,
    /// Nearest-rank median, within 2 % of the exact value.
    #[schema(minimum = 0)]
    pub p50: f64,
    /// Nearest-rank 90th percentile, within 2 % of the exact value.
    #[schema(minimum = 0)]
    pub p90: f64,
}

/// The figures of one severity (or of all) over one bucket or the whole window.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemediationMetricsDto {
    /// Findings created, in any status.
    #[schema(minimum = 0)]
    pub opened: i64,
    /// Changes from a closed status (resolved, dismissed) to an open one.
    #[schema(minimum = 0)]
    pub reopened: i64,
    /// Changes from an open status to `resolved`, and creations in `resolved`.
    #[schema(minimum = 0)]
    pub resolved: i64,
    /// Changes from an open status to `dismissed`, and creations in `dismissed`.
    #[schema(minimum = 0)]
    pub dismissed: i64,
    /// Resolved on or before the finding's due date; null for a severity without an SLA.
    #[schema(minimum = 0)]
    pub resolved_within_sla: Option<i64>,
    /// Null when nothing was resolved.
    pub time_to_resolve_hours: Option<TimeToResolveDto>,
    /// Findings open at the end of the period's last day.
    #[schema(minimum = 0)]
    pub open_at_end: i64,
    /// Open findings past their due date at the end of the period's last day.
    #[schema(minimum = 0)]
    pub overdue_at_end: i64,
}

/// One value per severity.
#[derive(Debug, Serialize, ToSchema)]
pub struct MetricsBySeverityDto {
    pub critical: RemediationMetricsDto,
    pub high: RemediationMetricsDto,
    pub medium: RemediationMetricsDto,
    pub low: RemediationMetricsDto,
    pub info: RemediationMetricsDto,
}

/// One bucket of the window (the first and last clipped to it).
#[derive(Debug, Serialize, ToSchema)]
pub struct RemediationBucketDto {
    #[schema(value_type = String, format = Date, example = "2026-03-02")]
    pub start: NaiveDate,
    #[schema(value_type = String, format = Date, example = "2026-03-08")]
    pub end: NaiveDate,
    pub by_severity: MetricsBySeverityDto,
    pub all: RemediationMetricsDto,
}

/// The whole window: flows summed, `*_at_end` as of `date_to`.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemediationTotalDto {
    pub by_severity: MetricsBySeverityDto,
    pub all: RemediationMetricsDto,
}

/// Open findings per age in days (the end of `date_to` minus the day of creation).
#[derive(Debug, Serialize, ToSchema)]
pub struct AgingDto {
    #[serde(rename = "0-7")]
    #[schema(minimum = 0)]
    pub up_to_7: i64,
    #[serde(rename = "8-30")]
    #[schema(minimum = 0)]
    pub up_to_30: i64,
    #[serde(rename = "31-90")]
    #[schema(minimum = 0)]
    pub up_to_90: i64,
    #[serde(rename = "91-180")]
    #[schema(minimum = 0)]
    pub up_to_180: i64,
    #[serde(rename = "181+")]
    #[schema(minimum = 0)]
    pub over_180: i64,
}

/// Open findings per age bucket at the end of `date_to`, per severity and for all.
#[derive(Debug, Serialize, ToSchema)]
pub struct AgingAtEndDto {
    pub critical: AgingDto,
    pub high: AgingDto,
    pub medium: AgingDto,
    pub low: AgingDto,
    pub info: AgingDto,
    pub all: AgingDto,
}

/// Days to resolve per severity; null: no SLA.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaDaysDto {
    #[schema(minimum = 1, maximum = 3650)]
    pub critical: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub high: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub medium: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub low: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub info: Option<i64>,
}

/// How the window is split.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum GranularityDto {
    Day,
    Week,
    Month,
}

/// Flow, time to resolve, SLA, overdue and aging by severity over a window.
#[derive(Debug, Serialize, ToSchema)]
pub struct RemediationDto {
    #[schema(value_type = String, format = Date, example = "2026-01-01")]
    pub date_from: NaiveDate,
    #[schema(value_type = String, format = Date, example = "2026-03-31")]
    pub date_to: NaiveDate,
    pub granularity: GranularityDto,
    /// The SLA policy in force at the end of `date_to`.
    pub sla_days: SlaDaysDto,
    /// Oldest first, covering the window.
    pub buckets: Vec<RemediationBucketDto>,
    pub total: RemediationTotalDto,
    pub aging_at_end: AgingAtEndDto,
    /// Resolved within SLA over resolved (severities with an SLA, whole window); null when none.
    #[schema(minimum = 0, maximum = 1)]
    pub sla_compliance: Option<f64>,
}

impl From<&RemediationMetrics> for RemediationMetricsDto {
    fn from(m: &RemediationMetrics) -> Self {
        Self {
            opened: m.opened,
            reopened: m.reopened,
            resolved: m.resolved,
            dismissed: m.dismissed,
            resolved_within_sla: m.resolved_within_sla,
            time_to_resolve_hours: m.time_to_resolve_hours.map(|t| TimeToResolveDto {
                count: t.count,
                mean: t.mean,
                p50: t.p50,
                p90: t.p90,
            }),
            open_at_end: m.open_at_end,
            overdue_at_end: m.overdue_at_end,
        }
    }
}

impl From<&BySeverity<RemediationMetrics>> for MetricsBySeverityDto {
    fn from(b: &BySeverity<RemediationMetrics>) -> Self {
        Self {
            critical: (&b.critical).into(),
            high: (&b.high).into(),
            medium: (&b.medium).into(),
            low: (&b.low).into(),
            info: (&b.info).into(),
        }
    }
}

impl From<&AgingCounts> for AgingDto {
    fn from(a: &AgingCounts) -> Self {
        Self {
            up_to_7: a.up_to_7,
            up_to_30: a.up_to_30,
            up_to_90: a.up_to_90,
            up_to_180: a.up_to_180,
            over_180: a.over_180,
        }
    }
}

impl From<&SlaPolicy> for SlaDaysDto {
    fn from(p: &SlaPolicy) -> Self {
        let days = |s| p.days(s).map(i64::from);
        Self {
            critical: days(Severity::Critical),
            high: days(Severity::High),
            medium: days(Severity::Medium),
            low: days(Severity::Low),
            info: days(Severity::Info),
        }
    }
}

impl From<&RemediationReport> for RemediationDto {
    fn from(r: &RemediationReport) -> Self {
        let aging = &r.aging_at_end;
        Self {
            date_from: r.date_from,
            date_to: r.date_to,
            granularity: match r.granularity {
                Granularity::Day => GranularityDto::Day,
                Granularity::Week => GranularityDto::Week,
                Granularity::Month => GranularityDto::Month,
            },
            sla_days: (&r.sla_days).into(),
            buckets: r
                .buckets
                .iter()
                .map(|b| RemediationBucketDto {
                    start: b.start,
                    end: b.end,
                    by_severity: (&b.by_severity).into(),
                    all: (&b.all).into(),
                })
                .collect(),
            total: RemediationTotalDto {
                by_severity: (&r.total.by_severity).into(),
                all: (&r.total.all).into(),
            },
            aging_at_end: AgingAtEndDto {
                critical: (&aging.by_severity.critical).into(),
                high: (&aging.by_severity.high).into(),
                medium: (&aging.by_severity.medium).into(),
                low: (&aging.by_severity.low).into(),
                info: (&aging.by_severity.info).into(),
                all: (&aging.all).into(),
            },
            sla_compliance: r.sla_compliance,
        }
    }
}

/// An SLA policy: days to resolve per severity (null: none), and when it took effect.
#[derive(Debug, Serialize, ToSchema)]
pub struct SlaPolicyDto {
    #[schema(minimum = 1, maximum = 3650)]
    pub critical: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub high: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub medium: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub low: Option<i64>,
    #[schema(minimum = 1, maximum = 3650)]
    pub info: Option<i64>,
    /// When it took effect (RFC 3339, UTC); null for the default of an organisation that never
    /// stored a policy.
    #[schema(format = DateTime)]
    pub effective_from: Option<String>,
}

impl SlaPolicyDto {
    pub fn new(policy: &SlaPolicy, effective_from: Option<DateTime<Utc>>) -> Self {
        let days = SlaDaysDto::from(policy);
        Self {
            critical: days.critical,
            high: days.high,
            medium: days.medium,
            low: days.low,
            info: days.info,
            effective_from: effective_from.map(rfc3339),
        }
    }
}
