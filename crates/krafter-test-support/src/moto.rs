//! An S3-compatible server on loopback for artefact-store tests: moto's `moto_server`, a child
//! of the test, killed when its [`MotoServer`] is dropped.
//!
//! The program is `KRAFTER_MOTO_SERVER`, else `moto_server` on `PATH`, else the one `.ci/run`
//! installs into `/var/cache/krafter-ci/moto`. A fresh machine has none, so the tests that start
//! it are `#[ignore = "needs moto_server …"]`; run without it, [`MotoServer::start`] fails saying
//! how to install it.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The environment variable naming the `moto_server` program.
pub const PROGRAM_VAR: &str = "KRAFTER_MOTO_SERVER";

/// Where `.ci/run` installs moto when nothing else says where it is.
pub const CI_VENV: &str = "/var/cache/krafter-ci/moto/bin/moto_server";

/// moto's start-up (Flask and boto imports) can be slow on a busy CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A running `moto_server`; it accepts any credentials and does not check signatures.
pub struct MotoServer {
    child: Child,
    endpoint: String,
    log_path: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server`: `KRAFTER_MOTO_SERVER`, else on `PATH`, else in `.ci/run`'s venv.
pub fn find_program() -> Option<PathBuf> {
    if let Some(given) = std::env::var_os(PROGRAM_VAR).filter(|v| !v.is_empty()) {
        let given = PathBuf::from(given);
        assert!(
            given.is_file(),
            "{PROGRAM_VAR}={} is not a file",
            given.display()
        );
        return Some(given);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .map(|dir| dir.join("moto_server"))
        .find(|candidate| candidate.is_file());
    on_path.or_else(|| Some(PathBuf::from(CI_VENV)).filter(|p| p.is_file()))
}

impl MotoServer {
    /// Starts `moto_server` on a free loopback port and waits until it answers; fails the test,
    /// saying how to install moto, when there is none.
    pub async fn start() -> MotoServer {
        let program = find_program().unwrap_or_else(|| {
            panic!(
                "moto_server not found ({PROGRAM_VAR}, PATH, {CI_VENV}); install it with \
                 `python3 -m venv /var/cache/krafter-ci/moto && \
                 /var/cache/krafter-ci/moto/bin/pip install 'moto[server]'`"
            )
        });
        Self::start_program(&program).await
    }

    async fn start_program(program: &Path) -> MotoServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let log_dir = tempfile::tempdir().expect("a directory for moto's log");
        let log_path = log_dir.path().join("moto_server.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let child = Command::new(program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", program.display()));
        let mut moto = MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            log_path,
            _log_dir: log_dir,
        };
        let http = reqwest::Client::new();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = moto.child.try_wait().unwrap() {
                panic!("moto_server exited with {status}:\n{}", moto.log());
            }
            let answer = http
                .get(&moto.endpoint)
                .timeout(Duration::from_secs(2))
                .send()
                .await;
            if answer.is_ok_and(|a| a.status().is_success()) {
                return moto;
            }
            assert!(
                Instant::now() < deadline,
                "moto_server did not answer on {} within {START_TIMEOUT:?}:\n{}",
                moto.endpoint,
                moto.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's base URL, `http://127.0.0.1:<port>`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// What the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// Creates a bucket with a plain `PUT /bucket`.
    pub async fn create_bucket(&self, bucket: &str) {
        let answer = reqwest::Client::new()
            .put(format!("{}/{bucket}", self.endpoint))
            .send()
            .await
            .expect("PUT bucket");
        assert!(
            answer.status().is_success(),
            "PUT bucket: {}",
            answer.status()
        );
    }

    /// The `AWS_*` variables that point an S3 client (ours reads them as `object_store`'s
    /// `AmazonS3Builder::from_env` does) at this server.
    pub fn aws_env(&self) -> [(&'static str, &str); 5] {
        [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", self.endpoint.as_str()),
            ("AWS_ALLOW_HTTP", "true"),
        ]
    }

    /// The keys and sizes of every object in `bucket` (moto answers one ListObjectsV2 page of
    /// up to 1,000 keys at a time; this follows the continuation tokens).
    pub async fn list(&self, bucket: &str) -> Vec<(String, u64)> {
        let http = reqwest::Client::new();
        let mut objects = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut request = http
                .get(format!("{}/{bucket}", self.endpoint))
                .query(&[("list-type", "2")]);
            if let Some(token) = &token {
                request = request.query(&[("continuation-token", token.as_str())]);
            }
            let answer = request.send().await.expect("ListObjectsV2");
            assert!(answer.status().is_success(), "ListObjectsV2: {answer:?}");
            let body = answer.text().await.unwrap();
            objects.extend(elements(&body, "Contents").into_iter().map(|contents| {
                let key = elements(contents, "Key")[0].to_owned();
                let size = elements(contents, "Size")[0].parse().expect("a size");
                (unescape(&key), size)
            }));
            token = elements(&body, "NextContinuationToken")
                .first()
                .map(|t| unescape(t));
            if token.is_none() {
                return objects;
            }
        }
    }
}

/// The text of every `<name>…</name>` in `xml` (S3's answers have no attributes on these).
fn elements<'a>(xml: &'a str, name: &str) -> Vec<&'a str> {
    let (open, close) = (format!("<{name}>"), format!("</{name}>"));
    let mut found = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let end = after.find(&close).expect("a closing tag");
        found.push(&after[..end]);
        rest = &after[end + close.len()..];
    }
    found
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}
