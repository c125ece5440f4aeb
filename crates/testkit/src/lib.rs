//! `tally_testkit` — dev-only support for Tally's tests.
//!
//! It owns the **port contract suites**: the executable definition of every storage port,
//! written once and run against every store (`store_contract_tests!`), plus a [`FixedClock`],
//! deterministic ids ([`SeqIds`]) and builders. It depends on `tally_domain` only; stores
//! depend on it as a dev-dependency.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test support: a failed expectation is a failed test"
)]

pub mod builders;
pub mod clock;
pub mod contract;

pub use builders::*;
pub use clock::{FixedClock, SeqIds};

use tally_domain::services::Stores;

/// A store under test. The harness lives for one test case and cleans up when dropped (a
/// Postgres harness drops its cloned database).
pub trait Harness {
    /// The ports backed by this harness's store, with its bus.
    fn stores(&self) -> Stores;
}

/// Generates one `#[test]` per contract case, each run against a fresh harness from `$make`
/// (a path to `fn() -> Option<H>` where `H: Harness`; `None` skips the case, e.g. when
/// Postgres is unreachable outside CI).
///
/// ```ignore
/// fn harness() -> Option<MyHarness> { Some(MyHarness::new()) }
/// mod contract { tally_testkit::store_contract_tests!(super::harness); }
/// ```
#[macro_export]
macro_rules! store_contract_tests {
    ($make:path) => {
        $crate::__contract_cases!($make;
            tenants::tenants_default_org_exists,
            tenants::tenants_orgs_round_trip_and_duplicates,
            tenants::tenants_users_round_trip_and_unique_usernames,
            tenants::tenants_users_get_increasing_numbers,
            keys::keys_create_get_find_list,
            keys::keys_duplicate_secret_is_a_conflict,
            keys::keys_unknown_org_is_rejected,
            keys::keys_patch_keeps_counters,
            keys::keys_revoke_deactivates,
            keys::keys_email_hashes_are_remembered,
            keys::keys_auth_events_newest_first,
            keys::keys_hard_delete_removes_everything,
            sessions::sessions_open_creates_then_joins,
            sessions::sessions_peak_counts_open_sessions_of_the_domain,
            sessions::sessions_touch_and_idle,
            sessions::sessions_patch_applies_whole,
            sessions::sessions_mic_claim_and_release,
            sessions::sessions_end_once_with_record_and_rollup,
            sessions::sessions_erasure_end_leaves_no_record,
            sessions::sessions_delivery_outcomes_are_counted,
            sessions::sessions_records_newest_first_and_limited,
            sessions::sessions_domain_usage_by_hour_and_day,
            usage::usage_meter_counts_and_records,
            usage::usage_meter_rejects_unusable_keys,
            usage::usage_meter_rejects_whole_and_counts_nothing,
            usage::usage_meter_day_turns_at_utc_midnight,
            usage::usage_meter_replays_idempotent_requests,
            usage::usage_meter_advances_the_session_sequence,
            usage::usage_ingest_is_idempotent_per_org,
            usage::usage_corrections_move_rollups,
            usage::usage_logs_filter_order_and_page,
            logs::logs_total_is_exact_from_the_rollups,
            logs::logs_total_is_bounded_otherwise,
            logs::logs_events_have_stable_numbers,
            usage::usage_aggregate_groups_and_buckets,
            usage::usage_aggregate_by_api_call_and_status_class,
            usage::usage_ping_answers,
            erasure::erasure_follows_the_plan,
            erasure::erasure_is_idempotent,
            erasure::erasure_of_a_user_takes_their_keys_and_name,
            concurrency::concurrency_lifetime_limit_is_exact,
            concurrency::concurrency_daily_limit_is_exact_across_midnight,
            concurrency::concurrency_session_opens_once,
            concurrency::concurrency_one_key_per_new_email,
            bursts::bursts_many_keys_and_one_hot_key_are_exact,
            bursts::bursts_mixed_refusals_answer_each_meter,
            bursts::bursts_reused_idempotency_keys_count_once,
            bursts::bursts_multi_unit_meters_never_cross_a_limit,
            bursts::bursts_session_sequences_are_handed_out_once,
            bursts::bursts_delivered_caption_meters_count_once,
            bus::bus_delivers_to_topic_subscribers,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    ($make:path; $($module:ident :: $case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(harness) = $make() {
                    let stores = $crate::Harness::stores(&harness);
                    $crate::contract::$module::$case(&stores);
                }
            }
        )*
    };
}
