//! `PgStore`: the connection pool, migrations and the transaction helper every port uses.

use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::Pool;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use tally_domain::usage::RetentionPolicy;
use tally_domain::StoreError;

use crate::conn::{checkout, transaction, Conn, Manager, PgPool};
use crate::error::Fail;
use crate::group_commit::{BatchOptions, MeterQueue};

/// Every migration of `migrations/`, compiled in (`build.rs` makes cargo notice new files).
pub(crate) const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Advisory-lock key held while migrating, so concurrent instances migrate one at a time.
const MIGRATION_LOCK: i64 = 0x7461_6c6c_795f_6d67; // "tally_mg"

/// Pool settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections the pool opens.
    pub max_connections: u32,
    /// How long a caller waits for a connection (and a new connection may take to open)
    /// before getting [`StoreError::Unavailable`].
    pub connect_timeout: Duration,
    /// Longest a statement may run before Postgres cancels it (the caller gets
    /// [`StoreError::Unavailable`]); zero = no limit.
    pub statement_timeout: Duration,
    /// How concurrent meters are grouped into transactions.
    pub batch: BatchOptions,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            connect_timeout: Duration::from_secs(2),
            statement_timeout: Duration::from_secs(10),
            batch: BatchOptions::default(),
        }
    }
}

/// The Postgres store: implements every storage port. Cheap to clone (the pool is shared),
/// so one `PgStore` can sit behind all four `Arc<dyn Port>`s and be handed to a
/// [`crate::PgEventBus`].
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    /// The meter writers' connections.
    meter_pool: PgPool,
    url: Arc<str>,
    options: PgOptions,
    meters: Arc<MeterQueue>,
    retention: RetentionPolicy,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("options", &self.options)
            .finish_non_exhaustive()
    }
}

/// Routes pool errors (failed connection attempts) to the log instead of stderr.
#[derive(Debug)]
struct LogPoolErrors;

impl r2d2::HandleError<diesel::r2d2::Error> for LogPoolErrors {
    fn handle_error(&self, error: diesel::r2d2::Error) {
        tracing::warn!(%error, "postgres pool could not open a connection");
    }
}

impl PgStore {
    /// Opens a pool on `url` and checks that the database answers. Connections are opened on
    /// demand (none are held idle up front); one that fails because the database went away is
    /// dropped, so a database that restarts is picked up again without restarting the process.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database cannot be reached within
    /// `options.connect_timeout`; [`StoreError::Internal`] for an unusable URL.
    pub fn connect(url: &str, options: PgOptions) -> Result<Self, StoreError> {
        init_tls();
        let url: Arc<str> = with_connect_timeout(url, options.connect_timeout).into();
        // The meter writers have connections of their own (at most half of
        // `max_connections`, one per writer), so meters cannot starve the other store calls
        // and their connections keep the meter's settings.
        let total = options.max_connections.max(2);
        let writers = u32::try_from(options.batch.writers)
            .unwrap_or(u32::MAX)
            .clamp(1, total / 2);
        let build = |size: u32, manager: Manager| {
            Pool::builder()
                .max_size(size)
                .min_idle(Some(0))
                .connection_timeout(options.connect_timeout)
                .test_on_check_out(false)
                .error_handler(Box::new(LogPoolErrors))
                .build_unchecked(manager)
        };
        let pool = build(
            total - writers,
            Manager::new(&url, options.statement_timeout),
        );
        let meter_pool = build(
            writers,
            Manager::new(&url, options.statement_timeout).generic_plans(),
        );
        let meters = Arc::new(MeterQueue::new(
            meter_pool.clone(),
            BatchOptions {
                writers: writers as usize,
                ..options.batch
            },
        ));
        let store = Self {
            meter_pool,
            pool,
            url,
            options,
            meters,
            retention: RetentionPolicy::KEEP_EVERYTHING,
        };
        store.check()?;
        Ok(store)
    }

    /// This store with a retention policy (the default keeps everything): applied by
    /// `UsageStore::apply_retention`, and the limit of how far request logs reach back.
    #[must_use]
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = policy;
        self
    }

    /// The retention policy this store applies.
    pub(crate) fn retention_policy(&self) -> RetentionPolicy {
        self.retention
    }

    /// Runs the pending migrations (under an advisory lock, so instances starting together
    /// migrate once).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when the database is unreachable, [`StoreError::Internal`]
    /// when a migration fails.
    pub fn migrate(&self) -> Result<(), StoreError> {
        let mut conn = self.conn().map_err(Fail::into_store)?;
        let conn = &mut conn.pg;
        let lock = format!("SELECT pg_advisory_lock({MIGRATION_LOCK})");
        conn.batch_execute(&lock)
            .map_err(|e| Fail::from(e).into_store())?;
        let result = conn
            .run_pending_migrations(MIGRATIONS)
            .map(|applied| {
                for version in applied {
                    tracing::info!(%version, "applied migration");
                }
            })
            .map_err(|e| StoreError::Internal(format!("migration failed: {e}")));
        let unlock = format!("SELECT pg_advisory_unlock({MIGRATION_LOCK})");
        // The lock dies with the session anyway; a failed unlock only delays other migrators.
        if let Err(e) = conn.batch_execute(&unlock) {
            tracing::warn!(error = %e, "could not release the migration lock");
        }
        result
    }

    /// The pool and the meter queue right now, for an operator's gauges.
    #[must_use]
    pub fn stats(&self) -> PoolStats {
        let (state, meter) = (self.pool.state(), self.meter_pool.state());
        PoolStats {
            connections: state.connections + meter.connections,
            idle: state.idle_connections + meter.idle_connections,
            waiting: crate::conn::waiting(),
            meters_queued: self.meters.queued(),
        }
    }

    /// The URL connections are opened with (including the connect timeout).
    pub(crate) fn url(&self) -> &str {
        &self.url
    }

    /// A pooled connection, or `Unavailable` after the connect timeout.
    pub(crate) fn conn(&self) -> Result<Conn, Fail> {
        checkout(&self.pool)
    }

    /// The group-commit queue the meter goes through.
    pub(crate) fn meters(&self) -> &MeterQueue {
        &self.meters
    }

    /// Checks that the database answers.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.read(|c| Ok(c.batch_execute("SELECT 1")?))
    }

    /// Runs `f` without a transaction (single statements, reads).
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&mut PgConnection) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        let mut conn = self.conn().map_err(Fail::into_store)?;
        let result = f(&mut conn.pg);
        if let Err(e) = &result {
            conn.note(e);
        }
        result.map_err(Fail::into_store)
    }

    /// Runs `f` in one transaction, again when it lost a race (see [`Fail::is_retryable`]).
    pub(crate) fn try_tx<T>(
        &self,
        f: impl FnMut(&mut PgConnection) -> Result<T, Fail>,
    ) -> Result<T, Fail> {
        transaction(&self.pool, f)
    }

    /// [`Self::try_tx`] with the failure mapped to a [`StoreError`].
    pub(crate) fn tx<T>(
        &self,
        f: impl FnMut(&mut PgConnection) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        self.try_tx(f).map_err(Fail::into_store)
    }
}

/// Adds libpq's `connect_timeout` (whole seconds, at least 1) unless the URL sets one, so
/// opening a connection to an unreachable host cannot hang.
pub(crate) fn with_connect_timeout(url: &str, timeout: Duration) -> String {
    if url.contains("connect_timeout") {
        return url.to_owned();
    }
    let secs = timeout.as_secs().max(1);
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}connect_timeout={secs}")
    } else {
        format!("{url} connect_timeout={secs}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_timeout_is_added_once() {
        let t = Duration::from_millis(2500);
        assert_eq!(
            with_connect_timeout("postgres://u@h/db", t),
            "postgres://u@h/db?connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("postgres://u@h/db?sslmode=disable", t),
            "postgres://u@h/db?sslmode=disable&connect_timeout=2"
        );
        assert_eq!(
            with_connect_timeout("host=h dbname=db", t),
            "host=h dbname=db connect_timeout=2"
        );
        let set = "postgres://h/db?connect_timeout=9";
        assert_eq!(with_connect_timeout(set, t), set);
    }
}

/// A moment of a store's pool ([`PgStore::stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolStats {
    /// Open connections (in use or idle).
    pub connections: u32,
    /// Open connections not in use.
    pub idle: u32,
    /// Callers waiting for a connection (over every store of the process).
    pub waiting: usize,
    /// Meters queued for the group commit, not yet in a batch.
    pub meters_queued: usize,
}

/// Initialises OpenSSL, once per process, without the exit handler libpq would otherwise
/// register on its first TLS connection: that handler frees OpenSSL's state when the process
/// exits, while the pool's, the meter writers' and the bus's threads may still be inside a
/// TLS call on their connections — a crash (SIGSEGV, "double free or corruption") at the end
/// of an otherwise clean stop, in `tally` and in any process embedding this store. The
/// process's memory goes with it anyway.
pub(crate) fn init_tls() {
    openssl::init();
}
