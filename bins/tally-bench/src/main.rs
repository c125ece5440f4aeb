//! `tally-bench` — Tally's load generator. It starts a release `tally` as a child process (or
//! targets a running one), on the memory store or a fresh Postgres database, and runs named
//! scenarios with N keep-alive HTTP/1.1 connections, printing Markdown: requests/s,
//! p50/p90/p99/max latency, errors by status and the server's peak RSS. `pgbench` runs the
//! database's own ceiling for one meter transaction. `scripts/bench.sh` runs the standard set
//! and writes `docs/BENCHMARKS.md`.
//!
//! Nothing here is part of `cargo test` except the percentile arithmetic.

mod error;
mod http;
mod load;
mod pgbench;
mod report;
mod scenarios;
mod server;
mod stats;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};

use crate::error::{setup, Result};
use crate::server::{Server, StoreChoice, DEFAULT_ADMIN_KEY};

/// Tally's load generator (see docs/BENCHMARKS.md).
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Opts {
    /// Scenarios to run, in order.
    #[arg(required = true, value_enum)]
    pub scenarios: Vec<Scenario>,
    /// Store of the servers the bench starts.
    #[arg(long, value_enum, default_value = "memory")]
    pub store: StoreChoice,
    /// Load a running server instead of starting one (`http://127.0.0.1:8080`).
    #[arg(long)]
    pub target: Option<String>,
    /// With --target: the server's pid, for memory figures.
    #[arg(long)]
    pub target_pid: Option<u32>,
    /// With --target on Postgres: its database, for bulk seeding.
    #[arg(long)]
    pub target_database_url: Option<String>,
    /// The server binary (default: `tally` next to this binary).
    #[arg(long)]
    pub server_bin: Option<PathBuf>,
    /// The admin key (`X-Admin-Key`) of the server.
    #[arg(long, default_value = DEFAULT_ADMIN_KEY)]
    pub admin_key: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Seconds per measured run.
    #[arg(long, default_value_t = 5.0)]
    pub duration: f64,
    /// Seconds of warm-up before the measured runs (thrown away).
    #[arg(long, default_value_t = 1.0)]
    pub warmup: f64,
    /// Measured runs per scenario; the report shows their medians.
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// Generator threads (the server gets the rest of the machine).
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// verify: keys spread over.
    #[arg(long, default_value_t = 10_000)]
    pub keys: usize,
    /// captions: sessions (one key each).
    #[arg(long, default_value_t = 256)]
    pub sessions: usize,
    /// captions: captions per batch.
    #[arg(long, default_value_t = 5)]
    pub captions_per_batch: usize,
    /// ingest: events per batch.
    #[arg(long, default_value_t = 100)]
    pub batch: usize,
    /// analytics: history sizes, seeded cumulatively.
    #[arg(long, value_delimiter = ',', default_value = "1000000,10000000")]
    pub history: Vec<u64>,
    /// instances: the instance counts to compare, each on one shared Postgres.
    #[arg(long, value_delimiter = ',', default_value = "1,2,3")]
    pub instances: Vec<usize>,
    /// instances: the lifetime limit of the key hammered for the exactness check.
    #[arg(long, default_value_t = 2_000)]
    pub exact_limit: u64,
    /// fanout: subscriber counts.
    #[arg(long, value_delimiter = ',', default_value = "1000,10000")]
    pub subscribers: Vec<usize>,
    /// pgbench: client counts.
    #[arg(long, value_delimiter = ',', default_value = "10,64")]
    pub pgbench_clients: Vec<u32>,
    /// pgbench: meters per transaction of the batched baseline (`meter_batched.sql`).
    #[arg(long, default_value_t = 32)]
    pub pgbench_batch: u32,
    /// verify and captions: run the bare durable INSERT baseline (pgbench, 10 clients, on a
    /// database of its own) right before each measured run, and report each rate as a share
    /// of it (meant for the Postgres store, where that is the bar).
    #[arg(long)]
    pub paired_insert: bool,
    /// pgbench binary.
    #[arg(long, default_value = "/usr/lib/postgresql/15/bin/pgbench")]
    pub pgbench: PathBuf,
    /// pgbench custom script.
    #[arg(long, default_value = "scripts/bench/meter.sql")]
    pub pgbench_script: PathBuf,
    /// Directory for server logs and pgbench transaction logs.
    #[arg(long, default_value = "/tmp/tally-bench")]
    pub work_dir: PathBuf,
}

/// A named scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// `POST /v1/verify` over many keys and over one hot key.
    Verify,
    /// `POST /live` sessions posting caption batches.
    Captions,
    /// `POST /v1/events` batches.
    Ingest,
    /// Analytics endpoints over seeded histories.
    Analytics,
    /// Analytics latency idle vs. under verify load, and verify's rate with and without
    /// analytics running (first `--history` size).
    AnalyticsUnderLoad,
    /// Each dashboard page loaded in headless Chromium over seeded histories.
    Dashboard,
    /// SSE subscribers of one session: `POST /mic` to the last `mic_state`.
    Fanout,
    /// Every connection on one session with a slow webhook: the bounded delivery queue.
    Flood,
    /// The database's own ceiling for one meter transaction (pgbench).
    Pgbench,
    /// With `--target` = a running `examples/product`: its route behind the metering
    /// middleware vs. unmetered vs. metered through `POST /v1/verify` over HTTP
    Embed,
    /// 1, 2 and 3 Postgres instances sharing one database, connections spread over them:
    /// throughput, p99 and one lifetime limit admitted exactly across the instances.
    Instances,
    /// Bytes on disk per event and per rollup row over a seeded history (`--history`).
    Storage,
}

impl Opts {
    /// A fresh server for a scenario (or the target).
    ///
    /// # Errors
    /// [`error::BenchError::Setup`] when it cannot be started.
    pub fn server(&self, label: &str) -> Result<Server> {
        if let Some(url) = &self.target {
            return Server::target(url, self.target_pid, self.target_database_url.clone());
        }
        let (bin, log) = self.server_files(label)?;
        Server::start(&bin, self.store, &self.admin_key, &log)
    }

    /// The server binary to start and the log file of the server labelled `label`.
    ///
    /// # Errors
    /// [`error::BenchError::Io`] when the work directory cannot be created.
    pub fn server_files(&self, label: &str) -> Result<(PathBuf, PathBuf)> {
        let bin = match &self.server_bin {
            Some(b) => b.clone(),
            None => std::env::current_exe()?.with_file_name("tally"),
        };
        std::fs::create_dir_all(&self.work_dir)?;
        let log = self
            .work_dir
            .join(format!("server-{}-{label}.log", self.store.name()));
        Ok((bin, log))
    }

    /// The store label used in reports.
    #[must_use]
    pub fn store_name(&self) -> &str {
        if self.target.is_some() {
            "target"
        } else {
            self.store.name()
        }
    }

    /// Seconds as a duration.
    #[must_use]
    pub fn secs(s: f64) -> Duration {
        Duration::from_secs_f64(s.max(0.0))
    }
}

fn main() -> ExitCode {
    let opts = Opts::parse();
    match run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tally-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run(opts: &Opts) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(opts.threads.max(1))
        .enable_all()
        .build()
        .map_err(setup)?;
    let mut figures = Vec::new();
    for scenario in &opts.scenarios {
        let section = runtime.block_on(async {
            match scenario {
                Scenario::Verify => scenarios::verify::run(opts).await,
                Scenario::Captions => scenarios::captions::run(opts).await,
                Scenario::Ingest => scenarios::ingest::run(opts).await,
                Scenario::Analytics => scenarios::analytics::run(opts).await,
                Scenario::AnalyticsUnderLoad => scenarios::analytics_load::run(opts).await,
                Scenario::Dashboard => scenarios::dashboard::run(opts).await,
                Scenario::Fanout => scenarios::fanout::run(opts).await,
                Scenario::Flood => scenarios::flood::run(opts).await,
                Scenario::Pgbench => pgbench::run(opts),
                Scenario::Embed => scenarios::embed::run(opts).await,
                Scenario::Instances => scenarios::instances::run(opts).await,
                Scenario::Storage => scenarios::storage::run(opts).await,
            }
        })?;
        println!("{}\n", section.text);
        figures.extend(section.figures);
    }
    if let Some(text) = report::ratios(&figures) {
        println!("{text}\n");
    }
    Ok(())
}
