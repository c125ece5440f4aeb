//! `pgbench`: the database's own ceilings on a fresh database with Tally's schema and 10,000
//! keys, over many keys and one hot key: the meter as one transaction per meter
//! (`scripts/bench/meter.sql`, at each client count), the same work set-based with `--pgbench-batch`
//! meters per transaction (`meter_batched.sql`; its rate is reported in meters/s), and the
//! cheapest durable transaction there is (`insert.sql`: one single-row `INSERT` per commit,
//! 10 clients); and one caption request's statements as they were before group commit
//! (`captions.sql`, 256 sessions), the captions scenario's own baseline. Latencies come from pgbench's per-transaction log (`--log`), so percentiles
//! are computed exactly as the HTTP scenarios' are.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tally_store_pg::bulk;
use tally_store_pg::testing::TestDb;
use tally_store_pg::{PgOptions, PgStore};

use crate::error::{setup, BenchError, Result};
use crate::report::{row, Section, HEADER};
use crate::stats::{RunResult, Summary};
use crate::Opts;

/// Keys created for the many-keys variant.
const KEYS: u64 = 10_000;

/// Runs pgbench and returns its section.
///
/// # Errors
/// No Postgres, no pgbench, or a pgbench that fails.
pub fn run(opts: &Opts) -> Result<Section> {
    let db = TestDb::create().ok_or_else(|| setup("no Postgres at TALLY_TEST_DATABASE_URL"))?;
    let store = PgStore::connect(db.url(), PgOptions::default()).map_err(setup)?;
    let ids = bulk::seed_keys(&store, "org_default", "pgbench-key-", KEYS).map_err(setup)?;
    bulk::create_insert_baseline(&store).map_err(setup)?;
    drop(store);
    let (Some(&min), Some(&max)) = (ids.first(), ids.last()) else {
        return Err(setup("no keys seeded"));
    };
    std::fs::create_dir_all(&opts.work_dir)?;
    let mut out = vec![
        format!(
            "### pgbench — `scripts/bench/meter.sql` (one verify's statements), {KEYS} keys, \
             {} s runs, `-j 2`\n",
            opts.duration
        ),
        HEADER.to_owned(),
    ];
    let mut figures = Vec::new();
    let single = opts.pgbench_script.clone();
    let batched = single.with_file_name("meter_batched.sql");
    let k = opts.pgbench_batch.max(1);
    for (label, name, lo) in [("10,000 keys", "many", min), ("1 hot key", "hot", max)] {
        let one = Baseline {
            label: format!("pgbench meter tx, {label}"),
            log: format!("pgbench-{name}"),
            script: &single,
            vars: vec![("minkey", lo), ("maxkey", max)],
            meters_per_tx: 1,
        };
        let best = one.measure(opts, db.url(), &opts.pgbench_clients, &mut out)?;
        figures.push((format!("pgbench.{name}.tps"), best));
        let many = Baseline {
            label: format!("pgbench batched ×{k} (meters/s), {label}"),
            log: format!("pgbench-batched-{name}"),
            script: &batched,
            vars: vec![("minkey", lo), ("maxkey", max), ("batch", i64::from(k))],
            meters_per_tx: k,
        };
        let best = many.measure(opts, db.url(), &[2, 4], &mut out)?;
        figures.push((format!("pgbench.batched.{name}.mps"), best));
    }
    // The captions scenario's own statements: 256 keys, each with an open session.
    let sessions: Vec<i64> = ids.iter().copied().take(256).collect();
    let store = PgStore::connect(db.url(), PgOptions::default()).map_err(setup)?;
    bulk::seed_caption_sessions(&store, &sessions).map_err(setup)?;
    drop(store);
    let (Some(&first), Some(&last)) = (sessions.first(), sessions.last()) else {
        return Err(setup("no sessions seeded"));
    };
    let captions = Baseline {
        label: "pgbench caption request tx (5 captions), 256 sessions".to_owned(),
        log: "pgbench-captions".to_owned(),
        script: &single.with_file_name("captions.sql"),
        vars: vec![("minkey", first), ("maxkey", last)],
        meters_per_tx: 1,
    };
    let best = captions.measure(opts, db.url(), &opts.pgbench_clients, &mut out)?;
    figures.push(("pgbench.captions.tps".to_owned(), best));
    let insert = Baseline {
        label: "pgbench bare durable INSERT (1 row per commit)".to_owned(),
        log: "pgbench-insert".to_owned(),
        script: &single.with_file_name("insert.sql"),
        vars: vec![],
        meters_per_tx: 1,
    };
    let best = insert.measure(opts, db.url(), &[10], &mut out)?;
    figures.push(("pgbench.insert.tps".to_owned(), best));
    Ok(Section {
        text: out.join("\n"),
        figures,
    })
}

/// The bare durable INSERT (`insert.sql`, 10 clients) on a database of its own, run one
/// `--duration` at a time between a server scenario's runs (`--paired-insert`): the machine's
/// speed drifts by tens of percent over minutes here, so a server rate is compared with the
/// baseline measured seconds before it rather than with the `pgbench` scenario's.
pub struct PairedInsert {
    db: TestDb,
    script: std::path::PathBuf,
    round: std::cell::Cell<usize>,
}

impl PairedInsert {
    /// The baseline's database, or `None` without `--paired-insert`.
    ///
    /// # Errors
    /// No Postgres, or its table cannot be created.
    pub fn new(opts: &Opts) -> Result<Option<Self>> {
        if !opts.paired_insert {
            return Ok(None);
        }
        let db = TestDb::create().ok_or_else(|| setup("no Postgres at TALLY_TEST_DATABASE_URL"))?;
        let store = PgStore::connect(db.url(), PgOptions::default()).map_err(setup)?;
        bulk::create_insert_baseline(&store).map_err(setup)?;
        drop(store);
        std::fs::create_dir_all(&opts.work_dir)?;
        Ok(Some(Self {
            db,
            script: opts.pgbench_script.with_file_name("insert.sql"),
            round: std::cell::Cell::new(0),
        }))
    }

    /// One run of the baseline.
    ///
    /// # Errors
    /// pgbench cannot be run or fails.
    pub fn once(&self, opts: &Opts) -> Result<Summary> {
        let r = self.round.replace(self.round.get() + 1);
        let prefix = opts
            .work_dir
            .join(format!("pgbench-paired-{}-{r}", std::process::id()));
        once(opts, self.db.url(), &self.script, 10, &[], &prefix)
    }
}

/// One pgbench script and how its rate is read.
struct Baseline<'a> {
    /// The report row's name.
    label: String,
    /// Prefix of its transaction logs.
    log: String,
    script: &'a Path,
    /// `-D` variables.
    vars: Vec<(&'static str, i64)>,
    /// Meters per transaction: the reported rate is tps × this.
    meters_per_tx: u32,
}

impl Baseline<'_> {
    /// Runs the script `opts.runs` times at each client count, adds a row per count to `out`
    /// and returns the best median rate.
    fn measure(
        &self,
        opts: &Opts,
        url: &str,
        clients: &[u32],
        out: &mut Vec<String>,
    ) -> Result<f64> {
        let mut best: f64 = 0.0;
        for &c in clients {
            let mut runs = Vec::new();
            for r in 0..opts.runs {
                let prefix = opts.work_dir.join(format!("{}-{c}-{r}", self.log));
                let mut run = once(opts, url, self.script, c, &self.vars, &prefix)?;
                run.rps *= f64::from(self.meters_per_tx);
                runs.push(run);
            }
            best = best.max(Summary::median(&runs).rps);
            out.push(row(&self.label, "postgres", c as usize, &runs, None));
        }
        Ok(best)
    }
}

fn once(
    opts: &Opts,
    url: &str,
    script: &Path,
    clients: u32,
    vars: &[(&str, i64)],
    prefix: &Path,
) -> Result<Summary> {
    let output = Command::new(&opts.pgbench)
        .args(["-n", "-j", "2", "--log"])
        .arg(format!("--log-prefix={}", prefix.display()))
        .arg("-f")
        .arg(script)
        .arg(format!("-c{clients}"))
        .arg(format!("-T{}", opts.duration.ceil().max(1.0)))
        .args(vars.iter().map(|(name, v)| format!("-D{name}={v}")))
        .arg(url)
        .output()
        .map_err(|e| setup(format!("cannot run {}: {e}", opts.pgbench.display())))?;
    if !output.status.success() {
        return Err(BenchError::Setup(format!(
            "pgbench failed: {}",
            String::from_utf8_lossy(&output.stderr)
        )));
    }
    let mut run = read_logs(prefix)?;
    run.elapsed = Duration::from_secs_f64(opts.duration.ceil().max(1.0));
    let failed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.trim().strip_prefix("number of failed transactions: "))
        .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        .unwrap_or(0);
    run.io_errors = failed;
    Ok(Summary::of(run))
}

/// Reads (and removes) pgbench's transaction logs `<prefix>.<pid>[.<thread>]`: the third
/// field of each line is the transaction's latency in microseconds.
fn read_logs(prefix: &Path) -> Result<RunResult> {
    let dir = prefix.parent().unwrap_or(Path::new("."));
    let stem = prefix
        .file_name()
        .map(|s| format!("{}.", s.to_string_lossy()))
        .unwrap_or_default();
    let mut run = RunResult::default();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let is_log = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with(&stem));
        if !is_log {
            continue;
        }
        for line in std::fs::read_to_string(&path)?.lines() {
            if let Some(us) = line.split_whitespace().nth(2).and_then(|v| v.parse().ok()) {
                run.latencies_us.push(us);
                *run.statuses.entry(200).or_default() += 1;
            }
        }
        std::fs::remove_file(&path)?;
    }
    Ok(run)
}
