//! [`Metering`]: an actix-web middleware that meters a product's own routes with Tally.
//!
//! Wrap a scope of the product's app and every request to it must carry an API key
//! (`Authorization: Bearer <key>`, or a header the product names). The key is verified and its
//! units counted by the same use case as `POST /v1/verify` ([`MeterService::verify_then`],
//! answered through [`run_then`], so no thread waits while a Postgres batch commits): the same
//! row lock, the same group commit, the same exactness. An admitted request reaches the
//! handler with the `RateLimit-Policy`/`RateLimit` headers added to its response; a refused
//! one never does, and is answered here with the problem body of [`ApiError`] — 401 for an
//! unknown, revoked, erased or expired key (or none), 429 with `Retry-After` and the rate-limit
//! headers for a limit, 503 when the store is unavailable, 400 when the units cannot be
//! computed.
//!
//! ```
//! use actix_web::{web, App, HttpResponse};
//! use tally_http::metering::Metering;
//! # fn app(state: tally_http::AppState) {
//! let app = App::new().service(
//!     web::scope("/api")
//!         .wrap(Metering::new(state.clone()).units(2).api_name("search"))
//!         .route("/search/{q}", web::get().to(HttpResponse::Ok)),
//! );
//! # }
//! ```
//!
//! **The usage event.** The meter records it at admission, atomically with the count: kind
//! `request`, the scope's `api_name`, the HTTP method, and the matched route pattern
//! (`/api/search/{q}`, never the raw path, so ids in paths do not end up in the logs) as both
//! `endpoint` and `path`. Status and latency exist only after the handler ran: the middleware
//! then patches `status_code` and `response_time_ms` into the event through
//! [`UsageStore::update_event`] once the response is ready — inline on the in-memory store,
//! else through a bounded queue ([`OUTCOME_QUEUE`]) to one writer thread per
//! [`Metering::new`]. The request never waits for the patch, and the patches never hold more
//! than one pool connection, so the meters never queue behind them.
//!
//! What is guaranteed: a request that reached the handler was counted, and its event
//! committed, before the handler ran; a request refused here counted nothing. What a crash
//! between the response and the patch loses: the status and latency of those requests (their
//! events keep `status_code`/`response_time_ms` empty) — never a count, never an event. A
//! patch that fails, or finds the queue full, is logged and dropped likewise.
//!
//! Requests whose path matches no route of the app are passed on unmetered (they get the
//! product's 404): metering a route that does not exist would charge for nothing.

use std::future::{ready, Ready};
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::Instant;

use actix_web::body::EitherBody;
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, AUTHORIZATION};
use actix_web::ResponseError;
use futures_util::future::LocalBoxFuture;
use tally_domain::limits::Units;
use tally_domain::ports::UsageStore;
use tally_domain::services::{MeterService, VerifyError};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{EventKind, EventPatch, NewUsageEvent};
use uuid::Uuid;

use crate::error::ApiError;
use crate::ratelimit;
use crate::run_then;
use crate::state::{AppState, StoreKind};

/// Computes a request's units (e.g. from a query parameter); an `Err` is answered 400 with
/// its message, and nothing is metered.
pub type UnitsFn = dyn Fn(&ServiceRequest) -> Result<u64, String> + Send + Sync;

#[derive(Clone)]
enum UnitsOf {
    Fixed(Units),
    Computed(Arc<UnitsFn>),
}

/// Most outcomes (status and latency patches) waiting for the writer of one [`Metering`];
/// beyond it an outcome is dropped (and logged), never the request's count.
pub const OUTCOME_QUEUE: usize = 10_000;

/// Where the outcomes of a [`Metering`] go: written inline on the in-memory store (a mutex
/// held for microseconds), else queued for one writer thread, so at most one pool connection
/// ever serves them and the meters never wait for one.
#[derive(Clone)]
enum Outcomes {
    Inline(Arc<dyn UsageStore>),
    Queued(SyncSender<(Uuid, EventPatch)>, Arc<AtomicU64>),
    Off,
}

impl Outcomes {
    fn for_state(state: &AppState) -> Self {
        let usage = Arc::clone(&state.ports.stores.usage);
        if state.settings.store == StoreKind::Memory {
            return Self::Inline(usage);
        }
        let (tx, rx) = sync_channel::<(Uuid, EventPatch)>(OUTCOME_QUEUE);
        let writer = std::thread::Builder::new()
            .name("tally-metering-outcomes".to_owned())
            .spawn(move || {
                // Ends when the last `Metering` holding the sender is dropped.
                for (event, patch) in rx {
                    write_outcome(usage.as_ref(), event, &patch);
                }
            });
        match writer {
            Ok(_) => Self::Queued(tx, Arc::new(AtomicU64::new(0))),
            Err(e) => {
                tracing::error!("metering: no outcome writer ({e}); statuses are not recorded");
                Self::Off
            }
        }
    }

    fn record(&self, event: Uuid, patch: EventPatch) {
        match self {
            Self::Inline(usage) => write_outcome(usage.as_ref(), event, &patch),
            Self::Queued(tx, dropped) => {
                if let Err(TrySendError::Full(_)) = tx.try_send((event, patch)) {
                    // Logged at the 1st, 2nd, 4th, 8th … drop: an overload must not also
                    // flood the log.
                    let n = dropped.fetch_add(1, Ordering::Relaxed) + 1;
                    if n.is_power_of_two() {
                        tracing::warn!("metering: outcome queue full; {n} statuses not recorded");
                    }
                }
            }
            Self::Off => {}
        }
    }
}

fn write_outcome(usage: &dyn UsageStore, event: Uuid, patch: &EventPatch) {
    if let Err(e) = usage.update_event(event, patch) {
        tracing::warn!(%event, "metering: could not record the response status: {e}");
    }
}

/// The metering middleware (a builder; see the [module docs](self)). One per scope: each
/// carries its own units, key header and API name.
#[derive(Clone)]
pub struct Metering {
    state: AppState,
    units: UnitsOf,
    key_header: Option<HeaderName>,
    api_name: Option<Arc<str>>,
    outcomes: Outcomes,
}

impl std::fmt::Debug for Metering {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metering")
            .field("key_header", &self.key_header)
            .field("api_name", &self.api_name)
            .finish_non_exhaustive()
    }
}

impl Metering {
    /// Meters one unit per request, reading the key from `Authorization: Bearer`.
    #[must_use]
    pub fn new(state: AppState) -> Self {
        Self {
            outcomes: Outcomes::for_state(&state),
            state,
            units: UnitsOf::Fixed(Units::ONE),
            key_header: None,
            api_name: None,
        }
    }

    /// Meters `n` units per request. `n` is at most `u32::MAX`, below the domain's per-request
    /// maximum, so every value is valid.
    #[must_use]
    pub fn units(mut self, n: u32) -> Self {
        self.units = Units::new(i64::from(n)).map_or(self.units, UnitsOf::Fixed);
        self
    }

    /// Meters what `f` computes from the request (before the handler runs; the body is not
    /// read). An `Err(message)` or a count above the domain's maximum is a 400.
    #[must_use]
    pub fn units_by<F>(mut self, f: F) -> Self
    where
        F: Fn(&ServiceRequest) -> Result<u64, String> + Send + Sync + 'static,
    {
        self.units = UnitsOf::Computed(Arc::new(f));
        self
    }

    /// Reads the key from this header (its whole value) instead of `Authorization: Bearer`.
    #[must_use]
    pub fn key_header(mut self, name: HeaderName) -> Self {
        self.key_header = Some(name);
        self
    }

    /// Whether to patch each event with the response's status and latency (on by default).
    /// Off, an admitted request costs one store write instead of two, and its event keeps
    /// `status_code`/`response_time_ms` empty.
    #[must_use]
    pub fn record_outcomes(mut self, on: bool) -> Self {
        self.outcomes = if on {
            Outcomes::for_state(&self.state)
        } else {
            Outcomes::Off
        };
        self
    }

    /// The `api_name` of this scope's events (analytics can group by it).
    #[must_use]
    pub fn api_name(mut self, name: &str) -> Self {
        self.api_name = Some(Arc::from(name));
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for Metering
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = MeteringService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(MeteringService {
            service: Rc::new(service),
            config: Rc::new(self.clone()),
        }))
    }
}

/// The running middleware of a [`Metering`] scope.
pub struct MeteringService<S> {
    service: Rc<S>,
    config: Rc<Metering>,
}

impl<S> std::fmt::Debug for MeteringService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MeteringService")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<S, B> Service<ServiceRequest> for MeteringService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let config = Rc::clone(&self.config);
        Box::pin(async move {
            let Some(route) = req.match_pattern() else {
                return service
                    .call(req)
                    .await
                    .map(ServiceResponse::map_into_left_body);
            };
            let started = Instant::now();
            let state = &config.state;
            let now = state.ports.clock.now();
            let admitted = match admit(&config, &req, route).await {
                Ok(admitted) => admitted,
                Err(refusal) => {
                    let mut res = refusal.error.error_response();
                    if let Some((limits, usage)) = refusal.counters {
                        ratelimit::add_headers(&mut res, limits, usage, now);
                    }
                    return Ok(req.into_response(res).map_into_right_body());
                }
            };
            let mut res = service.call(req).await?;
            for (name, value) in
                ratelimit::header_pairs(admitted.metered.limits, admitted.metered.usage, now)
            {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&value) {
                    res.headers_mut().insert(HeaderName::from_static(name), v);
                }
            }
            let patch = EventPatch {
                status_code: Some(res.status().as_u16()),
                response_time_ms: Some(
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
                ),
                ..EventPatch::default()
            };
            if !admitted.metered.replayed {
                config.outcomes.record(admitted.metered.event.id, patch);
            }
            Ok(res.map_into_left_body())
        })
    }
}

struct Admitted {
    metered: tally_domain::ports::Metered,
}

struct Refusal {
    error: ApiError,
    counters: Option<(tally_domain::limits::Limits, tally_domain::limits::KeyUsage)>,
}

impl From<ApiError> for Refusal {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            counters: None,
        }
    }
}

/// Reads the key and the units, and meters them with the request's event.
async fn admit(
    config: &Metering,
    req: &ServiceRequest,
    route: String,
) -> Result<Admitted, Refusal> {
    let secret = presented_key(config, req)
        .ok_or_else(|| ApiError::Unauthorized("API key required".to_owned()))?;
    let units = match &config.units {
        UnitsOf::Fixed(units) => *units,
        UnitsOf::Computed(f) => {
            let n = f(req).map_err(ApiError::BadRequest)?;
            Units::new(i64::try_from(n).unwrap_or(i64::MAX))
                .map_err(|e| ApiError::BadRequest(e.0))?
        }
    };
    let state = &config.state;
    // The store takes the organisation and user from the key.
    let mut event = NewUsageEvent::new(
        OrgId::default_org(),
        EventKind::Request,
        state.ports.clock.now(),
    );
    event.units = units.get();
    event.method = Some(req.method().as_str().to_owned());
    event.api_name = config.api_name.as_deref().map(str::to_owned);
    event.path = Some(route.clone());
    event.endpoint = Some(route);
    let service = MeterService::new(state.ports.clone());
    let outcome = run_then(|done| {
        service.verify_then(
            secret,
            units,
            event,
            Box::new(move |r| done(Ok::<_, ApiError>(r))),
        );
    })
    .await?;
    match outcome {
        Ok(metered) => Ok(Admitted { metered }),
        Err(e) => {
            let counters = match &e {
                VerifyError::Limit { limits, usage, .. } => Some((*limits, *usage)),
                _ => None,
            };
            Err(Refusal {
                error: e.into(),
                counters,
            })
        }
    }
}

/// The key of the request: the whole value of the configured header, or the Bearer token.
fn presented_key<'r>(config: &Metering, req: &'r ServiceRequest) -> Option<&'r str> {
    let value = match &config.key_header {
        Some(name) => req.headers().get(name)?.to_str().ok()?,
        None => {
            let v = req.headers().get(AUTHORIZATION)?.to_str().ok()?;
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))?
        }
    };
    Some(value.trim()).filter(|k| !k.is_empty())
}
