//! `SessionStore` (and the key read of a session request) across organisations: a session is
//! named by its organisation and id, so two organisations holding the same session id hold two
//! sessions, and the site rollup is kept per organisation.

use tally_domain::key::{ApiKey, KeyRejection};
use tally_domain::mic::{ClientId, MicAction};
use tally_domain::ports::{DeliveryReport, KeyRef, MeterError};
use tally_domain::services::Stores;
use tally_domain::session::{DeliveryOutcome, EndReason, OpenSession, SessionPatch, SessionRef};
use tally_domain::tenancy::OrgId;
use tally_domain::usage::{DomainCounters, DomainUsageQuery};
use time::macros::date;
use time::Duration;

use crate::{create_key, create_org, domain, limits, new_key, open_spec, T0};

/// A key with `secret` in organisation `org`.
fn key_in(s: &Stores, org: &OrgId, secret: &str) -> ApiKey {
    let mut k = new_key(secret, limits(None, None));
    k.org_id = org.clone();
    s.keys.create_key(k).unwrap()
}

/// The day rows of March 2026 on `shared.example`, of one organisation or of all.
fn shared_site(s: &Stores, org: Option<&OrgId>) -> Vec<DomainCounters> {
    let mut q = DomainUsageQuery::new(
        date!(2026 - 03 - 01),
        date!(2026 - 03 - 31),
        false,
        Some(domain("shared.example")),
        None,
    )
    .unwrap();
    if let Some(org) = org {
        q = q.within(org.clone());
    }
    let rows = s.sessions.domain_usage(&q).unwrap();
    rows.into_iter().map(|r| r.counters).collect()
}

/// Two organisations with the same session id: every lookup, touch, change, mic action,
/// delivery, idle listing and end reaches only the named organisation's session.
pub fn session_orgs_same_id_names_two_sessions(s: &Stores) {
    let other = create_org(s, "org_second").id;
    let a = create_key(s, "org-same-id-a1", limits(None, None));
    let b = key_in(s, &other, "org-same-id-b1");
    let spec_a = open_spec(&a, "org-same-id-a1", "a.example", T0);
    // Ids are derived from the secret, so a collision needs a forced id: the store must not
    // rely on ids being unique across organisations.
    let spec_b = OpenSession {
        id: spec_a.id.clone(),
        ..open_spec(&b, "org-same-id-b1", "a.example", T0)
    };
    assert!(s.sessions.open_session(spec_a.clone()).unwrap().created);
    assert!(
        s.sessions.open_session(spec_b).unwrap().created,
        "the other organisation's session of that id is not joined"
    );
    let (ra, rb) = (
        SessionRef::new(a.org_id.clone(), spec_a.id.clone()),
        SessionRef::new(other.clone(), spec_a.id.clone()),
    );
    let get = |r: &SessionRef| s.sessions.get_session(r).unwrap();
    assert_eq!(get(&ra).map(|x| x.key_id), Some(a.id));
    assert_eq!(get(&rb).map(|x| x.key_id), Some(b.id));

    let at = |m: i64| T0 + Duration::minutes(m);
    let touched = s.sessions.touch_session(&ra, at(5)).unwrap().unwrap();
    assert_eq!((touched.key_id, touched.last_activity_at), (a.id, at(5)));
    assert_eq!(get(&rb).unwrap().last_activity_at, T0);

    let patch = SessionPatch {
        sequence: Some(42),
        ..SessionPatch::default()
    };
    let patched = s.sessions.update_session(&rb, &patch, at(1)).unwrap();
    assert_eq!(patched.map(|x| (x.key_id, x.sequence)), Some((b.id, 42)));
    assert_eq!(get(&ra).unwrap().sequence, 0);

    let client = ClientId::parse("client-a").unwrap();
    let holder = s
        .sessions
        .apply_mic(&ra, MicAction::Claim, &client, at(5))
        .unwrap();
    assert_eq!(holder, Some(Some(client.clone())));
    assert_eq!(get(&rb).unwrap().mic_holder, None);

    s.sessions
        .record_delivery(DeliveryReport {
            session_id: spec_a.id.clone(),
            key_id: a.id,
            org_id: a.org_id.clone(),
            domain: domain("a.example"),
            outcome: DeliveryOutcome::Delivered { batch_size: 3 },
            at: at(5),
        })
        .unwrap();
    assert_eq!(get(&ra).unwrap().captions_sent, 3);
    assert_eq!(get(&rb).unwrap().captions_sent, 0);

    assert_eq!(s.sessions.idle_sessions(at(2)).unwrap(), vec![rb.clone()]);
    let mut idle = s.sessions.idle_sessions(at(5)).unwrap();
    idle.sort();
    let mut both = vec![ra.clone(), rb.clone()];
    both.sort();
    assert_eq!(idle, both);

    let ended = s
        .sessions
        .end_session(&ra, EndReason::Client, at(6))
        .unwrap();
    assert_eq!(ended.map(|r| (r.key_id, r.captions_sent)), Some((a.id, 3)));
    assert_eq!(get(&ra), None);
    assert_eq!(get(&rb).map(|x| x.sequence), Some(42), "still open");
    assert_eq!(
        s.sessions
            .end_session(&ra, EndReason::Client, at(7))
            .unwrap(),
        None
    );
    assert_eq!(
        s.sessions.touch_session(&ra, at(7)).unwrap(),
        None,
        "the ended session is not found through the other organisation's"
    );
    let ended = s
        .sessions
        .end_session(&rb, EndReason::Client, at(7))
        .unwrap();
    assert_eq!(ended.map(|r| r.key_id), Some(b.id));
}

/// Two organisations using one site keep separate site rows: each organisation's question
/// answers only its own, and the question across organisations sums them and takes the
/// largest organisation's peak.
pub fn session_orgs_site_rollups_are_kept_per_org(s: &Stores) {
    let other = create_org(s, "org_site_two").id;
    let empty = create_org(s, "org_site_none").id;
    let a1 = create_key(s, "org-site-key-a1", limits(None, None));
    let a2 = create_key(s, "org-site-key-a2", limits(None, None));
    let b = key_in(s, &other, "org-site-key-b1");
    let open = |k: &ApiKey, secret: &str| {
        s.sessions
            .open_session(open_spec(k, secret, "shared.example", T0))
            .unwrap()
            .session
    };
    let first = open(&a1, "org-site-key-a1");
    open(&a2, "org-site-key-a2");
    let theirs = open(&b, "org-site-key-b1");
    s.sessions
        .end_session(
            &first.reference(),
            EndReason::Client,
            T0 + Duration::minutes(1),
        )
        .unwrap();
    s.sessions
        .record_delivery(DeliveryReport {
            session_id: theirs.id.clone(),
            key_id: b.id,
            org_id: other.clone(),
            domain: theirs.domain.clone(),
            outcome: DeliveryOutcome::Delivered { batch_size: 3 },
            at: T0 + Duration::minutes(2),
        })
        .unwrap();

    let ours = shared_site(s, Some(&a1.org_id));
    let c = |started, ended, sent, peak| DomainCounters {
        sessions_started: started,
        sessions_ended: ended,
        captions_sent: sent,
        batches_sent: u64::from(sent > 1),
        total_duration_ms: ended * 60_000,
        peak_sessions: peak,
        ..DomainCounters::default()
    };
    assert_eq!(ours, vec![c(2, 1, 0, 2)]);
    assert_eq!(shared_site(s, Some(&other)), vec![c(1, 0, 3, 1)]);
    assert!(shared_site(s, Some(&empty)).is_empty());
    assert_eq!(
        shared_site(s, None),
        vec![c(3, 1, 3, 2)],
        "across organisations: sums, and the largest organisation's peak (not 3)"
    );
}

/// A session request reads its key by organisation and id: the key is found in its own
/// organisation only.
pub fn session_orgs_key_is_found_only_in_its_org(s: &Stores) {
    let other = create_org(s, "org_key_two").id;
    let k = key_in(s, &other, "org-key-in-b1");
    let found = s.keys.get_key_in(&other, k.id).unwrap();
    assert_eq!(found.map(|x| (x.id, x.org_id)), Some((k.id, other)));
    assert_eq!(
        s.keys.get_key_in(&OrgId::default_org(), k.id).unwrap(),
        None
    );
    assert_eq!(s.keys.get_key(k.id).unwrap().map(|x| x.id), Some(k.id));
}

/// A meter that names its key by organisation and id (a caption request's token) finds the key
/// in that organisation only: in another it is an unknown key and counts nothing.
pub fn session_orgs_meter_finds_its_key_in_its_org(s: &Stores) {
    let other = create_org(s, "org_meter_two").id;
    let k = key_in(s, &other, "org-meter-in-b1");
    let mut wrong = crate::meter(&k, 2, T0);
    wrong.key = KeyRef::InOrg(OrgId::default_org(), k.id);
    assert!(matches!(
        s.usage.meter(wrong),
        Err(MeterError::Key(KeyRejection::UnknownKey))
    ));
    let mut right = crate::meter(&k, 2, T0);
    right.key = KeyRef::InOrg(other.clone(), k.id);
    let metered = s.usage.meter(right).unwrap();
    assert_eq!(metered.usage.lifetime_used, 2);
    assert_eq!(metered.event.data.org_id, other);
    let stored = s.keys.get_key(k.id).unwrap().unwrap();
    assert_eq!(stored.lifetime_used, 2, "the refused meter counted nothing");
}
