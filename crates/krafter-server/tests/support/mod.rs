//! What the tests of the `krafter` binary share (each test file is a crate of its own and
//! includes this module with `mod support;`): one-off commands, a tenant made through them, and
//! `krafter serve` / `krafter worker` processes whose JSON logs the test reads.

// Each test crate uses a part of this module; the rest would be dead code there.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use krafter_test_support::TestDatabase;
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

/// A one-off `krafter` command against `db`: its single line of output; fails the test when the
/// command fails.
pub fn krafter(db: &TestDatabase, args: &[&str]) -> String {
    let output: Output = std::process::Command::new(env!("CARGO_BIN_EXE_krafter"))
        .args(args)
        .env("DATABASE_URL", db.url())
        .env("RUST_LOG", "warn")
        .output()
        .expect("krafter runs");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// The longest any awaited line, answer or exit may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// An organisation with a project `web`, a key with both scopes and a monthly quota of `quota`.
pub struct Tenant {
    pub org: String,
    pub key: String,
}

impl Tenant {
    pub fn new(db: &TestDatabase, quota: u32) -> Self {
        let org = krafter(db, &["org", "create", "--name", "Acme"]);
        krafter(db, &["project", "create", "--org", &org, "--slug", "web"]);
        let key = krafter(
            db,
            &[
                "key",
                "create",
                "--org",
                &org,
                "--scopes",
                "audit:read,audit:write",
            ],
        );
        let quota = quota.to_string();
        krafter(db, &["quota", "set", "--org", &org, "--limit", &quota]);
        Self { org, key }
    }
}

/// A running `krafter serve` or `krafter worker`, its stderr read line by line (JSON).
pub struct Node {
    pub child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    /// Every line read so far.
    seen: Vec<String>,
    /// The API's base URL (`serve` only).
    pub base: String,
    pub client: reqwest::Client,
}

impl Node {
    pub async fn start(
        command: &str,
        db: &TestDatabase,
        data: &Path,
        env: &[(&str, &str)],
    ) -> Node {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_krafter"));
        cmd.arg(command)
            .env("DATABASE_URL", db.url())
            .env("KRAFTER_BIND", "127.0.0.1:0")
            .env("KRAFTER_DATA_DIR", data)
            .env("KRAFTER_LOG_FORMAT", "json")
            .env("RUST_LOG", "info")
            .env_remove("KRAFTER_METRICS_BIND")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (name, value) in env {
            cmd.env(name, value);
        }
        let mut child = cmd.spawn().expect("krafter starts");
        let stderr = child.stderr.take().unwrap();
        let (send, lines) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut reader = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                if send.send(line).is_err() {
                    return;
                }
            }
        });
        let mut node = Node {
            child,
            lines,
            seen: Vec::new(),
            base: String::new(),
            client: reqwest::Client::new(),
        };
        if command == "serve" {
            let listening = node
                .wait_for(|l| l["message"] == "Krafter Reports is listening")
                .await;
            node.base = format!("http://{}", listening["address"].as_str().unwrap());
        }
        node
    }

    /// The first line logged (before or from now on) that `matches`; fails after [`WAIT`] or
    /// when the log ends.
    pub async fn wait_for(&mut self, matches: impl Fn(&Value) -> bool) -> Value {
        let earlier = self
            .seen
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .find(|value| matches(value));
        if let Some(value) = earlier {
            return value;
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let line = tokio::time::timeout_at(deadline, self.lines.recv())
                .await
                .unwrap_or_else(|_| panic!("no such line within {WAIT:?}: {:#?}", self.seen))
                .unwrap_or_else(|| panic!("the log ended without such a line: {:#?}", self.seen));
            self.seen.push(line.clone());
            if let Ok(value) = serde_json::from_str::<Value>(&line) {
                if matches(&value) {
                    return value;
                }
            }
        }
    }

    /// Sends the node SIGTERM.
    pub fn terminate(&self) {
        let pid = self.child.id().expect("still running");
        // kill(1), so that the tests need no unsafe code: the pid is a child not yet reaped.
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -TERM {pid}: {status}");
    }

    /// Waits for the node to exit 0 (failing after [`WAIT`]); answers every line it logged.
    pub async fn exited(mut self) -> Vec<String> {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("the node stops")
            .unwrap();
        assert!(status.success(), "{status:?}: {:#?}", self.seen);
        while let Some(line) = self.lines.recv().await {
            self.seen.push(line);
        }
        self.seen
    }

    /// Stops the node with SIGTERM; answers every line it logged.
    pub async fn stop(self) -> Vec<String> {
        self.terminate();
        self.exited().await
    }

    pub fn audit(&self, tenant: &Tenant, rest: &str) -> String {
        format!(
            "{}/api/v1/orgs/{}/projects/web/audit{rest}",
            self.base, tenant.org
        )
    }

    pub async fn get(&self, tenant: &Tenant, rest: &str) -> reqwest::Response {
        self.client
            .get(self.audit(tenant, rest))
            .bearer_auth(&tenant.key)
            .send()
            .await
            .unwrap()
    }

    pub async fn export(&self, tenant: &Tenant) -> reqwest::Response {
        self.client
            .post(self.audit(tenant, "/reports/export"))
            .bearer_auth(&tenant.key)
            .json(&json!({"format": "csv"}))
            .send()
            .await
            .unwrap()
    }
}

/// The `data` of an answer in the envelope.
pub async fn data(response: reqwest::Response) -> Value {
    let body: Value = response.json().await.unwrap();
    body["data"].clone()
}
