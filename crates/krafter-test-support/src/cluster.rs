//! Which PostgreSQL server tests use.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use krafter_postgres::local_cluster::{Durability, LocalCluster};

const DIR_PREFIX: &str = "krafter-test-pg-";

/// `DATABASE_URL` when it is set; otherwise a throwaway cluster started once for this process.
///
/// The cluster lives in `<temp>/krafter-test-pg-<pid>` and goes down when the process exits (the
/// server dies with the thread that started it). Directories left by earlier test processes are
/// removed once their process is gone.
pub fn server_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url;
    }
    static CLUSTER: OnceLock<LocalCluster> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let temp = std::env::temp_dir();
            remove_stale_dirs(&temp);
            let dir = temp.join(format!("{DIR_PREFIX}{}", std::process::id()));
            LocalCluster::start(&dir, Durability::Throwaway).unwrap_or_else(|e| {
                panic!("DATABASE_URL is not set and no local PostgreSQL cluster could start: {e}")
            })
        })
        .database_url()
}

/// Removes the `krafter-test-pg-<pid>` directories of processes that no longer run.
fn remove_stale_dirs(temp: &Path) {
    let Ok(entries) = std::fs::read_dir(temp) else {
        return;
    };
    let stale = entries.flatten().filter_map(|entry| {
        let pid: u32 = entry
            .file_name()
            .to_str()?
            .strip_prefix(DIR_PREFIX)?
            .parse()
            .ok()?;
        let running = PathBuf::from(format!("/proc/{pid}")).exists();
        (!running).then(|| entry.path())
    });
    for dir in stale {
        let _ = std::fs::remove_dir_all(dir);
    }
}
