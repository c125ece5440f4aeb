//! Use-case services, written against the ports. Each service method is one use case: the
//! HTTP layer calls it once, inside one blocking section.

use std::sync::Arc;

use crate::bus::EventBus;
use crate::clock::Clock;
use crate::ids::IdGenerator;
use crate::ports::{KeyStore, SessionStore, TenantStore, UsageStore};

/// The storage side of Tally: one adapter per port (usually the same object behind all four
/// store ports) and the event bus.
#[derive(Clone)]
pub struct Stores {
    /// Organisations and users.
    pub tenants: Arc<dyn TenantStore>,
    /// API keys.
    pub keys: Arc<dyn KeyStore>,
    /// Sessions.
    pub sessions: Arc<dyn SessionStore>,
    /// Usage events and analytics.
    pub usage: Arc<dyn UsageStore>,
    /// Live events.
    pub bus: Arc<dyn EventBus>,
}

impl Stores {
    /// Bundles one object that implements every store port with a bus.
    pub fn from_one<S>(store: Arc<S>, bus: Arc<dyn EventBus>) -> Self
    where
        S: TenantStore + KeyStore + SessionStore + UsageStore + 'static,
    {
        Self {
            tenants: store.clone(),
            keys: store.clone(),
            sessions: store.clone(),
            usage: store,
            bus,
        }
    }
}

impl std::fmt::Debug for Stores {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stores").finish_non_exhaustive()
    }
}

/// Everything a service needs from the outside world.
#[derive(Clone)]
pub struct Ports {
    /// The stores and the bus.
    pub stores: Stores,
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Randomness.
    pub ids: Arc<dyn IdGenerator>,
}

impl std::fmt::Debug for Ports {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ports").finish_non_exhaustive()
    }
}

mod erasure;
mod keys;
mod meter;
mod sessions;
mod usage;

pub use erasure::ErasureService;
pub use keys::{CreateKey, IssueKeyError, IssuedKey, KeyService, UpdateKeyError, FREE_TIER_LIMITS};
pub use meter::{MeterService, VerifyDone, VerifyError};
pub use sessions::{
    AuthorizeSessionError, OpenRequest, OpenSessionError, Opened, SessionService, SessionSettings,
    TokenSession,
};
pub use usage::{IngestError, UsageService};

use crate::live::{Envelope, LiveEvent, Topic};
use crate::session::SessionId;

impl Ports {
    /// Publishes to a session's subscribers. Live events are best effort: a bus failure is
    /// reported by the bus and never undoes the state change that caused the event.
    fn publish(&self, session: &SessionId, event: LiveEvent) {
        // The bus has already delivered locally when it reports a backend failure; the
        // adapter logs it. Nothing here can make the write that caused it fail.
        let _delivered = self.stores.bus.publish(Envelope {
            topic: Topic::Session(session.clone()),
            event,
        });
    }
}
