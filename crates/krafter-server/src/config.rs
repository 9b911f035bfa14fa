//! The configuration: every environment variable, parsed and checked once at start-up into one
//! typed [`Config`]. A wrong value stops start-up with an error that names the variable and says
//! what is allowed ([`ConfigError`]). Secrets are [`Secret`]s, which never print their value.
//!
//! [`VARIABLES`] is the one list of variables, with their defaults and meanings: `krafter --help`
//! prints it ([`help`]), the parser reads exactly these names, and tests check that the README's
//! table and the help agree with it.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use krafter_delivery::links::SigningKeys;
use krafter_delivery::mail::{MailConfigError, SmtpMailer};
use krafter_render::ArtefactLocation;

/// One environment variable: its name, its default (as shown to people) and what it means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Variable {
    pub name: &'static str,
    pub default: &'static str,
    pub meaning: &'static str,
}

pub const DATABASE_URL: &str = "DATABASE_URL";
pub const KRAFTER_BIND: &str = "KRAFTER_BIND";
pub const KRAFTER_DATA_DIR: &str = "KRAFTER_DATA_DIR";
pub const KRAFTER_ARTEFACTS_URL: &str = "KRAFTER_ARTEFACTS_URL";
pub const KRAFTER_WORKERS: &str = "KRAFTER_WORKERS";
pub const KRAFTER_JOB_LEASE_SECONDS: &str = "KRAFTER_JOB_LEASE_SECONDS";
pub const KRAFTER_DB_POOL_SIZE: &str = "KRAFTER_DB_POOL_SIZE";
pub const KRAFTER_DB_POOL_TIMEOUT_MS: &str = "KRAFTER_DB_POOL_TIMEOUT_MS";
pub const KRAFTER_SHUTDOWN_GRACE_SECONDS: &str = "KRAFTER_SHUTDOWN_GRACE_SECONDS";
pub const KRAFTER_RATE_LIMIT: &str = "KRAFTER_RATE_LIMIT";
pub const KRAFTER_RATE_LIMIT_BURST: &str = "KRAFTER_RATE_LIMIT_BURST";
pub const KRAFTER_AUTH_CACHE_SECONDS: &str = "KRAFTER_AUTH_CACHE_SECONDS";
pub const KRAFTER_IMPORT_MAX_MIB: &str = "KRAFTER_IMPORT_MAX_MIB";
pub const KRAFTER_PUBLIC_URL: &str = "KRAFTER_PUBLIC_URL";
pub const KRAFTER_SMTP_URL: &str = "KRAFTER_SMTP_URL";
pub const KRAFTER_MAIL_FROM: &str = "KRAFTER_MAIL_FROM";
pub const KRAFTER_SIGNING_KEYS: &str = "KRAFTER_SIGNING_KEYS";
pub const KRAFTER_WEBHOOK_ALLOWED_HOSTS: &str = "KRAFTER_WEBHOOK_ALLOWED_HOSTS";
pub const RUST_LOG: &str = "RUST_LOG";
pub const KRAFTER_LOG_FORMAT: &str = "KRAFTER_LOG_FORMAT";
pub const KRAFTER_METRICS_BIND: &str = "KRAFTER_METRICS_BIND";

/// Every variable `krafter` reads, in the order `krafter --help` and the README list them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: DATABASE_URL,
        default: "unset",
        meaning: "PostgreSQL to use, e.g. postgres://postgres@127.0.0.1:5432/postgres (a secret: \
                  only its host and database are ever shown). Unset: a cluster of our own under \
                  KRAFTER_DATA_DIR/postgres.",
    },
    Variable {
        name: KRAFTER_BIND,
        default: "127.0.0.1:8080",
        meaning: "Address the API listens on, host:port (127.0.0.1:0 picks a free port).",
    },
    Variable {
        name: KRAFTER_DATA_DIR,
        default: "./.krafter",
        meaning: "Where the local cluster lives (postgres/), export artefacts (artefacts/, unless \
                  KRAFTER_ARTEFACTS_URL says otherwise; rendered under scratch/) and the generated \
                  link signing key.",
    },
    Variable {
        name: KRAFTER_ARTEFACTS_URL,
        default: "unset",
        meaning: "Where export artefacts are stored: s3://bucket[/prefix] (Amazon S3 or an \
                  S3-compatible server; credentials and endpoint from AWS_ACCESS_KEY_ID, \
                  AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION, AWS_ENDPOINT or \
                  AWS_ENDPOINT_URL, AWS_ALLOW_HTTP=true) or file:///absolute/path. Unset: files \
                  under KRAFTER_DATA_DIR/artefacts. Credentials in the URL are refused.",
    },
    Variable {
        name: KRAFTER_WORKERS,
        default: "2",
        meaning: "Workers (exports and share deliveries, from one queue) run by `krafter serve` \
                  and `krafter worker`: 0 to 64 (0: none in `serve`).",
    },
    Variable {
        name: KRAFTER_JOB_LEASE_SECONDS,
        default: "30",
        meaning: "How long a worker's claim on a job holds without a heartbeat, 3 to 3600; a \
                  dead worker's job is taken over after it.",
    },
    Variable {
        name: KRAFTER_DB_POOL_SIZE,
        default: "16",
        meaning: "Database connections a node keeps at most, 1 to 1000 (one-off commands use at \
                  most 8); the job queue listens on one more.",
    },
    Variable {
        name: KRAFTER_DB_POOL_TIMEOUT_MS,
        default: "2000",
        meaning: "How long a request waits for a free database connection, in milliseconds, 1 \
                  to 600000.",
    },
    Variable {
        name: KRAFTER_SHUTDOWN_GRACE_SECONDS,
        default: "30",
        meaning: "On SIGINT or SIGTERM: how long in-flight requests and jobs in hand may take to \
                  finish, 0 to 3600.",
    },
    Variable {
        name: KRAFTER_RATE_LIMIT,
        default: "1200",
        meaning: "Requests per minute per API key on each node, 0 to 1000000; 0 turns rate \
                  limiting off.",
    },
    Variable {
        name: KRAFTER_RATE_LIMIT_BURST,
        default: "200",
        meaning: "Requests a key may make at once beyond its rate, 1 to 1000000.",
    },
    Variable {
        name: KRAFTER_IMPORT_MAX_MIB,
        default: "64",
        meaning: "The largest import body (POST .../audit/imports) in MiB, 1 to 1024; the other \
                  routes keep 64 KiB.",
    },
    Variable {
        name: KRAFTER_AUTH_CACHE_SECONDS,
        default: "5",
        meaning: "How long a node keeps an API key and a project it has read, 0 to 300 (0: \
                  read them on every request): a revoked key is refused within this time.",
    },
    Variable {
        name: KRAFTER_PUBLIC_URL,
        default: "http://<KRAFTER_BIND>",
        meaning: "The start of every URL the service hands out (download_url, share links, \
                  links in emails and Slack messages): http:// or https://, a host, an optional \
                  path, no query. Never taken from request headers.",
    },
    Variable {
        name: KRAFTER_SMTP_URL,
        default: "unset",
        meaning: "SMTP server for email shares (a secret, never shown): smtp://host:25, \
                  smtp://host:587?tls=required, smtps://host:465, credentials as \
                  smtp://user:pass@host. Unset: email shares answer 422 channel_unavailable.",
    },
    Variable {
        name: KRAFTER_MAIL_FROM,
        default: "unset",
        meaning: "The From of share emails, required with KRAFTER_SMTP_URL, e.g. \
                  `Krafter Reports <reports@example.com>`.",
    },
    Variable {
        name: KRAFTER_SIGNING_KEYS,
        default: "unset",
        meaning: "Share-link signing keys (secrets, never shown): key_id:secret,..., newest \
                  first, secrets of at least 32 bytes. Unset: a key generated and kept in \
                  KRAFTER_DATA_DIR/link-signing-key.",
    },
    Variable {
        name: KRAFTER_WEBHOOK_ALLOWED_HOSTS,
        default: "unset",
        meaning: "Exact host names Slack webhooks may go to, comma-separated. Unset: any public \
                  host that passes the SSRF guard.",
    },
    Variable {
        name: RUST_LOG,
        default: "info",
        meaning:
            "Log filter (tracing-subscriber's EnvFilter syntax, e.g. info,krafter_http=debug); \
                  an invalid filter stops start-up. Logs go to stderr. Malformed requests that \
                  actix answers itself are logged only when the filter names actix_http.",
    },
    Variable {
        name: KRAFTER_LOG_FORMAT,
        default: "text",
        meaning: "text (human-readable lines) or json (one JSON object per line).",
    },
    Variable {
        name: KRAFTER_METRICS_BIND,
        default: "unset",
        meaning: "Address (ip:port) to serve GET /metrics on, apart from the API. Unset: \
                  /metrics is served on the API's address.",
    },
];

/// The variables for `krafter --help`: each name with its default, then its meaning.
pub fn help() -> String {
    let mut text = String::from("Configuration, from the environment (empty counts as unset):\n");
    for variable in VARIABLES {
        text.push_str(&format!(
            "\n  {} (default: {})\n",
            variable.name, variable.default
        ));
        let mut line = String::from("     ");
        for word in variable.meaning.split_whitespace() {
            if line.len() + word.len() + 1 > 96 {
                text.push_str(&line);
                text.push('\n');
                line = String::from("     ");
            }
            line.push(' ');
            line.push_str(word);
        }
        text.push_str(&line);
        text.push('\n');
    }
    text.push_str(
        "\nExit codes: 0 success; 1 failure (database, store, server); 2 invalid input or \
         configuration.",
    );
    text
}

/// A value that must never be logged: `Debug` and `Display` print `<redacted>`. Read it with
/// [`Secret::expose`].
#[derive(Clone, PartialEq, Eq)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    pub fn new(value: T) -> Self {
        Self(value)
    }

    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// How log lines are written (`KRAFTER_LOG_FORMAT`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A variable whose value is not allowed. The message names the variable and says what is
/// allowed; it repeats the value only when the value is not a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    pub variable: &'static str,
    message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// Every variable found wrong at once, so that one start names them all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&lines.join("\n"))
    }
}

impl std::error::Error for ConfigErrors {}

/// The whole configuration, checked.
#[derive(Clone)]
pub struct Config {
    /// `KRAFTER_BIND`, host:port.
    pub bind: String,
    /// `KRAFTER_DATA_DIR`
    pub data_dir: PathBuf,
    /// `DATABASE_URL`; without it, a cluster of our own under `data_dir/postgres`.
    pub database_url: Option<Secret<String>>,
    /// `RUST_LOG`, checked to parse as an `EnvFilter`.
    pub log_filter: String,
    /// `KRAFTER_LOG_FORMAT`
    pub log_format: LogFormat,
    /// `KRAFTER_METRICS_BIND`: `/metrics` on an address of its own; `None`: on the API's.
    pub metrics_bind: Option<SocketAddr>,
    /// `KRAFTER_WORKERS`: workers in `serve` and `worker`.
    pub workers: usize,
    /// `KRAFTER_JOB_LEASE_SECONDS`
    pub job_lease: Duration,
    /// `KRAFTER_DB_POOL_SIZE`: the pool's size in `serve` and `worker`.
    pub db_pool_size: usize,
    /// `KRAFTER_DB_POOL_TIMEOUT_MS`: how long a request waits for a connection.
    pub db_pool_timeout: Duration,
    /// `KRAFTER_SHUTDOWN_GRACE_SECONDS`
    pub shutdown_grace: Duration,
    /// `KRAFTER_RATE_LIMIT`: requests per minute per key and node; 0 = off.
    pub rate_limit_per_minute: u32,
    /// `KRAFTER_RATE_LIMIT_BURST`
    pub rate_limit_burst: u32,
    /// `KRAFTER_AUTH_CACHE_SECONDS`: the longest a revoked key may still be accepted.
    pub auth_cache: Duration,
    /// `KRAFTER_IMPORT_MAX_MIB`, in bytes.
    pub import_max_bytes: usize,
    /// `KRAFTER_ARTEFACTS_URL`, or files under `data_dir/artefacts`.
    pub artefacts: ArtefactLocation,
    /// `KRAFTER_PUBLIC_URL` without its trailing slash; `None`: `http://` and the bound address
    /// (see [`Config::public_url`]).
    pub public_url: Option<String>,
    /// `KRAFTER_SMTP_URL` (lettre's URL form, credentials included).
    pub smtp_url: Option<Secret<String>>,
    /// `KRAFTER_MAIL_FROM`; set whenever `smtp_url` is.
    pub mail_from: Option<String>,
    /// `KRAFTER_SIGNING_KEYS`; `None`: a key generated under `data_dir`.
    pub signing_keys: Option<Secret<SigningKeys>>,
    /// `KRAFTER_WEBHOOK_ALLOWED_HOSTS`, lower-cased; empty when any public host is allowed.
    pub webhook_allowed_hosts: Vec<String>,
}

/// Secrets print as `<redacted>`; everything else as it is.
impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url)
            .field("log_filter", &self.log_filter)
            .field("log_format", &self.log_format)
            .field("metrics_bind", &self.metrics_bind)
            .field("workers", &self.workers)
            .field("job_lease", &self.job_lease)
            .field("db_pool_size", &self.db_pool_size)
            .field("db_pool_timeout", &self.db_pool_timeout)
            .field("shutdown_grace", &self.shutdown_grace)
            .field("rate_limit_per_minute", &self.rate_limit_per_minute)
            .field("rate_limit_burst", &self.rate_limit_burst)
            .field("auth_cache", &self.auth_cache)
            .field("import_max_bytes", &self.import_max_bytes)
            .field("artefacts", &format_args!("{}", self.artefacts))
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url)
            .field("mail_from", &self.mail_from)
            .field("signing_keys", &self.signing_keys)
            .field("webhook_allowed_hosts", &self.webhook_allowed_hosts)
            .finish()
    }
}

/// Connections one-off commands (`org create`, `demo`, …) use at most.
pub const COMMAND_POOL_SIZE: usize = 8;

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigErrors> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// Reads the variables through `var`; blank values count as unset. Answers every wrong
    /// value at once.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigErrors> {
        let mut reader = Reader {
            var: &var,
            errors: Vec::new(),
        };
        let r = &mut reader;
        let data_dir = r
            .raw(KRAFTER_DATA_DIR)
            .map_or_else(|| PathBuf::from(".krafter"), PathBuf::from);
        let bind = r.bind();
        let database_url = r.raw(DATABASE_URL).map(Secret::new);
        let log_filter = r.log_filter();
        let log_format = r.parse(KRAFTER_LOG_FORMAT, LogFormat::Text, |raw| {
            match raw.to_ascii_lowercase().as_str() {
                "text" => Ok(LogFormat::Text),
                "json" => Ok(LogFormat::Json),
                _ => Err(format!("must be text or json, not {raw:?}")),
            }
        });
        let metrics_bind = r.optional(KRAFTER_METRICS_BIND, |raw| {
            raw.parse::<SocketAddr>().map_err(|_| {
                format!("must be an ip:port address such as 127.0.0.1:9100, not {raw:?}")
            })
        });
        let workers = r.number(KRAFTER_WORKERS, 2, 0..=64);
        let job_lease = Duration::from_secs(r.number(KRAFTER_JOB_LEASE_SECONDS, 30, 3..=3600));
        let db_pool_size = r.number(KRAFTER_DB_POOL_SIZE, 16, 1..=1000);
        let db_pool_timeout =
            Duration::from_millis(r.number(KRAFTER_DB_POOL_TIMEOUT_MS, 2000, 1..=600_000));
        let shutdown_grace =
            Duration::from_secs(r.number(KRAFTER_SHUTDOWN_GRACE_SECONDS, 30, 0..=3600));
        let rate_limit_per_minute = r.number(KRAFTER_RATE_LIMIT, 1200, 0..=1_000_000);
        let rate_limit_burst = r.number(KRAFTER_RATE_LIMIT_BURST, 200, 1..=1_000_000);
        let auth_cache = Duration::from_secs(r.number(KRAFTER_AUTH_CACHE_SECONDS, 5, 0..=300));
        let import_max_bytes =
            r.number::<usize>(KRAFTER_IMPORT_MAX_MIB, 64, 1..=1024) * 1024 * 1024;
        let artefacts = r.artefacts(&data_dir);
        let public_url = r.optional(KRAFTER_PUBLIC_URL, public_url);
        let (smtp_url, mail_from) = r.mail();
        let signing_keys = r.secret(KRAFTER_SIGNING_KEYS, |raw| {
            SigningKeys::parse(raw)
                .map(Secret::new)
                .map_err(|e| e.to_string())
        });
        let webhook_allowed_hosts = r.webhook_hosts();
        if !reader.errors.is_empty() {
            // In the order `krafter --help` lists the variables.
            let mut errors = reader.errors;
            errors.sort_by_key(|e| VARIABLES.iter().position(|v| v.name == e.variable));
            return Err(ConfigErrors(errors));
        }
        Ok(Config {
            bind,
            data_dir,
            database_url,
            log_filter,
            log_format,
            metrics_bind,
            workers,
            job_lease,
            db_pool_size,
            db_pool_timeout,
            shutdown_grace,
            rate_limit_per_minute,
            rate_limit_burst,
            auth_cache,
            import_max_bytes,
            artefacts,
            public_url,
            smtp_url,
            mail_from,
            signing_keys,
            webhook_allowed_hosts,
        })
    }

    /// The public URL without a trailing slash: `KRAFTER_PUBLIC_URL`, or `http://` and the
    /// address the server is bound to.
    pub fn public_url(&self, bound: &str) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{bound}"),
        }
    }

    /// Where artefacts are rendered before they are stored.
    pub fn scratch_dir(&self) -> PathBuf {
        self.data_dir.join("scratch")
    }

    /// Where our own cluster lives when `DATABASE_URL` is unset.
    pub fn cluster_dir(&self) -> PathBuf {
        self.data_dir.join("postgres")
    }
}

/// Reads variables, collecting what is wrong.
struct Reader<'a> {
    var: &'a dyn Fn(&str) -> Option<String>,
    errors: Vec<ConfigError>,
}

impl Reader<'_> {
    fn raw(&self, name: &'static str) -> Option<String> {
        debug_assert!(
            VARIABLES.iter().any(|v| v.name == name),
            "{name} is not in VARIABLES"
        );
        (self.var)(name)
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
    }

    /// The variable through `parse`, `None` when unset; on error, `name` and the message.
    fn optional<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(message) => {
                self.errors
                    .push(ConfigError::new(name, format!("{name} {message}")));
                None
            }
        }
    }

    /// Like [`Reader::optional`], for a secret: `parse`'s message must not quote the value.
    fn secret<T>(
        &mut self,
        name: &'static str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Option<T> {
        let raw = self.raw(name)?;
        match parse(&raw) {
            Ok(value) => Some(value),
            Err(message) => {
                let message = if message.contains(name) {
                    message
                } else {
                    format!("{name} is not valid: {message}")
                };
                self.errors.push(ConfigError::new(name, message));
                None
            }
        }
    }

    fn parse<T>(
        &mut self,
        name: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        self.optional(name, parse).unwrap_or(default)
    }

    /// A whole number within `range`.
    fn number<T>(&mut self, name: &'static str, default: T, range: std::ops::RangeInclusive<T>) -> T
    where
        T: FromStr + PartialOrd + fmt::Display + Copy,
    {
        self.parse(name, default, |raw| {
            raw.parse::<T>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| {
                    format!(
                        "must be a whole number from {} to {}, not {raw:?}",
                        range.start(),
                        range.end()
                    )
                })
        })
    }

    fn bind(&mut self) -> String {
        self.parse(KRAFTER_BIND, "127.0.0.1:8080".to_owned(), |raw| {
            let ok = raw.rsplit_once(':').is_some_and(|(host, port)| {
                !host.is_empty()
                    && !host.contains(char::is_whitespace)
                    && port.parse::<u16>().is_ok()
            });
            if ok {
                Ok(raw.to_owned())
            } else {
                Err(format!(
                    "must be host:port, such as 127.0.0.1:8080 or 0.0.0.0:80, not {raw:?}"
                ))
            }
        })
    }

    fn log_filter(&mut self) -> String {
        self.parse(RUST_LOG, "info".to_owned(), |raw| {
            tracing_subscriber::EnvFilter::builder()
                .parse(raw)
                .map(|_| raw.to_owned())
                .map_err(|e| {
                    format!(
                        "is not a valid log filter ({e}): use levels and targets such as \
                         info or warn,krafter_http=debug, not {raw:?}"
                    )
                })
        })
    }

    fn artefacts(&mut self, data_dir: &Path) -> ArtefactLocation {
        let default_dir = data_dir.join("artefacts");
        let raw = self.raw(KRAFTER_ARTEFACTS_URL);
        // The message never quotes the URL, which might hold a secret.
        ArtefactLocation::parse(raw.as_deref(), &default_dir).unwrap_or_else(|e| {
            self.errors
                .push(ConfigError::new(KRAFTER_ARTEFACTS_URL, e.to_string()));
            ArtefactLocation::Directory(default_dir)
        })
    }

    /// `KRAFTER_SMTP_URL` with `KRAFTER_MAIL_FROM`, checked together by building a mailer.
    fn mail(&mut self) -> (Option<Secret<String>>, Option<String>) {
        let url = self.raw(KRAFTER_SMTP_URL);
        let from = self.raw(KRAFTER_MAIL_FROM);
        let Some(url) = url else {
            return (None, from);
        };
        let Some(from) = from else {
            self.errors.push(ConfigError::new(
                KRAFTER_MAIL_FROM,
                "KRAFTER_MAIL_FROM must be set with KRAFTER_SMTP_URL: the From of share emails, \
                 such as `Krafter Reports <reports@example.com>`",
            ));
            return (None, None);
        };
        match SmtpMailer::from_url(&url, &from) {
            Ok(_) => (Some(Secret::new(url)), Some(from)),
            Err(MailConfigError::InvalidFrom(reason)) => {
                self.errors.push(ConfigError::new(
                    KRAFTER_MAIL_FROM,
                    format!(
                        "KRAFTER_MAIL_FROM must be a mailbox (`address` or `Name <address>`), \
                         not {from:?}: {reason}"
                    ),
                ));
                (None, None)
            }
            Err(e) => {
                // MailConfigError never quotes the URL or its credentials.
                self.errors.push(ConfigError::new(
                    KRAFTER_SMTP_URL,
                    format!(
                        "KRAFTER_SMTP_URL is not valid ({e}): use smtp://host:port, \
                         smtp://host:587?tls=required or smtps://host:465, with user:pass@ for \
                         credentials"
                    ),
                ));
                (None, None)
            }
        }
    }

    fn webhook_hosts(&mut self) -> Vec<String> {
        self.parse(KRAFTER_WEBHOOK_ALLOWED_HOSTS, Vec::new(), |raw| {
            let hosts: Vec<String> = raw
                .split(',')
                .map(|h| h.trim().to_ascii_lowercase())
                .filter(|h| !h.is_empty())
                .collect();
            match hosts.iter().find(|h| {
                h.contains(|c: char| c.is_whitespace() || "/@?#".contains(c))
            }) {
                Some(bad) => Err(format!(
                    "must be host names separated by commas (such as hooks.slack.com), not URLs: {bad:?}"
                )),
                None => Ok(hosts),
            }
        })
    }
}

/// `KRAFTER_PUBLIC_URL`: http:// or https://, a host without credentials, no query or fragment.
fn public_url(raw: &str) -> Result<String, String> {
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
            "must be an http:// or https:// URL with a host and without credentials, query or \
             fragment, such as https://reports.example.com, not {raw:?}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::collections::{BTreeSet, HashMap};

    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigErrors> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_vars(|name| vars.get(name).cloned())
    }

    fn error(vars: &[(&str, &str)]) -> String {
        let errors = with(vars).unwrap_err();
        assert_eq!(errors.0.len(), 1, "{errors}");
        errors.to_string()
    }

    #[test]
    fn defaults_apply_to_unset_and_empty_variables() {
        let config = with(&[("DATABASE_URL", ""), ("KRAFTER_WORKERS", "  ")]).unwrap();
        assert_eq!(
            format!("{config:?}"),
            "Config { bind: \"127.0.0.1:8080\", data_dir: \".krafter\", database_url: None, \
             log_filter: \"info\", log_format: Text, metrics_bind: None, workers: 2, \
             job_lease: 30s, db_pool_size: 16, db_pool_timeout: 2s, shutdown_grace: 30s, \
             rate_limit_per_minute: 1200, rate_limit_burst: 200, auth_cache: 5s, \
             import_max_bytes: 67108864, artefacts: .krafter/artefacts, \
             public_url: None, smtp_url: None, mail_from: None, signing_keys: None, \
             webhook_allowed_hosts: [] }"
        );
        assert_eq!(config.public_url("127.0.0.1:9"), "http://127.0.0.1:9");
    }

    #[test]
    fn every_variable_is_read_and_parsed() {
        let config = with(&[
            ("DATABASE_URL", "postgres://u:pw@db/x"),
            ("KRAFTER_BIND", "0.0.0.0:80"),
            ("KRAFTER_DATA_DIR", "/srv/krafter"),
            ("KRAFTER_ARTEFACTS_URL", "s3://bucket/reports"),
            ("KRAFTER_WORKERS", "0"),
            ("KRAFTER_JOB_LEASE_SECONDS", "3600"),
            ("KRAFTER_DB_POOL_SIZE", "40"),
            ("KRAFTER_DB_POOL_TIMEOUT_MS", "250"),
            ("KRAFTER_SHUTDOWN_GRACE_SECONDS", "0"),
            ("KRAFTER_RATE_LIMIT", "0"),
            ("KRAFTER_RATE_LIMIT_BURST", "1"),
            ("KRAFTER_AUTH_CACHE_SECONDS", "0"),
            ("KRAFTER_PUBLIC_URL", "https://reports.example.com/"),
            (
                "KRAFTER_SMTP_URL",
                "smtp://mailer:hunter2@mail.example.com:587",
            ),
            ("KRAFTER_MAIL_FROM", "Krafter <reports@example.com>"),
            (
                "KRAFTER_SIGNING_KEYS",
                "k2:0123456789abcdef0123456789abcdef,k1:fedcba9876543210fedcba9876543210",
            ),
            (
                "KRAFTER_WEBHOOK_ALLOWED_HOSTS",
                "Hooks.Slack.com, ,example.org",
            ),
            ("RUST_LOG", "warn,krafter_http=debug"),
            ("KRAFTER_LOG_FORMAT", "JSON"),
            ("KRAFTER_METRICS_BIND", "127.0.0.1:9100"),
        ])
        .unwrap();
        assert_eq!(
            config.database_url.as_ref().unwrap().expose(),
            "postgres://u:pw@db/x"
        );
        assert_eq!(config.bind, "0.0.0.0:80");
        assert_eq!(config.data_dir, PathBuf::from("/srv/krafter"));
        assert_eq!(config.artefacts.to_string(), "s3://bucket/reports");
        assert_eq!(config.workers, 0);
        assert_eq!(config.job_lease, Duration::from_secs(3600));
        assert_eq!(config.db_pool_size, 40);
        assert_eq!(config.db_pool_timeout, Duration::from_millis(250));
        assert_eq!(config.shutdown_grace, Duration::ZERO);
        assert_eq!(config.rate_limit_per_minute, 0);
        assert_eq!(config.rate_limit_burst, 1);
        assert_eq!(config.auth_cache, Duration::ZERO);
        assert_eq!(config.public_url("x"), "https://reports.example.com");
        assert_eq!(
            config.smtp_url.as_ref().unwrap().expose(),
            "smtp://mailer:hunter2@mail.example.com:587"
        );
        assert_eq!(
            config.mail_from.as_deref(),
            Some("Krafter <reports@example.com>")
        );
        assert_eq!(
            config.signing_keys.as_ref().unwrap().expose().ids(),
            ["k2", "k1"]
        );
        assert_eq!(
            config.webhook_allowed_hosts,
            ["hooks.slack.com", "example.org"]
        );
        assert_eq!(config.log_filter, "warn,krafter_http=debug");
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.metrics_bind, Some("127.0.0.1:9100".parse().unwrap()));
    }

    #[test]
    fn the_parser_reads_exactly_the_documented_variables() {
        let asked = RefCell::new(BTreeSet::new());
        Config::from_vars(|name| {
            asked.borrow_mut().insert(name.to_owned());
            None
        })
        .unwrap();
        let documented: BTreeSet<String> = VARIABLES.iter().map(|v| v.name.to_owned()).collect();
        assert_eq!(asked.into_inner(), documented);
    }

    #[test]
    fn a_wrong_value_names_the_variable_and_what_is_allowed() {
        let cases: &[(&str, &str, &str)] = &[
            ("KRAFTER_WORKERS", "65", "KRAFTER_WORKERS must be a whole number from 0 to 64, not \"65\""),
            ("KRAFTER_WORKERS", "two", "KRAFTER_WORKERS must be a whole number from 0 to 64, not \"two\""),
            ("KRAFTER_JOB_LEASE_SECONDS", "2", "KRAFTER_JOB_LEASE_SECONDS must be a whole number from 3 to 3600, not \"2\""),
            ("KRAFTER_DB_POOL_SIZE", "0", "KRAFTER_DB_POOL_SIZE must be a whole number from 1 to 1000, not \"0\""),
            ("KRAFTER_DB_POOL_TIMEOUT_MS", "2s", "KRAFTER_DB_POOL_TIMEOUT_MS must be a whole number from 1 to 600000, not \"2s\""),
            ("KRAFTER_SHUTDOWN_GRACE_SECONDS", "-1", "KRAFTER_SHUTDOWN_GRACE_SECONDS must be a whole number from 0 to 3600, not \"-1\""),
            ("KRAFTER_RATE_LIMIT", "1e3", "KRAFTER_RATE_LIMIT must be a whole number from 0 to 1000000, not \"1e3\""),
            ("KRAFTER_RATE_LIMIT_BURST", "0", "KRAFTER_RATE_LIMIT_BURST must be a whole number from 1 to 1000000, not \"0\""),
            ("KRAFTER_LOG_FORMAT", "yaml", "KRAFTER_LOG_FORMAT must be text or json, not \"yaml\""),
            ("KRAFTER_METRICS_BIND", "localhost:9100", "KRAFTER_METRICS_BIND must be an ip:port address such as 127.0.0.1:9100, not \"localhost:9100\""),
            ("KRAFTER_BIND", "8080", "KRAFTER_BIND must be host:port, such as 127.0.0.1:8080 or 0.0.0.0:80, not \"8080\""),
            ("KRAFTER_PUBLIC_URL", "reports.example.com", "KRAFTER_PUBLIC_URL must be an http:// or https:// URL with a host and without credentials, query or fragment, such as https://reports.example.com, not \"reports.example.com\""),
            ("KRAFTER_WEBHOOK_ALLOWED_HOSTS", "hooks.slack.com,https://x.org/", "KRAFTER_WEBHOOK_ALLOWED_HOSTS must be host names separated by commas (such as hooks.slack.com), not URLs: \"https://x.org/\""),
            ("KRAFTER_ARTEFACTS_URL", "ftp://host/x", "KRAFTER_ARTEFACTS_URL must be unset, s3://bucket[/prefix] or file:///absolute/path: the scheme \"ftp\" is not supported"),
        ];
        for (name, value, expected) in cases {
            let errors = with(&[(name, value)]).unwrap_err();
            assert_eq!(errors.0.len(), 1, "{errors}");
            assert_eq!(errors.0[0].variable, *name);
            assert_eq!(errors.to_string(), *expected, "{name}={value}");
        }
        let rust_log = error(&[("RUST_LOG", "krafter=loud")]);
        assert!(
            rust_log.starts_with("RUST_LOG is not a valid log filter (")
                && rust_log.ends_with(
                    "): use levels and targets such as info or warn,krafter_http=debug, not \"krafter=loud\""
                ),
            "{rust_log}"
        );
        for bad in [
            "https://",
            "https:///path",
            "https://user@host",
            "https://host/?q",
        ] {
            let message = error(&[("KRAFTER_PUBLIC_URL", bad)]);
            assert!(
                message.starts_with("KRAFTER_PUBLIC_URL must be"),
                "{message}"
            );
        }
    }

    #[test]
    fn every_wrong_variable_is_named_at_once() {
        let errors = with(&[("KRAFTER_WORKERS", "x"), ("KRAFTER_RATE_LIMIT", "y")]).unwrap_err();
        let names: Vec<&str> = errors.0.iter().map(|e| e.variable).collect();
        assert_eq!(names, ["KRAFTER_WORKERS", "KRAFTER_RATE_LIMIT"]);
    }

    #[test]
    fn mail_settings_are_checked_together_without_quoting_the_url() {
        assert_eq!(
            error(&[("KRAFTER_SMTP_URL", "smtp://mail.example.com")]),
            "KRAFTER_MAIL_FROM must be set with KRAFTER_SMTP_URL: the From of share emails, \
             such as `Krafter Reports <reports@example.com>`"
        );
        let message = error(&[
            ("KRAFTER_SMTP_URL", "imap://user:hunter2@mail.example.com"),
            ("KRAFTER_MAIL_FROM", "reports@example.com"),
        ]);
        assert!(
            message.starts_with(
                "KRAFTER_SMTP_URL is not valid (the SMTP URL must start with smtp:// or smtps://)"
            ),
            "{message}"
        );
        assert!(!message.contains("hunter2"), "{message}");
        let message = error(&[
            ("KRAFTER_SMTP_URL", "smtp://mail.example.com"),
            ("KRAFTER_MAIL_FROM", "not a mailbox"),
        ]);
        assert!(
            message.starts_with("KRAFTER_MAIL_FROM must be a mailbox"),
            "{message}"
        );
        // A From without SMTP is harmless.
        assert!(with(&[("KRAFTER_MAIL_FROM", "reports@example.com")]).is_ok());
    }

    #[test]
    fn signing_key_errors_never_quote_a_secret() {
        let message = error(&[("KRAFTER_SIGNING_KEYS", "k1:tooshortsecret")]);
        assert!(message.contains("KRAFTER_SIGNING_KEYS"), "{message}");
        assert!(!message.contains("tooshortsecret"), "{message}");
    }

    #[test]
    fn secrets_never_reach_debug_output() {
        let config = with(&[
            (
                "DATABASE_URL",
                "postgres://app:db-password-1@db.internal/krafter",
            ),
            (
                "KRAFTER_SMTP_URL",
                "smtps://mailer:smtp-password-2@mail.example.com",
            ),
            ("KRAFTER_MAIL_FROM", "reports@example.com"),
            (
                "KRAFTER_SIGNING_KEYS",
                "k1:signing-secret-3-0123456789abcdef0123",
            ),
        ])
        .unwrap();
        let shown = format!("{config:?}");
        for secret in [
            "db-password-1",
            "smtp-password-2",
            "signing-secret-3",
            "app:",
            "mailer",
        ] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("database_url: Some(<redacted>)"), "{shown}");
        assert!(shown.contains("smtp_url: Some(<redacted>)"), "{shown}");
        assert!(shown.contains("signing_keys: Some(<redacted>)"), "{shown}");
        let secret = Secret::new("hunter2".to_owned());
        assert_eq!(
            format!("{secret} {secret:?} {secret:#?}"),
            "<redacted> <redacted> <redacted>"
        );
    }

    #[test]
    fn the_help_lists_every_variable_with_its_default() {
        let help = help();
        for variable in VARIABLES {
            assert!(
                help.contains(&format!(
                    "\n  {} (default: {})\n",
                    variable.name, variable.default
                )),
                "{} missing from\n{help}",
                variable.name
            );
        }
    }

    #[test]
    fn the_readme_documents_every_variable_with_its_default() {
        let readme = include_str!("../../../README.md");
        for variable in VARIABLES {
            let row = format!("| `{}` | `{}` |", variable.name, variable.default);
            let unset = format!("| `{}` | unset |", variable.name);
            let expected = if variable.default == "unset" {
                &unset
            } else {
                &row
            };
            assert!(
                readme.contains(expected.as_str()),
                "the README lacks {expected}"
            );
        }
    }
}
