//! Launches a private PostgreSQL cluster from the installed server binaries.
//!
//! [`LocalCluster::start`] creates the cluster with `initdb` the first time and reuses it
//! afterwards, runs `postgres` as a child on a free port of 127.0.0.1, and waits until it accepts
//! connections. The server is stopped (fast shutdown) by [`LocalCluster::stop`], on drop, and —
//! through `PR_SET_PDEATHSIG` — when this process dies, even by `SIGKILL`.
//!
//! PostgreSQL refuses to run as root. When we are root, the server runs as the `postgres` system
//! user (or `nobody` when there is none), and its data directory is owned by that user.
//!
//! Layout of the directory given to [`LocalCluster::start`]:
//! - `data/`: the cluster (`PGDATA`), also holding the server's Unix socket;
//! - `postgres.log`: the server's output for the current run.

use std::ffi::{CStr, CString, OsStr};
use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom};
use std::net::TcpListener;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{chown, DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(20);
/// Attempts at a port: another process may take the free port we found before postgres binds it.
const PORT_ATTEMPTS: usize = 3;
/// Lines of `postgres.log` quoted in errors.
const LOG_TAIL_LINES: usize = 20;
/// `sun_path` holds 108 bytes; postgres adds `/.s.PGSQL.<port>.lock` to the directory.
const MAX_SOCKET_DIR_LEN: usize = 80;

/// Whether the cluster must survive a crash of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The normal settings: for data worth keeping.
    Durable,
    /// No fsync, no synchronous commit, no full page writes: for tests.
    Throwaway,
}

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "no PostgreSQL server binaries found (looked for initdb on PATH and in \
         /usr/lib/postgresql/*/bin, /usr/pgsql-*/bin): install them, e.g. `apt-get install postgresql`"
    )]
    BinariesNotFound,
    #[error(
        "found {initdb} but no {missing} beside it: reinstall the PostgreSQL server package, \
         e.g. `apt-get install --reinstall postgresql`"
    )]
    IncompleteBinaries { initdb: PathBuf, missing: PathBuf },
    #[error(
        "running as root, and PostgreSQL refuses to: no unprivileged user to run it as \
         (looked for `postgres` and `nobody`); create one, e.g. `useradd --system postgres`, \
         or set DATABASE_URL to use an existing server"
    )]
    NoUnprivilegedUser,
    #[error("cannot prepare {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "the cluster in {path} belongs to uid {owner}, but the server would run as `{user}`: \
         give it to that user (`chown -R {user} {path}`) or remove the directory"
    )]
    ForeignOwner {
        path: PathBuf,
        owner: u32,
        user: String,
    },
    #[error("initdb failed for {path} ({status}):\n{output}\nremove {path} and try again")]
    Initdb {
        path: PathBuf,
        status: ExitStatus,
        output: String,
    },
    #[error("cannot run {program}: {source}")]
    Spawn {
        program: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("no free port on 127.0.0.1: {0}")]
    NoFreePort(#[source] io::Error),
    #[error(
        "another PostgreSQL server (pid {pid}) is using {path} and does not stop: \
         stop it (`kill -INT {pid}`) and try again"
    )]
    Busy { pid: i32, path: PathBuf },
    #[error(
        "a PostgreSQL server (pid {pid}, port {port}) is running on the cluster in {path}: \
         stop the `krafter` that started it (`krafter serve`, or the command in progress) and \
         try again"
    )]
    Running { pid: i32, port: u16, path: PathBuf },
    #[error("PostgreSQL exited while starting ({status}); the end of {log}:\n{tail}")]
    Exited {
        status: String,
        log: PathBuf,
        tail: String,
    },
    #[error(
        "PostgreSQL did not accept connections within {} s; the end of {log}:\n{tail}",
        READY_TIMEOUT.as_secs()
    )]
    NotReady { log: PathBuf, tail: String },
}

impl ClusterError {
    fn io(path: &Path) -> impl FnOnce(io::Error) -> ClusterError + '_ {
        move |source| ClusterError::Io {
            path: path.to_owned(),
            source,
        }
    }
}

/// Where the cluster for a requested directory is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterLocation {
    /// The directory asked for (`KRAFTER_DATA_DIR/postgres`), absolute.
    pub requested: PathBuf,
    /// The directory that holds `data/` and `postgres.log`: `requested`, or the one under
    /// `/var/tmp` when the server's user cannot reach `requested`.
    pub dir: PathBuf,
}

impl ClusterLocation {
    /// Where the cluster for `data_dir` is kept, whether or not it exists yet. Creates nothing.
    pub fn of(data_dir: &Path) -> Result<ClusterLocation, ClusterError> {
        let user = server_user()?;
        let requested = resolve(data_dir).map_err(ClusterError::io(data_dir))?;
        let dir = placement(&requested, user.as_ref());
        Ok(ClusterLocation { requested, dir })
    }

    /// Whether the cluster is kept elsewhere than where it was asked for.
    pub fn is_relocated(&self) -> bool {
        self.dir != self.requested
    }

    /// The cluster itself (`PGDATA`).
    pub fn pgdata(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// Whether a cluster has been created there.
    pub fn exists(&self) -> bool {
        self.pgdata().join("PG_VERSION").is_file()
    }

    /// The server running on the cluster now, if any: its pid and port.
    pub fn running_server(&self) -> Option<(i32, u16)> {
        let pgdata = self.pgdata();
        let contents = fs::read_to_string(pgdata.join("postmaster.pid")).ok()?;
        let lines: Vec<&str> = contents.lines().collect();
        let pid: i32 = lines.first()?.trim().parse().ok()?;
        if !is_postmaster_of(pid, &pgdata) {
            return None;
        }
        let port = lines
            .get(3)
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or(0);
        Some((pid, port))
    }

    /// Deletes the cluster (and the directory under `/var/tmp` when it was kept there), so
    /// that the next start creates a fresh one. Refused with [`ClusterError::Running`] while a
    /// server runs on it. Answers whether there was anything to delete.
    pub fn reset(&self) -> Result<bool, ClusterError> {
        if let Some((pid, port)) = self.running_server() {
            return Err(ClusterError::Running {
                pid,
                port,
                path: self.pgdata(),
            });
        }
        let mut removed = false;
        let targets = if self.is_relocated() {
            vec![self.dir.clone()]
        } else {
            vec![self.pgdata(), self.dir.join("postgres.log")]
        };
        for target in targets {
            let result = match fs::symlink_metadata(&target) {
                Ok(meta) if meta.is_dir() => fs::remove_dir_all(&target),
                Ok(_) => fs::remove_file(&target),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => Err(e),
            };
            result.map_err(ClusterError::io(&target))?;
            removed = true;
        }
        Ok(removed)
    }
}

/// A PostgreSQL server on 127.0.0.1 over a data directory of our own.
#[derive(Debug)]
pub struct LocalCluster {
    port: u16,
    /// Where it is kept.
    location: ClusterLocation,
    /// Whether this start ran `initdb`.
    created: bool,
    durability: Durability,
    /// `None` once stopped, or when another process of ours already ran the server on this directory.
    server: Option<Server>,
}

impl LocalCluster {
    /// Starts the cluster kept in `data_dir`, creating it the first time. Blocks until the server
    /// accepts connections.
    ///
    /// When another process already runs the server over the same directory (say `krafter serve`
    /// while a `krafter key create` starts), this answers that server and stopping it is left to
    /// its owner.
    pub fn start(data_dir: &Path, durability: Durability) -> Result<LocalCluster, ClusterError> {
        let bin = find_binaries(std::env::var_os("PATH").as_deref(), BIN_ROOTS)?;
        let user = server_user()?;
        let location = working_dir(data_dir, user.as_ref())?;
        let dir = location.dir.clone();
        let pgdata = dir.join("data");
        let log = dir.join("postgres.log");

        if let Some(port) = settle_previous_server(&pgdata)? {
            tracing::info!(
                port,
                data_dir = %pgdata.display(),
                "using the PostgreSQL server another process already runs on this directory"
            );
            return Ok(LocalCluster {
                port,
                location,
                created: false,
                durability,
                server: None,
            });
        }
        let created = init(&bin, &pgdata, user.as_ref(), durability)?;

        let mut attempt = 0;
        loop {
            attempt += 1;
            let port = free_port()?;
            match Server::start(&bin, &pgdata, &log, port, user.as_ref(), durability) {
                Ok(server) => {
                    tracing::info!(port, data_dir = %pgdata.display(), "local PostgreSQL is ready");
                    return Ok(LocalCluster {
                        port,
                        location,
                        created,
                        durability,
                        server: Some(server),
                    });
                }
                Err(ClusterError::Exited { tail, .. })
                    if attempt < PORT_ATTEMPTS && tail.contains("could not bind") =>
                {
                    tracing::debug!(
                        port,
                        "the port was taken before PostgreSQL bound it; trying another"
                    );
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `postgres://postgres@127.0.0.1:<port>/postgres`
    pub fn database_url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether this start created the cluster: its database is empty but for what was done since.
    pub fn is_new(&self) -> bool {
        self.created
    }

    /// Where the cluster is kept.
    pub fn location(&self) -> &ClusterLocation {
        &self.location
    }

    /// Whether this process runs the server (rather than another process of ours).
    pub fn runs_server(&self) -> bool {
        self.server.is_some()
    }

    /// Starts the stopped server again on the same port (so that URLs handed out stay valid):
    /// for tests of what clients see while the database restarts. Does nothing while it runs.
    pub fn start_again(&mut self) -> Result<(), ClusterError> {
        if self.server.is_some() {
            return Ok(());
        }
        let bin = find_binaries(std::env::var_os("PATH").as_deref(), BIN_ROOTS)?;
        let user = server_user()?;
        let dir = self.location.dir.clone();
        let server = Server::start(
            &bin,
            &dir.join("data"),
            &dir.join("postgres.log"),
            self.port,
            user.as_ref(),
            self.durability,
        )?;
        self.server = Some(server);
        Ok(())
    }

    /// Stops the server (fast shutdown: open transactions are rolled back) and waits for it to
    /// exit. Does nothing the second time.
    pub fn stop(&mut self) {
        if let Some(server) = self.server.take() {
            server.stop();
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server process, owned by a thread of its own: `PR_SET_PDEATHSIG` fires when the thread
/// that spawned the child ends, so that thread must live exactly as long as the server.
#[derive(Debug)]
struct Server {
    stop: mpsc::Sender<()>,
    thread: JoinHandle<io::Result<ExitStatus>>,
}

impl Server {
    fn start(
        bin: &Path,
        pgdata: &Path,
        log: &Path,
        port: u16,
        user: Option<&User>,
        durability: Durability,
    ) -> Result<Server, ClusterError> {
        let log_file = File::create(log).map_err(ClusterError::io(log))?;
        let mut command = Command::new(bin.join("postgres"));
        command
            .arg("-D")
            .arg(pgdata)
            .arg("-p")
            .arg(port.to_string())
            .args(["-c", "listen_addresses=127.0.0.1"])
            .arg("-k")
            .arg(socket_dir(pgdata))
            .stdin(Stdio::null())
            .stdout(log_file.try_clone().map_err(ClusterError::io(log))?)
            .stderr(log_file)
            // A group of its own: a Ctrl-C in the terminal reaches us, and we stop the server
            // once we have finished with it, not while requests still need it.
            .process_group(0);
        if durability == Durability::Throwaway {
            command.args([
                "-c",
                "fsync=off",
                "-c",
                "synchronous_commit=off",
                "-c",
                "full_page_writes=off",
            ]);
        }
        drop_privileges(&mut command, user, true);

        let program = bin.join("postgres");
        let (stop, stop_requested) = mpsc::channel();
        let (spawned_tx, spawned) = mpsc::channel();
        let thread = thread::Builder::new()
            .name(format!("postgres-{port}"))
            .spawn(move || match command.spawn() {
                Ok(child) => {
                    let _ = spawned_tx.send(Ok(child.id()));
                    supervise(child, &stop_requested)
                }
                Err(e) => {
                    let _ = spawned_tx.send(Err(e));
                    Err(io::Error::other("postgres did not start"))
                }
            })
            .map_err(|source| ClusterError::Spawn {
                program: program.clone(),
                source,
            })?;
        let pid = match spawned.recv() {
            Ok(Ok(pid)) => pid,
            Ok(Err(source)) => return Err(ClusterError::Spawn { program, source }),
            Err(_) => {
                return Err(ClusterError::Spawn {
                    program,
                    source: io::Error::other("the supervising thread ended"),
                })
            }
        };
        let server = Server { stop, thread };

        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if server.thread.is_finished() {
                let status = match server.thread.join() {
                    Ok(Ok(status)) => status.to_string(),
                    Ok(Err(e)) => e.to_string(),
                    Err(_) => "the supervising thread panicked".to_owned(),
                };
                return Err(ClusterError::Exited {
                    status,
                    log: log.to_owned(),
                    tail: log_tail(log),
                });
            }
            if is_ready(pgdata, pid) {
                return Ok(server);
            }
            if Instant::now() >= deadline {
                server.stop();
                return Err(ClusterError::NotReady {
                    log: log.to_owned(),
                    tail: log_tail(log),
                });
            }
            thread::sleep(POLL_INTERVAL);
        }
    }

    fn stop(self) {
        let _ = self.stop.send(());
        match self.thread.join() {
            Ok(Ok(status)) if status.success() => tracing::debug!("local PostgreSQL stopped"),
            Ok(Ok(status)) => tracing::warn!(%status, "local PostgreSQL exited abnormally"),
            Ok(Err(e)) => tracing::warn!(error = %e, "could not wait for local PostgreSQL"),
            Err(_) => tracing::warn!("the thread supervising local PostgreSQL panicked"),
        }
    }
}

/// Waits for the child to exit or for a stop request, whichever comes first. The child is only
/// signalled while it has not been reaped, so its pid cannot belong to another process yet.
fn supervise(mut child: Child, stop_requested: &mpsc::Receiver<()>) -> io::Result<ExitStatus> {
    loop {
        match stop_requested.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Some(status) = child.try_wait()? {
                    return Ok(status);
                }
            }
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                if child.try_wait()?.is_none() {
                    // SIGINT: fast shutdown.
                    // SAFETY: plain syscall; the child is unreaped, so the pid is still its own.
                    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
                }
                return child.wait();
            }
        }
    }
}

/// Where the distributions install the server binaries, besides PATH: `<dir>/<prefix><version>/bin`.
const BIN_ROOTS: &[(&str, &str)] = &[("/usr/lib/postgresql", ""), ("/usr", "pgsql-")];

/// The directory holding `initdb` and `postgres` of one PostgreSQL version: the one of the `initdb`
/// on PATH (symlinks resolved), else the highest version under `/usr/lib/postgresql/*/bin` or
/// `/usr/pgsql-*/bin`.
fn find_binaries(
    path_var: Option<&OsStr>,
    roots: &[(&str, &str)],
) -> Result<PathBuf, ClusterError> {
    let on_path = path_var
        .into_iter()
        .flat_map(std::env::split_paths)
        .map(|dir| dir.join("initdb"))
        .find(|candidate| is_executable(candidate))
        .and_then(|initdb| fs::canonicalize(initdb).ok());
    let initdb = match on_path {
        Some(initdb) => initdb,
        None => versioned_binaries(roots).ok_or(ClusterError::BinariesNotFound)?,
    };
    let bin = initdb.parent().unwrap_or(Path::new("/")).to_owned();
    let postgres = bin.join("postgres");
    if !is_executable(&postgres) {
        return Err(ClusterError::IncompleteBinaries {
            initdb,
            missing: postgres,
        });
    }
    Ok(bin)
}

/// The highest-versioned `initdb` in `<root>/<prefix><version>/bin`.
fn versioned_binaries(roots: &[(&str, &str)]) -> Option<PathBuf> {
    let mut found: Vec<(Vec<u32>, PathBuf)> = Vec::new();
    for (root, prefix) in roots {
        let Ok(entries) = fs::read_dir(root) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(version) = name.to_str().and_then(|n| n.strip_prefix(prefix)) else {
                continue;
            };
            let Some(version) = parse_version(version) else {
                continue;
            };
            let initdb = entry.path().join("bin/initdb");
            if is_executable(&initdb) {
                found.push((version, initdb));
            }
        }
    }
    found.into_iter().max().map(|(_, initdb)| initdb)
}

/// `15` → `[15]`, `9.6` → `[9, 6]`; `None` for anything else.
fn parse_version(raw: &str) -> Option<Vec<u32>> {
    raw.split('.').map(|part| part.parse().ok()).collect()
}

fn is_executable(path: &Path) -> bool {
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The unprivileged user the server runs as when we are root.
#[derive(Debug, Clone)]
struct User {
    name: String,
    uid: libc::uid_t,
    gid: libc::gid_t,
}

/// `None` when we are not root: the server then runs as ourselves.
fn server_user() -> Result<Option<User>, ClusterError> {
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Ok(None);
    }
    ["postgres", "nobody"]
        .into_iter()
        .find_map(lookup_user)
        .map(Some)
        .ok_or(ClusterError::NoUnprivilegedUser)
}

fn lookup_user(name: &str) -> Option<User> {
    let c_name = CString::new(name).ok()?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; getpwnam_r fills it, pointing into `buf`.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the sizes given.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    (rc == 0 && !result.is_null()).then(|| User {
        // SAFETY: getpwnam_r succeeded, so pw_name is a NUL-terminated string inside `buf`.
        name: unsafe { CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned(),
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
    })
}

/// The directory that holds the cluster (see [`placement`]), created.
fn working_dir(requested: &Path, user: Option<&User>) -> Result<ClusterLocation, ClusterError> {
    fs::create_dir_all(requested).map_err(ClusterError::io(requested))?;
    let requested = fs::canonicalize(requested).map_err(ClusterError::io(requested))?;
    let dir = placement(&requested, user);
    if dir != requested {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&dir)
            .map_err(ClusterError::io(&dir))?;
        tracing::debug!(
            requested = %requested.display(),
            actual = %dir.display(),
            "the PostgreSQL user cannot reach the requested data directory; keeping the cluster elsewhere"
        );
    }
    Ok(ClusterLocation { requested, dir })
}

/// Where the cluster asked for in `requested` (absolute, symlinks resolved) is kept:
/// `requested`, unless the server's user cannot reach it (say a clone under a 0700 `/root`);
/// then a directory of its own under `/var/tmp`, the same for the same `requested` path every
/// time.
fn placement(requested: &Path, user: Option<&User>) -> PathBuf {
    match user {
        Some(user) if !can_traverse(requested, user) => PathBuf::from(format!(
            "/var/tmp/krafter-{:016x}",
            fnv1a(requested.as_os_str().as_bytes())
        )),
        _ => requested.to_owned(),
    }
}

/// `path` made absolute with symlinks resolved, as `fs::canonicalize` would once the missing
/// part of it were created: the longest existing ancestor canonicalized, the rest appended.
fn resolve(path: &Path) -> io::Result<PathBuf> {
    let absolute = std::path::absolute(path)?;
    let mut missing = Vec::new();
    let mut existing = absolute.as_path();
    loop {
        match fs::canonicalize(existing) {
            Ok(found) => {
                let mut resolved = found;
                for part in missing.iter().rev() {
                    resolved.push(part);
                }
                return Ok(resolved);
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let (Some(parent), Some(name)) = (existing.parent(), existing.file_name()) else {
                    return Err(e);
                };
                missing.push(name.to_owned());
                existing = parent;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Whether `user` (with only its primary group) may search every directory from `/` to `dir`.
/// Directories that do not exist yet count as searchable: `start` creates them with the usual
/// modes (0755 under a umask of 022).
fn can_traverse(dir: &Path, user: &User) -> bool {
    dir.ancestors()
        .all(|ancestor| match fs::metadata(ancestor) {
            Ok(meta) => {
                let mode = meta.mode();
                let bit = if meta.uid() == user.uid {
                    0o100
                } else if meta.gid() == user.gid {
                    0o010
                } else {
                    0o001
                };
                meta.is_dir() && mode & bit != 0
            }
            Err(e) => e.kind() == io::ErrorKind::NotFound,
        })
}

/// A stable hash (unlike `DefaultHasher`, which may change between Rust releases).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Deals with a `postmaster.pid` left in `pgdata`. Answers the port of a server that another
/// process runs there now; waits for one that is shutting down; removes the file when its
/// process is gone (a killed run), so that a reused pid cannot block the start.
fn settle_previous_server(pgdata: &Path) -> Result<Option<u16>, ClusterError> {
    let pid_file = pgdata.join("postmaster.pid");
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let Ok(contents) = fs::read_to_string(&pid_file) else {
            return Ok(None);
        };
        let lines: Vec<&str> = contents.lines().collect();
        let pid: Option<i32> = lines.first().and_then(|l| l.trim().parse().ok());
        let Some(pid) = pid.filter(|pid| is_postmaster_of(*pid, pgdata)) else {
            tracing::debug!(file = %pid_file.display(), "removing a stale postmaster.pid");
            return match fs::remove_file(&pid_file) {
                Ok(()) => Ok(None),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(ClusterError::io(&pid_file)(e)),
            };
        };
        let port = lines.get(3).and_then(|l| l.trim().parse().ok());
        match (lines.get(7).map(|l| l.trim()), port) {
            (Some("ready"), Some(port)) => return Ok(Some(port)),
            _ if Instant::now() >= deadline => {
                return Err(ClusterError::Busy {
                    pid,
                    path: pgdata.to_owned(),
                })
            }
            // Starting or stopping: see how it ends.
            _ => thread::sleep(POLL_INTERVAL),
        }
    }
}

/// Whether `pid` is a live (not zombie) postgres whose command line names `pgdata`.
fn is_postmaster_of(pid: i32, pgdata: &Path) -> bool {
    let proc_dir = PathBuf::from(format!("/proc/{pid}"));
    let zombie = fs::read_to_string(proc_dir.join("stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(state == 'Z' || state == 'X')
        })
        .unwrap_or(true);
    if zombie {
        return false;
    }
    let Ok(cmdline) = fs::read(proc_dir.join("cmdline")) else {
        return false;
    };
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    args.windows(2)
        .any(|pair| pair[0] == b"-D" && Path::new(OsStr::from_bytes(pair[1])) == pgdata)
}

/// Runs `initdb` unless `pgdata` already holds a cluster; answers whether it ran.
fn init(
    bin: &Path,
    pgdata: &Path,
    user: Option<&User>,
    durability: Durability,
) -> Result<bool, ClusterError> {
    if pgdata.join("PG_VERSION").is_file() {
        if let Some(user) = user {
            let owner = fs::metadata(pgdata)
                .map_err(ClusterError::io(pgdata))?
                .uid();
            if owner != user.uid {
                return Err(ClusterError::ForeignOwner {
                    path: pgdata.to_owned(),
                    owner,
                    user: user.name.clone(),
                });
            }
        }
        return Ok(false);
    }
    // No PG_VERSION: nothing, or what an interrupted initdb left. Start over.
    match fs::remove_dir_all(pgdata) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ClusterError::io(pgdata)(e)),
    }
    fs::DirBuilder::new()
        .mode(0o700)
        .create(pgdata)
        .map_err(ClusterError::io(pgdata))?;
    if let Some(user) = user {
        chown(pgdata, Some(user.uid), Some(user.gid)).map_err(ClusterError::io(pgdata))?;
    }

    let program = bin.join("initdb");
    let mut command = Command::new(&program);
    command
        .arg("-D")
        .arg(pgdata)
        .args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-locale",
        ])
        .stdin(Stdio::null())
        // The server's user may not be able to enter our working directory.
        .current_dir("/");
    if durability == Durability::Throwaway {
        command.arg("--no-sync");
    }
    drop_privileges(&mut command, user, false);
    tracing::info!(data_dir = %pgdata.display(), "creating a local PostgreSQL cluster");
    let output = command
        .output()
        .map_err(|source| ClusterError::Spawn { program, source })?;
    if output.status.success() {
        return Ok(true);
    }
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    Err(ClusterError::Initdb {
        path: pgdata.to_owned(),
        status: output.status,
        output: text.trim_end().to_owned(),
    })
}

/// In the child, before `exec`: become `user` when given, then (when `tie_to_parent`) ask for
/// `SIGINT` — a fast shutdown — when the spawning thread dies. The death signal comes after the
/// user change because changing credentials clears it.
fn drop_privileges(command: &mut Command, user: Option<&User>, tie_to_parent: bool) {
    let ids = user.map(|u| (u.uid, u.gid));
    // SAFETY: getpid cannot fail.
    let parent = unsafe { libc::getpid() };
    let switch = move || -> io::Result<()> {
        // SAFETY: async-signal-safe syscalls only, between fork and exec.
        unsafe {
            if let Some((uid, gid)) = ids {
                if libc::setgroups(0, std::ptr::null()) != 0
                    || libc::setgid(gid) != 0
                    || libc::setuid(uid) != 0
                {
                    return Err(io::Error::last_os_error());
                }
            }
            if tie_to_parent {
                #[cfg(target_os = "linux")]
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGINT) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The parent may have died before the request took effect.
                if libc::getppid() != parent {
                    return Err(io::Error::other("the parent process exited"));
                }
            }
        }
        Ok(())
    };
    // SAFETY: the closure only makes async-signal-safe syscalls.
    unsafe { command.pre_exec(switch) };
}

/// Binds an ephemeral port of 127.0.0.1 and releases it.
fn free_port() -> Result<u16, ClusterError> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(ClusterError::NoFreePort)
}

/// The server's socket directory: `pgdata` itself, unless its path is too long for a Unix socket
/// (deep temporary directories), in which case the server listens on TCP only.
fn socket_dir(pgdata: &Path) -> &OsStr {
    if pgdata.as_os_str().len() <= MAX_SOCKET_DIR_LEN {
        pgdata.as_os_str()
    } else {
        OsStr::new("")
    }
}

/// Whether the server `pid` reports in `postmaster.pid` that it accepts connections.
fn is_ready(pgdata: &Path, pid: u32) -> bool {
    let Ok(contents) = fs::read_to_string(pgdata.join("postmaster.pid")) else {
        return false;
    };
    let lines: Vec<&str> = contents.lines().collect();
    lines.first().and_then(|l| l.trim().parse::<u32>().ok()) == Some(pid)
        && lines.get(7).map(|l| l.trim()) == Some("ready")
}

/// The last lines of the server log, for error messages.
fn log_tail(log: &Path) -> String {
    let Ok(mut file) = File::open(log) else {
        return "(no log)".to_owned();
    };
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(16 * 1024)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(LOG_TAIL_LINES)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("krafter-lc-unit-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn fake_binary(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn no_binaries_is_a_clear_error() {
        let empty = scratch("empty");
        let root = empty.to_str().unwrap();
        let err = find_binaries(Some(empty.as_os_str()), &[(root, "")]).unwrap_err();
        assert!(matches!(err, ClusterError::BinariesNotFound));
        assert!(
            err.to_string().contains("apt-get install postgresql"),
            "{err}"
        );
        fs::remove_dir_all(empty).unwrap();
    }

    #[test]
    fn the_highest_version_wins_and_postgres_must_sit_beside_initdb() {
        let root = scratch("versions");
        for version in ["9.6", "15", "13"] {
            fake_binary(&root.join(version).join("bin/initdb"));
            fake_binary(&root.join(version).join("bin/postgres"));
        }
        fake_binary(&root.join("pgsql-16/bin/initdb"));
        let roots = [
            (root.to_str().unwrap(), ""),
            (root.to_str().unwrap(), "pgsql-"),
        ];
        let err = find_binaries(None, &roots).unwrap_err();
        assert!(
            matches!(err, ClusterError::IncompleteBinaries { .. }),
            "{err}"
        );
        fake_binary(&root.join("pgsql-16/bin/postgres"));
        assert_eq!(
            find_binaries(None, &roots).unwrap(),
            root.join("pgsql-16/bin")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn initdb_on_path_is_followed_to_its_own_directory() {
        let root = scratch("path");
        fake_binary(&root.join("real/bin/initdb"));
        fake_binary(&root.join("real/bin/postgres"));
        fs::create_dir_all(root.join("links")).unwrap();
        std::os::unix::fs::symlink(root.join("real/bin/initdb"), root.join("links/initdb"))
            .unwrap();
        let path = std::env::join_paths([root.join("nothing"), root.join("links")]).unwrap();
        let bin = find_binaries(Some(&path), &[]).unwrap();
        assert_eq!(bin, fs::canonicalize(root.join("real/bin")).unwrap());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn traversal_follows_the_mode_bits() {
        let root = scratch("traverse");
        let locked = root.join("locked/inner");
        fs::create_dir_all(&locked).unwrap();
        fs::set_permissions(root.join("locked"), fs::Permissions::from_mode(0o700)).unwrap();
        let stranger = User {
            name: "stranger".into(),
            uid: 54_321,
            gid: 54_321,
        };
        // SAFETY: plain syscalls.
        let me = User {
            name: "me".into(),
            uid: unsafe { libc::geteuid() },
            gid: unsafe { libc::getegid() },
        };
        assert!(!can_traverse(&locked, &stranger));
        assert!(can_traverse(&root, &stranger));
        assert!(can_traverse(&locked, &me));
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_missing_directory_resolves_as_it_will_once_created() {
        let root = scratch("resolve");
        fs::create_dir_all(root.join("real")).unwrap();
        std::os::unix::fs::symlink(root.join("real"), root.join("link")).unwrap();
        let asked = root.join("link/not/yet");
        let resolved = resolve(&asked).unwrap();
        fs::create_dir_all(&asked).unwrap();
        assert_eq!(resolved, fs::canonicalize(&asked).unwrap());
        assert_eq!(
            resolved,
            fs::canonicalize(root.join("real")).unwrap().join("not/yet")
        );
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn the_fallback_hash_is_stable() {
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }
}
