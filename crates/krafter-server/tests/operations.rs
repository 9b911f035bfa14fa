//! Operating `krafter` through the real binary: the checked configuration and `--help`, what a
//! command says when the database is unreachable or not migrated, `krafter report show`, and
//! `krafter cluster path` / `krafter cluster reset` against clusters of its own.

use std::io::{BufRead, BufReader};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use krafter_domain::export::{ReportId, ReportStatus};
use krafter_test_support::{TestApp, TestDatabase};
use serde_json::{json, Value};

/// The variables `krafter` reads that a test could inherit from its environment.
const VARIABLES: [&str; 20] = [
    "DATABASE_URL",
    "KRAFTER_BIND",
    "KRAFTER_DATA_DIR",
    "KRAFTER_ARTEFACTS_URL",
    "KRAFTER_WORKERS",
    "KRAFTER_JOB_LEASE_SECONDS",
    "KRAFTER_DB_POOL_SIZE",
    "KRAFTER_DB_POOL_TIMEOUT_MS",
    "KRAFTER_SHUTDOWN_GRACE_SECONDS",
    "KRAFTER_RATE_LIMIT",
    "KRAFTER_RATE_LIMIT_BURST",
    "KRAFTER_AUTH_CACHE_SECONDS",
    "KRAFTER_PUBLIC_URL",
    "KRAFTER_SMTP_URL",
    "KRAFTER_MAIL_FROM",
    "KRAFTER_SIGNING_KEYS",
    "KRAFTER_WEBHOOK_ALLOWED_HOSTS",
    "RUST_LOG",
    "KRAFTER_LOG_FORMAT",
    "KRAFTER_METRICS_BIND",
];

/// `krafter` with none of its variables inherited but those given.
fn krafter(vars: &[(&str, &str)], args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_krafter"));
    command.args(args).env("RUST_LOG", "warn");
    for name in VARIABLES.iter().filter(|n| **n != "RUST_LOG") {
        command.env_remove(name);
    }
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

fn run(vars: &[(&str, &str)], args: &[&str]) -> Output {
    krafter(vars, args).output().expect("krafter runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The stderr of a command that failed with `code` and printed nothing on stdout.
fn failure(output: &Output, code: i32) -> String {
    assert_eq!(output.status.code(), Some(code), "{output:?}");
    assert!(output.stdout.is_empty(), "{output:?}");
    stderr(output)
}

#[test]
fn the_help_lists_every_variable_with_its_default() {
    let output = run(&[], &["--help"]);
    assert!(output.status.success(), "{output:?}");
    let help = stdout(&output);
    let defaults = [
        "unset",
        "127.0.0.1:8080",
        "./.krafter",
        "unset",
        "2",
        "30",
        "16",
        "2000",
        "30",
        "1200",
        "200",
        "5",
        "http://<KRAFTER_BIND>",
        "unset",
        "unset",
        "unset",
        "unset",
        "info",
        "text",
        "unset",
    ];
    for (name, default) in VARIABLES.iter().zip(defaults) {
        let line = format!("\n  {name} (default: {default})\n");
        assert!(help.contains(&line), "{line:?} missing from\n{help}");
    }
    assert!(
        help.contains("Exit codes: 0 success; 1 failure (database, store, server); 2 invalid input or configuration."),
        "{help}"
    );
}

#[test]
fn a_wrong_setting_stops_start_up_naming_the_variable_and_what_is_allowed() {
    let output = run(
        &[
            ("KRAFTER_LOG_FORMAT", "yaml"),
            ("KRAFTER_DB_POOL_TIMEOUT_MS", "2s"),
            ("KRAFTER_SIGNING_KEYS", "k1:short-secret"),
        ],
        &["org", "create", "--name", "Acme"],
    );
    assert_eq!(
        failure(&output, 2),
        "error: KRAFTER_DB_POOL_TIMEOUT_MS must be a whole number from 1 to 600000, not \"2s\"\n\
         error: KRAFTER_SIGNING_KEYS key \"k1\": the secret must be at least 32 bytes\n\
         error: KRAFTER_LOG_FORMAT must be text or json, not \"yaml\"\n"
    );

    let output = run(&[("RUST_LOG", "info,krafter=loud")], &["serve"]);
    let message = failure(&output, 2);
    assert!(
        message.starts_with("error: RUST_LOG is not a valid log filter (")
            && message.ends_with(
                "): use levels and targets such as info or warn,krafter_http=debug, not \"info,krafter=loud\"\n"
            ),
        "{message}"
    );
}

#[tokio::test]
async fn a_database_without_the_schema_says_to_run_krafter_migrate() {
    let db = TestDatabase::new().await;
    krafter_postgres::revert_all_migrations(db.url())
        .await
        .expect("the down migrations apply");
    let migrations = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../migrations"))
        .unwrap()
        .count();
    let vars = [("DATABASE_URL", db.url())];
    for args in [
        &["org", "create", "--name", "Acme"][..],
        &["demo"],
        &["worker"],
        &["report", "show", "00000000-0000-0000-0000-000000000000"],
    ] {
        let message = failure(&run(&vars, args), 1);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.starts_with("error: the database at "), "{message}");
        assert!(
            message.ends_with(&format!(
                " (DATABASE_URL) is not migrated ({migrations} migrations pending): run `krafter migrate` first\n"
            )),
            "{args:?}: {message}"
        );
        assert!(!message.contains("search_path"), "{message}");
    }

    let applied = run(&vars, &["migrate"]);
    assert!(applied.status.success(), "{applied:?}");
    assert_eq!(stdout(&applied), format!("{migrations}\n"));
    let org = run(&vars, &["org", "create", "--name", "Acme"]);
    assert!(org.status.success(), "{org:?}");
}

#[tokio::test]
async fn connection_errors_are_said_once_with_host_and_database_never_the_password() {
    let refused = run(
        &[
            (
                "DATABASE_URL",
                "postgres://krafter:pw-secret-123@127.0.0.1:1/reports",
            ),
            ("RUST_LOG", "debug"),
        ],
        &["org", "create", "--name", "Acme"],
    );
    assert_eq!(
        failure(&refused, 1),
        "error: cannot connect to PostgreSQL at 127.0.0.1:1/reports (DATABASE_URL): \
         error connecting to server: Connection refused (os error 111)\n"
    );

    // The real server, asked for a database it does not have.
    let server = krafter_test_support::cluster::server_url();
    let host_port = server
        .split_once('@')
        .map_or(&server[..], |(_, rest)| rest)
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let url = format!("postgres://postgres:pw-secret-123@{host_port}/krafter_no_such_db");
    let missing = run(
        &[("DATABASE_URL", &url), ("RUST_LOG", "debug")],
        &["migrate"],
    );
    let message = failure(&missing, 1);
    assert_eq!(
        message,
        format!(
            "error: cannot connect to PostgreSQL at {host_port}/krafter_no_such_db (DATABASE_URL): \
             database \"krafter_no_such_db\" does not exist\n"
        )
    );
    assert!(!message.contains("pw-secret-123"));
}

/// Polls until the report has failed for good.
async fn failed_report(app: &TestApp, id: ReportId) -> krafter_postgres::ReportRecord {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let record = app.store.report_record(id).await.unwrap().unwrap();
        if record.status == ReportStatus::Failed {
            return record;
        }
        assert!(
            Instant::now() < deadline,
            "report {id} is still {:?}",
            record.status
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

#[tokio::test]
async fn a_failed_reports_detail_is_shown_to_operators_only() {
    let app = TestApp::builder().workers(1).fast_retries().spawn().await;
    app.break_artefact_store();
    let t = app.tenant("web").await;
    let response = app
        .client
        .post(app.audit_url(&t, "/reports/export"))
        .bearer_auth(&t.key)
        .json(&json!({"format": "csv", "period_start": "2026-01-01", "period_end": "2026-01-31"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    let id: ReportId = body["data"]["id"].as_str().unwrap().parse().unwrap();
    let record = failed_report(&app, id).await;

    // The client sees the public reason only.
    let shown: Value = app
        .client
        .get(app.audit_url(&t, &format!("/reports/{id}")))
        .bearer_auth(&t.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(shown["data"]["error"], "artefact storage unavailable");

    let vars = [("DATABASE_URL", app.db.url())];
    let text = run(&vars, &["report", "show", &id.to_string()]);
    assert!(text.status.success(), "{text:?}");
    let detail = record.error_detail.clone().expect("the detail is kept");
    // What the store said, in full: the artefact directory is a file.
    assert!(detail.contains("artefacts"), "{detail}");
    let time =
        |at: chrono::DateTime<chrono::Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    assert_eq!(
        stdout(&text),
        format!(
            "report:       {id}\n\
             organisation: {org}\n\
             project:      web ({project})\n\
             status:       failed\n\
             format:       csv\n\
             period:       2026-01-01 to 2026-01-31\n\
             attempts:     5\n\
             next attempt: -\n\
             error:        artefact storage unavailable\n\
             detail:       {detail}\n\
             artefact:     -\n\
             created:      {created}\n\
             updated:      {updated}\n\
             exported:     -\n\
             shared:       -\n",
            org = t.org,
            project = t.project.id,
            created = time(record.created_at),
            updated = time(record.updated_at),
        )
    );

    let as_json = run(&vars, &["report", "show", &id.to_string(), "--json"]);
    assert!(as_json.status.success(), "{as_json:?}");
    assert_eq!(stdout(&as_json).lines().count(), 1);
    let value: Value = serde_json::from_str(&stdout(&as_json)).unwrap();
    assert_eq!(
        value,
        json!({
            "id": id.to_string(),
            "org_id": t.org.to_string(),
            "project_id": t.project.id.to_string(),
            "project": "web",
            "status": "failed",
            "format": "csv",
            "period_start": "2026-01-01",
            "period_end": "2026-01-31",
            "attempts": 5,
            "next_attempt_at": null,
            "error": "artefact storage unavailable",
            "error_detail": detail,
            "artefact_key": null,
            "artefact_size": null,
            "created_at": time(record.created_at),
            "updated_at": time(record.updated_at),
            "exported_at": null,
            "shared_at": null,
        })
    );

    let unknown = ReportId::generate();
    assert_eq!(
        failure(&run(&vars, &["report", "show", &unknown.to_string()]), 2),
        format!("error: no report {unknown}\n")
    );
    assert_eq!(
        failure(&run(&vars, &["report", "show", "r-1"]), 2),
        "error: invalid id: \"r-1\" is not a report id (a UUID)\n"
    );
}

fn running_as_root() -> bool {
    std::fs::metadata("/proc/self").unwrap().uid() == 0
}

/// A `krafter serve` on a cluster of its own, once it has printed its demo key.
struct Serve {
    child: Child,
    stderr: std::thread::JoinHandle<String>,
}

impl Serve {
    fn start(data_dir: &Path) -> Serve {
        let mut child = krafter(
            &[
                ("KRAFTER_DATA_DIR", data_dir.to_str().unwrap()),
                ("KRAFTER_BIND", "127.0.0.1:0"),
                ("KRAFTER_WORKERS", "0"),
            ],
            &["serve"],
        )
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("krafter serve starts");
        let stderr = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
        let stdout = child.stdout.take().unwrap();
        // The first line comes once the server listens and the demo is seeded; the reader
        // blocks until then (the test's own timeout bounds it).
        let mut lines = BufReader::new(stdout).lines();
        let first = lines.next().expect("a line").unwrap();
        assert!(first.starts_with("Seeded a demo organisation."), "{first}");
        std::thread::spawn(move || lines.for_each(drop));
        Serve { child, stderr }
    }

    /// SIGTERM, then its stderr once it has exited 0.
    fn stop(mut self) -> String {
        // kill(1), so that the tests need no unsafe code: our own child, not yet reaped.
        let pid = self.child.id();
        let sent = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -TERM {pid}: {sent}");
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "krafter serve did not stop");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "{status}");
        self.stderr.join().unwrap()
    }
}

#[test]
fn the_cluster_is_found_and_reset_wherever_it_is_kept() {
    let root = tempfile::tempdir().unwrap();
    // Kept where asked: a directory every user can reach.
    std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let open = root.path().join("open");
    let vars = [("KRAFTER_DATA_DIR", open.to_str().unwrap())];
    let path = run(&vars, &["cluster", "path"]);
    assert!(path.status.success(), "{path:?}");
    let canonical_root = std::fs::canonicalize(root.path()).unwrap();
    assert_eq!(
        stdout(&path),
        format!("{}\n", canonical_root.join("open/postgres").display())
    );
    assert_eq!(
        stderr(&path),
        "note: no cluster has been created there yet\n"
    );
    assert!(!open.exists(), "`cluster path` creates nothing");

    // A private directory: when we are root, PostgreSQL runs as another user, who cannot reach
    // it, and the cluster is kept under /var/tmp.
    let private = root.path().join("private");
    std::fs::create_dir(&private).unwrap();
    std::fs::set_permissions(&private, std::fs::Permissions::from_mode(0o700)).unwrap();
    let data_dir = private.join("clone/.krafter");
    let requested = canonical_root.join("private/clone/.krafter/postgres");
    let vars = [("KRAFTER_DATA_DIR", data_dir.to_str().unwrap())];
    let path = run(&vars, &["cluster", "path"]);
    assert!(path.status.success(), "{path:?}");
    let dir = PathBuf::from(stdout(&path).trim_end());
    let relocated = running_as_root();
    let note = if relocated {
        assert!(
            dir.to_str().unwrap().starts_with("/var/tmp/krafter-"),
            "{}",
            dir.display()
        );
        format!(
            "note: the PostgreSQL server's user cannot reach {}, so the cluster is kept in {}\n",
            requested.display(),
            dir.display()
        )
    } else {
        assert_eq!(dir, requested);
        String::new()
    };
    assert_eq!(
        stderr(&path),
        format!("{note}note: no cluster has been created there yet\n")
    );

    let refused = run(&vars, &["cluster", "reset"]);
    assert_eq!(
        failure(&refused, 2),
        format!(
            "{note}error: `krafter cluster reset` deletes the cluster in {} with every \
             organisation, key and finding in it: run `krafter cluster reset --yes` to go ahead\n",
            dir.display()
        )
    );

    // `serve` creates the cluster there, and says where when it is kept elsewhere.
    let serve = Serve::start(&data_dir);
    assert!(dir.join("data/PG_VERSION").is_file());
    let pid_file = std::fs::read_to_string(dir.join("data/postmaster.pid")).unwrap();
    let lines: Vec<&str> = pid_file.lines().collect();
    let (pid, port) = (lines[0], lines[3]);
    // Refused while the server runs: it belongs to the `krafter serve` using it.
    let busy = run(&vars, &["cluster", "reset", "--yes"]);
    assert_eq!(
        failure(&busy, 1),
        format!(
            "{note}error: a PostgreSQL server (pid {pid}, port {port}) is running on the cluster \
             in {}: stop the `krafter` that started it (`krafter serve`, or the command in \
             progress) and try again\n",
            dir.join("data").display()
        )
    );
    assert!(dir.join("data/PG_VERSION").is_file());
    let logged = serve.stop();
    if relocated {
        assert!(
            logged.contains(&format!(
                "note: the PostgreSQL server's user cannot reach {}, so the cluster is kept in {} \
                 (`krafter cluster path` prints it, `krafter cluster reset --yes` deletes it)\n",
                requested.display(),
                dir.display()
            )),
            "{logged}"
        );
    }

    let reset = run(&vars, &["cluster", "reset", "--yes"]);
    assert!(reset.status.success(), "{reset:?}");
    assert_eq!(stdout(&reset), format!("{}\n", dir.display()));
    assert_eq!(stderr(&reset), note);
    assert!(!dir.join("data").exists());
    let again = run(&vars, &["cluster", "reset", "--yes"]);
    assert!(again.status.success(), "{again:?}");
    assert_eq!(
        stderr(&again),
        format!("{note}note: there was no cluster to delete\n")
    );
}
