//! Configuration from the environment, read once in `main` and passed down.

use std::path::PathBuf;

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `DATABASE_URL`; without it, a cluster of our own under `data_dir/postgres`.
    pub database_url: Option<String>,
    /// `KRAFTER_BIND`
    pub bind: String,
    /// `KRAFTER_DATA_DIR`
    pub data_dir: PathBuf,
    /// `RUST_LOG`
    pub log_filter: String,
    /// `KRAFTER_WORKERS`, as given: export workers in `serve` (and `worker`).
    pub workers: Option<String>,
    /// `KRAFTER_ARTEFACTS_URL`, as given: where artefacts are stored (`s3://bucket[/prefix]`,
    /// `file:///path`); unset, under `data_dir/artefacts`.
    pub artefacts_url: Option<String>,
    /// `KRAFTER_PUBLIC_URL`: the start of every URL the service hands out; unset,
    /// `http://<KRAFTER_BIND>`.
    pub public_url: Option<String>,
    /// `KRAFTER_SMTP_URL` (lettre's URL form, credentials included): a secret, never logged.
    pub smtp_url: Option<String>,
    /// `KRAFTER_MAIL_FROM`
    pub mail_from: Option<String>,
    /// `KRAFTER_SIGNING_KEYS`: `key_id:secret,…`, newest first; a secret, never logged.
    pub signing_keys: Option<String>,
    /// `KRAFTER_WEBHOOK_ALLOWED_HOSTS`: exact host names, comma-separated.
    pub webhook_allowed_hosts: Option<String>,
    /// `KRAFTER_JOB_LEASE_SECONDS`: how long a worker's claim holds without a heartbeat.
    pub job_lease_seconds: Option<String>,
}

impl Config {
    pub fn from_env() -> Self {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the settings through `var`; empty values count as unset.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name| var(name).filter(|value: &String| !value.trim().is_empty());
        Self {
            database_url: var("DATABASE_URL"),
            bind: var("KRAFTER_BIND").unwrap_or_else(|| "127.0.0.1:8080".to_owned()),
            data_dir: var("KRAFTER_DATA_DIR")
                .map_or_else(|| PathBuf::from(".krafter"), PathBuf::from),
            log_filter: var("RUST_LOG").unwrap_or_else(|| "info".to_owned()),
            workers: var("KRAFTER_WORKERS"),
            artefacts_url: var("KRAFTER_ARTEFACTS_URL"),
            public_url: var("KRAFTER_PUBLIC_URL"),
            smtp_url: var("KRAFTER_SMTP_URL"),
            mail_from: var("KRAFTER_MAIL_FROM"),
            signing_keys: var("KRAFTER_SIGNING_KEYS"),
            webhook_allowed_hosts: var("KRAFTER_WEBHOOK_ALLOWED_HOSTS"),
            job_lease_seconds: var("KRAFTER_JOB_LEASE_SECONDS"),
        }
    }
}

/// Secrets (the SMTP URL's credentials, the signing keys) are shown as set or unset only.
impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let secret = |v: &Option<String>| if v.is_some() { "<set>" } else { "<unset>" };
        f.debug_struct("Config")
            .field("database_url", &secret(&self.database_url))
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("log_filter", &self.log_filter)
            .field("workers", &self.workers)
            .field("artefacts_url", &self.artefacts_url)
            .field("public_url", &self.public_url)
            .field("smtp_url", &secret(&self.smtp_url))
            .field("mail_from", &self.mail_from)
            .field("signing_keys", &secret(&self.signing_keys))
            .field("webhook_allowed_hosts", &self.webhook_allowed_hosts)
            .field("job_lease_seconds", &self.job_lease_seconds)
            .finish()
    }
}

/// Export workers a node runs when `KRAFTER_WORKERS` is not set.
pub const DEFAULT_WORKERS: usize = 2;

impl Config {
    /// `KRAFTER_WORKERS` as a count: 0 to 64, 2 when unset.
    pub fn worker_count(&self) -> Result<usize, String> {
        match self.workers.as_deref().map(str::trim) {
            None => Ok(DEFAULT_WORKERS),
            Some(raw) => raw
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 64)
                .ok_or_else(|| {
                    format!("KRAFTER_WORKERS must be a number from 0 to 64, not {raw:?}")
                }),
        }
    }

    /// Where artefacts are stored when `KRAFTER_ARTEFACTS_URL` is unset.
    pub fn artefacts_dir(&self) -> PathBuf {
        self.data_dir.join("artefacts")
    }

    /// The public URL without a trailing slash: `KRAFTER_PUBLIC_URL`, or `http://` and the
    /// address the server is bound to.
    pub fn public_url(&self, bound: &str) -> Result<String, String> {
        match self.public_url.as_deref().map(str::trim) {
            None => Ok(format!("http://{bound}")),
            Some(raw) => {
                let host = raw
                    .strip_prefix("https://")
                    .or_else(|| raw.strip_prefix("http://"))
                    .map(|rest| rest.split('/').next().unwrap_or(""));
                let ok = host.is_some_and(|h| !h.is_empty() && !h.contains('@'))
                    && !raw.contains(char::is_whitespace)
                    && !raw.contains(['?', '#']);
                if ok {
                    Ok(raw.trim_end_matches('/').to_owned())
                } else {
                    Err(format!(
                        "KRAFTER_PUBLIC_URL must be an http:// or https:// URL without query or fragment, not {raw:?}"
                    ))
                }
            }
        }
    }

    /// The webhook allow-list; empty when any public host is allowed.
    pub fn webhook_allowed_hosts(&self) -> Vec<String> {
        self.webhook_allowed_hosts
            .as_deref()
            .unwrap_or("")
            .split(',')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect()
    }

    /// `KRAFTER_JOB_LEASE_SECONDS` (3 to 3600, 30 when unset).
    pub fn job_lease(&self) -> Result<std::time::Duration, String> {
        match self.job_lease_seconds.as_deref().map(str::trim) {
            None => Ok(std::time::Duration::from_secs(30)),
            Some(raw) => raw
                .parse::<u64>()
                .ok()
                .filter(|n| (3..=3600).contains(n))
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| {
                    format!(
                        "KRAFTER_JOB_LEASE_SECONDS must be a number from 3 to 3600, not {raw:?}"
                    )
                }),
        }
    }

    /// Where artefacts are rendered before they are stored.
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("scratch")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_apply_to_unset_and_empty_variables() {
        let config = Config::from_vars(|name| (name == "DATABASE_URL").then(String::new));
        assert_eq!(
            config,
            Config {
                database_url: None,
                bind: "127.0.0.1:8080".into(),
                data_dir: ".krafter".into(),
                log_filter: "info".into(),
                workers: None,
                artefacts_url: None,
                public_url: None,
                smtp_url: None,
                mail_from: None,
                signing_keys: None,
                webhook_allowed_hosts: None,
                job_lease_seconds: None,
            }
        );
    }

    #[test]
    fn variables_are_read() {
        let config = Config::from_vars(|name| Some(format!("{name}-value")));
        assert_eq!(config.database_url.as_deref(), Some("DATABASE_URL-value"));
        assert_eq!(config.bind, "KRAFTER_BIND-value");
        assert_eq!(config.data_dir, PathBuf::from("KRAFTER_DATA_DIR-value"));
        assert_eq!(config.log_filter, "RUST_LOG-value");
        assert_eq!(config.workers.as_deref(), Some("KRAFTER_WORKERS-value"));
        assert_eq!(
            config.artefacts_url.as_deref(),
            Some("KRAFTER_ARTEFACTS_URL-value")
        );
        assert_eq!(config.smtp_url.as_deref(), Some("KRAFTER_SMTP_URL-value"));
        assert_eq!(
            config.signing_keys.as_deref(),
            Some("KRAFTER_SIGNING_KEYS-value")
        );
    }

    #[test]
    fn the_public_url_defaults_to_the_bound_address() {
        let config = Config::from_vars(|_| None);
        assert_eq!(
            config.public_url("127.0.0.1:8080").unwrap(),
            "http://127.0.0.1:8080"
        );
        let config = Config::from_vars(|name| {
            (name == "KRAFTER_PUBLIC_URL").then(|| "https://reports.example.com/".to_owned())
        });
        assert_eq!(
            config.public_url("127.0.0.1:8080").unwrap(),
            "https://reports.example.com"
        );
        let config = Config::from_vars(|name| {
            (name == "KRAFTER_PUBLIC_URL").then(|| "reports.example.com".to_owned())
        });
        assert!(config.public_url("x").is_err());
        for bad in [
            "https://",
            "https:///path",
            "https://user@host",
            "https://host/?q",
        ] {
            let config =
                Config::from_vars(|name| (name == "KRAFTER_PUBLIC_URL").then(|| bad.to_owned()));
            assert!(config.public_url("x").is_err(), "{bad}");
        }
    }
}
