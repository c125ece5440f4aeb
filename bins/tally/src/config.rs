//! Configuration: built-in defaults → `tally.toml` → `TALLY_*` environment → the plain variables
//! users of the seed systems know (`DATABASE_URL`, `ADMIN_KEY`, …), later layers winning.
//!
//! [`load`] is a pure function of the file and an environment map, so the layering is unit
//! tested without touching the process environment.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use config::{Environment, File, FileFormat};
use serde::Deserialize;
use tally_domain::origin::AllowedDomains;
use tally_domain::usage::retention::{DEFAULT_HOURLY_DAYS, DEFAULT_RAW_DAYS};
use tally_domain::usage::RetentionPolicy;
use tally_http::state::DEFAULT_ALLOWED_DOMAINS;

/// Where configuration comes from.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// A TOML file, and whether it must exist (`--config` given) or may be absent.
    pub file: Option<(PathBuf, bool)>,
    /// The environment (in production: `std::env::vars()`).
    pub env: HashMap<String, String>,
}

impl Sources {
    /// The process environment and `--config <path>` (required) or `./tally.toml` (optional).
    #[must_use]
    pub fn from_process(config_path: Option<PathBuf>) -> Self {
        let file = match config_path {
            Some(path) => (path, true),
            None => (PathBuf::from("tally.toml"), false),
        };
        Self {
            file: Some(file),
            env: std::env::vars().collect(),
        }
    }
}

/// The HTTP listener.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpConfig {
    /// `TALLY_HTTP__HOST`, default `127.0.0.1`.
    pub host: String,
    /// `TALLY_HTTP__PORT`, default `8080`; `0` picks a free port.
    pub port: u16,
    /// `TALLY_HTTP__WORKERS`, default `0` = one per CPU core.
    pub workers: usize,
}

/// The Postgres store's knobs (ignored on the memory store).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseConfig {
    /// `TALLY_DATABASE__POOL_SIZE`, default 16: most connections of the pool.
    pub pool_size: u32,
    /// `TALLY_DATABASE__STATEMENT_TIMEOUT_MS`, default 10,000 (`0` = none): a statement
    /// running longer is cancelled and its request answers 503.
    pub statement_timeout: Duration,
    /// `TALLY_DATABASE__BATCH_MAX`, default 256: most meters per group-commit transaction.
    pub batch_max: usize,
    /// `TALLY_DATABASE__BATCH_WAIT_US`, default 200: how long a meter writer waits for more
    /// meters before it starts a batch smaller than `batch_max`.
    pub batch_wait: Duration,
    /// `TALLY_DATABASE__BATCH_WRITERS`, default 2: meter batches in flight at once (at most
    /// half the pool).
    pub batch_writers: usize,
    /// `TALLY_DATABASE__BATCH_OPTIMISTIC`, default `true`: meter batches first run
    /// optimistically (one checked statement) and take row locks up front only when that is
    /// not possible or loses a race; `false`: always take the locks up front.
    pub batch_optimistic: bool,
}

/// Retention of usage history (DESIGN §7 "Growth"; docs/OPERATIONS.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionConfig {
    /// `TALLY_RETENTION__RAW_DAYS` (default 400, `0` = keep for good) and
    /// `TALLY_RETENTION__HOURLY_DAYS` (default 90, `0` = never compact).
    pub policy: RetentionPolicy,
    /// `TALLY_RETENTION__INTERVAL_SECS`, default 3,600: how often retention and partition
    /// maintenance run (also once at start-up).
    pub interval: Duration,
}

/// The resolved configuration.
#[derive(Clone)]
pub struct Config {
    /// The listener.
    pub http: HttpConfig,
    /// The Postgres store's knobs.
    pub database: DatabaseConfig,
    /// `DATABASE_URL`: Postgres when set, else the in-memory store.
    pub database_url: Option<String>,
    /// `ADMIN_KEY`: admin routes answer 503 without it.
    pub admin_key: Option<String>,
    /// `JWT_SECRET`: a random one (tokens die with the process) without it.
    pub jwt_secret: Option<String>,
    /// `ALLOWED_DOMAINS`, default `lcyt.fi,www.lcyt.fi,localhost`.
    pub allowed_domains: AllowedDomains,
    /// `USAGE_PUBLIC`.
    pub usage_public: bool,
    /// `FREE_APIKEY_ACTIVE`.
    pub free_apikey_active: bool,
    /// Idle session TTL: `TALLY_SESSION__TTL_SECS` or `SESSION_TTL` (ms), default 2 h.
    pub session_ttl: Duration,
    /// Idle sweep interval: `TALLY_SESSION__SWEEP_SECS` or `CLEANUP_INTERVAL` (ms), default 60 s.
    pub sweep_interval: Duration,
    /// YouTube's caption ingestion URL (`youtube.ingestion_url`,
    /// `TALLY_YOUTUBE__INGESTION_URL`), default [`DEFAULT_YOUTUBE_INGESTION_URL`].
    pub youtube_ingestion_url: String,
    /// Where Prometheus metrics are served (`metrics.address`, `TALLY_METRICS__ADDRESS`,
    /// `host:port`; port 0 picks a free one); unset: no metrics listener.
    pub metrics_address: Option<SocketAddr>,
    /// How long raw events and hourly rollups are kept.
    pub retention: RetentionConfig,
}

pub use tally_http::state::DEFAULT_YOUTUBE_INGESTION_URL;

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let redact = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("http", &self.http)
            .field("database_url", &redact(&self.database_url))
            .field("admin_key", &redact(&self.admin_key))
            .field("jwt_secret", &redact(&self.jwt_secret))
            .field("allowed_domains", &self.allowed_domains)
            .field("usage_public", &self.usage_public)
            .field("free_apikey_active", &self.free_apikey_active)
            .field("session_ttl", &self.session_ttl)
            .field("sweep_interval", &self.sweep_interval)
            .field("youtube_ingestion_url", &self.youtube_ingestion_url)
            .field("metrics_address", &self.metrics_address)
            .field("retention", &self.retention)
            .finish()
    }
}

/// Configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or a `TALLY_*` value could not be read or has the wrong type.
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value was read but is not acceptable.
    #[error("configuration: {name}: {message}")]
    Invalid {
        /// The setting, as the user spelled it.
        name: &'static str,
        /// What is wrong.
        message: String,
    },
}

#[derive(Debug, Deserialize)]
struct Layered {
    http: LayeredHttp,
    session: LayeredSession,
    database: LayeredDatabase,
    database_url: Option<String>,
    admin_key: Option<String>,
    jwt_secret: Option<String>,
    allowed_domains: String,
    usage_public: bool,
    free_apikey_active: bool,
    youtube: LayeredYoutube,
    metrics: LayeredMetrics,
    retention: LayeredRetention,
}

#[derive(Debug, Deserialize)]
struct LayeredRetention {
    raw_days: u32,
    hourly_days: u32,
    interval_secs: u64,
}

#[derive(Debug, Deserialize)]
struct LayeredMetrics {
    address: String,
}

#[derive(Debug, Deserialize)]
struct LayeredYoutube {
    ingestion_url: String,
}

#[derive(Debug, Deserialize)]
struct LayeredHttp {
    host: String,
    port: u16,
    workers: usize,
}

#[derive(Debug, Deserialize)]
struct LayeredDatabase {
    pool_size: u32,
    statement_timeout_ms: u64,
    batch_max: usize,
    batch_wait_us: u64,
    batch_writers: usize,
    batch_optimistic: bool,
}

#[derive(Debug, Deserialize)]
struct LayeredSession {
    ttl_secs: u64,
    sweep_secs: u64,
}

/// Reads and validates the configuration.
///
/// # Errors
/// [`ConfigError`] naming the setting that is missing, unreadable or invalid.
pub fn load(sources: &Sources) -> Result<Config, ConfigError> {
    let mut builder = config::Config::builder()
        .set_default("http.host", "127.0.0.1")?
        .set_default("http.port", 8080)?
        .set_default("http.workers", 0)?
        .set_default("session.ttl_secs", 7200)?
        .set_default("session.sweep_secs", 60)?
        .set_default("database.pool_size", 16)?
        .set_default("database.statement_timeout_ms", 10_000)?
        .set_default("database.batch_max", 256)?
        .set_default("database.batch_wait_us", 200)?
        .set_default("database.batch_writers", 2)?
        .set_default("database.batch_optimistic", true)?
        .set_default("allowed_domains", DEFAULT_ALLOWED_DOMAINS)?
        .set_default("usage_public", false)?
        .set_default("free_apikey_active", false)?
        .set_default("youtube.ingestion_url", DEFAULT_YOUTUBE_INGESTION_URL)?
        .set_default("metrics.address", "")?
        .set_default("retention.raw_days", DEFAULT_RAW_DAYS)?
        .set_default("retention.hourly_days", DEFAULT_HOURLY_DAYS)?
        .set_default("retention.interval_secs", 3_600)?;
    if let Some((path, required)) = &sources.file {
        builder = builder.add_source(
            File::from(path.as_path())
                .format(FileFormat::Toml)
                .required(*required),
        );
    }
    let layered: Layered = builder
        .add_source(
            Environment::with_prefix("TALLY")
                .prefix_separator("_")
                .separator("__")
                .ignore_empty(true)
                .source(Some(sources.env.clone().into_iter().collect())),
        )
        .build()?
        .try_deserialize()?;
    resolve(layered, &sources.env)
}

fn resolve(l: Layered, env: &HashMap<String, String>) -> Result<Config, ConfigError> {
    let plain = |name: &str| env.get(name).map(|v| v.trim()).filter(|v| !v.is_empty());
    let text = |name: &str, layered: Option<String>| {
        plain(name)
            .map(str::to_owned)
            .or(layered.filter(|v| !v.trim().is_empty()))
    };
    let allowed = plain("ALLOWED_DOMAINS").map_or(l.allowed_domains, str::to_owned);
    let allowed_domains = AllowedDomains::parse(&allowed).map_err(|e| ConfigError::Invalid {
        name: "ALLOWED_DOMAINS",
        message: e.to_string(),
    })?;
    let session_ttl = match plain("SESSION_TTL") {
        Some(ms) => millis("SESSION_TTL", ms)?,
        None => seconds("session.ttl_secs", l.session.ttl_secs)?,
    };
    let sweep_interval = match plain("CLEANUP_INTERVAL") {
        Some(ms) => millis("CLEANUP_INTERVAL", ms)?,
        None => seconds("session.sweep_secs", l.session.sweep_secs)?,
    };
    let database = database(&l.database)?;
    let days = |d: u32| (d > 0).then_some(d);
    let retention = RetentionConfig {
        policy: RetentionPolicy::new(days(l.retention.raw_days), days(l.retention.hourly_days))
            .map_err(|e| ConfigError::Invalid {
                name: "retention",
                message: e.0,
            })?,
        interval: seconds("retention.interval_secs", l.retention.interval_secs)?,
    };
    let youtube_ingestion_url = l.youtube.ingestion_url.trim().to_owned();
    let scheme_ok = ["http://", "https://"]
        .iter()
        .any(|p| youtube_ingestion_url.starts_with(p) && youtube_ingestion_url.len() > p.len());
    if !scheme_ok || youtube_ingestion_url.contains(['?', '#', ' ']) {
        return Err(ConfigError::Invalid {
            name: "youtube.ingestion_url",
            message: format!(
                "{youtube_ingestion_url:?} is not an http(s) URL without query or fragment"
            ),
        });
    }
    let metrics = l.metrics.address.trim();
    let metrics_address = if metrics.is_empty() {
        None
    } else {
        Some(
            metrics
                .parse::<SocketAddr>()
                .map_err(|_| ConfigError::Invalid {
                    name: "metrics.address",
                    message: format!(
                        "{metrics:?} is not a host:port address (e.g. 127.0.0.1:9464)"
                    ),
                })?,
        )
    };
    Ok(Config {
        http: HttpConfig {
            host: l.http.host,
            port: l.http.port,
            workers: l.http.workers,
        },
        database,
        database_url: text("DATABASE_URL", l.database_url),
        admin_key: text("ADMIN_KEY", l.admin_key),
        jwt_secret: text("JWT_SECRET", l.jwt_secret),
        allowed_domains,
        // lcyt: any non-empty value turns it on; Tally also reads the usual "off" spellings
        // as off, so `USAGE_PUBLIC=0` does not publish anything.
        usage_public: env.get("USAGE_PUBLIC").map_or(l.usage_public, |v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "" | "0" | "false" | "no" | "off"
            )
        }),
        // lcyt: only `1` turns the free tier on.
        free_apikey_active: env
            .get("FREE_APIKEY_ACTIVE")
            .map_or(l.free_apikey_active, |v| {
                matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true")
            }),
        session_ttl,
        sweep_interval,
        youtube_ingestion_url,
        metrics_address,
        retention,
    })
}

fn database(l: &LayeredDatabase) -> Result<DatabaseConfig, ConfigError> {
    let invalid = |name, message: &str| ConfigError::Invalid {
        name,
        message: message.to_owned(),
    };
    if l.pool_size < 2 {
        return Err(invalid("database.pool_size", "must be at least 2"));
    }
    if !(1..=10_000).contains(&l.batch_max) {
        return Err(invalid("database.batch_max", "must be between 1 and 10000"));
    }
    if l.batch_wait_us > 100_000 {
        return Err(invalid(
            "database.batch_wait_us",
            "must be at most 100000 (0.1 s)",
        ));
    }
    if l.batch_writers == 0 {
        return Err(invalid("database.batch_writers", "must be at least 1"));
    }
    Ok(DatabaseConfig {
        pool_size: l.pool_size,
        statement_timeout: Duration::from_millis(l.statement_timeout_ms),
        batch_max: l.batch_max,
        batch_wait: Duration::from_micros(l.batch_wait_us),
        batch_writers: l.batch_writers,
        batch_optimistic: l.batch_optimistic,
    })
}

fn millis(name: &'static str, raw: &str) -> Result<Duration, ConfigError> {
    match raw.parse::<u64>() {
        Ok(ms) if ms > 0 => Ok(Duration::from_millis(ms)),
        _ => Err(ConfigError::Invalid {
            name,
            message: format!("{raw:?} is not a positive number of milliseconds"),
        }),
    }
}

fn seconds(name: &'static str, secs: u64) -> Result<Duration, ConfigError> {
    if secs == 0 {
        return Err(ConfigError::Invalid {
            name,
            message: "must be at least 1 second".to_owned(),
        });
    }
    Ok(Duration::from_secs(secs))
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
