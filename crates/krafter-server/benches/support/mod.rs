//! What the benchmarks that run the real `krafter serve` share: the server as a child process
//! (so that its peak resident memory can be read from /proc) and a tenant to call it as.

#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use krafter_domain::access::{ApiKeyRepository, NewApiKey, Scope, Scopes};
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository, ProjectSlug};
use krafter_postgres::PgStore;

pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    pub fn start(database_url: &str, data_dir: &std::path::Path) -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_krafter"))
            .arg("serve")
            .env("DATABASE_URL", database_url)
            .env("KRAFTER_BIND", format!("127.0.0.1:{port}"))
            .env("KRAFTER_DATA_DIR", data_dir)
            .env("RUST_LOG", "warn")
            // The benchmarks measure the service, not the per-key rate limit.
            .env("KRAFTER_RATE_LIMIT", "0")
            .env_remove("KRAFTER_WORKERS")
            .stdout(Stdio::null())
            .spawn()
            .expect("start krafter serve");
        Self {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    /// Peak resident memory of the server process so far, in MiB.
    pub fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let kib: f64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM");
        kib / 1024.0
    }
}

impl Server {
    /// Waits until `/readyz` answers 200 (a minute at most).
    pub async fn wait_ready(&self, client: &reqwest::Client) {
        let deadline = Instant::now() + Duration::from_secs(60);
        while client
            .get(format!("{}/readyz", self.base))
            .send()
            .await
            .map(|r| r.status() != 200)
            .unwrap_or(true)
        {
            assert!(
                Instant::now() < deadline,
                "krafter serve never became ready"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub async fn tenant(store: &PgStore, slug: &str) -> (OrgId, Project, String) {
    let org = Organisation {
        id: OrgId::generate(),
        name: format!("Bench {slug}"),
        created_at: Utc::now(),
    };
    OrganisationRepository::create(store, &org).await.unwrap();
    let project =
        Project::new(org.id, ProjectSlug::parse(slug).unwrap(), None, Utc::now()).unwrap();
    ProjectRepository::create(store, &project).await.unwrap();
    let key = NewApiKey::generate(
        org.id,
        "bench",
        Scopes::of(&[Scope::AuditRead, Scope::AuditWrite]),
        Utc::now(),
    );
    ApiKeyRepository::insert(store, &key.key).await.unwrap();
    (org.id, project, key.secret.expose().to_owned())
}
