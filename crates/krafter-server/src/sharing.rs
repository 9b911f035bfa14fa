//! The sharing adapters, from the configuration: the SMTP mailer, the Slack webhooks behind the
//! SSRF guard, and the link signer with its keys.

use std::sync::Arc;

use anyhow::Context;
use krafter_delivery::links::{JwtLinks, SigningKeys};
use krafter_delivery::mail::SmtpMailer;
use krafter_delivery::webhook::SlackWebhooks;
use krafter_domain::share::{LinkSigner, Mailer, Webhooks};

use crate::config::Config;

pub struct SharingAdapters {
    pub mailer: Option<Arc<dyn Mailer>>,
    pub webhooks: Arc<dyn Webhooks>,
    pub links: Arc<dyn LinkSigner>,
    pub public_url: String,
}

impl SharingAdapters {
    /// Reads the settings; `bound` is the address the API listens on (the public URL's default).
    pub fn from_config(config: &Config, bound: &str) -> anyhow::Result<Self> {
        let public_url = config.public_url(bound);
        // Both were checked together when the configuration was read.
        let mailer: Option<Arc<dyn Mailer>> = match (&config.smtp_url, &config.mail_from) {
            (Some(url), Some(from)) => {
                let mailer = SmtpMailer::from_url(url.expose(), from)
                    .context("KRAFTER_SMTP_URL or KRAFTER_MAIL_FROM is not valid")?;
                tracing::info!(smtp = ?mailer, "email sharing is on");
                Some(Arc::new(mailer))
            }
            _ => {
                tracing::info!("email sharing is off: KRAFTER_SMTP_URL is not set");
                None
            }
        };
        let keys = match &config.signing_keys {
            Some(keys) => keys.expose().clone(),
            None => {
                let (keys, made) = SigningKeys::load_or_generate(&config.data_dir)
                    .context("cannot keep a link signing key under KRAFTER_DATA_DIR")?;
                tracing::warn!(
                    generated = made,
                    dir = %config.data_dir.display(),
                    "KRAFTER_SIGNING_KEYS is not set: share links are signed with a key kept under KRAFTER_DATA_DIR; set KRAFTER_SIGNING_KEYS when several nodes serve links"
                );
                keys
            }
        };
        tracing::info!(key_ids = ?keys.ids(), "share links signed with the first key");
        let allowed = config.webhook_allowed_hosts.clone();
        if !allowed.is_empty() {
            tracing::info!(hosts = ?allowed, "webhooks only to KRAFTER_WEBHOOK_ALLOWED_HOSTS");
        }
        Ok(Self {
            mailer,
            webhooks: Arc::new(SlackWebhooks::new(allowed)),
            links: Arc::new(JwtLinks::new(keys)),
            public_url,
        })
    }
}
