//! The share use cases: share a report, list and revoke its shares, list its deliveries, and
//! open a shared link in the public viewer.

use std::sync::Arc;

use bytes::Bytes;
use chrono::{DateTime, TimeDelta, Utc};
use futures::stream::BoxStream;

use crate::clock::Clock;
use crate::export::ReportFigures;
use crate::export::{
    preview_key, ArtefactStore, ArtefactStoreError, ExportFormat, ExportRepoError,
    ExportRepository, FindingsPreview, Report, ReportHeader, ReportId, ReportSource, ReportStatus,
    PREVIEW_FINDINGS,
};
use crate::metrics::remediation::{RemediationRepository, REMEDIATION_DEFINITIONS_VERSION};
use crate::metrics::{DateWindow, MetricsRepository};
use crate::project::Project;
use crate::share::delivery::{Delivery, DeliveryId, DeliveryStatus, DeliveryTarget};
use crate::share::ports::{LinkSigner, NewShare, ShareRepoError, ShareRepository, Webhooks};
use crate::share::record::{Share, ShareChannel, ShareId};
use crate::share::request::{ShareRequest, ShareTarget};
use crate::storage::StorageError;
use crate::validation::InvalidParams;

/// The path of the public viewer under the public URL; the token follows it.
pub const VIEWER_PATH: &str = "/insights/audit/reports/shared/";

#[derive(Debug, thiserror::Error)]
pub enum ShareError {
    #[error(transparent)]
    Invalid(#[from] InvalidParams),
    #[error("{0} sharing is not configured on this server")]
    ChannelUnavailable(ShareChannel),
    #[error("no such report in this project")]
    ReportNotFound,
    #[error("the report's export failed; it cannot be shared")]
    ReportFailed,
    #[error("no such share in this project")]
    ShareNotFound,
    #[error("the report could not be updated; try again")]
    ReportNotUpdated,
    /// A link that is tampered, unknown, expired or revoked: deliberately one case.
    #[error("no such shared report")]
    LinkNotFound,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

impl From<ShareRepoError> for ShareError {
    fn from(error: ShareRepoError) -> Self {
        match error {
            ShareRepoError::ReportNotFound => Self::ReportNotFound,
            ShareRepoError::ReportFailed => Self::ReportFailed,
            ShareRepoError::ShareNotFound => Self::ShareNotFound,
            ShareRepoError::ReportNotUpdated => Self::ReportNotUpdated,
            ShareRepoError::Storage(e) => Self::Storage(e),
        }
    }
}

impl From<ExportRepoError> for ShareError {
    fn from(error: ExportRepoError) -> Self {
        match error {
            ExportRepoError::Storage(e) => Self::Storage(e),
            other => Self::Storage(StorageError::new(other.to_string())),
        }
    }
}

/// The answer to a share request.
#[derive(Debug, Clone)]
pub struct Shared {
    pub report: Report,
    pub share: Share,
    /// The viewer link, for the `link` channel.
    pub share_url: Option<String>,
}

/// What the public viewer shows: the report as it was exported.
#[derive(Debug, Clone)]
pub struct ViewerPage {
    pub header: ReportHeader,
    pub preview: FindingsPreview,
}

/// The share use cases. Callers of the project-scoped ones have been authorised for `project`.
pub struct Shares {
    repo: Arc<dyn ShareRepository>,
    exports: Arc<dyn ExportRepository>,
    figures: ReportFigures,
    source: Arc<dyn ReportSource>,
    artefacts: Arc<dyn ArtefactStore>,
    webhooks: Arc<dyn Webhooks>,
    links: Arc<dyn LinkSigner>,
    clock: Arc<dyn Clock>,
    /// `KRAFTER_PUBLIC_URL` without a trailing slash: every URL handed out starts with it.
    public_url: String,
    email_enabled: bool,
}

/// The ports and settings [`Shares`] works with.
pub struct SharesDeps {
    pub repo: Arc<dyn ShareRepository>,
    pub exports: Arc<dyn ExportRepository>,
    pub metrics: Arc<dyn MetricsRepository>,
    pub remediation: Arc<dyn RemediationRepository>,
    pub source: Arc<dyn ReportSource>,
    pub artefacts: Arc<dyn ArtefactStore>,
    pub webhooks: Arc<dyn Webhooks>,
    pub links: Arc<dyn LinkSigner>,
    pub clock: Arc<dyn Clock>,
    pub public_url: String,
    /// Whether a mailer is configured; email shares are refused otherwise.
    pub email_enabled: bool,
}

/// `<public_url>/insights/audit/reports/shared/<token>`
pub fn viewer_url(public_url: &str, token: &str) -> String {
    format!("{}{VIEWER_PATH}{token}", public_url.trim_end_matches('/'))
}

impl Shares {
    pub fn new(deps: SharesDeps) -> Self {
        Self {
            repo: deps.repo,
            exports: deps.exports,
            figures: ReportFigures {
                metrics: deps.metrics,
                remediation: deps.remediation,
            },
            source: deps.source,
            artefacts: deps.artefacts,
            webhooks: deps.webhooks,
            links: deps.links,
            clock: deps.clock,
            public_url: deps.public_url.trim_end_matches('/').to_owned(),
            email_enabled: deps.email_enabled,
        }
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// Shares the requested report (or the project's latest, or a placeholder), and queues its
    /// deliveries. Answers at once: deliveries are carried out by the workers.
    pub async fn share(
        &self,
        project: &Project,
        request: ShareRequest,
    ) -> Result<Shared, ShareError> {
        let channel = request.channel();
        let now = self.clock.now();
        let expires_at = now + TimeDelta::days(i64::from(request.link_days));
        let share_id = ShareId::generate();
        // The report id is filled in by the repository with the report it picks.
        let unknown = ReportId::from_uuid(uuid::Uuid::nil());
        let pending = |target: DeliveryTarget| Delivery {
            id: DeliveryId::generate(),
            share_id,
            report_id: unknown,
            target,
            status: DeliveryStatus::Pending,
            attempts: 0,
            last_error: None,
            created_at: now,
            updated_at: now,
            delivered_at: None,
        };
        let (recipients, webhook_host, deliveries) = match request.target {
            ShareTarget::Email(addresses) => {
                if !self.email_enabled {
                    return Err(ShareError::ChannelUnavailable(ShareChannel::Email));
                }
                let recipients = addresses.iter().map(|a| a.as_str().to_owned()).collect();
                let deliveries = addresses
                    .into_iter()
                    .map(|a| pending(DeliveryTarget::Email(a)))
                    .collect();
                (recipients, None, deliveries)
            }
            ShareTarget::Slack(raw) => {
                let url = self
                    .webhooks
                    .vet(&raw)
                    .await
                    .map_err(|refused| InvalidParams::field("webhook_url", refused.0))?;
                let host = url.host().to_owned();
                (
                    Vec::new(),
                    Some(host),
                    vec![pending(DeliveryTarget::Webhook(url))],
                )
            }
            ShareTarget::Link => (Vec::new(), None, Vec::new()),
        };
        let share = Share {
            id: share_id,
            org_id: project.org_id,
            project_id: project.id,
            report_id: unknown,
            channel,
            recipients,
            webhook_host,
            created_at: now,
            expires_at,
            revoked_at: None,
            view_count: 0,
            last_viewed_at: None,
        };
        let new = NewShare {
            share,
            report: request.report,
            placeholder: match request.report {
                None => Some(self.placeholder(project, now).await?),
                Some(_) => None,
            },
            deliveries,
        };
        let stored = self.repo.create(project.id, &new).await?;
        let share_url = (channel == ShareChannel::Link).then(|| {
            viewer_url(
                &self.public_url,
                &self.links.sign(stored.share.id, stored.share.expires_at),
            )
        });
        tracing::info!(report = %stored.report.id, share = %stored.share.id, %channel, "report shared");
        Ok(Shared {
            report: stored.report,
            share: stored.share,
            share_url,
        })
    }

    /// The report a share makes when the project has none: JSON over the default period,
    /// uncharged.
    async fn placeholder(
        &self,
        project: &Project,
        now: DateTime<Utc>,
    ) -> Result<Report, ShareError> {
        let today = now.date_naive();
        let window = DateWindow::new(
            today - TimeDelta::days(6),
            today,
            today,
            ("period_start", "period_end"),
        )
        .expect("a week ending today is a valid window");
        let (snapshot, remediation) = self.figures.capture(project, window).await?;
        Ok(Report {
            id: ReportId::generate(),
            org_id: project.org_id,
            project_id: project.id,
            period_start: window.from(),
            period_end: window.to(),
            format: ExportFormat::Json,
            status: ReportStatus::Queued,
            snapshot,
            remediation: Some(remediation),
            definitions_version: REMEDIATION_DEFINITIONS_VERSION,
            error: None,
            artefact: None,
            exported_at: None,
            shared_at: None,
            created_at: now,
            updated_at: now,
        })
    }

    pub async fn shares(
        &self,
        project: &Project,
        report: ReportId,
    ) -> Result<Vec<Share>, ShareError> {
        self.existing_report(project, report).await?;
        Ok(self.repo.list_shares(project.id, report).await?)
    }

    pub async fn deliveries(
        &self,
        project: &Project,
        report: ReportId,
    ) -> Result<Vec<Delivery>, ShareError> {
        self.existing_report(project, report).await?;
        Ok(self.repo.list_deliveries(project.id, report).await?)
    }

    pub async fn revoke(&self, project: &Project, share: ShareId) -> Result<Share, ShareError> {
        let revoked = self
            .repo
            .revoke(project.id, share, self.clock.now())
            .await?;
        tracing::info!(share = %share, "share revoked");
        Ok(revoked)
    }

    async fn existing_report(&self, project: &Project, id: ReportId) -> Result<Report, ShareError> {
        self.exports
            .find_report(project.id, id)
            .await?
            .ok_or(ShareError::ReportNotFound)
    }

    /// The share and its report behind a viewer token, if the link may be followed now.
    async fn open_link(&self, token: &str) -> Result<(Share, Report), ShareError> {
        let now = self.clock.now();
        let id = self
            .links
            .verify(token, now)
            .ok_or(ShareError::LinkNotFound)?;
        let share = self
            .repo
            .find(id)
            .await?
            .filter(|s| s.is_viewable(now))
            .ok_or(ShareError::LinkNotFound)?;
        let report = self
            .exports
            .find_report(share.project_id, share.report_id)
            .await?
            .ok_or(ShareError::LinkNotFound)?;
        Ok((share, report))
    }

    /// The viewer's page content for `token`; counts the view. `LinkNotFound` for any link that
    /// may not be followed, and for a report whose artefact is not ready (yet, or ever).
    pub async fn view(&self, token: &str) -> Result<ViewerPage, ShareError> {
        let (share, report) = self.open_link(token).await?;
        let Some(artefact) = report.artefact.clone() else {
            return Err(ShareError::LinkNotFound);
        };
        let preview = match self.read_preview(&artefact.key).await? {
            Some(preview) => preview,
            None => self.preview_from_history(&report).await?,
        };
        // The names as exported; today's only for previews that did not keep them.
        let (organisation_name, project_slug, project_name) = match preview.names.clone() {
            Some(names) => names,
            None => self
                .source
                .names(report.project_id)
                .await
                .map_err(|e| StorageError::new(e.to_string()))?,
        };
        self.repo.record_view(share.id, self.clock.now()).await?;
        let generated_at = report.exported_at.unwrap_or(report.updated_at);
        Ok(ViewerPage {
            header: ReportHeader {
                report,
                organisation_name,
                project_slug,
                project_name,
                generated_at,
                download_url: Some(format!("{}{VIEWER_PATH}{token}/download", self.public_url)),
                listed_total: Some(preview.total),
            },
            preview,
        })
    }

    /// The artefact behind `token`, with its file name.
    pub async fn view_download(
        &self,
        token: &str,
    ) -> Result<
        (
            Report,
            String,
            BoxStream<'static, Result<Bytes, ArtefactStoreError>>,
        ),
        ShareError,
    > {
        let (_, report) = self.open_link(token).await?;
        let Some(artefact) = &report.artefact else {
            return Err(ShareError::LinkNotFound);
        };
        let (_, slug, _) = self
            .source
            .names(report.project_id)
            .await
            .map_err(|e| StorageError::new(e.to_string()))?;
        let stream = match self.artefacts.open(&artefact.key).await {
            Ok(stream) => stream,
            // Gone from the store: to the link's holder, like any other link without a report.
            Err(ArtefactStoreError::NotFound) => {
                tracing::error!(report = %report.id, key = %artefact.key, "a shared report's artefact is missing from the store");
                return Err(ShareError::LinkNotFound);
            }
            Err(e) => return Err(StorageError::new(e.to_string()).into()),
        };
        let name = report.file_name(&slug);
        Ok((report, name, stream))
    }

    async fn read_preview(
        &self,
        artefact_key: &str,
    ) -> Result<Option<FindingsPreview>, ShareError> {
        use futures::TryStreamExt;
        let stream = match self.artefacts.open(&preview_key(artefact_key)).await {
            Ok(stream) => stream,
            Err(ArtefactStoreError::NotFound) => return Ok(None),
            Err(e) => return Err(StorageError::new(e.to_string()).into()),
        };
        let bytes: Vec<u8> = stream
            .try_fold(Vec::new(), |mut all, chunk| async move {
                all.extend_from_slice(&chunk);
                Ok(all)
            })
            .await
            .map_err(|e| StorageError::new(e.to_string()))?;
        FindingsPreview::from_json(&bytes)
            .map(Some)
            .map_err(|e| StorageError::new(format!("unreadable findings preview: {e}")).into())
    }

    /// For reports exported before previews were kept: the findings the artefact was rendered
    /// from, read again from the history as of the period's end.
    async fn preview_from_history(&self, report: &Report) -> Result<FindingsPreview, ShareError> {
        let storage = |e: crate::export::ReportSourceError| StorageError::new(e.to_string());
        let mut batches = self
            .source
            .open_findings(report.project_id, report.period_end, 5_000)
            .await
            .map_err(storage)?;
        let mut preview = FindingsPreview::default();
        while let Some(batch) = batches.next_batch().await.map_err(storage)? {
            preview.push(&batch);
        }
        debug_assert!(preview.findings.len() <= PREVIEW_FINDINGS);
        Ok(preview)
    }
}
