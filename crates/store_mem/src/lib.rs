//! `tally_store_mem` — the in-memory adapter of every Tally storage port.
//!
//! `MemStore` keeps everything in one state behind one mutex, so every port method is atomic
//! exactly as a Postgres transaction would be, and passes the same contract suite. It is for
//! tests, for embedding in tests of other services, and for trying Tally out: nothing is
//! persisted. It must not depend on diesel or any other I/O library.

mod keys;
mod sessions;
mod state;
mod tenants;
mod usage;

use std::sync::{Mutex, MutexGuard, PoisonError};

use state::State;

/// Every storage port, in memory. Cheap to create; share it behind an `Arc`.
#[derive(Debug)]
pub struct MemStore {
    state: Mutex<State>,
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
        }
    }

    /// The state, even if a panicking thread poisoned the lock: every mutation is applied
    /// whole after its checks, so the state is consistent at any unlock.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
