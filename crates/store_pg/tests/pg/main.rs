//! `tally_store_pg` against a real Postgres: the shared port contract suites, then what only
//! Postgres has (migrations, two pools on one key, LISTEN/NOTIFY between instances, an
//! outage). Each test gets its own database cloned from a migrated template.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed expectation is a failed test"
)]

mod bus;
mod catalog;
mod concurrency;
mod migrations;
mod optimistic;
mod outage;

use std::sync::Arc;

use tally_domain::services::Stores;
use tally_domain::usage::RetentionPolicy;
use tally_domain::ImportStore;
use tally_store_pg::testing::TestDb;
use tally_store_pg::{BatchOptions, PgOptions, PgStore};

/// One contract case's world: the ports on a fresh database, dropped with it.
pub struct PgHarness {
    stores: Stores,
    import: Arc<PgStore>,
    _db: TestDb,
}

impl tally_testkit::Harness for PgHarness {
    fn stores(&self) -> Stores {
        self.stores.clone()
    }
}

impl tally_testkit::ImportHarness for PgHarness {
    fn import(&self) -> Arc<dyn ImportStore> {
        self.import.clone()
    }
}

/// A harness on a fresh database, or `None` when Postgres is unreachable (and not required).
pub fn harness() -> Option<PgHarness> {
    let db = TestDb::create()?;
    Some(PgHarness {
        stores: db.stores(),
        import: Arc::new(db.store()),
        _db: db,
    })
}

/// A harness whose meter batches always take their locks up front (no optimistic batches),
/// so the contract cases cover that path as a whole too, not only where the optimistic one
/// falls back to it.
pub fn harness_locking() -> Option<PgHarness> {
    let db = TestDb::create()?;
    let options = PgOptions {
        max_connections: 4,
        batch: BatchOptions {
            optimistic: false,
            ..BatchOptions::default()
        },
        ..PgOptions::default()
    };
    let store = Arc::new(db.store_with(options));
    Some(PgHarness {
        stores: Stores::from_one(store.clone(), Arc::new(tally_domain::LocalBus::new())),
        import: store,
        _db: db,
    })
}

/// A harness whose store applies `policy`.
pub fn harness_with(policy: RetentionPolicy) -> Option<PgHarness> {
    let db = TestDb::create()?;
    let store = Arc::new(db.store().with_retention(policy));
    Some(PgHarness {
        stores: Stores::from_one(store.clone(), Arc::new(tally_domain::LocalBus::new())),
        import: store,
        _db: db,
    })
}

mod contract {
    tally_testkit::store_contract_tests!(super::harness);
    tally_testkit::import_contract_tests!(super::harness);
    tally_testkit::retention_contract_tests!(super::harness_with);
}

mod locking {
    tally_testkit::store_contract_tests!(super::harness_locking);
}
