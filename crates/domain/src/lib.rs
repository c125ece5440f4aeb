//! `tally_domain` — Tally's pure core: the model, the rules, the ports and the use-case services.
//!
//! Everything that decides *what* Tally does lives here; adapters decide only *how* it is stored
//! or transported. This crate performs no I/O and must not depend on actix, diesel, r2d2, tokio,
//! jsonwebtoken or config (`just deps-check` enforces it). "Now" comes from the [`Clock`] port and
//! randomness from the [`IdGenerator`] port, so every rule is testable with a fixed clock.

pub mod audit;
pub mod bus;
pub mod caption;
pub mod clock;
pub mod erasure;
pub mod ids;
pub mod import;
pub mod key;
pub mod limits;
pub mod live;
pub mod mic;
pub mod origin;
pub mod ports;
pub mod services;
pub mod session;
pub mod target;
pub mod tenancy;
pub mod usage;

pub use bus::{EventBus, EventSink, LocalBus, SinkStatus, Subscription};
pub use clock::{Clock, SystemClock};
pub use ids::IdGenerator;
pub use ports::{ImportStore, KeyStore, SessionStore, StoreError, TenantStore, UsageStore};
