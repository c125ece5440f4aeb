//! `SessionStore::list_sessions`: the open sessions a filter selects, newest first, bounded.

use tally_domain::key::KeyId;
use tally_domain::mic::{ClientId, MicAction};
use tally_domain::services::Stores;
use tally_domain::session::EndReason;
use tally_domain::session_filter::SessionFilter;
use tally_domain::tenancy::{OrgId, UserId};
use time::Duration;

use crate::{create_org, create_user, domain, limits, new_key, open_spec, uuid, T0};

/// Every condition narrows; a user's filter takes only sessions of keys bound to them; the
/// order is newest start first (ties by id); the limit cuts; ended sessions are gone; the
/// sessions come back whole (counters, mic holder, activity).
pub fn session_list_filters_orders_and_bounds(s: &Stores) {
    let acme = create_org(s, "org_acme_sessions");
    let alice = create_user(s, 71, "alice-sessions", &acme.id);
    let bob = create_user(s, 72, "bob-sessions", &acme.id);
    let key = |secret: &str, user: Option<UserId>, org: &OrgId| {
        let mut k = new_key(secret, limits(None, None));
        k.user_id = user;
        k.org_id = org.clone();
        s.keys.create_key(k).unwrap()
    };
    let a1 = key("list-alice-1", Some(alice.id), &acme.id);
    let a2 = key("list-alice-2", Some(alice.id), &acme.id);
    let b1 = key("list-bob-1", Some(bob.id), &acme.id);
    let free = key("list-unbound", None, &OrgId::default_org());

    let open = |k: &tally_domain::key::ApiKey, secret: &str, site: &str, minutes: i64| {
        let spec = open_spec(k, secret, site, T0 + Duration::minutes(minutes));
        s.sessions.open_session(spec).unwrap().session
    };
    let s_a1 = open(&a1, "list-alice-1", "a.example", 0);
    let s_a2 = open(&a2, "list-alice-2", "b.example", 1);
    let s_a1b = open(&a1, "list-alice-1", "b.example", 2);
    let s_b1 = open(&b1, "list-bob-1", "a.example", 3);
    let s_free = open(&free, "list-unbound", "a.example", 4);
    let holder = ClientId::parse("desk-1").unwrap();
    s.sessions
        .apply_mic(
            &s_a2.reference(),
            MicAction::Claim,
            &holder,
            T0 + Duration::minutes(5),
        )
        .unwrap();

    let ids = |f: &SessionFilter, limit: u32| -> Vec<String> {
        s.sessions
            .list_sessions(f, limit)
            .unwrap()
            .into_iter()
            .map(|x| x.id.as_str().to_owned())
            .collect()
    };
    let of = |v: &[&tally_domain::session::Session]| -> Vec<String> {
        v.iter().map(|x| x.id.as_str().to_owned()).collect()
    };

    let all = SessionFilter::default();
    assert_eq!(
        ids(&all, 100),
        of(&[&s_free, &s_b1, &s_a1b, &s_a2, &s_a1]),
        "newest start first"
    );
    assert_eq!(
        ids(&all, 2),
        of(&[&s_free, &s_b1]),
        "the limit keeps the newest"
    );

    let mine = SessionFilter {
        user_id: Some(alice.id),
        ..SessionFilter::default()
    };
    assert_eq!(ids(&mine, 100), of(&[&s_a1b, &s_a2, &s_a1]));
    let nobody = SessionFilter {
        user_id: Some(UserId(uuid(999))),
        ..SessionFilter::default()
    };
    assert!(ids(&nobody, 100).is_empty());

    let acme_only = SessionFilter {
        org_id: Some(acme.id.clone()),
        ..SessionFilter::default()
    };
    assert_eq!(ids(&acme_only, 100), of(&[&s_b1, &s_a1b, &s_a2, &s_a1]));
    let site_a = SessionFilter {
        domain: Some(domain("https://a.example")),
        ..SessionFilter::default()
    };
    assert_eq!(ids(&site_a, 100), of(&[&s_free, &s_b1, &s_a1]));
    let alice_on_b = SessionFilter {
        user_id: Some(alice.id),
        domain: Some(domain("b.example")),
        ..SessionFilter::default()
    };
    assert_eq!(ids(&alice_on_b, 100), of(&[&s_a1b, &s_a2]));
    let one_key = SessionFilter {
        key_id: Some(a1.id),
        ..SessionFilter::default()
    };
    assert_eq!(ids(&one_key, 100), of(&[&s_a1b, &s_a1]));
    let no_key = SessionFilter {
        key_id: Some(KeyId(999_999)),
        ..SessionFilter::default()
    };
    assert!(ids(&no_key, 100).is_empty());

    // Whole sessions: the mic holder and the activity it recorded are there.
    let listed = s.sessions.list_sessions(&mine, 100).unwrap();
    let a2_listed = listed.iter().find(|x| x.id == s_a2.id).unwrap();
    assert_eq!(a2_listed.mic_holder, Some(holder));
    assert_eq!(a2_listed.last_activity_at, T0 + Duration::minutes(5));
    assert_eq!(a2_listed.key_id, a2.id);
    assert_eq!(a2_listed.org_id, acme.id);
    assert_eq!(
        Some(a2_listed.clone()),
        s.sessions.get_session(&s_a2.reference()).unwrap()
    );

    // An ended session is no longer listed.
    s.sessions
        .end_session(
            &s_a1.reference(),
            EndReason::Client,
            T0 + Duration::minutes(6),
        )
        .unwrap();
    assert_eq!(ids(&mine, 100), of(&[&s_a1b, &s_a2]));
}
