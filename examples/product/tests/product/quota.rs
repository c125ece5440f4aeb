//! The quota program's own logic on `tally_store_mem` with a fixed clock: no server.

use std::sync::Arc;

use product::quota::{ports, Quota};
use tally_domain::limits::{LimitExceeded, Remaining};
use tally_domain::services::VerifyError;
use tally_store_mem::MemStore;
use tally_testkit::{FixedClock, SeqIds};
use time::macros::datetime;
use time::Duration;

#[test]
fn the_daily_allowance_comes_back_at_utc_midnight_and_the_lifetime_one_does_not() {
    let clock = Arc::new(FixedClock::at(datetime!(2026-03-01 23:59:00 UTC)));
    // Production passes a PgStore here (src/bin/quota.rs); that is the whole difference.
    let quota = Quota::new(ports(
        Arc::new(MemStore::new()),
        clock.clone(),
        Arc::new(SeqIds::default()),
    ));
    let trial = quota.open_trial("ada").unwrap();
    let key = trial.secret.expose();

    let c = quota.charge(key, 2).unwrap();
    assert_eq!(
        c.remaining,
        Remaining {
            daily: Some(1),
            lifetime: Some(98)
        }
    );
    assert_eq!(c.resets_in_secs, 60);
    match quota.charge(key, 2) {
        Err(VerifyError::Limit {
            exceeded,
            retry_after,
            usage,
            ..
        }) => {
            assert_eq!(exceeded, LimitExceeded::Daily);
            assert_eq!(retry_after, Some(60));
            assert_eq!(usage.daily_used, 2, "a refusal counts nothing");
        }
        other => panic!("expected the daily limit, got {other:?}"),
    }

    clock.advance(Duration::seconds(59));
    assert!(
        matches!(quota.charge(key, 2), Err(VerifyError::Limit { .. })),
        "23:59:59 is still today"
    );
    clock.advance(Duration::seconds(1));
    let c = quota.charge(key, 2).unwrap();
    assert_eq!(
        c.remaining,
        Remaining {
            daily: Some(1),
            lifetime: Some(96)
        }
    );
    assert_eq!(c.resets_in_secs, 86_400);
}

#[test]
fn an_unknown_key_and_an_oversized_charge_are_refused() {
    let clock = Arc::new(FixedClock::at(datetime!(2026-03-01 12:00:00 UTC)));
    let quota = Quota::new(ports(
        Arc::new(MemStore::new()),
        clock,
        Arc::new(SeqIds::default()),
    ));
    assert!(matches!(
        quota.charge("tk_nobody", 1),
        Err(VerifyError::Key(_))
    ));
    let trial = quota.open_trial("ada").unwrap();
    assert!(matches!(
        quota.charge(trial.secret.expose(), u64::MAX),
        Err(VerifyError::Invalid(_))
    ));
    assert!(quota.open_trial("").is_err(), "an owner is required");
}
