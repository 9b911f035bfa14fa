//! The local cluster against the installed PostgreSQL binaries: start, reuse, share, and no
//! server left behind when its owner is killed.

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use krafter_postgres::local_cluster::{Durability, LocalCluster};

/// Set in the child process that holds a cluster until it is killed.
const HOLDER_DIR: &str = "KRAFTER_LOCAL_CLUSTER_HOLDER_DIR";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("krafter-lc-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn query_i64(url: &str, sql: &str) -> i64 {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = AsyncPgConnection::establish(url).await.unwrap();
        diesel::select(diesel::dsl::sql::<BigInt>(sql))
            .get_result(&mut conn)
            .await
            .unwrap()
    })
}

fn execute(url: &str, sql: &str) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let mut conn = AsyncPgConnection::establish(url).await.unwrap();
        conn.batch_execute(sql).await.unwrap();
    });
}

/// Whether a process runs (zombies do not count).
fn alive(pid: i32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().to_owned())
        })
        .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
}

fn postmaster_pid(dir: &Path) -> i32 {
    let contents = fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    contents.lines().next().unwrap().trim().parse().unwrap()
}

#[test]
fn starts_reuses_and_shares_a_cluster() {
    let dir = scratch("reuse");
    let mut cluster = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
    assert!(cluster.is_new());
    let url = cluster.database_url();
    assert_eq!(
        url,
        format!("postgres://postgres@127.0.0.1:{}/postgres", cluster.port())
    );
    assert_eq!(query_i64(&url, "1::bigint"), 1);
    execute(
        &url,
        "CREATE TABLE kept (x int); INSERT INTO kept VALUES (1), (2);",
    );
    let pid = postmaster_pid(&dir);
    cluster.stop();
    cluster.stop();
    assert!(!alive(pid), "the server is gone after stop");
    assert!(!dir.join("data/postmaster.pid").exists());

    // The second start reuses the cluster (and its data) on a new port.
    let first = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
    assert!(!first.is_new());
    assert_eq!(query_i64(&first.database_url(), "count(*) FROM kept"), 2);

    // A second process start over a running cluster uses it and leaves it running.
    let shared = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
    assert_eq!(shared.database_url(), first.database_url());
    assert!(!shared.is_new());
    drop(shared);
    assert_eq!(query_i64(&first.database_url(), "count(*) FROM kept"), 2);

    let pid = postmaster_pid(&dir);
    drop(first);
    assert!(!alive(pid));
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_stale_pid_file_does_not_block_the_start() {
    let dir = scratch("stale");
    LocalCluster::start(&dir, Durability::Throwaway)
        .unwrap()
        .stop();
    // As if the server had been killed and its pid reused: here by this test process.
    fs::write(
        dir.join("data/postmaster.pid"),
        format!(
            "{}\n{}\n0\n5432\n\n127.0.0.1\n0 0\nready   \n",
            std::process::id(),
            dir.display()
        ),
    )
    .unwrap();
    let cluster = LocalCluster::start(&dir, Durability::Throwaway).unwrap();
    assert_eq!(query_i64(&cluster.database_url(), "1::bigint"), 1);
    drop(cluster);
    fs::remove_dir_all(dir).unwrap();
}

#[test]
fn a_killed_owner_takes_its_server_down() {
    let dir = scratch("killed");
    let mut holder = Command::new(std::env::current_exe().unwrap())
        .args([
            "holds_a_cluster_until_killed",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(HOLDER_DIR, &dir)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = BufReader::new(holder.stdout.take().unwrap());
    let port = stdout
        .lines()
        .map_while(Result::ok)
        .find_map(|line| line.strip_prefix("ready ").map(str::to_owned))
        .expect("the holder reports its cluster");
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    assert_eq!(query_i64(&url, "1::bigint"), 1);
    let pid = postmaster_pid(&dir);

    holder.kill().unwrap(); // SIGKILL: no destructor runs.
    holder.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while alive(pid) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !alive(pid),
        "postgres {pid} outlived the process that started it"
    );
    assert!(
        !dir.join("data/postmaster.pid").exists(),
        "the server shut down cleanly"
    );
    fs::remove_dir_all(dir).unwrap();
}

/// Run by `a_killed_owner_takes_its_server_down` as a child process.
#[test]
#[ignore = "a helper process of a_killed_owner_takes_its_server_down"]
fn holds_a_cluster_until_killed() {
    let Some(dir) = std::env::var_os(HOLDER_DIR) else {
        return;
    };
    let cluster = LocalCluster::start(Path::new(&dir), Durability::Throwaway).unwrap();
    println!("ready {}", cluster.port());
    loop {
        std::thread::park();
    }
}
