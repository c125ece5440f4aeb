//! What every handler can reach: the ports, the JWT keys, the settings and the caption
//! delivery hub (a service the state holds; it knows nothing of the state).

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest};
use tally_auth::JwtKeys;
use tally_domain::origin::AllowedDomains;
use tally_domain::services::{Ports, SessionService, SessionSettings};

use crate::delivery::DeliveryHub;
use crate::error::ApiError;

/// Which store backs this instance (reported by `/health`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// `tally_store_mem`: nothing is persisted.
    Memory,
    /// `tally_store_pg`.
    Postgres,
}

impl StoreKind {
    /// `"memory"` or `"postgres"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Postgres => "postgres",
        }
    }
}

/// YouTube's real caption ingestion endpoint (plain http, as lcyt uses it).
pub const DEFAULT_YOUTUBE_INGESTION_URL: &str = "http://upload.youtube.com/closedcaption";

/// The allowlist used when `ALLOWED_DOMAINS` is not set (lcyt's default).
pub const DEFAULT_ALLOWED_DOMAINS: &str = "lcyt.fi,www.lcyt.fi,localhost";

/// Run-time settings of the HTTP surfaces (resolved configuration, no I/O).
#[derive(Clone)]
pub struct Settings {
    /// `ADMIN_KEY`; `None` makes admin routes answer 503.
    pub admin_key: Option<String>,
    /// `ALLOWED_DOMAINS`.
    pub allowed_domains: AllowedDomains,
    /// `USAGE_PUBLIC`: `GET /usage` without credentials.
    pub usage_public: bool,
    /// `FREE_APIKEY_ACTIVE`: self-service free-tier keys.
    pub free_apikey_active: bool,
    /// Idle TTL of sessions, and lifetime of session tokens.
    pub session_ttl: Duration,
    /// How often the idle sweep runs.
    pub sweep_interval: Duration,
    /// The store behind the ports.
    pub store: StoreKind,
    /// The server's version, reported by `/health`.
    pub version: String,
    /// YouTube's caption ingestion URL (`cid` and `seq` are added to its query).
    pub youtube_ingestion_url: String,
}

impl Settings {
    /// The defaults of DESIGN §8 for a given store: no admin key, lcyt's allowed domains,
    /// private usage, free tier off, 2 h sessions.
    #[must_use]
    pub fn new(store: StoreKind) -> Self {
        Self {
            admin_key: None,
            // The constant parses; an empty allowlist (deny all) is the safe fallback.
            allowed_domains: AllowedDomains::parse(DEFAULT_ALLOWED_DOMAINS)
                .unwrap_or(AllowedDomains::Only(Vec::new())),
            usage_public: false,
            free_apikey_active: false,
            session_ttl: Duration::from_secs(7200),
            sweep_interval: Duration::from_secs(60),
            store,
            version: env!("CARGO_PKG_VERSION").to_owned(),
            youtube_ingestion_url: DEFAULT_YOUTUBE_INGESTION_URL.to_owned(),
        }
    }
}

impl Settings {
    /// The session rules these settings configure (allowed sites, idle TTL).
    #[must_use]
    pub fn session_settings(&self) -> SessionSettings {
        SessionSettings {
            allowed_domains: self.allowed_domains.clone(),
            idle_ttl: time::Duration::try_from(self.session_ttl)
                .unwrap_or(time::Duration::hours(2)),
        }
    }
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("allowed_domains", &self.allowed_domains)
            .field("usage_public", &self.usage_public)
            .field("free_apikey_active", &self.free_apikey_active)
            .field("session_ttl", &self.session_ttl)
            .field("sweep_interval", &self.sweep_interval)
            .field("store", &self.store)
            .field("version", &self.version)
            .field("youtube_ingestion_url", &self.youtube_ingestion_url)
            .finish()
    }
}

/// The application state shared by all handlers (cheap to clone).
#[derive(Debug, Clone)]
pub struct AppState {
    /// Stores, bus, clock and ids.
    pub ports: Ports,
    /// Signs and verifies session and user tokens.
    pub jwt: Arc<JwtKeys>,
    /// Settings.
    pub settings: Arc<Settings>,
    /// The caption delivery queues of this instance.
    pub delivery: DeliveryHub,
    /// When this instance's state was built (`/health`'s `uptime`).
    pub started: std::time::Instant,
    /// Tells long-lived responses (SSE streams) that the server is stopping.
    pub shutdown: Shutdown,
}

/// The server's stop signal: [`Shutdown::begin`] ends every SSE stream of this state at once,
/// each with a final `shutdown` frame that asks the client to reconnect (to this instance
/// once it is back, or to another one), so a stopping server does not wait for them.
#[derive(Debug, Clone)]
pub struct Shutdown(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for Shutdown {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl Shutdown {
    /// Starts the stop: every stream waiting on [`Shutdown::signalled`] wakes.
    pub fn begin(&self) {
        self.0.send_replace(true);
    }

    /// Whether the stop has begun.
    #[must_use]
    pub fn has_begun(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once the stop has begun (at once if it already has).
    pub async fn signalled(&self) {
        let mut rx = self.0.subscribe();
        // The sender lives as long as this state: an error cannot happen while we wait.
        let _begun = rx.wait_for(|begun| *begun).await;
    }
}

impl AppState {
    /// Bundles the parts.
    #[must_use]
    pub fn new(ports: Ports, jwt: JwtKeys, settings: Settings) -> Self {
        let sessions = SessionService::new(ports.clone(), settings.session_settings());
        Self {
            delivery: DeliveryHub::new(
                ports.clone(),
                sessions,
                settings.youtube_ingestion_url.clone(),
            ),
            ports,
            jwt: Arc::new(jwt),
            settings: Arc::new(settings),
            started: std::time::Instant::now(),
            shutdown: Shutdown::default(),
        }
    }
}

/// The app state of a request.
///
/// # Errors
/// 500 when the app was mounted without state (a wiring bug).
pub fn state_of(req: &HttpRequest) -> Result<AppState, ApiError> {
    req.app_data::<web::Data<AppState>>()
        .map(|d| d.get_ref().clone())
        .ok_or_else(|| ApiError::Internal("AppState missing".to_owned()))
}

/// The session service of this app.
#[must_use]
pub fn session_service(state: &AppState) -> SessionService {
    SessionService::new(state.ports.clone(), state.settings.session_settings())
}
