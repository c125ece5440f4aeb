//! `tally_domain` — Tally's pure core: the model, the rules, the ports and the use-case services.
//!
//! Everything that decides *what* Tally does lives here; adapters decide only *how* it is stored
//! or transported. This crate performs no I/O and must not depend on actix, diesel, r2d2, tokio,
//! jsonwebtoken or config (`just deps-check` enforces it). "Now" comes from the [`Clock`] port and
//! randomness from the [`IdGenerator`] port, so every rule is testable with a fixed clock.
//!
//! # Example
//!
//! The rules are plain functions and validated values; the services in [`services`] run them
//! against the ports (`tally_store_mem`'s crate docs meter a key end to end).
//!
//! ```
//! use tally_domain::limits::{seconds_until_daily_reset, KeyUsage, Limits, Remaining, Units};
//! use time::macros::datetime;
//!
//! let limits = Limits { daily: Some(100), lifetime: None };
//! let used = KeyUsage { lifetime_used: 540, daily_used: 98 };
//! assert_eq!(Remaining::of(limits, used), Remaining { daily: Some(2), lifetime: None });
//! // The day is the UTC calendar day.
//! assert_eq!(seconds_until_daily_reset(datetime!(2026-03-01 23:59:00 UTC)), 60);
//! assert!(Units::new(-1).is_err(), "a negative count never reaches a store");
//! ```

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
pub mod session_filter;
pub mod session_ref;
pub mod target;
pub mod tenancy;
pub mod usage;

pub use bus::{EventBus, EventSink, LocalBus, SinkStatus, Subscription};
pub use clock::{Clock, SystemClock};
pub use ids::IdGenerator;
pub use ports::{ImportStore, KeyStore, SessionStore, StoreError, TenantStore, UsageStore};
