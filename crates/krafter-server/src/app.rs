//! The composition root: the database, the store, the use cases and the HTTP server, per command.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServerHandle;
use anyhow::Context;
use krafter_domain::access::Scopes;
use krafter_domain::export::{ExportWorker, JobQueue, WorkerConfig};
use krafter_domain::organisation::OrganisationRepository;
use krafter_domain::share::{DeliveryWorker, DeliveryWorkerDeps};
use krafter_domain::{Clock, SystemClock};
use krafter_http::{Metrics, Services, Sharing};
use krafter_postgres::local_cluster::{Durability, LocalCluster};
use krafter_postgres::{PgStore, PoolSettings};
use krafter_render::{FsArtefactStore, Renderer};
use tokio::sync::watch;
use tracing::Instrument;

use crate::admin::{self, CommandError};
use crate::cli::{Command, KeyCommand, OrgCommand, ProjectCommand, QuotaCommand, ReportCommand};
use crate::config::{Config, COMMAND_POOL_SIZE};
use crate::database::{self, Target};
use crate::sharing::SharingAdapters;
use crate::{cluster, demo, import, listing, report};

/// Runs one command to its end, the local cluster (when there is no `DATABASE_URL`) around it.
pub fn main(command: Command, config: &Config) -> Result<(), CommandError> {
    if let Command::Cluster { command } = &command {
        return cluster::run(command, config);
    }
    let mut cluster = None;
    let database = match &config.database_url {
        Some(url) => Database {
            url: url.expose().clone(),
            target: Target::of(url.expose(), "DATABASE_URL"),
            local: false,
        },
        None => {
            let started = LocalCluster::start(&config.cluster_dir(), Durability::Durable)
                .map_err(CommandError::failed)?;
            let location = started.location();
            if location.is_relocated() && started.runs_server() {
                eprintln!(
                    "note: the PostgreSQL server's user cannot reach {}, so the cluster is kept in {} \
                     (`krafter cluster path` prints it, `krafter cluster reset --yes` deletes it)",
                    location.requested.display(),
                    location.dir.display()
                );
            }
            let url = started.database_url();
            let database = Database {
                target: Target::of(&url, "our own cluster"),
                url,
                local: true,
            };
            cluster = Some(started);
            database
        }
    };
    let runtime = tokio::runtime::Runtime::new()
        .context("cannot start the async runtime")
        .map_err(CommandError::Failed)?;
    let outcome = runtime.block_on(run(command, config, &database));
    // Connections end with the runtime; the server goes after them.
    drop(runtime);
    if let Some(cluster) = cluster.as_mut() {
        cluster.stop();
    }
    outcome
}

struct Database {
    url: String,
    /// Where it is, for messages (never the password).
    target: Target,
    /// Whether this is our own cluster rather than `DATABASE_URL`.
    local: bool,
}

async fn run(command: Command, config: &Config, database: &Database) -> Result<(), CommandError> {
    // Nodes use the configured pool; one-off commands need few connections.
    let max_size = match command {
        Command::Serve { .. } | Command::Worker => config.db_pool_size,
        _ => config.db_pool_size.min(COMMAND_POOL_SIZE),
    };
    let settings = PoolSettings {
        max_size,
        wait_timeout: config.db_pool_timeout,
    };
    // The one place a connection failure is reported: naming host and database, not the password.
    let store = database::connect(&database.url, &database.target, settings).await?;
    let migrate = match command {
        Command::Serve { no_migrate } => !no_migrate,
        Command::Migrate => true,
        _ => database.local,
    };
    if migrate {
        let applied = krafter_postgres::run_migrations(&database.url)
            .await
            .with_context(|| format!("cannot apply the migrations to {}", database.target))?;
        tracing::info!(applied, "database migrations are up to date");
        if command == Command::Migrate {
            println!("{applied}");
            return Ok(());
        }
    } else if matches!(command, Command::Serve { .. }) {
        // `serve --no-migrate`: another node (or a deploy step) migrates; /readyz says when.
        let pending = store.pending_migrations().await.unwrap_or(0);
        if pending > 0 {
            tracing::warn!(pending, "the database is not migrated yet: /readyz answers 503 until `krafter migrate` has run");
        }
    } else {
        database::require_schema(&store, &database.target).await?;
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let now = clock.now();
    match command {
        Command::Serve { .. } => {
            // Our own cluster with no organisation yet: a first start, or one whose seeding was
            // interrupted. A DATABASE_URL is never seeded.
            let seed_demo = database.local
                && !OrganisationRepository::any(&store)
                    .await
                    .context("cannot read the organisations")?;
            serve(config, store, clock, seed_demo).await?
        }
        Command::Worker => work(config, store, clock).await?,
        Command::Quota {
            command: QuotaCommand::Set { org, limit },
        } => {
            let org = admin::org_id(&org)?;
            println!("{}", admin::set_quota(&store, org, limit).await?);
        }
        Command::Migrate => {}
        Command::Org {
            command: OrgCommand::Create { name },
        } => println!("{}", admin::create_org(&store, now, &name).await?.id),
        Command::Project {
            command: ProjectCommand::Create { org, slug, name },
        } => {
            let org = admin::org_id(&org)?;
            let project = admin::create_project(&store, now, org, &slug, name.as_deref()).await?;
            println!("{}", project.slug);
        }
        Command::Key {
            command: KeyCommand::Create { org, scopes, name },
        } => {
            let org = admin::org_id(&org)?;
            let scopes = Scopes::parse(&scopes)?;
            let secret = admin::create_key(&store, now, org, scopes, &name).await?;
            println!("{}", secret.expose());
        }
        Command::Org {
            command: OrgCommand::List { json },
        } => listing::orgs(&store, json).await?,
        Command::Project {
            command: ProjectCommand::List { org, json },
        } => listing::projects(&store, admin::org_id(&org)?, json).await?,
        Command::Key {
            command: KeyCommand::List { org, json },
        } => listing::keys(&store, admin::org_id(&org)?, json).await?,
        Command::Key {
            command: KeyCommand::Revoke { org, prefix },
        } => {
            let org = admin::org_id(&org)?;
            println!(
                "{}",
                admin::revoke_key(&store, now, org, &prefix).await?.as_str()
            );
        }
        Command::Import {
            org,
            project,
            source,
            close_missing,
            occurred_at,
            json,
            file,
        } => {
            let command = import::ImportCommand {
                org: &org,
                project: &project,
                source: source.as_deref(),
                close_missing,
                occurred_at: occurred_at.as_deref(),
                file: &file,
                json,
            };
            import::run(&store, clock, command).await?
        }
        Command::Demo { findings } => {
            let demo = demo::seed(&store, clock, findings, true).await?;
            println!("{}", demo.key.expose());
            println!("{}", demo.curl(&config.bind));
        }
        Command::Report {
            command: ReportCommand::Show { id, json },
        } => report::show(&store, &id, json).await?,
        Command::Cluster { .. } => unreachable!("cluster commands run without a database"),
    }
    Ok(())
}

/// Serves until SIGINT or SIGTERM, then stops gracefully. Seeds the demo first into a cluster
/// this run created.
async fn serve(
    config: &Config,
    store: PgStore,
    clock: Arc<dyn Clock>,
    seed_demo: bool,
) -> anyhow::Result<()> {
    // Before the demo is seeded: an artefact store that cannot be opened stops a first start early.
    let artefacts = Arc::new(open_artefacts(config)?);
    let listener = TcpListener::bind(&config.bind)
        .with_context(|| format!("cannot listen on {} (KRAFTER_BIND)", config.bind))?;
    let address = listener.local_addr()?;
    let demo = match seed_demo {
        true => Some(demo::seed(&store, clock.clone(), demo::DEFAULT_FINDINGS, false).await?),
        false => None,
    };
    let workers = config.workers;
    let adapters = SharingAdapters::from_config(config, &address.to_string())?;
    let metrics = node_metrics(&store);
    let metrics_server = serve_metrics(config, &metrics)?;
    let (stop_workers, workers) = spawn_workers(
        config,
        &store,
        artefacts.clone(),
        clock.clone(),
        &adapters,
        workers,
        metrics.clone(),
    )?;
    let sharing = Sharing {
        webhooks: adapters.webhooks,
        links: adapters.links,
        renderer: Arc::new(Renderer::new()),
        public_url: adapters.public_url,
        email_enabled: adapters.mailer.is_some(),
    };
    let timeouts = krafter_http::Timeouts {
        shutdown: config.shutdown_grace,
        ..krafter_http::Timeouts::default()
    };
    let mut services = Services::over(store, artefacts, clock, sharing)
        .with_auth_cache(config.auth_cache)
        .with_import_body_limit(config.import_max_bytes)
        .with_rate_limit(krafter_http::RateLimit {
            per_minute: config.rate_limit_per_minute,
            burst: config.rate_limit_burst,
        });
    services.metrics = metrics;
    services.serve_metrics = metrics_server.is_none();
    let server = krafter_http::server_with(listener, services, timeouts)?;
    let handle = server.handle();
    let mut running = tokio::spawn(server);
    tracing::info!(%address, "Krafter Reports is listening");
    if let Some(demo) = demo {
        println!(
            "Seeded a demo organisation. Its API key, shown only now: {}",
            demo.key.expose()
        );
        println!(
            "Try its report summary:\n\n  {}\n",
            demo.curl(&address.to_string())
        );
    }
    tokio::select! {
        finished = &mut running => return Ok(finished??),
        signal = shutdown_signal() => {
            tracing::info!(
                signal = signal?,
                grace_seconds = config.shutdown_grace.as_secs(),
                "stopping: finishing the requests and jobs in flight"
            );
        }
    }
    // Both within the grace period: actix closes what is still open when it ends
    // (`shutdown_timeout`), and the workers still busy are stopped then.
    let http = async {
        handle.stop(true).await;
        running.await
    };
    let (http, ()) = tokio::join!(
        http,
        stop_workers_within(stop_workers, workers, config.shutdown_grace)
    );
    http??;
    if let Some(metrics_server) = metrics_server {
        metrics_server.stop(true).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// Asks the workers to stop after the job in hand and waits at most `grace` for them; those
/// still busy then are stopped mid-job and their jobs handed back to the queue at once, for
/// another worker (or node) to take over.
async fn stop_workers_within(
    stop: watch::Sender<bool>,
    workers: Workers,
    grace: std::time::Duration,
) {
    let Workers {
        queue, mut running, ..
    } = workers;
    let _ = stop.send(true);
    let all = futures::future::join_all(running.iter_mut().map(|(_, handle)| handle));
    if tokio::time::timeout(grace, all).await.is_ok() {
        return;
    }
    let busy: Vec<&str> = running
        .iter()
        .filter(|(_, handle)| !handle.is_finished())
        .map(|(name, _)| name.as_str())
        .collect();
    tracing::warn!(
        busy = busy.len(),
        grace_seconds = grace.as_secs(),
        "workers still busy after the grace period: stopping them and handing their jobs back"
    );
    for (_, handle) in &running {
        handle.abort();
    }
    for worker in busy {
        match queue.hand_back(worker).await {
            Ok(jobs) => tracing::info!(worker, jobs, "jobs handed back to the queue"),
            Err(error) => tracing::warn!(
                worker,
                %error,
                "could not hand the jobs back; they are taken over when their leases run out"
            ),
        }
    }
}

/// Runs export workers only, until SIGINT or SIGTERM.
async fn work(config: &Config, store: PgStore, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let count = config.workers;
    anyhow::ensure!(
        count > 0,
        "KRAFTER_WORKERS is 0: `krafter worker` has nothing to run"
    );
    let artefacts = Arc::new(open_artefacts(config)?);
    let adapters = SharingAdapters::from_config(config, &config.bind)?;
    let metrics = node_metrics(&store);
    let metrics_server = serve_metrics(config, &metrics)?;
    let (stop, workers) =
        spawn_workers(config, &store, artefacts, clock, &adapters, count, metrics)?;
    let signal = shutdown_signal().await?;
    tracing::info!(
        signal,
        grace_seconds = config.shutdown_grace.as_secs(),
        "stopping: finishing the jobs in flight"
    );
    stop_workers_within(stop, workers, config.shutdown_grace).await;
    if let Some(metrics_server) = metrics_server {
        metrics_server.stop(true).await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The node's metrics: the HTTP and job metrics, the queue's depth and the database pool's.
fn node_metrics(store: &PgStore) -> Arc<Metrics> {
    let mut metrics = Metrics::new(Some(Arc::new(store.clone())));
    store.register_metrics(metrics.registry_mut());
    Arc::new(metrics)
}

/// With `KRAFTER_METRICS_BIND`, `/metrics` on that address (and not on the API's): the handle
/// of its server. `krafter worker` serves its metrics only there.
fn serve_metrics(config: &Config, metrics: &Arc<Metrics>) -> anyhow::Result<Option<ServerHandle>> {
    let Some(bind) = config.metrics_bind else {
        return Ok(None);
    };
    let listener = TcpListener::bind(bind)
        .with_context(|| format!("cannot listen on {bind} (KRAFTER_METRICS_BIND)"))?;
    let address = listener.local_addr()?;
    let server = krafter_http::metrics_server(listener, metrics.clone())?;
    let handle = server.handle();
    tokio::spawn(server);
    tracing::info!(%address, "metrics are served on their own address");
    Ok(Some(handle))
}

/// The artefact store `KRAFTER_ARTEFACTS_URL` names (S3 credentials from `AWS_*`), or files
/// under `KRAFTER_DATA_DIR/artefacts`. Logs where, never a credential.
fn open_artefacts(config: &Config) -> anyhow::Result<FsArtefactStore> {
    let location = &config.artefacts;
    let store = location
        .open()
        .with_context(|| format!("cannot open the artefact store {location}"))?;
    tracing::info!(artefacts = %location, "artefact store");
    Ok(store)
}

/// Says once, at start-up, when PDFs would print a script as empty boxes for want of a font.
fn say_which_scripts_pdfs_lack() {
    let coverage = krafter_render::font_coverage();
    if !coverage.cjk {
        tracing::warn!(
            "no font for Chinese, Japanese and Korean was found under /usr/share/fonts: PDF \
             reports will show such titles as empty boxes (install Debian's fonts-noto-cjk)"
        );
    }
    if !coverage.emoji {
        tracing::warn!(
            "no emoji font was found under /usr/share/fonts: PDF reports will show emoji as \
             empty boxes (install Debian's fonts-noto-color-emoji)"
        );
    }
}

/// The workers a node runs: their names (as they lease jobs) and tasks, and their queue.
struct Workers {
    queue: Arc<dyn JobQueue>,
    running: Vec<(String, tokio::task::JoinHandle<()>)>,
}

/// Starts `count` workers (exports and deliveries, from one queue); sending `true` on the
/// returned channel stops them after the job in hand.
fn spawn_workers(
    config: &Config,
    store: &PgStore,
    artefacts: Arc<FsArtefactStore>,
    clock: Arc<dyn Clock>,
    adapters: &SharingAdapters,
    count: usize,
    metrics: Arc<Metrics>,
) -> anyhow::Result<(watch::Sender<bool>, Workers)> {
    let (stop, stopped) = watch::channel(false);
    let mut worker_config = WorkerConfig::new(config.scratch_dir());
    worker_config.lease = config.job_lease;
    worker_config.heartbeat_every = worker_config.lease / 3;
    let deliveries = Arc::new(DeliveryWorker::new(DeliveryWorkerDeps {
        queue: Arc::new(store.clone()),
        source: Arc::new(store.clone()),
        artefacts: artefacts.clone(),
        mailer: adapters.mailer.clone(),
        webhooks: adapters.webhooks.clone(),
        links: adapters.links.clone(),
        clock: clock.clone(),
        public_url: adapters.public_url.clone(),
        retry: worker_config.retry,
        lease: worker_config.lease,
        heartbeat_every: worker_config.heartbeat_every,
    }));
    let worker = Arc::new(
        ExportWorker::new(
            Arc::new(store.clone()),
            Arc::new(store.clone()),
            artefacts,
            Arc::new(Renderer::new()),
            clock,
            worker_config,
        )
        .with_deliveries(deliveries)
        .with_observer(metrics),
    );
    let handles = (0..count)
        .map(|n| {
            let worker = worker.clone();
            let mut stopped = stopped.clone();
            let name = format!("krafter-{}-{n}", std::process::id());
            let span = tracing::info_span!("worker", worker = %name);
            let task = tokio::spawn({
                let name = name.clone();
                async move {
                    worker
                        .run(&name, async move {
                            let _ = stopped.wait_for(|stop| *stop).await;
                        })
                        .await
                }
                .instrument(span)
            });
            (name, task)
        })
        .collect();
    tracing::info!(workers = count, "workers started (exports and deliveries)");
    // Scanning the machine's fonts takes a moment: off the start-up path, once.
    tokio::task::spawn_blocking(say_which_scripts_pdfs_lack);
    let queue: Arc<dyn JobQueue> = Arc::new(store.clone());
    Ok((
        stop,
        Workers {
            queue,
            running: handles,
        },
    ))
}

/// The name of the first of SIGINT and SIGTERM to arrive.
async fn shutdown_signal() -> std::io::Result<&'static str> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(tokio::select! {
        _ = interrupt.recv() => "SIGINT",
        _ = terminate.recv() => "SIGTERM",
    })
}
