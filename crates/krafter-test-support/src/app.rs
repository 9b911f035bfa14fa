//! The whole application on a port of its own, over a migrated schema of its own.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use chrono::Utc;
use krafter_domain::access::{ApiKeyRepository, NewApiKey, Scope, Scopes};
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository, ProjectSlug};
use krafter_domain::{Clock, SystemClock};
use krafter_http::Services;
use krafter_postgres::PgStore;

use crate::TestDatabase;

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub store: PgStore,
    server: ServerHandle,
    // Dropped last: the schema goes once nothing uses it.
    pub db: TestDatabase,
}

/// An organisation with one project and keys of each kind.
pub struct Tenant {
    pub org: OrgId,
    pub project: Project,
    /// audit:read and audit:write
    pub key: String,
    pub read_key: String,
    pub write_key: String,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::with_clock(Arc::new(SystemClock)).await
    }

    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        let db = TestDatabase::new().await;
        let store = PgStore::connect(db.url(), 4)
            .await
            .expect("connect to the test schema");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
        let server = krafter_http::server(listener, Services::over(store.clone(), clock))
            .expect("the server starts");
        let handle = server.handle();
        tokio::spawn(server);
        Self {
            base_url,
            client: reqwest::Client::new(),
            store,
            server: handle,
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url, path)
    }

    /// The `/api/v1/orgs/{org}/projects/{slug}/audit` prefix of a tenant's project.
    pub fn audit_url(&self, tenant: &Tenant, rest: &str) -> String {
        self.url(&format!(
            "/api/v1/orgs/{}/projects/{}/audit{rest}",
            tenant.org, tenant.project.slug
        ))
    }

    pub async fn org(&self, name: &str) -> OrgId {
        let org = Organisation {
            id: OrgId::generate(),
            name: name.to_owned(),
            created_at: Utc::now(),
        };
        OrganisationRepository::create(&self.store, &org)
            .await
            .expect("create organisation");
        org.id
    }

    pub async fn project(&self, org: OrgId, slug: &str) -> Project {
        let slug = ProjectSlug::parse(slug).expect("a valid slug");
        let project = Project::new(org, slug, None, Utc::now()).expect("a valid project");
        ProjectRepository::create(&self.store, &project)
            .await
            .expect("create project");
        project
    }

    pub async fn key(&self, org: OrgId, scopes: &[Scope]) -> String {
        let new = NewApiKey::generate(org, "test", Scopes::of(scopes), Utc::now());
        ApiKeyRepository::insert(&self.store, &new.key)
            .await
            .expect("insert key");
        new.secret.expose().to_owned()
    }

    pub async fn tenant(&self, slug: &str) -> Tenant {
        let org = self.org("Acme").await;
        Tenant {
            org,
            project: self.project(org, slug).await,
            key: self.key(org, &[Scope::AuditRead, Scope::AuditWrite]).await,
            read_key: self.key(org, &[Scope::AuditRead]).await,
            write_key: self.key(org, &[Scope::AuditWrite]).await,
        }
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Stop accepting and let in-flight requests finish; the runtime ends with the test.
        drop(self.server.stop(true));
    }
}
