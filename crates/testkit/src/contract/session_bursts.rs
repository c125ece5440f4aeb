//! Bursts of caption meters over many sessions at once, as a caption batch sees them: each
//! meter's session must be its own key's, each key must be found in the organisation the
//! meter names, and the limits, counters and sequences stay exact whatever the meters share a
//! transaction with.

use std::sync::Mutex;
use std::thread;

use tally_domain::key::{ApiKey, KeyRejection};
use tally_domain::ports::{KeyRef, MeterError};
use tally_domain::services::Stores;
use tally_domain::session::{SessionId, SessionRef};

use crate::{caption_meter, create_key, create_org, limits, open_spec, T0};

const THREADS: usize = 8;
const KEYS: usize = 4;

/// 8 threads send caption meters over four keys' sessions (the last key of lifetime limit
/// 20), mixed with meters naming another key's session and meters naming their key in the
/// wrong organisation: each is answered as alone (admitted or over the limit, `SessionEnded`,
/// `UnknownKey`), and each session hands out exactly its admitted meters' sequences.
pub fn session_bursts_caption_meters_answer_each(s: &Stores) {
    let keys: Vec<ApiKey> = (0..KEYS)
        .map(|i| {
            let limit = (i == KEYS - 1).then_some(20);
            create_key(s, &format!("cap-burst-key-{i}"), limits(None, limit))
        })
        .collect();
    let sessions: Vec<SessionId> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let spec = open_spec(k, &format!("cap-burst-key-{i}"), "burst.example", T0);
            s.sessions.open_session(spec).unwrap().session.id
        })
        .collect();
    let wrong_org = create_org(s, "org_not_the_keys").id;
    let admitted = Mutex::new(vec![Vec::new(); KEYS]);
    thread::scope(|scope| {
        for t in 0..THREADS {
            let (keys, sessions, admitted, wrong_org) = (&keys, &sessions, &admitted, &wrong_org);
            scope.spawn(move || {
                for i in 0..40 {
                    let k = (i + t) % KEYS;
                    let mut req = caption_meter(&keys[k], &sessions[k], 1, T0);
                    match i % 5 {
                        3 => req.session = Some(sessions[(k + 1) % KEYS].clone()),
                        4 => req.key = KeyRef::InOrg(wrong_org.clone(), keys[k].id),
                        _ => {}
                    }
                    match (i % 5, s.usage.meter(req)) {
                        (0..=2, Ok(m)) => {
                            assert_eq!(m.event.data.session_id.as_ref(), Some(&sessions[k]));
                            admitted.lock().unwrap()[k].push(m.sequence.unwrap());
                        }
                        (0..=2, Err(MeterError::Limit { .. })) if k == KEYS - 1 => {}
                        (3, Err(MeterError::SessionEnded))
                        | (4, Err(MeterError::Key(KeyRejection::UnknownKey))) => {}
                        other => panic!("key {k}, meter {i}: unexpected {other:?}"),
                    }
                }
            });
        }
    });
    for (k, mut sequences) in admitted.into_inner().unwrap().into_iter().enumerate() {
        let n = sequences.len() as u64;
        assert_eq!(n, if k == KEYS - 1 { 20 } else { 48 }, "key {k}");
        sequences.sort_unstable();
        assert_eq!(sequences, (1..=n).collect::<Vec<u64>>(), "key {k}");
        let key = s.keys.get_key(keys[k].id).unwrap().unwrap();
        assert_eq!((key.lifetime_used, key.sequence), (n, n), "key {k}");
        let session = SessionRef::new(keys[k].org_id.clone(), sessions[k].clone());
        let stored = s.sessions.get_session(&session).unwrap().unwrap();
        assert_eq!(stored.sequence, n, "key {k}");
    }
}
