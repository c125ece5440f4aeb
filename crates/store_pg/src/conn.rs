//! Connections: the r2d2 manager (statement timeout on every new connection, lost
//! connections never reused), checkout and the transaction helper with retries. Below
//! [`crate::PgStore`] and the meter's group commit, which both run on it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool, PooledConnection};
use diesel::Connection;

use crate::error::{pool_error, Fail};

/// How often a transaction that lost a race (deadlock, serialisation failure, concurrent
/// idempotency key) is run again before giving up with `Unavailable`.
const MAX_RETRIES: u32 = 5;

/// The pool every store call draws from.
pub(crate) type PgPool = Pool<Manager>;
/// A connection checked out of it.
pub(crate) type Conn = PooledConnection<Manager>;

/// A pooled connection that remembers whether it was lost.
pub(crate) struct TrackedConn {
    /// The connection.
    pub(crate) pg: PgConnection,
    /// Set when a statement failed because the connection is gone, so the pool drops it
    /// instead of handing it out again. This replaces a `SELECT 1` round trip on every
    /// checkout: after a database restart, each stale connection fails one call
    /// (`Unavailable`) and is replaced.
    lost: bool,
}

impl TrackedConn {
    /// Marks the connection lost when `e` says it is.
    pub(crate) fn note(&mut self, e: &Fail) {
        self.lost |= e.is_connection_lost();
    }
}

/// diesel's connection manager, with connections that can be marked lost and a statement
/// timeout set on every new connection.
#[derive(Debug)]
pub(crate) struct Manager {
    inner: ConnectionManager<PgConnection>,
    statement_timeout: Duration,
    /// Whether prepared statements always run their generic plan (the meter writers').
    generic_plans: bool,
}

impl r2d2::ManageConnection for Manager {
    type Connection = TrackedConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<TrackedConn, Self::Error> {
        let mut pg = self.inner.connect()?;
        let mut settings = String::new();
        if !self.statement_timeout.is_zero() {
            // A stuck statement then fails (503) instead of holding a worker forever.
            let ms = self.statement_timeout.as_millis();
            settings.push_str(&format!("SET statement_timeout = {ms};"));
        }
        if self.generic_plans {
            settings.push_str("SET plan_cache_mode = force_generic_plan;");
        }
        if !settings.is_empty() {
            pg.batch_execute(&settings)
                .map_err(diesel::r2d2::Error::QueryError)?;
        }
        Ok(TrackedConn { pg, lost: false })
    }

    fn is_valid(&self, conn: &mut TrackedConn) -> Result<(), Self::Error> {
        self.inner.is_valid(&mut conn.pg)
    }

    fn has_broken(&self, conn: &mut TrackedConn) -> bool {
        conn.lost || self.inner.has_broken(&mut conn.pg)
    }
}

impl Manager {
    /// A manager for `url` whose connections cancel statements after `statement_timeout`
    /// (zero: never).
    pub(crate) fn new(url: &str, statement_timeout: Duration) -> Self {
        Self {
            inner: ConnectionManager::<PgConnection>::new(url),
            statement_timeout,
            generic_plans: false,
        }
    }

    /// This manager, with connections whose prepared statements always run their generic
    /// plan. The meter's statements are written so that it is the right plan whatever the
    /// batch holds (every row a primary-key probe, [`crate::fixed`]); left to choose,
    /// Postgres compares the generic plan with the custom plans of a statement's first five
    /// runs on each connection and may keep planning every run afresh — measured: a quarter
    /// more of Postgres' CPU per meter on one hot key when those first runs happened to
    /// hold one key each.
    pub(crate) fn generic_plans(mut self) -> Self {
        self.generic_plans = true;
        self
    }
}

/// A pooled connection from `pool`, or `Unavailable` after the connect timeout.
pub(crate) fn checkout(pool: &PgPool) -> Result<Conn, Fail> {
    WAITING.fetch_add(1, Ordering::Relaxed);
    let conn = pool.get();
    WAITING.fetch_sub(1, Ordering::Relaxed);
    conn.map_err(|e| Fail::Store(pool_error(&e)))
}

/// Callers waiting for a pooled connection right now, over every store of the process.
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// [`WAITING`]'s value.
pub(crate) fn waiting() -> usize {
    WAITING.load(Ordering::Relaxed)
}

/// Runs `f` in one transaction on a connection of `pool`, again when it lost a race (see
/// [`Fail::is_retryable`]); a connection that turned out lost is not reused.
pub(crate) fn transaction<T>(
    pool: &PgPool,
    f: impl FnMut(&mut PgConnection) -> Result<T, Fail>,
) -> Result<T, Fail> {
    transaction_on(&mut checkout(pool)?, f)
}

/// [`transaction`] on a connection already checked out.
pub(crate) fn transaction_on<T>(
    conn: &mut Conn,
    mut f: impl FnMut(&mut PgConnection) -> Result<T, Fail>,
) -> Result<T, Fail> {
    let mut attempt = 0;
    loop {
        match conn.pg.transaction(|c| f(c)) {
            Err(e) if e.is_retryable() && attempt < MAX_RETRIES => attempt += 1,
            Err(e) => {
                conn.note(&e);
                return Err(e);
            }
            ok => return ok,
        }
    }
}
