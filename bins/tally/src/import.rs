//! `tally import lcyt <db>`: brings an lcyt-backend SQLite database over into the configured
//! store through the [`ImportStore`] port — keys (their raw secrets hashed, counters kept),
//! session records, caption errors, auth events and the per-site hourly rollups. Batches of
//! one table are one transaction each, and the whole import is idempotent, so running it again
//! (or after a failure) writes everything exactly once. docs/OPERATIONS.md, "Importing an lcyt
//! database", lists what maps to what.

mod lcyt;
mod map;
mod tables;

use std::fmt;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tally_domain::import::ImportCount;
use tally_domain::tenancy::OrgId;
use tally_domain::{ImportStore, StoreError, TenantStore};
use time::OffsetDateTime;

use crate::config::Config;
use lcyt::LcytDb;

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
    tables::import(&db, &store, &options)
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
    tables::import(&LcytDb::open(path)?, store, options)
}
