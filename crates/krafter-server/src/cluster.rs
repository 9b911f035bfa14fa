//! `krafter cluster path` and `krafter cluster reset`: find and reset the PostgreSQL cluster of
//! our own (the one used when `DATABASE_URL` is unset), wherever it is kept.

use krafter_postgres::local_cluster::ClusterLocation;

use crate::admin::CommandError;
use crate::cli::ClusterCommand;
use crate::config::Config;

pub fn run(command: &ClusterCommand, config: &Config) -> Result<(), CommandError> {
    let location = ClusterLocation::of(&config.cluster_dir()).map_err(CommandError::failed)?;
    if config.database_url.is_some() {
        eprintln!("note: DATABASE_URL is set, so krafter uses that database, not this cluster");
    }
    if location.is_relocated() {
        eprintln!(
            "note: the PostgreSQL server's user cannot reach {}, so the cluster is kept in {}",
            location.requested.display(),
            location.dir.display()
        );
    }
    match command {
        ClusterCommand::Path => {
            println!("{}", location.dir.display());
            if !location.exists() {
                eprintln!("note: no cluster has been created there yet");
            }
            Ok(())
        }
        ClusterCommand::Reset { yes: false } => Err(CommandError::Invalid(format!(
            "`krafter cluster reset` deletes the cluster in {} with every organisation, key and \
             finding in it: run `krafter cluster reset --yes` to go ahead",
            location.dir.display()
        ))),
        ClusterCommand::Reset { yes: true } => {
            // A running server is never stopped from here: it belongs to the `krafter` that
            // started it, whose requests still need it (ClusterError::Running says so).
            let removed = location.reset().map_err(CommandError::failed)?;
            if !removed {
                eprintln!("note: there was no cluster to delete");
            }
            println!("{}", location.dir.display());
            Ok(())
        }
    }
}
