//! Row structs (private to the crate) and their conversions to and from domain values.
//!
//! A stored value that no version of the domain could have written (an unknown status code, a
//! hash of the wrong length, ...) comes back as a `StorageError`, never as a panic.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::prelude::*;
use krafter_domain::access::{ApiKey, KeyHash, KeyPrefix, Scopes};
use krafter_domain::export::{
    Artefact, ExportFormat, QuotaMonth, Report, ReportFinding, ReportId, ReportStatus,
};
use krafter_domain::ids::{ApiKeyId, FindingId, OrgId, ProjectId, RegressionId, VerificationId};
use krafter_domain::ledger::{
    Description, ExternalId, Finding, FindingState, FindingStatus, FindingTitle, Location,
    PriorityScore, Provenance, Regression, RuleId, ScanOrigin, Severity, SourceName, Verification,
    VerificationResult,
};
use krafter_domain::metrics::DayDelta;
use krafter_domain::organisation::Organisation;
use krafter_domain::project::{Project, ProjectSlug};
use krafter_domain::share::{
    Delivery, DeliveryId, DeliveryStatus, DeliveryTarget, EmailAddress, Share, ShareChannel,
    ShareId, WebhookUrl,
};
use krafter_domain::storage::StorageError;
use uuid::Uuid;

use crate::schema::{
    api_keys, deliveries, finding_events, findings, organisations, project_daily_totals, projects,
    regressions, reports, shares, verifications,
};

fn corrupt(what: &str) -> StorageError {
    crate::store::storage_error(format!("unexpected stored value: {what}"))
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = organisations, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrganisationRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Organisation> for OrganisationRow {
    fn from(o: &Organisation) -> Self {
        Self {
            id: o.id.as_uuid(),
            name: o.name.clone(),
            created_at: o.created_at,
        }
    }
}

impl From<OrganisationRow> for Organisation {
    fn from(row: OrganisationRow) -> Self {
        Self {
            id: OrgId::from_uuid(row.id),
            name: row.name,
            created_at: row.created_at,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = projects, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ProjectRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub slug: String,
    pub name: String,
    pub created_at: DateTime<Utc>,
}

impl From<&Project> for ProjectRow {
    fn from(p: &Project) -> Self {
        Self {
            id: p.id.as_uuid(),
            org_id: p.org_id.as_uuid(),
            slug: p.slug.as_str().to_owned(),
            name: p.name.clone(),
            created_at: p.created_at,
        }
    }
}

impl TryFrom<ProjectRow> for Project {
    type Error = StorageError;

    fn try_from(row: ProjectRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: ProjectId::from_uuid(row.id),
            org_id: OrgId::from_uuid(row.org_id),
            slug: ProjectSlug::parse(&row.slug).map_err(|_| corrupt("project slug"))?,
            name: row.name,
            created_at: row.created_at,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ApiKeyRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub name: String,
    pub prefix: String,
    pub key_hash: Vec<u8>,
    pub scopes: i16,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub last_used_at: Option<DateTime<Utc>>,
}

impl From<&ApiKey> for ApiKeyRow {
    fn from(k: &ApiKey) -> Self {
        Self {
            id: k.id.as_uuid(),
            org_id: k.org_id.as_uuid(),
            name: k.name.clone(),
            prefix: k.prefix.as_str().to_owned(),
            key_hash: k.hash.as_bytes().to_vec(),
            scopes: k.scopes.bits(),
            created_at: k.created_at,
            revoked_at: k.revoked_at,
            last_used_at: k.last_used_at,
        }
    }
}

impl TryFrom<ApiKeyRow> for ApiKey {
    type Error = StorageError;

    fn try_from(row: ApiKeyRow) -> Result<Self, StorageError> {
        let hash: [u8; 32] = row
            .key_hash
            .try_into()
            .map_err(|_| corrupt("API key hash length"))?;
        Ok(Self {
            id: ApiKeyId::from_uuid(row.id),
            org_id: OrgId::from_uuid(row.org_id),
            name: row.name,
            prefix: KeyPrefix::parse(&row.prefix).map_err(|_| corrupt("API key prefix"))?,
            hash: KeyHash::from_bytes(hash),
            scopes: Scopes::from_bits(row.scopes).ok_or_else(|| corrupt("API key scopes"))?,
            created_at: row.created_at,
            revoked_at: row.revoked_at,
            last_used_at: row.last_used_at,
        })
    }
}

pub(crate) fn status(code: i16) -> Result<FindingStatus, StorageError> {
    FindingStatus::from_code(code).ok_or_else(|| corrupt("finding status"))
}

pub(crate) fn state(status_code: i16, priority: i32) -> Result<FindingState, StorageError> {
    Ok(FindingState {
        status: status(status_code)?,
        priority_score: PriorityScore::parse(i64::from(priority))
            .map_err(|_| corrupt("priority score"))?,
    })
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = findings, check_for_backend(diesel::pg::Pg))]
pub(crate) struct FindingRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub severity: i16,
    pub status: i16,
    pub priority_score: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub due_on: Option<NaiveDate>,
    pub source: Option<String>,
    pub external_id: Option<String>,
    pub rule_id: Option<String>,
    pub location: Option<String>,
    pub description: Option<String>,
}

impl FindingRow {
    pub fn new(project: ProjectId, f: &Finding) -> Self {
        Self {
            id: f.id.as_uuid(),
            project_id: project.as_uuid(),
            title: f.title.as_str().to_owned(),
            severity: f.severity.code(),
            status: f.state.status.code(),
            priority_score: f.state.priority_score.get(),
            created_at: f.created_at,
            updated_at: f.updated_at,
            due_on: f.due_on,
            source: f.provenance.source().map(|s| s.as_str().to_owned()),
            external_id: f.provenance.external_id().map(|s| s.as_str().to_owned()),
            rule_id: f.provenance.rule_id.as_ref().map(|s| s.as_str().to_owned()),
            location: f
                .provenance
                .location
                .as_ref()
                .map(|s| s.as_str().to_owned()),
            description: f
                .provenance
                .description
                .as_ref()
                .map(|s| s.as_str().to_owned()),
        }
    }
}

/// Reads a finding's stored provenance columns.
pub(crate) fn provenance(
    source: Option<String>,
    external_id: Option<String>,
    rule_id: Option<String>,
    location: Option<String>,
    description: Option<String>,
) -> Result<Provenance, StorageError> {
    let origin = match (source, external_id) {
        (Some(source), Some(external_id)) => Some(ScanOrigin {
            source: SourceName::parse(&source).map_err(|_| corrupt("finding source"))?,
            external_id: ExternalId::parse(&external_id)
                .map_err(|_| corrupt("finding external id"))?,
        }),
        (None, None) => None,
        _ => return Err(corrupt("finding source without external id")),
    };
    Ok(Provenance {
        origin,
        rule_id: rule_id
            .map(|r| RuleId::parse(&r))
            .transpose()
            .map_err(|_| corrupt("finding rule id"))?,
        location: location
            .map(|l| Location::parse(&l))
            .transpose()
            .map_err(|_| corrupt("finding location"))?,
        description: description
            .map(|d| Description::parse(&d))
            .transpose()
            .map_err(|_| corrupt("finding description"))?,
    })
}

impl TryFrom<FindingRow> for Finding {
    type Error = StorageError;

    fn try_from(row: FindingRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: FindingId::from_uuid(row.id),
            title: FindingTitle::parse(&row.title).map_err(|_| corrupt("finding title"))?,
            severity: Severity::from_code(row.severity).ok_or_else(|| corrupt("severity"))?,
            state: state(row.status, row.priority_score)?,
            created_at: row.created_at,
            updated_at: row.updated_at,
            due_on: row.due_on,
            provenance: provenance(
                row.source,
                row.external_id,
                row.rule_id,
                row.location,
                row.description,
            )?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = finding_events, check_for_backend(diesel::pg::Pg))]
pub(crate) struct FindingEventRow {
    pub finding_id: Uuid,
    pub seq: i32,
    pub occurred_at: DateTime<Utc>,
    pub status: i16,
    pub priority_score: i32,
}

impl FindingEventRow {
    pub fn new(finding: FindingId, seq: i32, at: DateTime<Utc>, state: FindingState) -> Self {
        Self {
            finding_id: finding.as_uuid(),
            seq,
            occurred_at: at,
            status: state.status.code(),
            priority_score: state.priority_score.get(),
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = verifications, check_for_backend(diesel::pg::Pg))]
pub(crate) struct VerificationRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub finding_id: Uuid,
    pub result: i16,
    pub occurred_at: DateTime<Utc>,
}

impl VerificationRow {
    pub fn new(project: ProjectId, v: &Verification) -> Self {
        Self {
            id: v.id.as_uuid(),
            project_id: project.as_uuid(),
            finding_id: v.finding_id.as_uuid(),
            result: v.result.code(),
            occurred_at: v.occurred_at,
        }
    }
}

impl TryFrom<VerificationRow> for Verification {
    type Error = StorageError;

    fn try_from(row: VerificationRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: VerificationId::from_uuid(row.id),
            finding_id: FindingId::from_uuid(row.finding_id),
            result: VerificationResult::from_code(row.result)
                .ok_or_else(|| corrupt("verification result"))?,
            occurred_at: row.occurred_at,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = regressions, check_for_backend(diesel::pg::Pg))]
pub(crate) struct RegressionRow {
    pub id: Uuid,
    pub project_id: Uuid,
    pub finding_id: Uuid,
    pub opened_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
}

impl RegressionRow {
    pub fn new(project: ProjectId, r: &Regression) -> Self {
        Self {
            id: r.id.as_uuid(),
            project_id: project.as_uuid(),
            finding_id: r.finding_id.as_uuid(),
            opened_at: r.opened_at,
            closed_at: r.closed_at,
        }
    }
}

impl From<RegressionRow> for Regression {
    fn from(row: RegressionRow) -> Self {
        Self {
            id: RegressionId::from_uuid(row.id),
            finding_id: FindingId::from_uuid(row.finding_id),
            opened_at: row.opened_at,
            closed_at: row.closed_at,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = project_daily_totals, check_for_backend(diesel::pg::Pg))]
pub(crate) struct DailyTotalRow {
    pub project_id: Uuid,
    pub day: NaiveDate,
    pub open_risk_score: i64,
    pub open_findings: i64,
    pub terminal_findings: i64,
    pub open_regressions: i64,
    pub verifications: i64,
    pub verifications_passed: i64,
    pub returned_findings: i64,
}

impl DailyTotalRow {
    pub fn new(project: ProjectId, day: NaiveDate, d: DayDelta) -> Self {
        Self {
            project_id: project.as_uuid(),
            day,
            open_risk_score: d.open_risk_score,
            open_findings: d.open_findings,
            terminal_findings: d.terminal_findings,
            open_regressions: d.open_regressions,
            verifications: d.verifications,
            verifications_passed: d.verifications_passed,
            returned_findings: d.returned_findings,
        }
    }

    pub fn delta(&self) -> DayDelta {
        DayDelta {
            open_risk_score: self.open_risk_score,
            open_findings: self.open_findings,
            terminal_findings: self.terminal_findings,
            open_regressions: self.open_regressions,
            verifications: self.verifications,
            verifications_passed: self.verifications_passed,
            returned_findings: self.returned_findings,
        }
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = reports, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ReportRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub project_id: Uuid,
    pub period_start: NaiveDate,
    pub period_end: NaiveDate,
    pub format: i16,
    pub status: i16,
    pub snapshot: serde_json::Value,
    pub error: Option<String>,
    pub artefact_key: Option<String>,
    pub artefact_size: Option<i64>,
    pub quota_month: NaiveDate,
    pub exported_at: Option<DateTime<Utc>>,
    pub shared_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub remediation: Option<serde_json::Value>,
    pub definitions_version: i32,
    pub artefact_sha256: Option<String>,
}

impl ReportRow {
    /// The row of a new report whose unit is charged to `month` (never refunded yet).
    pub fn new(r: &Report, month: QuotaMonth) -> Result<Self, StorageError> {
        Ok(Self {
            id: r.id.as_uuid(),
            org_id: r.org_id.as_uuid(),
            project_id: r.project_id.as_uuid(),
            period_start: r.period_start,
            period_end: r.period_end,
            format: r.format.code(),
            status: r.status.code(),
            snapshot: crate::snapshot::StoredSnapshot::to_json(&r.snapshot)?,
            error: r.error.clone(),
            artefact_key: r.artefact.as_ref().map(|a| a.key.clone()),
            artefact_size: r
                .artefact
                .as_ref()
                .map(|a| i64::try_from(a.size_bytes))
                .transpose()
                .map_err(crate::store::storage_error)?,
            quota_month: month.first_day(),
            exported_at: r.exported_at,
            shared_at: r.shared_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
            remediation: r
                .remediation
                .as_ref()
                .map(serde_json::to_value)
                .transpose()
                .map_err(crate::store::storage_error)?,
            definitions_version: i32::try_from(r.definitions_version)
                .map_err(crate::store::storage_error)?,
            artefact_sha256: r.artefact.as_ref().and_then(|a| a.sha256.clone()),
        })
    }
}

impl TryFrom<ReportRow> for Report {
    type Error = StorageError;

    fn try_from(row: ReportRow) -> Result<Self, StorageError> {
        let artefact = match (row.artefact_key, row.artefact_size) {
            (Some(key), Some(size)) => Some(Artefact {
                key,
                size_bytes: u64::try_from(size).map_err(|_| corrupt("artefact size"))?,
                sha256: row.artefact_sha256,
            }),
            (None, None) => None,
            _ => return Err(corrupt("artefact")),
        };
        Ok(Self {
            id: ReportId::from_uuid(row.id),
            org_id: OrgId::from_uuid(row.org_id),
            project_id: ProjectId::from_uuid(row.project_id),
            period_start: row.period_start,
            period_end: row.period_end,
            format: ExportFormat::from_code(row.format).ok_or_else(|| corrupt("export format"))?,
            status: ReportStatus::from_code(row.status).ok_or_else(|| corrupt("report status"))?,
            snapshot: crate::snapshot::StoredSnapshot::read(row.snapshot)?,
            remediation: row
                .remediation
                .map(serde_json::from_value)
                .transpose()
                .map_err(|_| corrupt("report remediation"))?,
            definitions_version: u32::try_from(row.definitions_version)
                .map_err(|_| corrupt("definitions version"))?,
            error: row.error,
            artefact,
            exported_at: row.exported_at,
            shared_at: row.shared_at,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The stored codes of the states a report may move to `target` from (the domain's table).
pub(crate) fn report_sources(target: ReportStatus) -> Vec<i16> {
    ReportStatus::sources_of(target)
        .iter()
        .map(|s| s.code())
        .collect()
}

/// A finding as a report lists it, read by name from the report cursor.
#[derive(QueryableByName)]
pub(crate) struct ReportFindingRow {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pub id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Text)]
    pub title: String,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    pub severity: i16,
    #[diesel(sql_type = diesel::sql_types::SmallInt)]
    pub status: i16,
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pub priority_score: i32,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub created_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Timestamptz)]
    pub updated_at: DateTime<Utc>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Date>)]
    pub due_on: Option<NaiveDate>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub source: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub external_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub rule_id: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub location: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    pub description: Option<String>,
}

impl TryFrom<ReportFindingRow> for ReportFinding {
    type Error = StorageError;

    fn try_from(row: ReportFindingRow) -> Result<Self, StorageError> {
        let state = state(row.status, row.priority_score)?;
        Ok(Self {
            id: FindingId::from_uuid(row.id),
            title: row.title,
            severity: Severity::from_code(row.severity).ok_or_else(|| corrupt("severity"))?,
            status: state.status,
            priority_score: state.priority_score.get(),
            created_at: row.created_at,
            updated_at: row.updated_at,
            due_on: row.due_on,
            provenance: provenance(
                row.source,
                row.external_id,
                row.rule_id,
                row.location,
                row.description,
            )?,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = shares, check_for_backend(diesel::pg::Pg))]
pub(crate) struct ShareRow {
    pub id: Uuid,
    pub org_id: Uuid,
    pub project_id: Uuid,
    pub report_id: Uuid,
    pub channel: i16,
    pub recipients: Vec<String>,
    pub webhook_host: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub view_count: i64,
    pub last_viewed_at: Option<DateTime<Utc>>,
}

impl From<&Share> for ShareRow {
    fn from(s: &Share) -> Self {
        Self {
            id: s.id.as_uuid(),
            org_id: s.org_id.as_uuid(),
            project_id: s.project_id.as_uuid(),
            report_id: s.report_id.as_uuid(),
            channel: s.channel.code(),
            recipients: s.recipients.clone(),
            webhook_host: s.webhook_host.clone(),
            created_at: s.created_at,
            expires_at: s.expires_at,
            revoked_at: s.revoked_at,
            view_count: i64::try_from(s.view_count).unwrap_or(i64::MAX),
            last_viewed_at: s.last_viewed_at,
        }
    }
}

impl TryFrom<ShareRow> for Share {
    type Error = StorageError;

    fn try_from(row: ShareRow) -> Result<Self, StorageError> {
        Ok(Self {
            id: ShareId::from_uuid(row.id),
            org_id: OrgId::from_uuid(row.org_id),
            project_id: ProjectId::from_uuid(row.project_id),
            report_id: ReportId::from_uuid(row.report_id),
            channel: ShareChannel::from_code(row.channel)
                .ok_or_else(|| corrupt("share channel"))?,
            recipients: row.recipients,
            webhook_host: row.webhook_host,
            created_at: row.created_at,
            expires_at: row.expires_at,
            revoked_at: row.revoked_at,
            view_count: u64::try_from(row.view_count).map_err(|_| corrupt("view count"))?,
            last_viewed_at: row.last_viewed_at,
        })
    }
}

#[derive(Queryable, Selectable, Insertable)]
#[diesel(table_name = deliveries, check_for_backend(diesel::pg::Pg))]
pub(crate) struct DeliveryRow {
    pub id: Uuid,
    pub share_id: Uuid,
    pub report_id: Uuid,
    pub channel: i16,
    pub target: String,
    pub target_host: Option<String>,
    pub status: i16,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<&Delivery> for DeliveryRow {
    fn from(d: &Delivery) -> Self {
        let (target, target_host) = match &d.target {
            DeliveryTarget::Email(address) => (address.as_str().to_owned(), None),
            DeliveryTarget::Webhook(url) => (url.expose().to_owned(), Some(url.host().to_owned())),
        };
        Self {
            id: d.id.as_uuid(),
            share_id: d.share_id.as_uuid(),
            report_id: d.report_id.as_uuid(),
            channel: d.target.channel().code(),
            target,
            target_host,
            status: d.status.code(),
            attempts: i32::try_from(d.attempts).unwrap_or(i32::MAX),
            last_error: d.last_error.clone(),
            created_at: d.created_at,
            updated_at: d.updated_at,
            delivered_at: d.delivered_at,
        }
    }
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StorageError;

    fn try_from(row: DeliveryRow) -> Result<Self, StorageError> {
        let target = match (ShareChannel::from_code(row.channel), row.target_host) {
            (Some(ShareChannel::Email), None) => DeliveryTarget::Email(
                EmailAddress::parse(&row.target).map_err(|_| corrupt("delivery address"))?,
            ),
            (Some(ShareChannel::Slack), Some(host)) => {
                DeliveryTarget::Webhook(WebhookUrl::vetted(row.target, host))
            }
            _ => return Err(corrupt("delivery target")),
        };
        Ok(Self {
            id: DeliveryId::from_uuid(row.id),
            share_id: ShareId::from_uuid(row.share_id),
            report_id: ReportId::from_uuid(row.report_id),
            target,
            status: DeliveryStatus::from_code(row.status)
                .ok_or_else(|| corrupt("delivery status"))?,
            attempts: u32::try_from(row.attempts).map_err(|_| corrupt("delivery attempts"))?,
            last_error: row.last_error,
            created_at: row.created_at,
            updated_at: row.updated_at,
            delivered_at: row.delivered_at,
        })
    }
}

/// The stored codes of the states a delivery may move to `target` from (the domain's table).
pub(crate) fn delivery_sources(target: DeliveryStatus) -> Vec<i16> {
    DeliveryStatus::sources_of(target)
        .iter()
        .map(|s| s.code())
        .collect()
}
