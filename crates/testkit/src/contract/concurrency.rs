//! Limits and session creation under concurrency: exact, whatever the interleaving.

use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;

use tally_domain::limits::utc_day;
use tally_domain::ports::MeterError;
use tally_domain::services::Stores;
use tally_domain::usage::LogQuery;
use time::macros::datetime;

use super::units_recorded;
use crate::{create_key, limits, meter, open_spec, T0};

const THREADS: u64 = 8;
const ATTEMPTS: u64 = 500;

/// 8 threads × 500 attempts of one unit on `lifetime_limit = 1000` admit exactly 1,000, and
/// the counters equal the recorded events.
pub fn concurrency_lifetime_limit_is_exact(s: &Stores) {
    let k = create_key(s, "hot-key-0001", limits(None, Some(1_000)));
    let admitted = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..ATTEMPTS {
                    match s.usage.meter(meter(&k, 1, T0)) {
                        Ok(_) => {
                            admitted.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(MeterError::Limit { .. }) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(admitted.load(Ordering::Relaxed), 1_000);
    let usage = s.keys.key_usage(k.id, utc_day(T0)).unwrap().unwrap();
    assert_eq!((usage.lifetime_used, usage.daily_used), (1_000, 1_000));
    let mut q = LogQuery::new(1).unwrap();
    q.key_id = Some(k.id);
    assert_eq!(s.usage.list_events(&q).unwrap().total, 1_000);
    assert_eq!(units_recorded(s, k.id), 1_000);
}

/// The same with `daily_limit = 300`, half the attempts on each side of UTC midnight: exactly
/// 300 per day.
pub fn concurrency_daily_limit_is_exact_across_midnight(s: &Stores) {
    let k = create_key(s, "daily-hot-01", limits(Some(300), None));
    let before = datetime!(2026-03-10 23:59:59 UTC);
    let after = datetime!(2026-03-11 0:00 UTC);
    let admitted = [AtomicU64::new(0), AtomicU64::new(0)];
    thread::scope(|scope| {
        for t in 0..THREADS {
            let admitted = &admitted;
            let k = &k;
            scope.spawn(move || {
                for i in 0..ATTEMPTS {
                    let day = usize::from((i + t) % 2 == 1);
                    let now = if day == 0 { before } else { after };
                    match s.usage.meter(meter(k, 1, now)) {
                        Ok(_) => {
                            admitted[day].fetch_add(1, Ordering::Relaxed);
                        }
                        Err(MeterError::Limit { .. }) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(admitted[0].load(Ordering::Relaxed), 300);
    assert_eq!(admitted[1].load(Ordering::Relaxed), 300);
    assert_eq!(
        s.keys
            .key_usage(k.id, utc_day(before))
            .unwrap()
            .unwrap()
            .daily_used,
        300
    );
    let after_usage = s.keys.key_usage(k.id, utc_day(after)).unwrap().unwrap();
    assert_eq!(
        (after_usage.daily_used, after_usage.lifetime_used),
        (300, 600)
    );
    assert_eq!(units_recorded(s, k.id), 600);
}

/// Concurrent opens of one session create it exactly once.
pub fn concurrency_session_opens_once(s: &Stores) {
    let k = create_key(s, "open-race-01", limits(None, None));
    let created = AtomicU64::new(0);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                for _ in 0..10 {
                    if s.sessions
                        .open_session(open_spec(&k, "open-race-01", "a.example", T0))
                        .unwrap()
                        .created
                    {
                        created.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(created.load(Ordering::Relaxed), 1);
    assert_eq!(s.sessions.list_open_sessions(Some(k.id)).unwrap().len(), 1);
}

/// Concurrent creations that require a new e-mail create exactly one key for it.
pub fn concurrency_one_key_per_new_email(s: &Stores) {
    let created = AtomicU64::new(0);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let created = &created;
            scope.spawn(move || {
                for i in 0..5 {
                    let mut k = crate::new_key(&format!("email-race-{t}-{i}"), limits(None, None));
                    k.email =
                        Some(tally_domain::tenancy::Email::parse("race@example.com").unwrap());
                    k.email_must_be_new = true;
                    match s.keys.create_key(k) {
                        Ok(_) => {
                            created.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(tally_domain::ports::CreateKeyError::EmailKnown) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    assert_eq!(created.load(Ordering::Relaxed), 1);
    let mut plain = crate::new_key("email-plain-1", limits(None, None));
    plain.email = Some(tally_domain::tenancy::Email::parse("race@example.com").unwrap());
    assert!(
        s.keys.create_key(plain).is_ok(),
        "admins may reuse an e-mail"
    );
}
