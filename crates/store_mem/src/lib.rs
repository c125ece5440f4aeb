//! `tally_store_mem` — the in-memory adapter of every Tally storage port.
//!
//! `MemStore` keeps everything in one state behind one mutex, so every port method is atomic
//! exactly as a Postgres transaction would be, and passes the same contract suite. Reads that
//! scan — aggregations over the rollups, request-log pages and counts — hold the lock only
//! to take the rollup hours or event-index chunks they need (shared, copied on write: see
//! `rollups` and `event_index`) and do their work after releasing it, so they never stall a
//! meter and still see one instant's state, as a transaction's snapshot would. It is for
//! tests, for embedding in tests of other services, and for trying Tally out: nothing is
//! persisted. It must not depend on diesel or any other I/O library.
//!
//! # Example
//!
//! Every port on one `MemStore`, and a key with a lifetime limit of one unit metered by the
//! same service as `POST /v1/verify` (swap in `tally_store_pg::PgStore` for production):
//!
//! ```
//! use std::sync::Arc;
//! use tally_domain::limits::{Limits, Units};
//! use tally_domain::services::{CreateKey, KeyService, MeterService, Ports, Stores, VerifyError};
//! use tally_domain::tenancy::OrgId;
//! use tally_domain::usage::{EventKind, NewUsageEvent};
//! use tally_domain::{Clock, LocalBus, SystemClock};
//! use tally_store_mem::MemStore;
//! use tally_testkit::SeqIds;
//!
//! let ports = Ports {
//!     stores: Stores::from_one(Arc::new(MemStore::new()), Arc::new(LocalBus::new())),
//!     clock: Arc::new(SystemClock),
//!     ids: Arc::new(SeqIds::default()),
//! };
//! let issued = KeyService::new(ports.clone()).issue(CreateKey {
//!     secret: None,
//!     owner: "ada".to_owned(),
//!     name: None,
//!     email: None,
//!     user_id: None,
//!     org_id: OrgId::default_org(),
//!     expires_at: None,
//!     limits: Limits { daily: None, lifetime: Some(1) },
//!     email_must_be_new: false,
//! })?;
//! let meter = MeterService::new(ports.clone());
//! let event = || NewUsageEvent::new(OrgId::default_org(), EventKind::Request, ports.clock.now());
//! let secret = issued.secret.expose();
//! assert_eq!(meter.verify(secret, Units::ONE, event())?.usage.lifetime_used, 1);
//! let refused = meter.verify(secret, Units::ONE, event());
//! assert!(matches!(refused, Err(VerifyError::Limit { .. })), "exactly one unit");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod event_index;
mod import;
mod keys;
mod retention;
mod rollups;
mod sessions;
mod state;
mod tenants;
mod usage;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use state::State;
use tally_domain::usage::RetentionPolicy;
use tally_domain::StoreError;

/// The cause every port method reports while the store is switched off.
pub const SWITCHED_OFF: &str = "memory store switched off";

/// Every storage port, in memory. Cheap to create; share it behind an `Arc`.
#[derive(Debug)]
pub struct MemStore {
    state: Mutex<State>,
    unavailable: AtomicBool,
    retention: RetentionPolicy,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemStore {
    /// An empty store holding only the default organisation.
    #[must_use]
    pub fn new() -> Self {
        Self {
            state: Mutex::new(State::new()),
            unavailable: AtomicBool::new(false),
            retention: RetentionPolicy::KEEP_EVERYTHING,
        }
    }

    /// This store with a retention policy (the default keeps everything): applied by
    /// `UsageStore::apply_retention`, and the limit of how far request logs reach back.
    #[must_use]
    pub fn with_retention(mut self, policy: RetentionPolicy) -> Self {
        self.retention = policy;
        self
    }

    /// Simulates an outage: while switched on, every port method answers
    /// `StoreError::Unavailable("memory store switched off")` (inside the method's own error
    /// type) without reading or changing any state, as a Postgres store does while its
    /// database is down. Switching it off again restores the untouched state. For tests of
    /// the 503 and recovery paths.
    pub fn set_unavailable(&self, unavailable: bool) {
        self.unavailable.store(unavailable, Ordering::SeqCst);
    }

    /// The outage check at the top of every port method.
    fn available(&self) -> Result<(), StoreError> {
        if self.unavailable.load(Ordering::SeqCst) {
            Err(StoreError::Unavailable(SWITCHED_OFF.to_owned()))
        } else {
            Ok(())
        }
    }

    /// The state, even if a panicking thread poisoned the lock: every mutation is applied
    /// whole after its checks, so the state is consistent at any unlock.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
