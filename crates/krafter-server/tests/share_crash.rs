//! A worker killed (SIGKILL) between sending an email and recording it.
//!
//! What happens: the worker records the delivery as `sending` (committed) before the message
//! goes out. The SMTP server here stores the message and never answers, so the worker is
//! killed after the send and before it could record the answer. When the job's lease runs out
//! the next worker claims it, finds it `sending`, cannot know whether the message arrived, and
//! fails the delivery with `OUTCOME_UNKNOWN` instead of sending it again: at most once.

mod support;

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use krafter_domain::share::OUTCOME_UNKNOWN;
use krafter_test_support::smtp::{SmtpReply, SmtpServer, SmtpServerOptions};
use krafter_test_support::TestDatabase;
use serde_json::{json, Value};
use support::krafter;

const WAIT: Duration = Duration::from_secs(60);

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn serve(db: &TestDatabase, smtp: &SmtpServer, data: &std::path::Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_krafter"))
        .arg("serve")
        .env("DATABASE_URL", db.url())
        .env("KRAFTER_BIND", format!("127.0.0.1:{port}"))
        .env("KRAFTER_DATA_DIR", data)
        .env("KRAFTER_WORKERS", "1")
        .env("KRAFTER_JOB_LEASE_SECONDS", "3")
        .env("KRAFTER_SMTP_URL", smtp.url())
        .env("KRAFTER_MAIL_FROM", "reports@krafter.test")
        .env(
            "KRAFTER_SIGNING_KEYS",
            "k1:0123456789abcdef0123456789abcdef-k1",
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("krafter serve starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + WAIT;
    while client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .map_or(true, |r| !r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "krafter serve never became ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    server
}

async fn poll(
    client: &reqwest::Client,
    url: &str,
    key: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let body: Value = client
            .get(url)
            .bearer_auth(key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if done(&body["data"]) {
            return body["data"].clone();
        }
        assert!(Instant::now() < deadline, "{body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
#[ignore = "needs aiosmtpd (KRAFTER_AIOSMTPD_PYTHON); .ci/run runs it"]
async fn a_worker_killed_between_sending_and_recording_does_not_send_twice() {
    let db = TestDatabase::new().await;
    let org = krafter(&db, &["org", "create", "--name", "Acme"]);
    krafter(&db, &["project", "create", "--org", &org, "--slug", "web"]);
    let key = krafter(
        &db,
        &[
            "key",
            "create",
            "--org",
            &org,
            "--scopes",
            "audit:read,audit:write",
        ],
    );
    let smtp = SmtpServer::start(SmtpServerOptions::new().replies([SmtpReply::Hang]));
    let data = tempfile::tempdir().unwrap();
    let client = reqwest::Client::new();

    let mut first = serve(&db, &smtp, data.path()).await;
    let api = format!("{}/api/v1/orgs/{org}/projects/web/audit", first.base);
    let report: Value = client
        .post(format!("{api}/reports/export"))
        .bearer_auth(&key)
        .json(&json!({"format": "json"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let report = report["data"]["id"].as_str().unwrap().to_owned();
    poll(&client, &format!("{api}/reports/{report}"), &key, |r| {
        r["status"] == "exported"
    })
    .await;
    let shared = client
        .post(format!("{api}/reports/share"))
        .bearer_auth(&key)
        .json(&json!({"channel": "email", "recipients": ["lead@example.com"], "report_id": report}))
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), 200);

    // The message reached the server, which holds back its answer: the worker waits for it.
    assert_eq!(smtp.wait_for_messages(1, WAIT).await.len(), 1);
    let deliveries = format!("{api}/reports/{report}/deliveries");
    let sending = poll(&client, &deliveries, &key, |d| d[0]["status"] == "sending").await;
    assert_eq!(sending[0]["attempts"], 1);
    first.child.kill().expect("SIGKILL");
    first.child.wait().unwrap();

    let second = serve(&db, &smtp, data.path()).await;
    let deliveries = deliveries.replace(&first.base, &second.base);
    let failed = poll(&client, &deliveries, &key, |d| d[0]["status"] == "failed").await;
    assert_eq!(failed[0]["last_error"], OUTCOME_UNKNOWN);
    assert_eq!(failed[0]["attempts"], 1);
    // Nothing was sent a second time (the server would have accepted it).
    tokio::task::yield_now().await;
    assert_eq!(smtp.messages().len(), 1);
    drop(second);
}
