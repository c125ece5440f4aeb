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
use tally_domain::LocalBus;
use tally_store_mem::MemStore;
use tally_testkit::Harness;

struct Mem(Stores);

impl Harness for Mem {
    fn stores(&self) -> Stores {
        self.0.clone()
    }
}

fn mem() -> Option<Mem> {
    Some(Mem(Stores::from_one(
        Arc::new(MemStore::new()),
        Arc::new(LocalBus::new()),
    )))
}

mod contract {
    tally_testkit::store_contract_tests!(super::mem);
}
