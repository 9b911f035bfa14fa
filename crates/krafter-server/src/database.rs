//! Which database a command uses, said without its password, and the errors an operator sees
//! when it cannot be used: unreachable (said once, naming the host and database) or not migrated
//! (saying to run `krafter migrate`).

use std::fmt;

use krafter_postgres::{PgStore, PoolSettings};

/// Where the database is, for messages: host, port and database name, never the user or the
/// password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    host: String,
    port: Option<String>,
    database: Option<String>,
    /// Where the URL came from: `DATABASE_URL` or our own cluster.
    source: &'static str,
}

impl Target {
    /// Reads a `postgres://` (or `postgresql://`) URL or a `key=value` connection string.
    pub fn of(url: &str, source: &'static str) -> Self {
        let (host, port, database) = match url
            .strip_prefix("postgres://")
            .or_else(|| url.strip_prefix("postgresql://"))
        {
            Some(rest) => from_url(rest),
            None => from_key_values(url),
        };
        Self {
            host: host.unwrap_or_else(|| "localhost".to_owned()),
            port,
            database,
            source,
        }
    }
}

impl Target {
    /// `host:port` when the server is reached over TCP (not a Unix socket directory).
    fn tcp_address(&self) -> Option<String> {
        if self.host.starts_with('/') || self.host.starts_with('@') {
            return None;
        }
        let port = self.port.as_deref().unwrap_or("5432");
        Some(format!("{}:{port}", self.host))
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.host)?;
        if let Some(port) = &self.port {
            write!(f, ":{port}")?;
        }
        match &self.database {
            Some(database) => write!(f, "/{database}")?,
            None => f.write_str(" (the user's default database)")?,
        }
        write!(f, " ({})", self.source)
    }
}

/// `user:password@host:port/database?options` without its scheme.
fn from_url(rest: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (before_query, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = before_query.split_once('/').unwrap_or((before_query, ""));
    // The user information ends at the last '@' (a password may contain '@' only escaped, but
    // be safe).
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (mut host, mut port) = split_host_port(host_port);
    let mut database = (!path.is_empty()).then(|| path.to_owned());
    for (key, value) in query.split('&').filter_map(|pair| pair.split_once('=')) {
        match key {
            "host" if host.is_none() => host = Some(value.to_owned()),
            "port" if port.is_none() => port = Some(value.to_owned()),
            "dbname" if database.is_none() => database = Some(value.to_owned()),
            _ => {}
        }
    }
    (host, port, database)
}

fn split_host_port(host_port: &str) -> (Option<String>, Option<String>) {
    if host_port.is_empty() {
        return (None, None);
    }
    // `[::1]:5432`
    if let Some(rest) = host_port.strip_prefix('[') {
        if let Some((host, after)) = rest.split_once(']') {
            let port = after.strip_prefix(':').map(str::to_owned);
            return (Some(format!("[{host}]")), port);
        }
    }
    match host_port.rsplit_once(':') {
        Some((host, port)) if !host.contains(':') => (Some(host.to_owned()), Some(port.to_owned())),
        _ => (Some(host_port.to_owned()), None),
    }
}

/// `host=… port=… dbname=…` (values may be single-quoted).
fn from_key_values(raw: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (mut host, mut port, mut database) = (None, None, None);
    for pair in raw.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            continue;
        };
        let value = value.trim_matches('\'').to_owned();
        match key {
            "host" | "hostaddr" if host.is_none() => host = Some(value),
            "port" => port = Some(value),
            "dbname" => database = Some(value),
            _ => {}
        }
    }
    (host, port, database)
}

/// Opens the pool; on failure, one sentence naming the target and the server's own reason,
/// without the URL's password.
pub async fn connect(
    url: &str,
    target: &Target,
    settings: PoolSettings,
) -> anyhow::Result<PgStore> {
    match PgStore::connect_with(url, settings).await {
        Ok(store) => Ok(store),
        Err(error) => {
            let mut reason = reason_of(url, &error);
            // The driver's message drops the system's reason: find it out by trying the
            // address ourselves.
            if reason == "error connecting to server" {
                if let Some(why) = probe(target).await {
                    reason = format!("{reason}: {why}");
                }
            }
            Err(anyhow::anyhow!(
                "cannot connect to PostgreSQL at {target}: {reason}"
            ))
        }
    }
}

/// Why a TCP connection to the target fails, if it does.
async fn probe(target: &Target) -> Option<String> {
    let address = target.tcp_address()?;
    let attempt = tokio::net::TcpStream::connect(address);
    match tokio::time::timeout(std::time::Duration::from_secs(5), attempt).await {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(e.to_string()),
        Err(_) => Some("no answer within 5 s".to_owned()),
    }
}

/// The innermost reason of a connection failure, without the URL's password.
fn reason_of(url: &str, error: &dyn std::error::Error) -> String {
    let reason = innermost(error);
    match password_of(url) {
        Some(password) => reason.replace(&password, "<redacted>"),
        None => reason,
    }
}

/// The deepest error's message: the one that says what happened, without the wrappers
/// ("storage unavailable", "error occurred while creating a new object") around it.
fn innermost(error: &dyn std::error::Error) -> String {
    let mut current = error;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

fn password_of(url: &str) -> Option<String> {
    let rest = url
        .strip_prefix("postgres://")
        .or_else(|| url.strip_prefix("postgresql://"));
    match rest {
        Some(rest) => {
            let authority = rest.split(['/', '?']).next()?;
            let (user_info, _) = authority.rsplit_once('@')?;
            let (_, password) = user_info.split_once(':')?;
            (!password.is_empty()).then(|| password.to_owned())
        }
        None => raw_password(url),
    }
}

fn raw_password(raw: &str) -> Option<String> {
    raw.split_whitespace()
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == "password")
        .map(|(_, value)| value.trim_matches('\'').to_owned())
        .filter(|p| !p.is_empty())
}

/// Refuses to run a command against a database that lacks migrations, saying what to do.
pub async fn require_schema(store: &PgStore, target: &Target) -> anyhow::Result<()> {
    let pending = store.pending_migrations().await.map_err(|e| {
        anyhow::anyhow!("cannot read the migrations of {target}: {}", innermost(&e))
    })?;
    match pending {
        0 => Ok(()),
        n => anyhow::bail!(
            "the database at {target} is not migrated ({n} migration{} pending): run `krafter migrate` first",
            if n == 1 { "" } else { "s" }
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(url: &str) -> String {
        Target::of(url, "DATABASE_URL").to_string()
    }

    #[test]
    fn the_target_names_host_port_and_database_only() {
        assert_eq!(
            shown("postgres://app:s3cret@db.internal:6432/krafter?sslmode=require"),
            "db.internal:6432/krafter (DATABASE_URL)"
        );
        assert_eq!(
            shown("postgresql://postgres@127.0.0.1/postgres"),
            "127.0.0.1/postgres (DATABASE_URL)"
        );
        assert_eq!(
            shown("postgres://u:p@[::1]:5432/x"),
            "[::1]:5432/x (DATABASE_URL)"
        );
        assert_eq!(
            shown("postgres:///krafter?host=/var/run/postgresql"),
            "/var/run/postgresql/krafter (DATABASE_URL)"
        );
        assert_eq!(
            shown("host=db port=5433 dbname=krafter user=app password=s3cret"),
            "db:5433/krafter (DATABASE_URL)"
        );
        assert_eq!(
            shown("postgres://app:s3cret@db"),
            "db (the user's default database) (DATABASE_URL)"
        );
    }

    #[test]
    fn a_password_in_a_reason_is_redacted() {
        #[derive(Debug, thiserror::Error)]
        #[error("wrapper")]
        struct Wrapper(#[source] std::io::Error);
        let url = "postgres://app:s3cret@db:5432/krafter";
        let error = Wrapper(std::io::Error::other("refused for s3cret"));
        assert_eq!(reason_of(url, &error), "refused for <redacted>");
        assert_eq!(password_of("host=db password='pw'").as_deref(), Some("pw"));
        assert_eq!(password_of("postgres://app@db/x"), None);
    }
}
