//! Bursts of concurrent meters: what must hold however an adapter groups them (the Postgres
//! store executes concurrent meters together, in one transaction per batch). Many keys and
//! one hot key at once, mixed refusals, idempotency keys reused inside a burst, multi-unit
//! meters crossing a limit, and session sequences handed out under concurrency.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::thread;

use tally_domain::audit::AuthEventKind;
use tally_domain::key::{ApiKey, KeyId, KeyRejection, KeySecret};
use tally_domain::limits::utc_day;
use tally_domain::ports::{KeyRef, MeterError, Metered};
use tally_domain::services::Stores;
use tally_domain::session::SessionRef;
use tally_domain::usage::{CostNanos, IdempotencyKey, LogQuery};

use super::units_recorded;
use crate::{caption_meter, create_key, limits, meter, open_spec, T0};

const THREADS: usize = 8;

/// The units the rollups hold for `key` and the number of its recorded events.
fn recorded(s: &Stores, key: KeyId) -> (i64, u64) {
    let mut logs = LogQuery::new(1).unwrap();
    logs.key_id = Some(key);
    (
        units_recorded(s, key),
        s.usage.list_events(&logs).unwrap().total,
    )
}

fn limit_refusals(s: &Stores, key: KeyId) -> usize {
    s.keys
        .list_auth_events(key, 100_000)
        .unwrap()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                AuthEventKind::LifetimeLimitExceeded | AuthEventKind::DailyLimitExceeded
            )
        })
        .count()
}

/// 8 threads over 12 keys of lifetime limit 30 and one hot key of limit 400, interleaved:
/// each key admits exactly its limit, its counters equal its recorded events and rollups,
/// and every refusal (and nothing else) left an auth event.
pub fn bursts_many_keys_and_one_hot_key_are_exact(s: &Stores) {
    let cold: Vec<ApiKey> = (0..12)
        .map(|i| create_key(s, &format!("burst-cold-{i:02}"), limits(None, Some(30))))
        .collect();
    let hot = create_key(s, "burst-hot-key", limits(None, Some(400)));
    let admitted: Mutex<BTreeMap<i64, u64>> = Mutex::new(BTreeMap::new());
    let refused: Mutex<BTreeMap<i64, usize>> = Mutex::new(BTreeMap::new());
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (cold, hot, admitted, refused) = (&cold, &hot, &admitted, &refused);
            scope.spawn(move || {
                for i in 0..120 {
                    let key = if i % 2 == 0 {
                        hot
                    } else {
                        &cold[(i / 2 + t) % 12]
                    };
                    match s.usage.meter(meter(key, 1, T0)) {
                        Ok(_) => *admitted.lock().unwrap().entry(key.id.0).or_default() += 1,
                        Err(MeterError::Limit { .. }) => {
                            *refused.lock().unwrap().entry(key.id.0).or_default() += 1;
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    let admitted = admitted.into_inner().unwrap();
    let refused = refused.into_inner().unwrap();
    assert_eq!(admitted[&hot.id.0], 400);
    assert_eq!(refused[&hot.id.0], 480 - 400);
    for key in cold.iter().chain([&hot]) {
        let n = admitted[&key.id.0];
        if key.id != hot.id {
            assert_eq!(n, 30, "cold key {}", key.id.0);
        }
        let usage = s.keys.key_usage(key.id, utc_day(T0)).unwrap().unwrap();
        assert_eq!((usage.lifetime_used, usage.daily_used), (n, n));
        assert_eq!(recorded(s, key.id), (i64::try_from(n).unwrap(), n));
        assert_eq!(
            limit_refusals(s, key.id),
            refused.get(&key.id.0).copied().unwrap_or(0)
        );
    }
}

/// Meters by presented secret, unknown secrets and a revoked key, concurrently: each gets
/// its own answer and only admitted meters count.
pub fn bursts_mixed_refusals_answer_each_meter(s: &Stores) {
    let open = create_key(s, "burst-by-secret", limits(None, None));
    let revoked = create_key(s, "burst-revoked-1", limits(None, None));
    s.keys.revoke_key(revoked.id, T0).unwrap();
    let daily = create_key(s, "burst-daily-01", limits(Some(10), None));
    let admitted = Mutex::new(BTreeMap::<&str, u64>::new());
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (open, revoked, daily, admitted) = (&open, &revoked, &daily, &admitted);
            scope.spawn(move || {
                for i in 0..40 {
                    let (name, mut req) = match (i + t) % 4 {
                        0 => ("open", meter(open, 2, T0)),
                        1 => ("revoked", meter(revoked, 1, T0)),
                        2 => ("daily", meter(daily, 1, T0)),
                        _ => ("unknown", meter(open, 1, T0)),
                    };
                    req.key = match name {
                        "open" => KeyRef::Secret(KeySecret::presented("burst-by-secret").hash()),
                        "unknown" => {
                            KeyRef::Secret(KeySecret::presented(&format!("nope-{t}")).hash())
                        }
                        _ => req.key,
                    };
                    let outcome = s.usage.meter(req);
                    match (name, &outcome) {
                        ("open", Ok(m)) => assert_eq!(m.event.data.key_id, Some(open.id)),
                        ("daily", Ok(_) | Err(MeterError::Limit { .. })) => {}
                        ("revoked", Err(MeterError::Key(KeyRejection::Revoked)))
                        | ("unknown", Err(MeterError::Key(KeyRejection::UnknownKey))) => {}
                        other => panic!("unexpected {other:?}"),
                    }
                    if outcome.is_ok() {
                        *admitted.lock().unwrap().entry(name).or_default() += 1;
                    }
                }
            });
        }
    });
    let admitted = admitted.into_inner().unwrap();
    assert_eq!(admitted["open"], 80);
    assert_eq!(admitted["daily"], 10);
    assert!(!admitted.contains_key("revoked") && !admitted.contains_key("unknown"));
    assert_eq!(recorded(s, open.id), (160, 80));
    assert_eq!(recorded(s, daily.id), (10, 10));
    assert_eq!(recorded(s, revoked.id), (0, 0));
    assert_eq!(limit_refusals(s, daily.id), 80 - 10);
    assert_eq!(limit_refusals(s, revoked.id), 0);
    assert_eq!(s.keys.get_key(open.id).unwrap().unwrap().lifetime_used, 160);
}

/// 8 threads send the same 20 idempotency keys at once: each is recorded and counted once,
/// and every replay answers the original event.
pub fn bursts_reused_idempotency_keys_count_once(s: &Stores) {
    let k = create_key(s, "burst-idem-key", limits(None, None));
    let seen: Mutex<BTreeMap<usize, BTreeSet<uuid::Uuid>>> = Mutex::new(BTreeMap::new());
    let fresh = Mutex::new(0_u64);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (k, seen, fresh) = (&k, &seen, &fresh);
            scope.spawn(move || {
                for i in 0..20 {
                    let n = (i + t) % 20;
                    let mut req = meter(k, 3, T0);
                    req.event.idempotency_key =
                        Some(IdempotencyKey::parse(&format!("burst-{n}")).unwrap());
                    let m: Metered = s.usage.meter(req).unwrap();
                    if !m.replayed {
                        *fresh.lock().unwrap() += 1;
                    }
                    seen.lock()
                        .unwrap()
                        .entry(n)
                        .or_default()
                        .insert(m.event.id);
                }
            });
        }
    });
    assert_eq!(fresh.into_inner().unwrap(), 20);
    for (n, ids) in seen.into_inner().unwrap() {
        assert_eq!(
            ids.len(),
            1,
            "idempotency key burst-{n} answered several events"
        );
    }
    assert_eq!(recorded(s, k.id), (60, 20));
    assert_eq!(s.keys.get_key(k.id).unwrap().unwrap().lifetime_used, 60);
}

/// Multi-unit meters racing toward `lifetime_limit = 100`: what is admitted never crosses it,
/// each refusal would have crossed it at its turn, and the counters equal the events.
pub fn bursts_multi_unit_meters_never_cross_a_limit(s: &Stores) {
    let k = create_key(s, "burst-units-01", limits(None, Some(100)));
    let admitted = Mutex::new(0_u64);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (k, admitted) = (&k, &admitted);
            scope.spawn(move || {
                for i in 0..25 {
                    let units = 1 + u64::try_from((i * 3 + t) % 7).unwrap();
                    match s.usage.meter(meter(k, units, T0)) {
                        Ok(m) => {
                            assert!(m.usage.lifetime_used <= 100);
                            *admitted.lock().unwrap() += units;
                        }
                        Err(MeterError::Limit { usage, .. }) => {
                            assert!(usage.lifetime_used + units > 100);
                        }
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    let admitted = admitted.into_inner().unwrap();
    // Every meter is at most 7 units, and 200 of them were tried: the key ends full but for
    // less than one meter's worth.
    assert!(admitted > 93 && admitted <= 100, "admitted {admitted}");
    let used = s.keys.get_key(k.id).unwrap().unwrap().lifetime_used;
    assert_eq!(used, admitted);
    assert_eq!(recorded(s, k.id).0, i64::try_from(admitted).unwrap());
}

/// Caption meters of one session from 8 threads get the sequences after the session's, each
/// exactly once, and the key remembers the last.
pub fn bursts_session_sequences_are_handed_out_once(s: &Stores) {
    let k = create_key(s, "burst-seq-key1", limits(None, None));
    let mut spec = open_spec(&k, "burst-seq-key1", "a.example", T0);
    spec.sequence = 5;
    let id = s.sessions.open_session(spec).unwrap().session.id;
    let sequences = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for _ in 0..THREADS {
            let (k, id, sequences) = (&k, &id, &sequences);
            scope.spawn(move || {
                for _ in 0..30 {
                    let req = caption_meter(k, id, 1, T0);
                    let seq = s.usage.meter(req).unwrap().sequence.unwrap();
                    sequences.lock().unwrap().push(seq);
                }
            });
        }
    });
    let mut sequences = sequences.into_inner().unwrap();
    sequences.sort_unstable();
    assert_eq!(sequences, (6..6 + 240).collect::<Vec<u64>>());
    assert_eq!(
        s.sessions
            .get_session(&SessionRef::new(k.org_id.clone(), id.clone()))
            .unwrap()
            .unwrap()
            .sequence,
        245
    );
    assert_eq!(s.keys.get_key(k.id).unwrap().unwrap().sequence, 245);
}

/// Caption meters that record their delivery with the meter (a session without targets), from
/// 8 threads on a key of lifetime limit 300: the session's and the site's delivered counts are
/// exactly the admitted captions, and refused meters record nothing.
pub fn bursts_delivered_caption_meters_count_once(s: &Stores) {
    let k = create_key(s, "burst-sent-key", limits(None, Some(300)));
    let site = crate::domain("sent.example");
    let id = s
        .sessions
        .open_session(open_spec(&k, "burst-sent-key", "sent.example", T0))
        .unwrap()
        .session
        .id;
    let admitted = Mutex::new((0_u64, 0_u64));
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (k, id, admitted) = (&k, &id, &admitted);
            scope.spawn(move || {
                for i in 0..20 {
                    let units = 1 + u64::try_from((i + t) % 3).unwrap();
                    // A session without targets: the meter records its delivery. Half the
                    // threads name the key as a session token does, half by id alone, so
                    // batches of both kinds and mixed ones occur.
                    let mut req = caption_meter(k, id, units, T0);
                    if t % 2 == 1 {
                        req.key = k.id.into();
                    }
                    match s.usage.meter(req) {
                        Ok(_) => {
                            let mut a = admitted.lock().unwrap();
                            a.0 += units;
                            a.1 += u64::from(units > 1);
                        }
                        Err(MeterError::Limit { .. }) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
    });
    let (captions, batches) = admitted.into_inner().unwrap();
    assert!(captions > 290 && captions <= 300, "admitted {captions}");
    let sess = s
        .sessions
        .get_session(&SessionRef::new(k.org_id.clone(), id.clone()))
        .unwrap()
        .unwrap();
    assert_eq!((sess.captions_sent, sess.captions_failed), (captions, 0));
    let q = tally_domain::usage::DomainUsageQuery::new(utc_day(T0), utc_day(T0), false, None, None)
        .unwrap();
    let rows = s.sessions.domain_usage(&q).unwrap();
    let row = rows.iter().find(|r| r.domain == site).unwrap();
    assert_eq!(
        (row.counters.captions_sent, row.counters.batches_sent),
        (captions, batches)
    );
}

/// 300 meters queued through `meter_then` from one thread without waiting (as an async
/// caller does), beside 4 threads blocking in `meter`, on a key of lifetime limit 250:
/// every callback is called exactly once, the key admits exactly its limit, and its counters
/// equal its recorded events.
pub fn bursts_meter_then_answers_each_meter_once(s: &Stores) {
    let key = create_key(s, "burst-then-key", limits(None, Some(250)));
    let (answers, answered) = std::sync::mpsc::channel();
    let blocking_admitted = Mutex::new(0_u64);
    thread::scope(|scope| {
        for _ in 0..4 {
            let (key, blocking_admitted) = (&key, &blocking_admitted);
            scope.spawn(move || {
                for _ in 0..25 {
                    match s.usage.meter(meter(key, 1, T0)) {
                        Ok(_) => *blocking_admitted.lock().unwrap() += 1,
                        Err(MeterError::Limit { .. }) => {}
                        Err(e) => panic!("unexpected {e:?}"),
                    }
                }
            });
        }
        for i in 0..300_u32 {
            let answers = answers.clone();
            s.usage.meter_then(
                meter(&key, 1, T0),
                Box::new(move |outcome| answers.send((i, outcome)).unwrap()),
            );
        }
    });
    drop(answers);
    let outcomes: Vec<(u32, Result<Metered, MeterError>)> = answered.iter().collect();
    let ids: BTreeSet<u32> = outcomes.iter().map(|(i, _)| *i).collect();
    assert_eq!(outcomes.len(), 300, "every callback called once");
    assert_eq!(ids.len(), 300, "no callback called twice");
    let mut then_admitted = 0_u64;
    for (_, outcome) in &outcomes {
        match outcome {
            Ok(_) => then_admitted += 1,
            Err(MeterError::Limit { .. }) => {}
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(then_admitted + blocking_admitted.into_inner().unwrap(), 250);
    let usage = s.keys.key_usage(key.id, utc_day(T0)).unwrap().unwrap();
    assert_eq!(usage.lifetime_used, 250);
    assert_eq!(recorded(s, key.id), (250, 250));
    assert_eq!(limit_refusals(s, key.id), 400 - 250);
}

/// 8 threads meter events that carry every field (and events that carry none): each stored
/// event is the one its meter answered, field for field, whichever batch carried it.
pub fn bursts_meters_store_every_event_field(s: &Stores) {
    let key = create_key(s, "burst-fields-01", limits(None, None));
    thread::scope(|scope| {
        for t in 0..THREADS {
            let key = &key;
            scope.spawn(move || {
                for i in 0..25_u64 {
                    let at =
                        T0 + time::Duration::microseconds(i64::try_from(t).unwrap() * 1_001 + 7);
                    let mut req = meter(key, 1 + i % 3, at);
                    if i % 2 == 0 {
                        let e = &mut req.event;
                        e.api_name = Some(format!("api-{t}"));
                        e.endpoint = Some("/v1/transcribe".to_owned());
                        e.method = Some("POST".to_owned());
                        e.path = Some(format!("/v1/transcribe/{i}?q=é"));
                        e.status_code = Some(if i % 4 == 0 { 201 } else { 502 });
                        e.response_time_ms = Some(i * 17);
                        e.model = Some("whisper-large".to_owned());
                        e.language = Some("fi".to_owned());
                        e.domain = Some(crate::domain("https://fields.example"));
                        e.cost = CostNanos(1_234_567_890 + i64::try_from(i).unwrap());
                        e.tokens = 4_000_000_000 + i;
                        e.quota = 7 * i;
                        e.duration_ms = 1_500 + i;
                        e.success = i % 4 == 0;
                        e.error = (i % 4 != 0).then(|| "upstream \"timeout\"".to_owned());
                        e.ip = Some("2001:db8::1".to_owned());
                        e.user_agent = Some("tally-test/1.0 (ünïcode)".to_owned());
                    }
                    let sent = req.event.clone();
                    let metered = s.usage.meter(req).unwrap();
                    let stored = s.usage.get_event(metered.event.id).unwrap().unwrap();
                    assert_eq!(stored, metered.event, "stored as answered");
                    let mut expected = sent;
                    expected.key_id = Some(key.id);
                    expected.user_id = key.user_id;
                    assert_eq!(stored.data, expected, "every field as sent");
                    assert!(stored.active);
                }
            });
        }
    });
}
