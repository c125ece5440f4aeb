//! Turns a [`Config`] into the application state: picks the store, the JWT keys and the
//! settings, and says loudly what it chose.

use std::sync::Arc;

use tally_auth::{JwtKeys, OsIds};
use tally_domain::services::{Ports, Stores};
use tally_domain::IdGenerator;
use tally_domain::{LocalBus, SystemClock};
use tally_http::{AppState, Settings, StoreKind};
use tally_store_mem::MemStore;
use tally_store_pg::{BatchOptions, PgEventBus, PgOptions, PgStore};

use crate::config::{Config, DatabaseConfig};

/// The warning logged when the server runs on the in-memory store.
pub const IN_MEMORY_WARNING: &str =
    "in-memory store: nothing is persisted (set DATABASE_URL to use Postgres)";

/// Why the server cannot start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The store could not be opened.
    #[error("store: {0}")]
    Store(String),
    /// The server stopped with an I/O error.
    #[error("server: {0}")]
    Serve(std::io::Error),
    /// The listener could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// `host:port`.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// The stores named by the configuration: Postgres when `DATABASE_URL` is set, else memory.
///
/// # Errors
/// [`StartupError::Store`] when the database cannot be opened.
pub fn stores(config: &Config) -> Result<(Stores, StoreKind), StartupError> {
    open(config).map(|(stores, kind, _)| (stores, kind))
}

/// [`stores`], and the Postgres store itself when there is one (for its pool gauges).
///
/// # Errors
/// As [`stores`].
pub fn open(config: &Config) -> Result<(Stores, StoreKind, Option<PgStore>), StartupError> {
    match &config.database_url {
        None => {
            tracing::warn!("{IN_MEMORY_WARNING}");
            let store = MemStore::new().with_retention(config.retention.policy);
            let stores = Stores::from_one(Arc::new(store), Arc::new(LocalBus::new()));
            Ok((stores, StoreKind::Memory, None))
        }
        Some(url) => postgres(url, config),
    }
}

fn postgres(
    url: &str,
    config: &Config,
) -> Result<(Stores, StoreKind, Option<PgStore>), StartupError> {
    let store = open_postgres(url, &config.database)?.with_retention(config.retention.policy);
    let bus = PgEventBus::start(&store).map_err(|e| StartupError::Store(e.to_string()))?;
    tracing::info!("Postgres store ready (migrations applied)");
    Ok((
        Stores::from_one(Arc::new(store.clone()), Arc::new(bus)),
        StoreKind::Postgres,
        Some(store),
    ))
}

/// The pool and batching options of the configuration.
fn pg_options(db: &DatabaseConfig) -> PgOptions {
    PgOptions {
        max_connections: db.pool_size,
        statement_timeout: db.statement_timeout,
        batch: BatchOptions {
            max_batch: db.batch_max,
            max_wait: db.batch_wait,
            writers: db.batch_writers,
            optimistic: db.batch_optimistic,
        },
        ..PgOptions::default()
    }
}

/// The Postgres store at `url`, migrated (for `tally migrate` and `tally import`).
///
/// # Errors
/// [`StartupError::Store`] when the database cannot be opened or migrated.
pub fn open_postgres(url: &str, db: &DatabaseConfig) -> Result<PgStore, StartupError> {
    let store =
        PgStore::connect(url, pg_options(db)).map_err(|e| StartupError::Store(e.to_string()))?;
    store
        .migrate()
        .map_err(|e| StartupError::Store(e.to_string()))?;
    Ok(store)
}

/// Opens the store named by the configuration and runs its migrations (`tally migrate`).
///
/// # Errors
/// [`StartupError::Store`] when there is no database to migrate or a migration fails.
pub fn migrate(config: &Config) -> Result<(), StartupError> {
    match &config.database_url {
        None => Err(StartupError::Store(
            "DATABASE_URL is not set: nothing to migrate".to_owned(),
        )),
        Some(url) => open_postgres(url, &config.database).map(|_| ()),
    }
}

/// The first five minutes: a server on the in-memory store (a trial: nothing it holds
/// outlives it) with no admin key configured gets one made up for this run, so that the
/// README's run command leads straight to a first key. A configured server — any Postgres
/// store, or an admin key set — never invents a credential. Returns the configuration to serve
/// with and the made-up key, if any.
#[must_use]
pub fn run_admin_key(config: &Config, store: StoreKind) -> (Config, Option<String>) {
    if store != StoreKind::Memory || config.admin_key.is_some() {
        return (config.clone(), None);
    }
    let key = format!("tk_admin_{}", OsIds.base62(32));
    let mut config = config.clone();
    config.admin_key = Some(key.clone());
    (config, Some(key))
}

/// The application state for these stores and this configuration.
#[must_use]
pub fn state(config: &Config, stores: Stores, store: StoreKind) -> AppState {
    let jwt = match &config.jwt_secret {
        Some(secret) => JwtKeys::from_secret(secret.as_bytes()),
        None => {
            tracing::warn!(
                "JWT_SECRET not set: using a random secret; tokens die with the process"
            );
            JwtKeys::random()
        }
    };
    if config.admin_key.is_none() {
        tracing::warn!("ADMIN_KEY not set: admin routes answer 503");
    }
    let ports = Ports {
        stores,
        clock: Arc::new(SystemClock),
        ids: Arc::new(OsIds),
    };
    let settings = Settings {
        admin_key: config.admin_key.clone(),
        allowed_domains: config.allowed_domains.clone(),
        usage_public: config.usage_public,
        free_apikey_active: config.free_apikey_active,
        session_ttl: config.session_ttl,
        sweep_interval: config.sweep_interval,
        store,
        version: env!("CARGO_PKG_VERSION").to_owned(),
        youtube_ingestion_url: config.youtube_ingestion_url.clone(),
    };
    AppState::new(ports, jwt, settings)
}
