//! The port contract suites. Each function is one case, taking fresh stores; together they
//! define what every `TenantStore`, `KeyStore`, `SessionStore`, `UsageStore`, `ImportStore`
//! and `EventBus` must do. Run them with [`crate::store_contract_tests!`].

pub mod bursts;
pub mod bus;
pub mod concurrency;
pub mod erasure;
pub mod import;
pub mod keys;
pub mod logs;
pub mod retention;
pub mod session_bursts;
pub mod session_list;
pub mod session_orgs;
pub mod sessions;
pub mod snapshots;
pub mod tenants;
pub mod usage;

use tally_domain::key::KeyId;
use tally_domain::services::Stores;
use tally_domain::usage::{Granularity, UsageFilters, UsageQuery};
use time::Duration;

use crate::T0;

/// The units the hourly rollups hold for `key` around [`T0`] (two days either side).
fn units_recorded(s: &Stores, key: KeyId) -> i64 {
    let q = UsageQuery::new(
        T0 - Duration::days(2),
        T0 + Duration::days(2),
        Granularity::Month,
        vec![],
        UsageFilters {
            key_id: Some(key),
            ..UsageFilters::default()
        },
        vec![],
    )
    .unwrap();
    s.usage
        .aggregate(&q)
        .unwrap()
        .iter()
        .map(|r| r.totals.units)
        .sum()
}
