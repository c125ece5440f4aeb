//! The domain services on `MemStore`, with a fixed clock and predictable ids.

use std::sync::{Arc, Mutex};

use tally_domain::audit::AuthEventKind;
use tally_domain::bus::{EventSink, SinkStatus};
use tally_domain::key::{KeyId, KeyRejection, KeySecret};
use tally_domain::limits::{LimitExceeded, Limits, Units};
use tally_domain::live::{LiveEvent, Topic};
use tally_domain::mic::{ClientId, MicAction};
use tally_domain::origin::AllowedDomains;
use tally_domain::services::{
    AuthorizeSessionError, CreateKey, ErasureService, IngestError, IssueKeyError, KeyService,
    MeterService, OpenRequest, OpenSessionError, Ports, SessionService, SessionSettings, Stores,
    TokenSession, UsageService, FREE_TIER_LIMITS,
};
use tally_domain::session::{DeliveryOutcome, DeliveryReceipt, EndReason, Session, SessionId};
use tally_domain::tenancy::{OrgId, UserId};
use tally_domain::usage::{EventKind, NewUsageEvent};
use tally_domain::LocalBus;
use tally_store_mem::MemStore;
use tally_testkit::{create_org, create_user, uuid, FixedClock, SeqIds, T0};
use time::macros::datetime;
use time::Duration;

/// What a current session token names: the session's organisation, its id and the key.
fn token(s: &Session, key: KeyId) -> TokenSession {
    TokenSession {
        org: Some(s.org_id.clone()),
        id: s.id.clone(),
        key_id: key,
    }
}

struct World {
    ports: Ports,
    clock: Arc<FixedClock>,
}

impl World {
    fn new() -> Self {
        let clock = Arc::new(FixedClock::at(T0));
        let stores = Stores::from_one(Arc::new(MemStore::new()), Arc::new(LocalBus::new()));
        Self {
            ports: Ports {
                stores,
                clock: clock.clone(),
                ids: Arc::new(SeqIds::default()),
            },
            clock,
        }
    }
    fn keys(&self) -> KeyService {
        KeyService::new(self.ports.clone())
    }
    fn sessions(&self) -> SessionService {
        let settings = SessionSettings {
            allowed_domains: AllowedDomains::parse("a.example,localhost").unwrap(),
            idle_ttl: Duration::hours(2),
        };
        SessionService::new(self.ports.clone(), settings)
    }
    fn meter(&self) -> MeterService {
        MeterService::new(self.ports.clone())
    }
    fn key(&self, secret: &str, limits: Limits) -> tally_domain::key::ApiKey {
        self.keys().issue(create(Some(secret), limits)).unwrap().key
    }
    fn open(
        &self,
        secret: &str,
        domain: &str,
    ) -> Result<tally_domain::services::Opened, OpenSessionError> {
        self.sessions().open(OpenRequest {
            secret: secret.into(),
            domain: domain.into(),
            stream_key: None,
            sequence: None,
            targets: None,
        })
    }
    fn auth_kinds(&self, key: &tally_domain::key::ApiKey) -> Vec<AuthEventKind> {
        self.ports
            .stores
            .keys
            .list_auth_events(key.id, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.kind)
            .collect()
    }
    fn listen(&self, id: &SessionId) -> (Arc<Collect>, tally_domain::Subscription) {
        let sink = Arc::new(Collect::default());
        let sub = self
            .ports
            .stores
            .bus
            .subscribe(Topic::Session(id.clone()), sink.clone());
        (sink, sub)
    }
}

#[derive(Default)]
struct Collect(Mutex<Vec<LiveEvent>>);

impl EventSink for Collect {
    fn deliver(&self, event: &LiveEvent) -> SinkStatus {
        self.0.lock().unwrap().push(event.clone());
        SinkStatus::Open
    }
}

impl Collect {
    fn names(&self) -> Vec<&'static str> {
        self.0.lock().unwrap().iter().map(LiveEvent::name).collect()
    }
}

fn create(secret: Option<&str>, limits: Limits) -> CreateKey {
    CreateKey {
        secret: secret.map(Into::into),
        owner: "Alice".into(),
        name: None,
        email: None,
        user_id: None,
        org_id: OrgId::default_org(),
        expires_at: None,
        limits,
        email_must_be_new: false,
    }
}

#[test]
fn issued_secrets_are_generated_or_validated() {
    let w = World::new();
    let issued = w.keys().issue(create(None, Limits::default())).unwrap();
    let secret = issued.secret.expose();
    assert!(secret.starts_with("tk_") && secret.len() == 35, "{secret}");
    assert_eq!(issued.key.secret_hash, issued.secret.hash());
    assert_eq!(w.keys().find(secret).unwrap().unwrap().id, issued.key.id);
    assert!(matches!(
        w.keys().issue(create(Some("short"), Limits::default())),
        Err(IssueKeyError::Invalid(_))
    ));
    w.keys()
        .issue(create(Some("custom-key-1"), Limits::default()))
        .unwrap();
    assert_eq!(
        w.keys()
            .issue(create(Some("custom-key-1"), Limits::default())),
        Err(IssueKeyError::Duplicate)
    );
    let mut blank = create(None, Limits::default());
    blank.owner = "  ".into();
    assert!(matches!(
        w.keys().issue(blank),
        Err(IssueKeyError::Invalid(_))
    ));
}

#[test]
fn free_tier_keys_have_fixed_limits_and_one_per_email_forever() {
    let w = World::new();
    w.clock.set(datetime!(2026-01-31 09:00 UTC));
    let k = w
        .keys()
        .issue_free_tier("Alice", " Alice@Example.com")
        .unwrap()
        .key;
    assert_eq!(k.limits, FREE_TIER_LIMITS);
    assert_eq!(k.expires_at, Some(datetime!(2026-02-28 09:00 UTC)));
    assert_eq!(
        w.keys().issue_free_tier("Al", "alice@example.com"),
        Err(IssueKeyError::EmailKnown)
    );
    ErasureService::new(w.ports.clone())
        .erase_key(k.id)
        .unwrap();
    assert_eq!(
        w.keys().issue_free_tier("Al", "ALICE@example.com"),
        Err(IssueKeyError::EmailKnown)
    );
    assert!(matches!(
        w.keys().issue_free_tier("", "bob@example.com"),
        Err(IssueKeyError::Invalid(_))
    ));
    assert!(matches!(
        w.keys().issue_free_tier("Bob", "bob"),
        Err(IssueKeyError::Invalid(_))
    ));
}

#[test]
fn opening_checks_domain_then_key_and_audits_everything() {
    let w = World::new();
    let k = w.key("open-key-0001", Limits::default());
    assert_eq!(
        w.open("open-key-0001", "evil.example").unwrap_err(),
        OpenSessionError::DomainNotAllowed
    );
    assert_eq!(
        w.open("unknown-key-01", "a.example").unwrap_err(),
        OpenSessionError::Key(KeyRejection::UnknownKey)
    );
    assert!(matches!(
        w.open("open-key-0001", "not a domain"),
        Err(OpenSessionError::Invalid(_))
    ));
    let opened = w.open("open-key-0001", "https://A.example/").unwrap();
    assert!(opened.created);
    assert!(!w.open("open-key-0001", "a.example").unwrap().created);
    assert!(
        w.open("open-key-0001", "http://127.0.0.1:5173")
            .unwrap()
            .created
    );
    assert_eq!(
        w.auth_kinds(&k),
        vec![
            AuthEventKind::SessionStart,
            AuthEventKind::SessionStart,
            AuthEventKind::SessionStart,
            AuthEventKind::DomainNotAllowed
        ]
    );

    let exp = w.key("expiring-key1", Limits::default());
    let patch = tally_domain::key::KeyPatch {
        expires_at: Some(Some(T0)),
        ..Default::default()
    };
    w.ports.stores.keys.update_key(exp.id, &patch).unwrap();
    assert_eq!(
        w.open("expiring-key1", "a.example").unwrap_err(),
        OpenSessionError::Key(KeyRejection::Expired)
    );
    assert_eq!(w.auth_kinds(&exp), vec![AuthEventKind::Expired]);
}

#[test]
fn the_sequence_carries_over_for_two_hours() {
    let w = World::new();
    let k = w.key("carry-key-001", Limits::default());
    let opened = w.open("carry-key-001", "a.example").unwrap();
    w.meter()
        .meter_captions(&token(&opened.session, k.id), opened.session.started_at, 2)
        .unwrap();
    w.meter()
        .meter_captions(&token(&opened.session, k.id), opened.session.started_at, 1)
        .unwrap();
    w.sessions()
        .end(&opened.session.reference(), EndReason::Client)
        .unwrap();
    w.clock.advance(Duration::minutes(119));
    let again = w.open("carry-key-001", "a.example").unwrap();
    assert_eq!(again.session.sequence, 2);
    w.sessions()
        .end(&again.session.reference(), EndReason::Client)
        .unwrap();
    w.clock.advance(Duration::minutes(2));
    assert_eq!(
        w.open("carry-key-001", "a.example")
            .unwrap()
            .session
            .sequence,
        0
    );
}

#[test]
fn tokens_die_with_their_session_and_key() {
    let w = World::new();
    let k = w.key("token-key-001", Limits::default());
    let s = w.open("token-key-001", "a.example").unwrap().session;
    assert!(w.sessions().authorize(&token(&s, k.id)).is_ok());
    w.sessions().end(&s.reference(), EndReason::Client).unwrap();
    assert_eq!(
        w.sessions().authorize(&token(&s, k.id)).unwrap_err(),
        AuthorizeSessionError::SessionEnded
    );

    let s = w.open("token-key-001", "a.example").unwrap().session;
    let (events, _sub) = w.listen(&s.id);
    w.keys().revoke(k.id).unwrap();
    assert_eq!(
        w.sessions().authorize(&token(&s, k.id)).unwrap_err(),
        AuthorizeSessionError::Key(KeyRejection::Revoked)
    );
    assert_eq!(events.names(), vec!["session_closed"]);
    let records = w
        .ports
        .stores
        .sessions
        .list_session_records(k.id, 10)
        .unwrap();
    assert_eq!(records[0].ended_by, EndReason::Revoked);
    assert_eq!(
        w.open("token-key-001", "a.example").unwrap_err(),
        OpenSessionError::Key(KeyRejection::Revoked)
    );

    let e = w.key("token-key-002", Limits::default());
    let s = w.open("token-key-002", "a.example").unwrap().session;
    let (events, _sub) = w.listen(&s.id);
    ErasureService::new(w.ports.clone())
        .erase_key(e.id)
        .unwrap();
    assert_eq!(
        w.sessions().authorize(&token(&s, e.id)).unwrap_err(),
        AuthorizeSessionError::Key(KeyRejection::Erased)
    );
    assert_eq!(events.names(), vec!["session_closed"]);
    assert_eq!(
        w.open("token-key-002", "a.example").unwrap_err(),
        OpenSessionError::Key(KeyRejection::Erased)
    );
}

#[test]
fn a_key_that_expires_ends_its_tokens_too() {
    let w = World::new();
    let k = w.key("expire-key-01", Limits::default());
    let s = w.open("expire-key-01", "a.example").unwrap().session;
    let patch = tally_domain::key::KeyPatch {
        expires_at: Some(Some(T0 + Duration::minutes(10))),
        ..Default::default()
    };
    w.ports.stores.keys.update_key(k.id, &patch).unwrap();
    assert!(w.sessions().authorize(&token(&s, k.id)).is_ok());
    w.clock.advance(Duration::minutes(10));
    assert_eq!(
        w.sessions().authorize(&token(&s, k.id)).unwrap_err(),
        AuthorizeSessionError::Key(KeyRejection::Expired)
    );
}

#[test]
fn a_token_names_its_session_by_org_and_old_tokens_resolve_it_from_the_key() {
    let w = World::new();
    let k = w.key("token-org-key1", Limits::default());
    let s = w.open("token-org-key1", "a.example").unwrap().session;
    let (found, key) = w.sessions().authorize(&token(&s, k.id)).unwrap();
    assert_eq!((found.id, key.id), (s.id.clone(), k.id));
    // A token from before tokens carried `org`: its key says which organisation.
    let old = TokenSession {
        org: None,
        ..token(&s, k.id)
    };
    let (found, _) = w.sessions().authorize(&old).unwrap();
    assert_eq!(found.reference(), s.reference());
    // A token naming another organisation finds neither the key nor the session there.
    let elsewhere = create_org(&w.ports.stores, "org_elsewhere").id;
    let elsewhere = TokenSession {
        org: Some(elsewhere),
        ..token(&s, k.id)
    };
    assert_eq!(
        w.sessions().authorize(&elsewhere).unwrap_err(),
        AuthorizeSessionError::Key(KeyRejection::UnknownKey)
    );
}

#[test]
fn the_sweep_ends_idle_sessions_only() {
    let w = World::new();
    w.key("sweep-key-001", Limits::default());
    w.key("sweep-key-002", Limits::default());
    let idle = w.open("sweep-key-001", "a.example").unwrap().session;
    let busy = w.open("sweep-key-002", "a.example").unwrap().session;
    w.clock.advance(Duration::minutes(90));
    w.ports
        .stores
        .sessions
        .touch_session(&busy.reference(), w.clock_now())
        .unwrap();
    w.clock.advance(Duration::minutes(29));
    assert!(w.sessions().sweep().unwrap().is_empty());
    w.clock.advance(Duration::minutes(1));
    let (events, _sub) = w.listen(&idle.id);
    assert_eq!(w.sessions().sweep().unwrap(), vec![idle.reference()]);
    assert_eq!(events.names(), vec!["session_closed"]);
    assert!(w
        .ports
        .stores
        .sessions
        .get_session(&busy.reference())
        .unwrap()
        .is_some());
}

impl World {
    fn clock_now(&self) -> time::OffsetDateTime {
        tally_domain::Clock::now(self.clock.as_ref())
    }
}

#[test]
fn every_mic_call_is_pushed_even_a_no_op() {
    let w = World::new();
    w.key("mic-key-00001", Limits::default());
    let s = w.open("mic-key-00001", "a.example").unwrap().session;
    let (events, _sub) = w.listen(&s.id);
    let a = ClientId::parse("a").unwrap();
    let b = ClientId::parse("b").unwrap();
    assert_eq!(
        w.sessions()
            .mic(&s.reference(), MicAction::Claim, &a)
            .unwrap(),
        Some(Some(a.clone()))
    );
    assert_eq!(
        w.sessions()
            .mic(&s.reference(), MicAction::Release, &b)
            .unwrap(),
        Some(Some(a.clone()))
    );
    assert_eq!(
        w.sessions()
            .mic(&s.reference(), MicAction::Release, &a)
            .unwrap(),
        Some(None)
    );
    let seen = events.0.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            LiveEvent::MicState {
                holder: Some(a.clone())
            },
            LiveEvent::MicState { holder: Some(a) },
            LiveEvent::MicState { holder: None }
        ]
    );
}

#[test]
fn limits_refuse_whole_audit_and_say_when_to_retry() {
    let w = World::new();
    let k = w.key(
        "verify-key-01",
        Limits {
            daily: Some(3),
            lifetime: None,
        },
    );
    let ev = || NewUsageEvent::new(OrgId::default_org(), EventKind::Request, T0);
    w.clock.set(datetime!(2026-03-10 23:59:30 UTC));
    let m = w
        .meter()
        .verify("verify-key-01", Units::new(3).unwrap(), ev())
        .unwrap();
    assert_eq!(m.usage.daily_used, 3);
    let err = w
        .meter()
        .verify("verify-key-01", Units::ONE, ev())
        .unwrap_err();
    assert!(matches!(
        err,
        tally_domain::services::VerifyError::Limit {
            exceeded: LimitExceeded::Daily,
            retry_after: Some(30),
            ..
        }
    ));
    assert_eq!(w.auth_kinds(&k), vec![AuthEventKind::DailyLimitExceeded]);
    w.clock.set(datetime!(2026-03-11 0:00 UTC));
    assert!(w.meter().verify("verify-key-01", Units::ONE, ev()).is_ok());
    assert!(matches!(
        w.meter().verify("nope-nope-nope", Units::ONE, ev()),
        Err(tally_domain::services::VerifyError::Key(
            KeyRejection::UnknownKey
        ))
    ));
}

#[test]
fn captions_are_metered_per_caption_and_pushed() {
    let w = World::new();
    let k = w.key(
        "caption-key-1",
        Limits {
            daily: None,
            lifetime: Some(5),
        },
    );
    let s = w.open("caption-key-1", "a.example").unwrap().session;
    let (events, _sub) = w.listen(&s.id);
    let m = w
        .meter()
        .meter_captions(&token(&s, k.id), s.started_at, 5)
        .unwrap();
    assert_eq!((m.usage.lifetime_used, m.sequence), (5, Some(1)));
    assert!(w
        .meter()
        .meter_captions(&token(&s, k.id), s.started_at, 1)
        .is_err());
    // A session without targets delivers to itself: the meter recorded the batch as
    // delivered, and the delivery worker only announces it.
    w.sessions().announce_delivery(
        &s,
        "req-1",
        1,
        &DeliveryOutcome::Delivered { batch_size: 5 },
        &DeliveryReceipt::default(),
    );
    let failed = DeliveryOutcome::Failed {
        batch_size: 1,
        error: "HTTP 403".into(),
        status_code: Some(403),
    };
    w.sessions()
        .report_delivery(&s, "req-2", 2, failed, &DeliveryReceipt::default())
        .unwrap();
    assert_eq!(
        events.names(),
        vec!["usage", "caption_result", "caption_error"]
    );
    assert_eq!(
        w.auth_kinds(&k),
        vec![
            AuthEventKind::LifetimeLimitExceeded,
            AuthEventKind::SessionStart
        ]
    );
    let sess = w
        .ports
        .stores
        .sessions
        .get_session(&s.reference())
        .unwrap()
        .unwrap();
    assert_eq!((sess.captions_sent, sess.captions_failed), (5, 1));
}

#[test]
fn erasing_a_user_erases_all_their_keys() {
    let w = World::new();
    let org = create_org(&w.ports.stores, "org_acme");
    let user = create_user(&w.ports.stores, 1, "alice", &org.id);
    let mut mine = create(Some("user-key-0001"), Limits::default());
    mine.user_id = Some(user.id);
    mine.org_id = org.id.clone();
    let a = w.keys().issue(mine.clone()).unwrap().key;
    mine.secret = Some("user-key-0002".into());
    let b = w.keys().issue(mine).unwrap().key;
    let other = w.key("other-key-001", Limits::default());
    let out = ErasureService::new(w.ports.clone())
        .erase_user(user.id)
        .unwrap()
        .unwrap();
    assert_eq!(
        out.receipts.iter().map(|r| r.key_id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert!(w
        .ports
        .stores
        .keys
        .get_key(other.id)
        .unwrap()
        .unwrap()
        .erased_at
        .is_none());
    assert!(ErasureService::new(w.ports.clone())
        .erase_user(UserId(uuid(77)))
        .unwrap()
        .is_none());
}

#[test]
fn ingestion_validates_the_whole_batch_first() {
    let w = World::new();
    let good = NewUsageEvent::new(OrgId::default_org(), EventKind::Usage, T0);
    let mut bad = good.clone();
    bad.method = Some("get".into());
    let svc = UsageService::new(w.ports.clone());
    let err = svc.ingest(vec![good.clone(), bad]).unwrap_err();
    assert!(
        matches!(err, IngestError::Invalid { index: 1, .. }),
        "{err:?}"
    );
    assert_eq!(
        svc.logs(&tally_domain::usage::LogQuery::new(10).unwrap())
            .unwrap()
            .total,
        0
    );
    assert_eq!(svc.ingest(vec![]).unwrap_err(), IngestError::BatchSize);
    assert_eq!(
        svc.ingest(vec![good.clone(); 1_001]).unwrap_err(),
        IngestError::BatchSize
    );
    assert_eq!(svc.ingest(vec![good; 2]).unwrap().len(), 2);
}

#[test]
fn secrets_are_never_stored_raw() {
    let w = World::new();
    let k = w.key("raw-secret-01", Limits::default());
    assert_eq!(k.secret_hash, KeySecret::presented("raw-secret-01").hash());
    assert!(!format!("{k:?}").contains("raw-secret-01"));
}
