//! `tally_testkit` — dev-only support for Tally's tests.
//!
//! It owns the **port contract suites**: the executable definition of every storage port,
//! written once and run against every store (`store_contract_tests!`), plus a [`FixedClock`],
//! deterministic ids ([`SeqIds`]) and builders. It depends on `tally_domain` only; stores
//! depend on it as a dev-dependency.
//!
//! # Example
//!
//! ```
//! use tally_domain::Clock;
//! use tally_testkit::FixedClock;
//! use time::macros::datetime;
//!
//! let clock = FixedClock::at(datetime!(2026-03-01 23:59:59 UTC));
//! clock.advance(time::Duration::seconds(1));
//! assert_eq!(clock.now(), datetime!(2026-03-02 00:00:00 UTC));
//! ```

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

/// A store under test that also takes imports ([`tally_domain::ImportStore`]).
pub trait ImportHarness: Harness {
    /// The import port of the same store as [`Harness::stores`].
    fn import(&self) -> std::sync::Arc<dyn tally_domain::ImportStore>;
}

/// Generates one `#[test]` per retention contract case ([`contract::retention`]), each run
/// against a fresh harness from `$make` (a path to `fn(RetentionPolicy) -> Option<H>` where
/// `H: Harness`): the store must apply the policy it is given.
#[macro_export]
macro_rules! retention_contract_tests {
    ($make:path) => {
        $crate::__retention_cases!($make;
            retention_drops_whole_expired_months: raw_policy,
            retention_compaction_keeps_totals: compaction_policy,
            retention_erasure_reaches_every_grain: compaction_policy,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __retention_cases {
    ($make:path; $($case:ident : $policy:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(harness) = $make($crate::contract::retention::$policy()) {
                    let stores = $crate::Harness::stores(&harness);
                    $crate::contract::retention::$case(&stores);
                }
            }
        )*
    };
}

/// Generates one `#[test]` per `ImportStore` contract case (`H: ImportHarness`), as
/// [`store_contract_tests!`] does for the other ports.
#[macro_export]
macro_rules! import_contract_tests {
    ($make:path) => {
        $crate::__import_cases!($make;
            import_keys_keep_counters_and_ids,
            import_keys_twice_change_nothing,
            import_history_counts_copies,
            import_domain_rollups_skip_stored_hours,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __import_cases {
    ($make:path; $($case:ident),* $(,)?) => {
        $(
            #[test]
            fn $case() {
                if let Some(harness) = $make() {
                    let stores = $crate::Harness::stores(&harness);
                    let import = $crate::ImportHarness::import(&harness);
                    $crate::contract::import::$case(&stores, import.as_ref());
                }
            }
        )*
    };
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
            sessions::sessions_viewer_opens_count_for_the_delivering_key,
            session_list::session_list_filters_orders_and_bounds,
            session_orgs::session_orgs_same_id_names_two_sessions,
            session_orgs::session_orgs_site_rollups_are_kept_per_org,
            session_orgs::session_orgs_key_is_found_only_in_its_org,
            session_orgs::session_orgs_meter_finds_its_key_in_its_org,
            usage::usage_meter_counts_and_records,
            usage::usage_meter_rejects_unusable_keys,
            usage::usage_meter_rejects_whole_and_counts_nothing,
            usage::usage_meter_day_turns_at_utc_midnight,
            usage::usage_meter_stamped_before_the_keys_day_counts_in_its_day,
            usage::usage_meter_replays_idempotent_requests,
            usage::usage_meter_advances_the_session_sequence,
            usage::usage_meter_requires_the_keys_open_session,
            usage::usage_ingest_is_idempotent_per_org,
            usage::usage_corrections_move_rollups,
            usage::usage_corrections_set_status_and_latency,
            usage::usage_logs_filter_order_and_page,
            logs::logs_total_is_exact_from_the_rollups,
            logs::logs_total_is_bounded_otherwise,
            logs::logs_events_have_stable_numbers,
            logs::logs_window_ending_before_it_starts_is_empty,
            logs::logs_api_calls_match_the_reference,
            snapshots::snapshots_long_logs_match_the_reference,
            snapshots::snapshots_reads_beside_meters_see_whole_meters,
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
            bursts::bursts_meter_then_answers_each_meter_once,
            bursts::bursts_meters_store_every_event_field,
            session_bursts::session_bursts_caption_meters_answer_each,
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
