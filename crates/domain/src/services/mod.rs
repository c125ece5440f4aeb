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
