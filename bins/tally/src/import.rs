//! `tally import lcyt <db>`: brings an lcyt-backend SQLite database over into the configured
//! store through the [`ImportStore`] port — keys (their raw secrets hashed, counters kept),
//! session records, caption errors, auth events and the per-site hourly rollups. Batches of
//! one table are one transaction each, and the whole import is idempotent, so running it again
//! (or after a failure) writes everything exactly once. docs/OPERATIONS.md, "Importing an lcyt
//! database", lists what maps to what.

mod lcyt;
mod map;

use std::collections::HashMap;
use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tally_domain::import::{Copies, ImportCount, KeyImport};
use tally_domain::key::KeyId;
use tally_domain::tenancy::OrgId;
use tally_domain::{ImportStore, StoreError, TenantStore};
use time::OffsetDateTime;

use crate::config::Config;
use lcyt::{text, LcytDb};

/// Rows per transaction.
const BATCH: usize = 500;
/// Reasons listed per table in the summary (the rest are counted).
const REASONS_SHOWN: usize = 5;

/// `tally import …`.
#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// What to import from.
    #[command(subcommand)]
    pub source: ImportSource,
}

/// The systems `tally import` reads.
#[derive(Debug, clap::Subcommand)]
pub enum ImportSource {
    /// Import an lcyt-backend SQLite database into Postgres (needs DATABASE_URL).
    ///
    /// Brings over keys (raw secrets hashed; limits, expiry, revocation, lifetime and daily
    /// usage kept, so the same keys keep their remaining quota), session records, caption
    /// errors, auth events and the per-site hourly rollups. Idempotent: a second run imports
    /// nothing and reports everything skipped. The in-memory store is refused: what it
    /// imported would vanish when the command exits. Exit codes: 3 no such file, 4 not an
    /// lcyt database, 5 unknown lcyt schema, 6 no DATABASE_URL, 7 unknown organisation.
    Lcyt {
        /// The lcyt database file (lcyt-backend's `DB_PATH`, e.g. `lcyt.db`).
        path: PathBuf,
        /// The organisation the keys join.
        #[arg(long, default_value = "org_default")]
        org: String,
    },
}

/// Why an import cannot run or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file does not exist.
    #[error("{}: no such file", .0.display())]
    MissingFile(PathBuf),
    /// The file is not an lcyt-backend database.
    #[error("{}: not an lcyt database: {reason}", path.display())]
    NotLcyt {
        /// The file.
        path: PathBuf,
        /// What gave it away.
        reason: String,
    },
    /// An lcyt database of a schema this importer does not know.
    #[error("{}: unknown lcyt schema version: {detail}", path.display())]
    UnknownSchema {
        /// The file.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// Reading the database failed midway.
    #[error("reading the lcyt database: {0}")]
    Read(String),
    /// No `DATABASE_URL`: the in-memory store would forget the import at exit.
    #[error(
        "tally import needs DATABASE_URL (a Postgres store): the in-memory store would lose \
         everything imported when this command exits"
    )]
    MemoryStore,
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// `--org` names no organisation.
    #[error("organisation {0:?} does not exist (create it with POST /v1/orgs first)")]
    UnknownOrg(String),
    /// The store cannot be opened or migrated.
    #[error(transparent)]
    Open(#[from] crate::wiring::StartupError),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
}

impl ImportError {
    /// The process exit code: 3 missing file, 4 not an lcyt database, 5 unknown schema,
    /// 6 no Postgres store, 7 unknown organisation, 1 anything else (clap's usage errors are 2).
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::MissingFile(_) => 3,
            Self::NotLcyt { .. } => 4,
            Self::UnknownSchema { .. } => 5,
            Self::MemoryStore => 6,
            Self::UnknownOrg(_) => 7,
            Self::Read(_) | Self::Config(_) | Self::Open(_) | Self::Store(_) => 1,
        }
    }
}

/// What happened to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableSummary {
    /// The lcyt table.
    pub table: &'static str,
    /// Rows written now.
    pub imported: u64,
    /// Rows already in Tally (imported before): left as they are.
    pub skipped: u64,
    /// Rows that cannot come over, with the reasons (the first few).
    pub left_out: u64,
    /// Why, for the first rows left out.
    pub reasons: Vec<String>,
}

impl TableSummary {
    fn new(table: &'static str) -> Self {
        Self {
            table,
            ..Self::default()
        }
    }

    fn add(&mut self, c: ImportCount) {
        self.imported += c.imported;
        self.skipped += c.skipped;
    }

    fn leave_out(&mut self, reason: String) {
        self.left_out += 1;
        if self.reasons.len() < REASONS_SHOWN {
            self.reasons.push(reason);
        }
    }
}

/// What an import did, per table, and what it read differently from how lcyt wrote it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// `api_keys`, `caption_usage`, `session_stats`, `caption_errors`, `auth_events`,
    /// `domain_hourly_stats`, in that order.
    pub tables: Vec<TableSummary>,
    /// Values read differently from how they were written (an unparseable expiry, …).
    pub notes: Vec<String>,
}

impl Summary {
    /// The summary of one lcyt table.
    #[must_use]
    pub fn table(&self, name: &str) -> Option<&TableSummary> {
        self.tables.iter().find(|t| t.table == name)
    }

    /// Rows written, over all tables.
    #[must_use]
    pub fn imported(&self) -> u64 {
        self.tables.iter().map(|t| t.imported).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<20} {:>9} {:>9} {:>9}",
            "lcyt table", "imported", "skipped", "left out"
        )?;
        for t in &self.tables {
            writeln!(
                f,
                "{:<20} {:>9} {:>9} {:>9}",
                t.table, t.imported, t.skipped, t.left_out
            )?;
            for r in &t.reasons {
                writeln!(f, "    left out: {r}")?;
            }
            if t.left_out > t.reasons.len() as u64 {
                writeln!(f, "    … and {} more", t.left_out - t.reasons.len() as u64)?;
            }
        }
        for n in &self.notes {
            writeln!(f, "note: {n}")?;
        }
        Ok(())
    }
}

/// How to import.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The organisation keys and their history join.
    pub org: OrgId,
    /// Now: the creation instant of keys whose `created_at` is unreadable.
    pub now: OffsetDateTime,
    /// Draw progress bars on stderr (only ever when it is a terminal).
    pub progress: bool,
}

/// `tally import …` with the configuration: reads the source first (so a bad file is named
/// before any database is opened), then opens the Postgres store and imports.
///
/// # Errors
/// See [`ImportError`].
pub fn run(config: &Config, args: &ImportArgs) -> Result<Summary, ImportError> {
    let ImportSource::Lcyt { path, org } = &args.source;
    let db = LcytDb::open(path)?;
    let org = OrgId::parse(org).map_err(|_| ImportError::UnknownOrg(org.clone()))?;
    let Some(url) = &config.database_url else {
        return Err(ImportError::MemoryStore);
    };
    let store = crate::wiring::open_postgres(url, &config.database)?;
    if store.get_org(&org)?.is_none() {
        return Err(ImportError::UnknownOrg(org.as_str().to_owned()));
    }
    let options = ImportOptions {
        org,
        now: OffsetDateTime::now_utc(),
        progress: std::io::stderr().is_terminal(),
    };
    import_db(&db, &store, &options)
}

/// Imports the lcyt database at `path` into `store` (what `tally import lcyt` runs).
///
/// # Errors
/// See [`ImportError`]; batches committed before a store failure stay (run it again to finish).
pub fn import_lcyt(
    path: &Path,
    store: &dyn ImportStore,
    options: &ImportOptions,
) -> Result<Summary, ImportError> {
    import_db(&LcytDb::open(path)?, store, options)
}

fn bar(options: &ImportOptions, table: &str, len: u64) -> ProgressBar {
    let target = if options.progress && std::io::stderr().is_terminal() {
        ProgressDrawTarget::stderr()
    } else {
        ProgressDrawTarget::hidden()
    };
    let bar = ProgressBar::with_draw_target(Some(len), target);
    if let Ok(style) = ProgressStyle::with_template("{msg:<20} [{bar:40}] {pos}/{len}") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(table.to_owned());
    bar
}

/// Writes mapped rows batch by batch, one transaction each.
fn write_batches<T>(
    options: &ImportOptions,
    summary: &mut TableSummary,
    rows: &[Copies<T>],
    write: impl Fn(&[Copies<T>]) -> Result<ImportCount, StoreError>,
) -> Result<(), ImportError> {
    let copies = |rows: &[Copies<T>]| rows.iter().map(|c| c.count).sum::<u64>();
    let bar = bar(options, summary.table, copies(rows));
    for chunk in rows.chunks(BATCH) {
        summary.add(write(chunk)?);
        bar.inc(copies(chunk));
    }
    bar.finish_and_clear();
    Ok(())
}

fn import_db(
    db: &LcytDb,
    store: &dyn ImportStore,
    options: &ImportOptions,
) -> Result<Summary, ImportError> {
    let org = &options.org;
    let mut notes = Vec::new();
    let (daily, daily_left) = map::daily_usage(&db.daily);
    let mut keys_sum = TableSummary::new("api_keys");
    let mut days_sum = TableSummary::new("caption_usage");
    for reason in daily_left {
        days_sum.leave_out(reason);
    }
    let mut batch = Vec::new();
    let mut raws = Vec::new();
    for row in &db.keys {
        let raw = text(&row[1]).unwrap_or_default();
        let days = daily.get(&raw).map_or(&[][..], Vec::as_slice);
        match map::key(row, days, org, options.now, &mut notes) {
            Ok(k) => {
                batch.push(k);
                raws.push(raw);
            }
            Err(reason) => keys_sum.leave_out(format!("key #{:?}: {reason}", text(&row[0]))),
        }
    }
    let known: std::collections::HashSet<&String> = raws.iter().collect();
    for (raw, days) in &daily {
        if !known.contains(raw) {
            for _ in days {
                days_sum.leave_out("its key is not in the lcyt database".to_owned());
            }
        }
    }
    let mut owners: HashMap<String, KeyImport> = HashMap::new();
    let bar = bar(options, "api_keys", batch.len() as u64);
    for (chunk, raw_chunk) in batch.chunks(BATCH).zip(raws.chunks(BATCH)) {
        let done = store.import_keys(chunk)?;
        for ((k, raw), result) in chunk.iter().zip(raw_chunk).zip(done) {
            let n = k.daily.len() as u64;
            if let KeyImport::Created(_) = result {
                keys_sum.imported += 1;
                days_sum.imported += n;
            } else {
                keys_sum.skipped += 1;
                days_sum.skipped += n;
            }
            owners.insert(raw.clone(), result);
        }
        bar.inc(chunk.len() as u64);
    }
    bar.finish_and_clear();

    let mut sessions_sum = TableSummary::new("session_stats");
    let mut records = Vec::new();
    for row in &db.sessions {
        match map::owner(&owners, text(&row[1])).and_then(|k| map::session(row, k, org)) {
            Ok(r) => records.push(r),
            Err(reason) => sessions_sum.leave_out(session_reason(&row[0], &reason)),
        }
    }
    write_batches(options, &mut sessions_sum, &map::copies(records), |b| {
        store.import_session_records(b)
    })?;

    let mut errors_sum = TableSummary::new("caption_errors");
    let mut errors = Vec::new();
    for row in &db.caption_errors {
        match map::owner(&owners, text(&row[0])).and_then(|k| map::caption_error(row, k, org)) {
            Ok(e) => errors.push(e),
            Err(reason) => errors_sum.leave_out(session_reason(&row[1], &reason)),
        }
    }
    write_batches(options, &mut errors_sum, &map::copies(errors), |b| {
        store.import_caption_errors(b)
    })?;

    let mut events_sum = TableSummary::new("auth_events");
    let mut events = Vec::new();
    for row in &db.auth_events {
        let key: Result<Option<KeyId>, String> = match map::owner(&owners, text(&row[0])) {
            Ok(k) => Ok(Some(k)),
            // A refusal of a key lcyt never had: kept, without the presented string.
            Err(_) if !owners.contains_key(&text(&row[0]).unwrap_or_default()) => Ok(None),
            Err(reason) => Err(reason),
        };
        match key.and_then(|k| map::auth_event(row, k, org)) {
            Ok(e) => events.push(e),
            Err(reason) => events_sum.leave_out(reason),
        }
    }
    write_batches(options, &mut events_sum, &map::copies(events), |b| {
        store.import_auth_events(b)
    })?;

    let mut sites_sum = TableSummary::new("domain_hourly_stats");
    let (sites, sites_left) = map::site_rollups(&db.rollups);
    for reason in sites_left {
        sites_sum.leave_out(reason);
    }
    let sites: Vec<Copies<_>> = sites
        .into_iter()
        .map(|row| Copies { row, count: 1 })
        .collect();
    write_batches(options, &mut sites_sum, &sites, |b| {
        let rows: Vec<_> = b.iter().map(|c| c.row.clone()).collect();
        store.import_domain_rollups(&rows)
    })?;

    Ok(Summary {
        tables: vec![
            keys_sum,
            days_sum,
            sessions_sum,
            errors_sum,
            events_sum,
            sites_sum,
        ],
        notes,
    })
}

fn session_reason(session_id: &rusqlite::types::Value, reason: &str) -> String {
    match text(session_id) {
        Some(s) => format!("session {s}: {reason}"),
        None => reason.to_owned(),
    }
}
