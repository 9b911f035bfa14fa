//! The command line: `krafter [serve|worker|migrate|org|project|key|quota|demo]`.

use clap::{Parser, Subcommand};

/// Krafter Reports: the findings ledger and the Report Summary API.
///
/// Configuration comes from the environment: DATABASE_URL (without it, a PostgreSQL cluster of
/// our own under KRAFTER_DATA_DIR/postgres), KRAFTER_BIND (default 127.0.0.1:8080),
/// KRAFTER_DATA_DIR (default ./.krafter; the cluster, artefacts), KRAFTER_WORKERS (export
/// workers in `serve` and `worker`, default 2), RUST_LOG (default info; logs go to stderr).
#[derive(Debug, Parser)]
#[command(name = "krafter", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// The command to run; `serve` when none is given.
    pub fn command(self) -> Command {
        self.command.unwrap_or(Command::Serve { no_migrate: false })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Serve the API (the default).
    Serve {
        /// Do not apply pending database migrations first.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply pending database migrations and print how many were applied.
    Migrate,
    /// Manage organisations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Manage projects.
    Project {
        #[command(subcommand)]
        command: ProjectCommand,
    },
    /// Manage API keys.
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Run export workers only (KRAFTER_WORKERS of them, default 2), without the HTTP API.
    Worker,
    /// Manage organisations' export quotas.
    Quota {
        #[command(subcommand)]
        command: QuotaCommand,
    },
    /// Seed a demo organisation with a project, a key and 90 days of history; print the key and a curl.
    Demo {
        /// How many findings to create.
        #[arg(long, default_value_t = 500)]
        findings: usize,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum QuotaCommand {
    /// Set the organisation's monthly export limit and print it.
    Set {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// Exports per UTC calendar month (0 to 1000000).
        #[arg(long)]
        limit: i64,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum OrgCommand {
    /// Create an organisation and print its id.
    Create {
        #[arg(long)]
        name: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ProjectCommand {
    /// Create a project and print its slug.
    Create {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// ^[a-z0-9][a-z0-9-]{0,62}$
        #[arg(long)]
        slug: String,
        /// The display name (default: the slug).
        #[arg(long)]
        name: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it. It is shown only this once.
    Create {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// Comma-separated: audit:read, audit:write.
        #[arg(long)]
        scopes: String,
        /// A name to recognise the key by.
        #[arg(long, default_value = "cli")]
        name: String,
    },
    /// Revoke the key with this prefix (kr_live_ and 12 characters) and print the prefix.
    Revoke {
        /// The organisation id.
        #[arg(long)]
        org: String,
        prefix: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Command {
        Cli::try_parse_from(std::iter::once("krafter").chain(args.iter().copied()))
            .unwrap()
            .command()
    }

    #[test]
    fn serve_is_the_default() {
        assert_eq!(parse(&[]), Command::Serve { no_migrate: false });
        assert_eq!(
            parse(&["serve", "--no-migrate"]),
            Command::Serve { no_migrate: true }
        );
    }

    #[test]
    fn the_documented_forms_parse() {
        assert_eq!(parse(&["demo"]), Command::Demo { findings: 500 });
        assert_eq!(
            parse(&["key", "revoke", "--org", "o", "kr_live_abc"]),
            Command::Key {
                command: KeyCommand::Revoke {
                    org: "o".into(),
                    prefix: "kr_live_abc".into()
                }
            }
        );
        assert_eq!(
            parse(&["project", "create", "--org", "o", "--slug", "web"]),
            Command::Project {
                command: ProjectCommand::Create {
                    org: "o".into(),
                    slug: "web".into(),
                    name: None
                }
            }
        );
        assert!(Cli::try_parse_from(["krafter", "key", "create", "--org", "o"]).is_err());
        assert_eq!(parse(&["worker"]), Command::Worker);
        assert_eq!(
            parse(&["quota", "set", "--org", "o", "--limit", "10"]),
            Command::Quota {
                command: QuotaCommand::Set {
                    org: "o".into(),
                    limit: 10
                }
            }
        );
    }
}
