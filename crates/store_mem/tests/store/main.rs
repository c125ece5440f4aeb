//! `MemStore` under the port contract suites, and the domain services running on it.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "tests: a failed expectation is a failed test"
)]

mod services;
mod switch;

use std::sync::Arc;

use tally_domain::services::Stores;
use tally_domain::{ImportStore, LocalBus};
use tally_store_mem::MemStore;
use tally_testkit::{Harness, ImportHarness};

struct Mem(Stores, Arc<MemStore>);

impl Harness for Mem {
    fn stores(&self) -> Stores {
        self.0.clone()
    }
}

impl ImportHarness for Mem {
    fn import(&self) -> Arc<dyn ImportStore> {
        self.1.clone()
    }
}

fn mem() -> Option<Mem> {
    mem_with(tally_domain::usage::RetentionPolicy::KEEP_EVERYTHING)
}

fn mem_with(policy: tally_domain::usage::RetentionPolicy) -> Option<Mem> {
    let store = Arc::new(MemStore::new().with_retention(policy));
    Some(Mem(
        Stores::from_one(store.clone(), Arc::new(LocalBus::new())),
        store,
    ))
}

mod contract {
    tally_testkit::store_contract_tests!(super::mem);
    tally_testkit::import_contract_tests!(super::mem);
    tally_testkit::retention_contract_tests!(super::mem_with);
}
