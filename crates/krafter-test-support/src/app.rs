//! The whole application on a port of its own, over a migrated schema of its own, with export
//! workers when asked for. Dropping it checks that no export job was left unprocessed.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::ServerHandle;
use chrono::Utc;
use diesel::sql_types::{Integer, Uuid as SqlUuid};
use diesel::QueryableByName;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use krafter_delivery::links::{JwtLinks, SigningKeys};
use krafter_delivery::mail::SmtpMailer;
use krafter_delivery::webhook::SlackWebhooks;
use krafter_domain::access::{ApiKeyRepository, NewApiKey, Scope, Scopes};
use krafter_domain::export::{
    ExportWorker, JobQueue, ReportRenderer, RetryPolicy, WorkOutcome, WorkerConfig,
};
use krafter_domain::ids::OrgId;
use krafter_domain::organisation::{Organisation, OrganisationRepository};
use krafter_domain::project::{Project, ProjectRepository, ProjectSlug};
use krafter_domain::share::{DeliveryWorker, DeliveryWorkerDeps, Mailer};
use krafter_domain::{Clock, SystemClock};
use krafter_http::{Services, Sharing};
use krafter_postgres::PgStore;
use krafter_render::{FsArtefactStore, Renderer};

use crate::db::TableLock;
use crate::TestDatabase;

/// How to build a [`TestApp`].
pub struct TestAppBuilder {
    clock: Arc<dyn Clock>,
    workers: usize,
    renderer: Arc<dyn ReportRenderer>,
    retry: RetryPolicy,
    lease: Duration,
    smtp: Option<(String, Option<Vec<u8>>)>,
    webhook_timeout: Duration,
    timeouts: krafter_http::Timeouts,
    pool: krafter_postgres::PoolSettings,
    rate_limit: krafter_http::RateLimit,
    auth_cache: Duration,
    import_body_limit: usize,
    database_server: Option<String>,
    adapt_store: fn(PgStore) -> PgStore,
}

/// The link signing keys of every test app (and of tests that sign their own tokens).
pub const TEST_SIGNING_KEYS: &str = "test-key:0123456789abcdef0123456789abcdef-test";

impl TestAppBuilder {
    /// Email through the SMTP server at `url` (lettre's URL form), trusting `root_pem` too.
    pub fn smtp(mut self, url: &str, root_pem: Option<Vec<u8>>) -> Self {
        self.smtp = Some((url.to_owned(), root_pem));
        self
    }

    /// Each webhook attempt's total timeout (10 s by default).
    pub fn webhook_timeout(mut self, timeout: Duration) -> Self {
        self.webhook_timeout = timeout;
        self
    }

    /// The server's client timeouts (the production defaults unless set).
    pub fn timeouts(mut self, timeouts: krafter_http::Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    /// The database pool's size and wait timeout (8 connections, the default wait, unless set).
    pub fn pool(mut self, pool: krafter_postgres::PoolSettings) -> Self {
        self.pool = pool;
        self
    }

    /// Per-key request rates (off unless set).
    pub fn rate_limit(mut self, limit: krafter_http::RateLimit) -> Self {
        self.rate_limit = limit;
        self
    }

    /// The PostgreSQL server to make the app's schema on (the tests' server unless set).
    pub fn database_server(mut self, url: String) -> Self {
        self.database_server = Some(url);
        self
    }

    /// How long keys and projects are kept after they are read (not at all unless set).
    /// Import bodies up to `bytes`.
    pub fn import_body_limit(mut self, bytes: usize) -> Self {
        self.import_body_limit = bytes;
        self
    }

    pub fn auth_cache(mut self, ttl: Duration) -> Self {
        self.auth_cache = ttl;
        self
    }

    /// Changes the store before the app is built on it (a benchmark's baseline).
    pub fn store(mut self, adapt: fn(PgStore) -> PgStore) -> Self {
        self.adapt_store = adapt;
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Export workers running in the background; none by default (use `run_pending_jobs`).
    pub fn workers(mut self, workers: usize) -> Self {
        self.workers = workers;
        self
    }

    pub fn renderer(mut self, renderer: Arc<dyn ReportRenderer>) -> Self {
        self.renderer = renderer;
        self
    }

    /// Retries after milliseconds instead of seconds.
    pub fn fast_retries(mut self) -> Self {
        self.retry = RetryPolicy {
            max_attempts: 5,
            base: Duration::from_millis(5),
            cap: Duration::from_millis(20),
        };
        self
    }

    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    pub async fn spawn(self) -> TestApp {
        let app = self.spawn_paused().await;
        app.start_workers();
        app
    }

    /// Like `spawn`, but the workers start only with `start_workers`.
    pub async fn spawn_paused(mut self) -> TestApp {
        let db = match self.database_server.take() {
            Some(url) => TestDatabase::on(url).await,
            None => TestDatabase::new().await,
        };
        let store = (self.adapt_store)(
            PgStore::connect_with(db.url(), self.pool)
                .await
                .expect("connect to the test schema"),
        );
        let files = tempfile::tempdir().expect("a temporary directory");
        let artefacts = Arc::new(
            FsArtefactStore::new(&files.path().join("artefacts")).expect("an artefact store"),
        );
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind port 0");
        let base_url = format!("http://{}", listener.local_addr().expect("local addr"));
        // Loopback webhooks are the test servers: allowed here only, by the named test setting.
        let webhooks = Arc::new(
            SlackWebhooks::new(Vec::new())
                .allow_loopback_for_tests(true)
                .timeout(self.webhook_timeout),
        );
        let links = Arc::new(JwtLinks::new(
            SigningKeys::parse(TEST_SIGNING_KEYS).expect("the test keys parse"),
        ));
        let mailer: Option<Arc<dyn Mailer>> = self.smtp.as_ref().map(|(url, root)| {
            let mut mailer = SmtpMailer::from_url(url, "Krafter Reports <reports@krafter.test>")
                .expect("the test SMTP URL is valid");
            if let Some(pem) = root {
                mailer = mailer
                    .add_root_certificate_pem(pem)
                    .expect("the test root certificate parses");
            }
            Arc::new(mailer) as Arc<dyn Mailer>
        });
        let sharing = Sharing {
            webhooks: webhooks.clone(),
            links: links.clone(),
            renderer: Arc::new(Renderer::new()),
            public_url: base_url.clone(),
            email_enabled: mailer.is_some(),
        };
        let mut services = Services::over(
            store.clone(),
            artefacts.clone(),
            self.clock.clone(),
            sharing,
        )
        .with_auth_cache(self.auth_cache)
        .with_rate_limit(self.rate_limit)
        .with_import_body_limit(self.import_body_limit);
        // As the binary has them: the pool's metrics too, and the workers' outcomes.
        let mut metrics = krafter_http::Metrics::new(Some(Arc::new(store.clone())));
        store.register_metrics(metrics.registry_mut());
        services.metrics = Arc::new(metrics);
        let metrics = services.metrics.clone();
        let server = krafter_http::server_with(listener, services, self.timeouts)
            .expect("the server starts");
        let handle = server.handle();
        tokio::spawn(server);
        let mut config = WorkerConfig::new(files.path().join("scratch"));
        config.lease = self.lease;
        config.heartbeat_every = self.lease / 3;
        config.poll_every = Duration::from_millis(200);
        config.retry = self.retry;
        let deliveries = Arc::new(DeliveryWorker::new(DeliveryWorkerDeps {
            queue: Arc::new(store.clone()),
            source: Arc::new(store.clone()),
            artefacts: artefacts.clone(),
            mailer,
            webhooks,
            links,
            clock: self.clock.clone(),
            public_url: base_url.clone(),
            retry: config.retry,
            lease: config.lease,
            heartbeat_every: config.heartbeat_every,
        }));
        let worker = Arc::new(
            ExportWorker::new(
                Arc::new(store.clone()),
                Arc::new(store.clone()),
                artefacts,
                self.renderer,
                self.clock,
                config,
            )
            .with_deliveries(deliveries)
            .with_observer(metrics),
        );
        TestApp {
            base_url,
            client: reqwest::Client::new(),
            store,
            server: handle,
            worker,
            workers: self.workers,
            expected_unprocessed: AtomicU64::new(0),
            files,
            db,
        }
    }
}

pub struct TestApp {
    pub base_url: String,
    pub client: reqwest::Client,
    pub store: PgStore,
    server: ServerHandle,
    worker: Arc<ExportWorker>,
    workers: usize,
    expected_unprocessed: AtomicU64,
    files: tempfile::TempDir,
    // Dropped last: the schema goes once nothing uses it.
    pub db: TestDatabase,
}

/// An organisation with one project and keys of each kind.
#[derive(Clone)]
pub struct Tenant {
    pub org: OrgId,
    pub project: Project,
    /// audit:read and audit:write
    pub key: String,
    pub read_key: String,
    pub write_key: String,
}

impl TestApp {
    pub fn builder() -> TestAppBuilder {
        TestAppBuilder {
            clock: Arc::new(SystemClock),
            workers: 0,
            renderer: Arc::new(Renderer::new()),
            retry: RetryPolicy::default(),
            lease: Duration::from_secs(30),
            smtp: None,
            webhook_timeout: Duration::from_secs(10),
            timeouts: krafter_http::Timeouts::default(),
            pool: krafter_postgres::PoolSettings::new(8),
            rate_limit: krafter_http::RateLimit::OFF,
            auth_cache: Duration::ZERO,
            import_body_limit: krafter_http::DEFAULT_IMPORT_BODY_BYTES,
            database_server: None,
            adapt_store: std::convert::identity,
        }
    }

    pub async fn spawn() -> Self {
        Self::builder().spawn().await
    }

    pub async fn with_clock(clock: Arc<dyn Clock>) -> Self {
        Self::builder().clock(clock).spawn().await
    }

    /// Starts the configured number of background workers on the current runtime.
    pub fn start_workers(&self) {
        for n in 0..self.workers {
            let worker = self.worker.clone();
            tokio::spawn(async move {
                worker
                    .run(&format!("test-worker-{n}"), std::future::pending())
                    .await
            });
        }
    }

    /// Runs export jobs in this task until none is due; answers what each turn did.
    pub async fn run_pending_jobs(&self) -> Vec<WorkOutcome> {
        let mut outcomes = Vec::new();
        loop {
            match self
                .worker
                .run_once("test-inline")
                .await
                .expect("the job queue answers")
            {
                WorkOutcome::Idle => return outcomes,
                outcome => outcomes.push(outcome),
            }
        }
    }

    /// Tells the drop check that `n` jobs are meant to be left queued.
    pub fn expect_unprocessed_jobs(&self, n: u64) {
        AtomicU64::store(&self.expected_unprocessed, n, Ordering::SeqCst);
    }

    /// How many attempts the report's export job has had.
    pub async fn job_attempts(&self, report_id: &str) -> i32 {
        #[derive(QueryableByName)]
        struct Attempts {
            #[diesel(sql_type = Integer)]
            attempts: i32,
        }
        let mut conn = AsyncPgConnection::establish(self.db.url())
            .await
            .expect("connect");
        let id = uuid::Uuid::parse_str(report_id).expect("a report id");
        let row: Attempts = diesel::sql_query("SELECT attempts FROM jobs WHERE id = $1")
            .bind::<SqlUuid, _>(id)
            .get_result(&mut conn)
            .await
            .expect("the job exists");
        row.attempts
    }

    /// When job `id` (a report's or a delivery's) is due next.
    pub async fn job_run_at(&self, id: &str) -> chrono::DateTime<Utc> {
        #[derive(QueryableByName)]
        struct RunAt {
            #[diesel(sql_type = diesel::sql_types::Timestamptz)]
            run_at: chrono::DateTime<Utc>,
        }
        let mut conn = AsyncPgConnection::establish(self.db.url())
            .await
            .expect("connect");
        let id = uuid::Uuid::parse_str(id).expect("a job id");
        let row: RunAt = diesel::sql_query("SELECT run_at FROM jobs WHERE id = $1")
            .bind::<SqlUuid, _>(id)
            .get_result(&mut conn)
            .await
            .expect("the job exists");
        row.run_at
    }

    /// Locks `table` (ACCESS EXCLUSIVE) from a connection outside the app's pool until the
    /// answer is dropped: every query of the app that touches it waits, holding its connection.
    pub async fn lock_table(&self, table: &str) -> TableLock {
        self.db.lock_table(table).await
    }

    /// How many artefacts are stored (the findings previews kept beside them not counted).
    pub fn artefact_files(&self) -> usize {
        fn count(dir: PathBuf) -> usize {
            std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| {
                            if e.path().is_dir() {
                                count(e.path())
                            } else if e.path().to_string_lossy().ends_with(".preview.json") {
                                0
                            } else {
                                1
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        count(self.files.path().join("artefacts"))
    }

    /// Deletes the report's stored artefact (its findings preview kept); answers how many files
    /// went.
    pub fn remove_artefact(&self, report_id: &str) -> usize {
        fn remove(dir: PathBuf, report_id: &str) -> usize {
            std::fs::read_dir(&dir)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| {
                            let path = e.path();
                            let name = e.file_name().to_string_lossy().into_owned();
                            if path.is_dir() {
                                remove(path, report_id)
                            } else if name.starts_with(&format!("{report_id}."))
                                && !name.ends_with(".preview.json")
                            {
                                std::fs::remove_file(&path).expect("the artefact is removed");
                                1
                            } else {
                                0
                            }
                        })
                        .sum()
                })
                .unwrap_or(0)
        }
        remove(self.files.path().join("artefacts"), report_id)
    }

    /// Makes the artefact store fail every write: its directory becomes a plain file.
    pub fn break_artefact_store(&self) {
        let dir = self.files.path().join("artefacts");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::write(&dir, b"not a directory").expect("the store is broken");
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
        if std::thread::panicking() {
            return;
        }
        // Like crates.io's test app: a test that queued exports must also have run them.
        let url = self.db.url().to_owned();
        let outstanding = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async {
                let store = PgStore::connect(&url, 1).await.map_err(|e| e.to_string())?;
                store.outstanding().await.map_err(|e| e.to_string())
            })
        })
        .join()
        .expect("the check ran");
        let expected = AtomicU64::load(&self.expected_unprocessed, Ordering::SeqCst);
        match outstanding {
            Ok(n) if n == expected => {}
            Ok(n) => {
                panic!("{n} job(s) left unprocessed (expected {expected}): call run_pending_jobs")
            }
            Err(e) => panic!("could not count outstanding export jobs: {e}"),
        }
    }
}
