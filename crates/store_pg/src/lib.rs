//! `tally_store_pg` — the PostgreSQL adapter of every Tally storage port, and a
//! `LISTEN/NOTIFY` event bus.
//!
//! It owns the schema (the root `migrations/`, embedded and run by [`PgStore::migrate`]),
//! `schema.rs` as `diesel print-schema` writes it, the row structs and the SQL. It depends on
//! `tally_domain` and implements its ports: diesel, r2d2 and SQL types never cross a port —
//! every method takes and returns domain values and domain errors. No other crate of Tally
//! contains SQL.
//!
//! - [`PgStore`]: an r2d2 pool with a short connection timeout; a down database or an
//!   exhausted pool is [`tally_domain::StoreError::Unavailable`], never a hang or a panic, and
//!   the pool recovers by itself when the database returns.
//! - The meter is group-committed: concurrent meters share one set-based transaction,
//!   serialised per key by the key's row lock, so a key's limits are exact across any number
//!   of processes sharing the database, and every caller is answered after its commit.
//! - [`PgEventBus`]: live events fan out to every instance through `pg_notify`.
//! - [`testing`]: throwaway databases cloned from a migrated template, for tests.
//!
//! # Example
//!
//! Open the pool, run the embedded migrations (the same ones `tally migrate` runs, so an
//! embedded meter and a Tally server can share the database) and bundle every port:
//!
//! ```no_run
//! use std::sync::Arc;
//! use tally_domain::services::Stores;
//! use tally_store_pg::{PgEventBus, PgOptions, PgStore};
//!
//! let store = PgStore::connect("postgres://postgres@127.0.0.1:5432/tally", PgOptions::default())?;
//! store.migrate()?;
//! let bus = PgEventBus::start(&store)?;
//! let stores = Stores::from_one(Arc::new(store), Arc::new(bus));
//! # drop(stores);
//! # Ok::<(), tally_domain::StoreError>(())
//! ```

mod analytics;
pub mod bulk;
mod bus;
mod bus_outbox;
mod columnar;
mod conn;
mod convert;
mod erasure;
mod error;
mod events;
mod fixed;
mod group_commit;
mod import;
mod key_row;
mod keys;
mod meter;
mod partitions;
mod pool;
mod records;
mod rollups;
mod rows;
mod schema;
mod session_lists;
mod sessions;
mod tenants;
pub mod testing;
mod usage;
mod viewers;

pub use bus::PgEventBus;
pub use group_commit::BatchOptions;
pub use pool::{PgOptions, PgStore, PoolStats};
