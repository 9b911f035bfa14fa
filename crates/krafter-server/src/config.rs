//! Configuration from the environment, read once in `main` and passed down.

use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Eq)]
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
        }
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
    }
}
