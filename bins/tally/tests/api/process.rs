//! The real `tally` binary as a child process, for tests of what is process-wide (the
//! metrics recorder, signals).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use tally_store_pg::testing::TestDb;

use crate::helpers::on_postgres;

/// The server process, killed when the test ends.
pub struct Server {
    pub child: Child,
    /// `http://127.0.0.1:<port>`.
    pub api: String,
    /// The metrics URL, when the listener was asked for.
    pub metrics: String,
    _db: Option<TestDb>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

/// Starts `tally serve` with the suite's store (a fresh Postgres database when
/// `TALLY_TEST_STORE=postgres`) and `extra` environment, and reads its address lines.
pub fn start(extra: &[(&str, &str)]) -> Server {
    let db = on_postgres().then(|| TestDb::create().expect("a Postgres for the suite"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tally"));
    cmd.arg("serve")
        .env_clear()
        .env("TALLY_HTTP__PORT", "0")
        .env("TALLY_HTTP__WORKERS", "1")
        .env("ADMIN_KEY", "metrics-admin")
        .env("JWT_SECRET", "metrics-secret")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(if extra.iter().any(|(k, _)| *k == "TALLY_LOG_FORMAT") {
            Stdio::piped()
        } else {
            Stdio::null()
        });
    if let Some(db) = &db {
        cmd.env("DATABASE_URL", db.url());
    }
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("the tally binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = |prefix: &str| {
        let line = lines.next().expect("a line").expect("stdout");
        line.strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{line:?} does not start with {prefix:?}"))
            .to_owned()
    };
    let api = next("listening on ");
    let metrics = if extra.iter().any(|(k, _)| *k == "TALLY_METRICS__ADDRESS") {
        next("metrics on ")
    } else {
        String::new()
    };
    Server {
        child,
        api,
        metrics,
        _db: db,
    }
}
