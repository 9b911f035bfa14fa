//! The command line: `krafter [serve|worker|migrate|org|project|key|quota|import|demo|report|cluster]`.

use clap::{Parser, Subcommand};

/// Krafter Reports: the findings ledger and the Report Summary API.
///
/// Each command prints only its result on stdout; errors go to stderr.
#[derive(Debug, Parser)]
#[command(name = "krafter", version, after_help = crate::config::help())]
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
    /// Import scanner results (SARIF 2.1.0, or the native bulk format) into a project, as
    /// `POST …/audit/imports` does, and print the counts. A `.sarif` file is read as SARIF;
    /// another is SARIF when it has `version` or `runs`, else the native format.
    Import {
        /// The organisation's id.
        #[arg(long)]
        org: String,
        /// The project's slug.
        #[arg(long)]
        project: String,
        /// The tool (default: the SARIF log's `tool.driver.name`, or the native `source`).
        #[arg(long)]
        source: Option<String>,
        /// Resolve the open findings of the source that the file does not hold.
        #[arg(long)]
        close_missing: bool,
        /// When the scan ran (RFC 3339); default now.
        #[arg(long)]
        occurred_at: Option<String>,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
        /// The file to import.
        file: std::path::PathBuf,
    },
    /// Seed a demo organisation with a project, a key and 90 days of history; print the key and a curl.
    Demo {
        /// How many findings to create (up to 10000000; a million takes about a minute).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(0..=10_000_000))]
        findings: u64,
    },
    /// Look at reports, as operators do.
    Report {
        #[command(subcommand)]
        command: ReportCommand,
    },
    /// Find or reset the PostgreSQL cluster of our own (used when DATABASE_URL is unset).
    Cluster {
        #[command(subcommand)]
        command: ClusterCommand,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ReportCommand {
    /// Print a report: status, format, period, attempts, the public error and the internal
    /// detail of its last failed attempt.
    Show {
        /// The report id.
        id: String,
        /// Print one JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum ClusterCommand {
    /// Print the directory that holds the cluster (KRAFTER_DATA_DIR/postgres, or the directory
    /// under /var/tmp used when the PostgreSQL user cannot reach it).
    Path,
    /// Delete the cluster and everything in it; the next command creates a fresh one. Refused
    /// while a server of the cluster runs (stop `krafter serve` first).
    Reset {
        /// Yes, delete every organisation, key and finding in it.
        #[arg(long)]
        yes: bool,
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
    /// Print every organisation: id, name, created (tab-separated), oldest first.
    List {
        /// Print one JSON array instead.
        #[arg(long)]
        json: bool,
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
    /// Print the organisation's projects: slug, name, created (tab-separated), by slug.
    List {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// Print one JSON array instead.
        #[arg(long)]
        json: bool,
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
    /// Revoke a key, given its prefix (kr_live_ and 12 characters) or the whole key, and print
    /// the prefix.
    Revoke {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// The key's prefix, or the key itself.
        prefix: String,
    },
    /// Print the organisation's keys: prefix, name, scopes, created, last used, revoked
    /// (tab-separated, `-` when not set), oldest first. Never the key itself.
    List {
        /// The organisation id.
        #[arg(long)]
        org: String,
        /// Print one JSON array instead.
        #[arg(long)]
        json: bool,
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
    fn both_helps_list_every_variable_with_its_default() {
        use clap::CommandFactory;
        let short = <Cli as CommandFactory>::command().render_help().to_string();
        let long = <Cli as CommandFactory>::command()
            .render_long_help()
            .to_string();
        for variable in crate::config::VARIABLES {
            let line = format!("  {} (default: {})\n", variable.name, variable.default);
            assert!(short.contains(&line), "{line} missing from\n{short}");
            assert!(long.contains(&line), "{line} missing from\n{long}");
        }
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
            parse(&["demo", "--findings", "1000000"]),
            Command::Demo {
                findings: 1_000_000
            }
        );
        assert!(Cli::try_parse_from(["krafter", "demo", "--findings", "10000001"]).is_err());
        assert_eq!(
            parse(&["report", "show", "r1", "--json"]),
            Command::Report {
                command: ReportCommand::Show {
                    id: "r1".into(),
                    json: true
                }
            }
        );
        assert_eq!(
            parse(&[
                "import",
                "--org",
                "o",
                "--project",
                "web",
                "--close-missing",
                "scan.sarif"
            ]),
            Command::Import {
                org: "o".into(),
                project: "web".into(),
                source: None,
                close_missing: true,
                occurred_at: None,
                json: false,
                file: "scan.sarif".into(),
            }
        );
        assert!(Cli::try_parse_from(["krafter", "import", "--org", "o", "scan.sarif"]).is_err());
        assert_eq!(
            parse(&["cluster", "path"]),
            Command::Cluster {
                command: ClusterCommand::Path
            }
        );
        assert_eq!(
            parse(&["cluster", "reset", "--yes"]),
            Command::Cluster {
                command: ClusterCommand::Reset { yes: true }
            }
        );
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
