//! The composition root: the database, the store, the use cases and the HTTP server, per command.

use std::net::TcpListener;
use std::sync::Arc;

use anyhow::Context;
use krafter_domain::access::Scopes;
use krafter_domain::export::{ExportWorker, WorkerConfig};
use krafter_domain::organisation::OrganisationRepository;
use krafter_domain::share::{DeliveryWorker, DeliveryWorkerDeps};
use krafter_domain::{Clock, SystemClock};
use krafter_http::{Services, Sharing};
use krafter_postgres::local_cluster::{Durability, LocalCluster};
use krafter_postgres::PgStore;
use krafter_render::{ArtefactLocation, FsArtefactStore, Renderer};
use tokio::sync::watch;

use crate::admin::{self, CommandError};
use crate::cli::{Command, KeyCommand, OrgCommand, ProjectCommand, QuotaCommand};
use crate::config::Config;
use crate::demo;
use crate::sharing::SharingAdapters;

/// Database connections of `krafter serve`; one-off commands use a few.
const SERVE_CONNECTIONS: usize = 16;
const COMMAND_CONNECTIONS: usize = 8;

/// Runs one command to its end, the local cluster (when there is no `DATABASE_URL`) around it.
pub fn main(command: Command, config: &Config) -> Result<(), CommandError> {
    let mut cluster = None;
    let database = match &config.database_url {
        Some(url) => Database {
            url: url.clone(),
            local: false,
        },
        None => {
            let dir = config.data_dir.join("postgres");
            let started =
                LocalCluster::start(&dir, Durability::Durable).map_err(CommandError::failed)?;
            let database = Database {
                url: started.database_url(),
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
    /// Whether this is our own cluster rather than `DATABASE_URL`.
    local: bool,
}

async fn run(command: Command, config: &Config, database: &Database) -> Result<(), CommandError> {
    let migrate = match command {
        Command::Serve { no_migrate } => !no_migrate,
        Command::Migrate => true,
        _ => database.local,
    };
    if migrate {
        let applied = krafter_postgres::run_migrations(&database.url)
            .await
            .context("cannot apply the database migrations")?;
        tracing::info!(applied, "database migrations are up to date");
        if command == Command::Migrate {
            println!("{applied}");
            return Ok(());
        }
    }
    let connections = match command {
        Command::Serve { .. } | Command::Worker => SERVE_CONNECTIONS,
        _ => COMMAND_CONNECTIONS,
    };
    let store = PgStore::connect(&database.url, connections)
        .await
        .context("cannot connect to PostgreSQL")?;
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
        Command::Key {
            command: KeyCommand::Revoke { org, prefix },
        } => {
            let org = admin::org_id(&org)?;
            println!(
                "{}",
                admin::revoke_key(&store, now, org, &prefix).await?.as_str()
            );
        }
        Command::Demo { findings } => {
            let demo = demo::seed(&store, clock, findings).await?;
            println!("{}", demo.key.expose());
            println!("{}", demo.curl(&config.bind));
        }
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
    // Before the demo is seeded: a bad KRAFTER_ARTEFACTS_URL stops a first start early.
    let artefacts = Arc::new(open_artefacts(config)?);
    let listener = TcpListener::bind(&config.bind)
        .with_context(|| format!("cannot listen on {} (KRAFTER_BIND)", config.bind))?;
    let address = listener.local_addr()?;
    let demo = match seed_demo {
        true => Some(demo::seed(&store, clock.clone(), demo::DEFAULT_FINDINGS).await?),
        false => None,
    };
    let workers = config.worker_count().map_err(anyhow::Error::msg)?;
    let adapters = SharingAdapters::from_config(config, &address.to_string())?;
    let (stop_workers, workers) = spawn_workers(
        config,
        &store,
        artefacts.clone(),
        clock.clone(),
        &adapters,
        workers,
    )?;
    let sharing = Sharing {
        webhooks: adapters.webhooks,
        links: adapters.links,
        renderer: Arc::new(Renderer::new()),
        public_url: adapters.public_url,
        email_enabled: adapters.mailer.is_some(),
    };
    let server = krafter_http::server(listener, Services::over(store, artefacts, clock, sharing))?;
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
            tracing::info!(signal = signal?, "stopping: finishing the requests and exports in flight");
            handle.stop(true).await;
        }
    }
    running.await??;
    let _ = stop_workers.send(true);
    futures::future::join_all(workers).await;
    tracing::info!("stopped");
    Ok(())
}

/// Runs export workers only, until SIGINT or SIGTERM.
async fn work(config: &Config, store: PgStore, clock: Arc<dyn Clock>) -> anyhow::Result<()> {
    let count = config.worker_count().map_err(anyhow::Error::msg)?;
    anyhow::ensure!(
        count > 0,
        "KRAFTER_WORKERS is 0: `krafter worker` has nothing to run"
    );
    let artefacts = Arc::new(open_artefacts(config)?);
    let adapters = SharingAdapters::from_config(config, &config.bind)?;
    let (stop, workers) = spawn_workers(config, &store, artefacts, clock, &adapters, count)?;
    let signal = shutdown_signal().await?;
    tracing::info!(signal, "stopping: finishing the exports in flight");
    let _ = stop.send(true);
    futures::future::join_all(workers).await;
    tracing::info!("stopped");
    Ok(())
}

/// The artefact store `KRAFTER_ARTEFACTS_URL` names (S3 credentials from `AWS_*`), or files
/// under `KRAFTER_DATA_DIR/artefacts`. Logs where, never a credential.
fn open_artefacts(config: &Config) -> anyhow::Result<FsArtefactStore> {
    let location =
        ArtefactLocation::parse(config.artefacts_url.as_deref(), &config.artefacts_dir())?;
    let store = location
        .open()
        .with_context(|| format!("cannot open the artefact store {location}"))?;
    tracing::info!(artefacts = %location, "artefact store");
    Ok(store)
}

type Workers = (watch::Sender<bool>, Vec<tokio::task::JoinHandle<()>>);

/// Starts `count` workers (exports and deliveries, from one queue); sending `true` on the
/// returned channel stops them after the job in hand.
fn spawn_workers(
    config: &Config,
    store: &PgStore,
    artefacts: Arc<FsArtefactStore>,
    clock: Arc<dyn Clock>,
    adapters: &SharingAdapters,
    count: usize,
) -> anyhow::Result<Workers> {
    let (stop, stopped) = watch::channel(false);
    let mut worker_config = WorkerConfig::new(config.scratch_dir());
    worker_config.lease = config.job_lease().map_err(anyhow::Error::msg)?;
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
        .with_deliveries(deliveries),
    );
    let handles = (0..count)
        .map(|n| {
            let worker = worker.clone();
            let mut stopped = stopped.clone();
            let name = format!("krafter-{}-{n}", std::process::id());
            tokio::spawn(async move {
                worker
                    .run(&name, async move {
                        let _ = stopped.wait_for(|stop| *stop).await;
                    })
                    .await
            })
        })
        .collect();
    tracing::info!(workers = count, "workers started (exports and deliveries)");
    Ok((stop, handles))
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
