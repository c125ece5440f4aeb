//! The server under test: a child `tally` process (so its memory is measured apart from the
//! generator's) on the memory store or on a fresh Postgres database, or a running server
//! given by URL.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Stdio};

use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};

use crate::error::{setup, BenchError, Result};

/// The admin key the bench starts servers with (and sends as `X-Admin-Key`).
pub const DEFAULT_ADMIN_KEY: &str = "bench-admin-key";

/// Which store a started server uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum StoreChoice {
    /// The in-memory store.
    Memory,
    /// Postgres: a fresh database cloned from the migrated template, dropped afterwards.
    Postgres,
}

impl StoreChoice {
    /// `memory` or `postgres`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Postgres => "postgres",
        }
    }
}

/// A server to load.
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its process, when known (for memory figures).
    pub pid: Option<u32>,
    /// Its database, when it is on Postgres and the bench can reach it (bulk seeding).
    pub db_url: Option<String>,
    child: Option<(Child, ChildStdout)>,
    db: Option<TestDb>,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("pid", &self.pid)
            .finish_non_exhaustive()
    }
}

impl Server {
    /// Starts `bin` (the release `tally`) on port 0 with the bench's admin key, any domain
    /// allowed and `RUST_LOG=warn` (no per-request log lines), and waits for its
    /// `listening on` line. `log` receives its stderr.
    ///
    /// # Errors
    /// [`BenchError::Setup`] when the database or the server cannot be started.
    pub fn start(bin: &Path, store: StoreChoice, admin_key: &str, log: &Path) -> Result<Self> {
        let db = match store {
            StoreChoice::Memory => None,
            StoreChoice::Postgres => Some(
                TestDb::create().ok_or_else(|| setup("no Postgres at TALLY_TEST_DATABASE_URL"))?,
            ),
        };
        let mut server = Self::spawn(bin, db.as_ref().map(TestDb::url), admin_key, log)?;
        server.db = db;
        Ok(server)
    }

    /// Starts `bin` as [`Server::start`] does, on an existing database (`db_url`) that the
    /// caller keeps and drops: several instances sharing one Postgres.
    ///
    /// # Errors
    /// [`BenchError::Setup`] when the server cannot be started.
    pub fn start_on(bin: &Path, db_url: &str, admin_key: &str, log: &Path) -> Result<Self> {
        Self::spawn(bin, Some(db_url), admin_key, log)
    }

    fn spawn(bin: &Path, db_url: Option<&str>, admin_key: &str, log: &Path) -> Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.arg("serve")
            .env("TALLY_HTTP__PORT", "0")
            .env("ADMIN_KEY", admin_key)
            .env("JWT_SECRET", "bench-jwt-secret")
            .env("ALLOWED_DOMAINS", "*")
            .env(
                "RUST_LOG",
                std::env::var("BENCH_SERVER_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .env_remove("DATABASE_URL")
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(log)?);
        if let Some(url) = db_url {
            cmd.env("DATABASE_URL", url);
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| setup(format!("cannot start {}: {e}", bin.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| setup("no stdout from the server"))?;
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .and_then(|a| a.parse::<SocketAddr>().ok())
            .ok_or_else(|| {
                setup(format!(
                    "server did not start (said {line:?}); see {}",
                    log.display()
                ))
            })?;
        Ok(Self {
            addr,
            pid: Some(child.id()),
            db_url: db_url.map(str::to_owned),
            child: Some((child, reader.into_inner())),
            db: None,
        })
    }

    /// A running server at `url` (`http://host:port`); `pid` for memory figures, `db_url`
    /// for bulk seeding.
    ///
    /// # Errors
    /// [`BenchError::Setup`] for an unusable URL.
    pub fn target(url: &str, pid: Option<u32>, db_url: Option<String>) -> Result<Self> {
        let host = url
            .strip_prefix("http://")
            .map(|h| h.trim_end_matches('/'))
            .ok_or_else(|| setup(format!("--target {url}: only http:// URLs")))?;
        let addr = host
            .to_socket_addrs()?
            .next()
            .ok_or_else(|| setup(format!("--target {url}: no address")))?;
        Ok(Self {
            addr,
            pid,
            db_url,
            child: None,
            db: None,
        })
    }

    /// A store on the server's database, for bulk seeding.
    ///
    /// # Errors
    /// [`BenchError::Setup`] when there is no known database or it cannot be reached.
    pub fn store(&self) -> Result<PgStore> {
        let url = self
            .db_url
            .as_deref()
            .ok_or_else(|| setup("no database URL for bulk seeding"))?;
        // Seeding statements write 250,000 events each: no statement timeout for them.
        let options = PgOptions {
            statement_timeout: std::time::Duration::ZERO,
            ..PgOptions::default()
        };
        PgStore::connect(url, options).map_err(setup)
    }

    /// Peak resident memory of the server process so far (`VmHWM`), KiB.
    #[must_use]
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.status_field("VmHWM:")
    }

    /// Current resident memory of the server process (`VmRSS`), KiB.
    #[must_use]
    pub fn rss_kib(&self) -> Option<u64> {
        self.status_field("VmRSS:")
    }

    fn status_field(&self, name: &str) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid?)).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// Whether the bench started this server (and will stop it).
    #[must_use]
    pub fn is_child(&self) -> bool {
        self.child.is_some()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((mut child, _stdout)) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        // The database goes after the process that used it.
        drop(self.db.take());
    }
}

/// `BenchError` for an unexpected answer during setup.
#[must_use]
pub fn unexpected(what: &str, v: &serde_json::Value) -> BenchError {
    BenchError::Protocol(format!("{what}: unexpected answer {v}"))
}
