//! Throwaway Postgres databases for tests (this crate's and the HTTP black-box tests).
//!
//! The first [`TestDb::create`] of a process builds (or finds) a migrated template database,
//! `tally_template_<fingerprint of migrations/>`, under an advisory lock so parallel test
//! processes do not race; a schema change gets a new template. Each test then clones it with
//! `CREATE DATABASE … TEMPLATE` (fast: no migrations per test) and drops its clone on `Drop`
//! (`WITH (FORCE)`). Clones left behind by killed runs are swept after 30 minutes.
//!
//! The server comes from `TALLY_TEST_DATABASE_URL` (a `postgres://` URL naming a database to
//! connect to for administration), default `postgres://postgres@127.0.0.1:5432/postgres`.
//! A connection that times out (5 s) is tried three times before the server counts as
//! unreachable; a refused one counts at once.
//! When it cannot be reached, `create` panics if `TALLY_REQUIRE_POSTGRES=1` (CI), and
//! otherwise prints one line saying the Postgres tests were skipped and why, and returns
//! `None`. A template that fails to migrate always panics: that is a bug, not a missing
//! database.

use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Once, OnceLock};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use tally_domain::bus::EventBus;
use tally_domain::services::Stores;

use crate::pool::with_connect_timeout;
use crate::{PgEventBus, PgOptions, PgStore};

/// The variable naming the test server.
pub const DATABASE_URL_VAR: &str = "TALLY_TEST_DATABASE_URL";
/// The variable that turns an unreachable server into a failure (`1`).
pub const REQUIRE_VAR: &str = "TALLY_REQUIRE_POSTGRES";
/// The test server when the variable is unset.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Prefix of cloned test databases: `tally_test_<unix secs>_<pid>_<n>`.
const CLONE_PREFIX: &str = "tally_test_";
/// Clones older than this are leftovers of killed runs.
const LEFTOVER_AGE: Duration = Duration::from_secs(30 * 60);
/// Advisory-lock key held while the template is built.
const TEMPLATE_LOCK: i64 = 0x7461_6c6c_795f_7470; // "tally_tp"

/// Why no template is available.
#[derive(Debug, Clone)]
enum TemplateError {
    /// The server cannot be reached: skip, unless required.
    Unreachable(String),
    /// The server answers but the template cannot be built: always a failure.
    Broken(String),
}

/// A cloned, migrated database that is dropped with this value.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

/// `url` with its database replaced by `db` (URL form only).
#[must_use]
pub fn with_database(url: &str, db: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let path_start = base[authority_start..]
        .find('/')
        .map_or(base.len(), |i| authority_start + i);
    let mut out = format!("{}/{db}", &base[..path_start]);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

fn admin_url() -> String {
    let url = std::env::var(DATABASE_URL_VAR).unwrap_or_else(|_| DEFAULT_URL.to_owned());
    with_connect_timeout(&url, Duration::from_secs(5))
}

/// How often a connection that timed out is tried before the server counts as unreachable.
const CONNECT_ATTEMPTS: u32 = 3;

/// A connection to the admin database. A machine under load (a test binary just linked,
/// Chromium starting, CPU steal) once stalled a backend's start past the connect timeout, and
/// the first test's template build then marked the server unreachable for the whole test
/// binary. So a timeout is tried again; a refused connection (no server) fails at once.
fn connect_admin(admin: &str) -> Result<PgConnection, String> {
    let mut attempt = 1;
    loop {
        match PgConnection::establish(admin) {
            Ok(conn) => return Ok(conn),
            Err(e) => {
                let e = e.to_string();
                if attempt >= CONNECT_ATTEMPTS || !e.contains("timeout expired") {
                    return Err(e);
                }
                attempt += 1;
            }
        }
    }
}

fn exec(conn: &mut PgConnection, sql: &str) -> Result<(), String> {
    conn.batch_execute(sql).map_err(|e| format!("{sql}: {e}"))
}

#[derive(QueryableByName)]
struct DbName {
    #[diesel(sql_type = Text)]
    datname: String,
}

fn databases_like(conn: &mut PgConnection, pattern: &str) -> Result<Vec<String>, String> {
    diesel::sql_query("SELECT datname FROM pg_database WHERE datname LIKE $1")
        .bind::<Text, _>(pattern)
        .load::<DbName>(conn)
        .map(|rows| rows.into_iter().map(|r| r.datname).collect())
        .map_err(|e| format!("listing databases: {e}"))
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Drops clones whose name says they are older than [`LEFTOVER_AGE`].
fn sweep_leftovers(conn: &mut PgConnection) -> Result<(), String> {
    let now = unix_secs();
    for name in databases_like(conn, &format!("{CLONE_PREFIX}%"))? {
        let born = name
            .strip_prefix(CLONE_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if born.is_some_and(|b| now.saturating_sub(b) > LEFTOVER_AGE.as_secs()) {
            exec(
                conn,
                &format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            )?;
        }
    }
    Ok(())
}

/// Builds the template if no process has yet; returns its name.
fn build_template(admin: &str) -> Result<String, TemplateError> {
    let name = format!("tally_template_{}", env!("TALLY_MIGRATIONS_HASH"));
    let mut conn = connect_admin(admin).map_err(TemplateError::Unreachable)?;
    exec(
        &mut conn,
        &format!("SELECT pg_advisory_lock({TEMPLATE_LOCK})"),
    )
    .map_err(TemplateError::Unreachable)?;
    let built = (|| {
        sweep_leftovers(&mut conn)?;
        if !databases_like(&mut conn, &name)?.is_empty() {
            return Ok(());
        }
        let building = format!("{name}_building");
        exec(
            &mut conn,
            &format!("DROP DATABASE IF EXISTS \"{building}\" WITH (FORCE)"),
        )?;
        exec(&mut conn, &format!("CREATE DATABASE \"{building}\""))?;
        let options = PgOptions {
            max_connections: 1,
            ..PgOptions::default()
        };
        let store = PgStore::connect(&with_database(admin, &building), options)
            .map_err(|e| e.to_string())?;
        store.migrate().map_err(|e| e.to_string())?;
        drop(store);
        exec(
            &mut conn,
            &format!("ALTER DATABASE \"{building}\" RENAME TO \"{name}\""),
        )
    })();
    // The lock also dies with the connection; unlocking early only lets others in sooner.
    let _ = exec(
        &mut conn,
        &format!("SELECT pg_advisory_unlock({TEMPLATE_LOCK})"),
    );
    built.map(|()| name).map_err(TemplateError::Broken)
}

fn template(admin: &str) -> Result<String, TemplateError> {
    static TEMPLATE: OnceLock<Result<String, TemplateError>> = OnceLock::new();
    TEMPLATE.get_or_init(|| build_template(admin)).clone()
}

fn skipped(admin: &str, reason: &str) -> Option<TestDb> {
    if std::env::var(REQUIRE_VAR).is_ok_and(|v| v == "1") {
        panic!("{REQUIRE_VAR}=1 but the test Postgres at {admin} is unreachable: {reason}");
    }
    let reason = reason.split_whitespace().collect::<Vec<_>>().join(" ");
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        // Straight to the process's stderr: the test harness captures `eprintln!`.
        let _ = writeln!(
            std::io::stderr(),
            "Postgres tests skipped: {admin} is unreachable ({reason}); set {DATABASE_URL_VAR} \
             to a reachable server, or {REQUIRE_VAR}=1 to fail instead"
        );
    });
    None
}

impl TestDb {
    /// A fresh migrated database, or `None` when the server is unreachable and not required
    /// (see the module docs).
    ///
    /// # Panics
    /// When `TALLY_REQUIRE_POSTGRES=1` and the server is unreachable, or when the template
    /// cannot be built or cloned.
    #[must_use]
    pub fn create() -> Option<Self> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        crate::pool::init_tls();
        let admin = admin_url();
        let template = match template(&admin) {
            Ok(t) => t,
            Err(TemplateError::Unreachable(reason)) => return skipped(&admin, &reason),
            Err(TemplateError::Broken(reason)) => {
                panic!("cannot build the test template database: {reason}")
            }
        };
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("{CLONE_PREFIX}{}_{}_{n}", unix_secs(), std::process::id());
        let mut conn = match connect_admin(&admin) {
            Ok(c) => c,
            Err(e) => return skipped(&admin, &e),
        };
        let create = format!("CREATE DATABASE \"{name}\" TEMPLATE \"{template}\"");
        let mut attempt = 0;
        // Another process may be cloning the same template this very moment.
        while let Err(e) = exec(&mut conn, &create) {
            attempt += 1;
            assert!(
                attempt < 50 && e.contains("being accessed by other users"),
                "cannot clone the test template: {e}"
            );
            thread::sleep(Duration::from_millis(20 * attempt));
        }
        Some(Self {
            url: with_database(&admin, &name),
            name,
            admin_url: admin,
        })
    }

    /// The database's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL of the database.
    #[must_use]
    pub fn url(&self) -> &str {
        &self.url
    }

    /// A store on the database with small pool.
    ///
    /// # Panics
    /// When the database cannot be reached.
    #[must_use]
    pub fn store(&self) -> PgStore {
        let options = PgOptions {
            max_connections: 4,
            ..PgOptions::default()
        };
        self.store_with(options)
    }

    /// A store on the database with these options.
    ///
    /// # Panics
    /// When the database cannot be reached.
    #[must_use]
    pub fn store_with(&self, options: PgOptions) -> PgStore {
        match PgStore::connect(&self.url, options) {
            Ok(store) => store,
            Err(e) => panic!("cannot connect to test database {}: {e}", self.name),
        }
    }

    /// Every port backed by a new store on this database, with a started [`PgEventBus`].
    ///
    /// # Panics
    /// When the database cannot be reached or the bus does not listen within 5 s.
    #[must_use]
    pub fn stores(&self) -> Stores {
        let store = self.store();
        let bus = match PgEventBus::start(&store) {
            Ok(bus) => bus,
            Err(e) => panic!("cannot start the bus: {e}"),
        };
        assert!(
            bus.wait_listening(Duration::from_secs(5)),
            "the bus of {} does not listen",
            self.name
        );
        let bus: Arc<dyn EventBus> = Arc::new(bus);
        Stores::from_one(Arc::new(store), bus)
    }
}

/// Reverts every migration of `store`'s database (for the migrations round-trip test).
///
/// # Errors
/// [`tally_domain::StoreError`] when the database is unreachable or a `down.sql` fails.
pub fn revert_all_migrations(store: &PgStore) -> Result<(), tally_domain::StoreError> {
    use diesel_migrations::MigrationHarness;
    let mut conn = store.conn().map_err(crate::error::Fail::into_store)?;
    conn.pg
        .revert_all_migrations(crate::pool::MIGRATIONS)
        .map(|_| ())
        .map_err(|e| tally_domain::StoreError::Internal(format!("revert failed: {e}")))
}

/// Reverts the applied migrations newest first, down to and including `version` (as diesel
/// spells it: the directory's date and number without dashes, `20260101000030`), so a test
/// can write data in the schema before a migration and then run it ([`PgStore::migrate`]).
///
/// # Errors
/// [`tally_domain::StoreError`] when the database is unreachable, a `down.sql` fails or
/// `version` was never applied.
pub fn revert_migrations_through(
    store: &PgStore,
    version: &str,
) -> Result<(), tally_domain::StoreError> {
    use diesel_migrations::MigrationHarness;
    let mut conn = store.conn().map_err(crate::error::Fail::into_store)?;
    loop {
        let reverted = conn
            .pg
            .revert_last_migration(crate::pool::MIGRATIONS)
            .map_err(|e| tally_domain::StoreError::Internal(format!("revert failed: {e}")))?;
        if reverted.to_string() == version {
            return Ok(());
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let dropped = connect_admin(&self.admin_url).and_then(|mut conn| {
            exec(
                &mut conn,
                &format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name),
            )
        });
        if let Err(e) = dropped {
            eprintln!("could not drop test database {}: {e}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn database_is_replaced_in_urls() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?connect_timeout=2", "t1"),
            "postgres://u@h/t1?connect_timeout=2"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
    }
}
