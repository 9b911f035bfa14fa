//! A real SMTP server on loopback for mail tests: aiosmtpd, run by `smtp/smtp_server.py`.
//!
//! The Python comes from `KRAFTER_AIOSMTPD_PYTHON` (default `python3`) and must have aiosmtpd
//! 1.4.6 (`pip install aiosmtpd==1.4.6`; `.ci/run` installs it into a venv). Each server stores
//! the messages it accepts in a directory of its own, answers DATA as its reply script says, and
//! dies with its [`SmtpServer`] (killed on drop) or with the test process (its stdin closes).

use std::ffi::OsString;
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The environment variable naming a Python that has aiosmtpd.
pub const PYTHON_VAR: &str = "KRAFTER_AIOSMTPD_PYTHON";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/smtp/smtp_server.py");

/// Python's start-up and aiosmtpd's import can be slow on a busy CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(30);

const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How the server answers one DATA command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpReply {
    /// `250 OK`, the message stored.
    Accept,
    /// `451 4.3.0 try again later`, nothing stored.
    TryLater,
    /// `550 5.1.1 mailbox unavailable`, nothing stored.
    MailboxUnavailable,
    /// The message stored, then no answer ever: the client waits until it gives up or dies.
    Hang,
}

impl SmtpReply {
    fn token(self) -> &'static str {
        match self {
            SmtpReply::Accept => "250",
            SmtpReply::TryLater => "451",
            SmtpReply::MailboxUnavailable => "550",
            SmtpReply::Hang => "hang",
        }
    }
}

/// What the server offers; [`SmtpServerOptions::default`] is plain SMTP accepting everything.
#[derive(Debug, Clone, Default)]
pub struct SmtpServerOptions {
    replies: Vec<SmtpReply>,
    tls: Option<(PathBuf, PathBuf)>,
    implicit_tls: bool,
    auth: Option<(String, String)>,
}

impl SmtpServerOptions {
    pub fn new() -> Self {
        Self::default()
    }

    /// The answers to the first DATA commands, in order (across connections); every later DATA
    /// is accepted.
    pub fn replies(mut self, replies: impl IntoIterator<Item = SmtpReply>) -> Self {
        self.replies = replies.into_iter().collect();
        self
    }

    /// Offer STARTTLS with this PEM certificate (chain) and key, and require it before MAIL.
    pub fn starttls(mut self, cert_pem: impl Into<PathBuf>, key_pem: impl Into<PathBuf>) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self.implicit_tls = false;
        self
    }

    /// Speak TLS from the first byte (smtps) with this PEM certificate (chain) and key.
    pub fn implicit_tls(
        mut self,
        cert_pem: impl Into<PathBuf>,
        key_pem: impl Into<PathBuf>,
    ) -> Self {
        self.tls = Some((cert_pem.into(), key_pem.into()));
        self.implicit_tls = true;
        self
    }

    /// Require AUTH (PLAIN or LOGIN, allowed without TLS) with these credentials.
    pub fn auth(mut self, user: impl Into<String>, password: impl Into<String>) -> Self {
        self.auth = Some((user.into(), password.into()));
        self
    }

    fn arguments(&self, directory: &Path) -> Vec<OsString> {
        let mut args: Vec<OsString> = vec![SCRIPT.into(), directory.into()];
        if !self.replies.is_empty() {
            let script: Vec<&str> = self.replies.iter().map(|r| r.token()).collect();
            args.extend(["--replies".into(), script.join(",").into()]);
        }
        if let Some((cert, key)) = &self.tls {
            args.extend([
                "--tls-cert".into(),
                cert.into(),
                "--tls-key".into(),
                key.into(),
            ]);
            if self.implicit_tls {
                args.push("--implicit-tls".into());
            }
        }
        if let Some((user, password)) = &self.auth {
            args.extend(["--auth".into(), format!("{user}:{password}").into()]);
        }
        args
    }
}

/// A running aiosmtpd on 127.0.0.1, killed on drop.
pub struct SmtpServer {
    child: Child,
    /// Held only so that the server sees its stdin close when this process dies.
    _stdin: ChildStdin,
    port: u16,
    messages: PathBuf,
    log: PathBuf,
    _directory: tempfile::TempDir,
}

impl SmtpServer {
    /// The Python to run, from [`PYTHON_VAR`].
    pub fn python() -> OsString {
        std::env::var_os(PYTHON_VAR).unwrap_or_else(|| "python3".into())
    }

    /// Whether [`Self::python`] can import aiosmtpd.
    pub fn available() -> bool {
        Command::new(Self::python())
            .args(["-c", "import aiosmtpd"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    }

    /// Starts a server and waits until it listens. Panics, with the server's stderr, if it does
    /// not come up.
    pub fn start(options: SmtpServerOptions) -> SmtpServer {
        let directory = tempfile::tempdir().expect("a temporary directory for the SMTP server");
        let messages = directory.path().join("messages");
        let log = directory.path().join("server.log");
        let stderr = fs::File::create(&log).expect("the SMTP server's log file");
        let mut child = Command::new(Self::python())
            .args(options.arguments(&messages))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|err| {
                panic!(
                    "could not run {:?} ({PYTHON_VAR}) for the SMTP server: {err}",
                    Self::python()
                )
            });
        let stdin = child.stdin.take().expect("piped stdin");
        let stdout = child.stdout.take().expect("piped stdout");

        // Read on a thread: a server that neither prints nor exits must not hang the test.
        let (port_tx, port_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = port_tx.send(line);
        });
        let line = port_rx.recv_timeout(START_TIMEOUT).unwrap_or_default();
        let port = match line.trim().parse::<u16>() {
            Ok(port) if port != 0 => port,
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "the SMTP server did not start (does {:?} have aiosmtpd 1.4.6? set {PYTHON_VAR}); \
                     its stderr:\n{}",
                    Self::python(),
                    fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        SmtpServer {
            child,
            _stdin: stdin,
            port,
            messages,
            log,
            _directory: directory,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `smtp://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// The messages stored so far, oldest first, raw as received (after dot-unstuffing).
    pub fn messages(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.messages) else {
            return Vec::new();
        };
        let mut numbered: Vec<(u64, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| {
                let name = entry.file_name().into_string().ok()?;
                let number = name.strip_suffix(".eml")?.parse().ok()?;
                Some((number, entry.path()))
            })
            .collect();
        numbered.sort();
        numbered
            .into_iter()
            .map(|(_, path)| {
                let raw = fs::read(&path).expect("a stored message");
                String::from_utf8_lossy(&raw).into_owned()
            })
            .collect()
    }

    /// Waits until at least `count` messages are stored and answers them all; panics after
    /// `timeout`.
    pub async fn wait_for_messages(&self, count: usize, timeout: Duration) -> Vec<String> {
        let deadline = Instant::now() + timeout;
        loop {
            let messages = self.messages();
            if messages.len() >= count {
                return messages;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the SMTP server stored {} message(s) within {timeout:?}, not {count}; its stderr:\n{}",
                    messages.len(),
                    self.server_log()
                );
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    /// What the server wrote on stderr, for a failing test's message.
    pub fn server_log(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl std::fmt::Debug for SmtpServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpServer")
            .field("port", &self.port)
            .field("messages", &self.messages)
            .finish_non_exhaustive()
    }
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
