//! The port contract suites. Each function is one case, taking fresh stores; together they
//! define what every `TenantStore`, `KeyStore`, `SessionStore`, `UsageStore` and `EventBus`
//! must do. Run them with [`crate::store_contract_tests!`].

pub mod bursts;
pub mod bus;
pub mod concurrency;
pub mod erasure;
pub mod keys;
pub mod sessions;
pub mod tenants;
pub mod usage;
