//! Opening, authorising, changing and ending sessions; the mic lock; delivery reports.

use time::{Duration, OffsetDateTime};

use super::Ports;
use crate::audit::{AuthEvent, AuthEventKind};
use crate::key::{ApiKey, KeyId, KeyRejection, KeySecret};
use crate::live::LiveEvent;
use crate::mic::{ClientId, MicAction};
use crate::origin::{AllowedDomains, Domain};
use crate::ports::{DeliveryReport, StoreError};
use crate::session::{
    initial_sequence, DeliveryOutcome, DeliveryReceipt, EndReason, OpenSession, Session, SessionId,
    SessionPatch, SessionRecord, SessionRef, Target, MAX_TARGETS,
};
use crate::tenancy::{InvalidValue, OrgId};

/// Session rules that come from configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionSettings {
    /// Which sites may open sessions.
    pub allowed_domains: AllowedDomains,
    /// Idle time after which a session is ended (also the token lifetime).
    pub idle_ttl: Duration,
}

/// `POST /live` as the domain sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenRequest {
    /// The presented key secret.
    pub secret: String,
    /// The site, as sent.
    pub domain: String,
    /// Optional stream key.
    pub stream_key: Option<String>,
    /// Explicit starting sequence.
    pub sequence: Option<u64>,
    /// Targets (validated); `None` keeps a joined session's.
    pub targets: Option<Vec<Target>>,
}

/// A session that was opened or joined.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The session.
    pub session: Session,
    /// Its key.
    pub key: ApiKey,
    /// Whether it was created now.
    pub created: bool,
}

/// Why a session could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenSessionError {
    /// Bad input (the message names it).
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The site is not on the allowlist.
    #[error("Domain not allowed")]
    DomainNotAllowed,
    /// The key cannot be used.
    #[error("API key {}", .0.lcyt_reason())]
    Key(KeyRejection),
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a session token is no longer honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthorizeSessionError {
    /// The session has ended.
    #[error("Session not found")]
    SessionEnded,
    /// Its key was revoked, erased, expired or deleted.
    #[error("API key {}", .0.lcyt_reason())]
    Key(KeyRejection),
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The session a verified session token names, as the token says it.
///
/// With the organisation, every read a session request makes (its key, its session) is
/// named by organisation and id, so each reaches one shard of a schema distributed by
/// organisation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenSession {
    /// The session's organisation; `None` for a token issued before tokens carried it.
    pub org: Option<OrgId>,
    /// The session id.
    pub id: SessionId,
    /// The key that opened it.
    pub key_id: KeyId,
}

/// Session use cases.
#[derive(Debug, Clone)]
pub struct SessionService {
    ports: Ports,
    settings: SessionSettings,
}

impl SessionService {
    /// A service over `ports` with `settings`.
    #[must_use]
    pub fn new(ports: Ports, settings: SessionSettings) -> Self {
        Self { ports, settings }
    }

    /// The settings.
    #[must_use]
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    fn audit(
        &self,
        key: Option<&ApiKey>,
        kind: AuthEventKind,
        domain: Option<Domain>,
    ) -> Result<(), StoreError> {
        self.ports.stores.keys.record_auth_event(AuthEvent {
            key_id: key.map(|k| k.id),
            org_id: key.map_or_else(OrgId::default_org, |k| k.org_id.clone()),
            kind,
            domain,
            occurred_at: self.ports.clock.now(),
        })
    }

    /// Opens or joins the session of (key, stream key, domain). Checks, in order: the domain
    /// is valid and allowed, the key exists and is usable. Every refusal and every success
    /// writes an auth event.
    ///
    /// # Errors
    /// [`OpenSessionError`].
    pub fn open(&self, req: OpenRequest) -> Result<Opened, OpenSessionError> {
        let domain = Domain::parse(&req.domain)?;
        if req.targets.as_ref().is_some_and(|t| t.len() > MAX_TARGETS) {
            return Err(InvalidValue(format!("at most {MAX_TARGETS} targets")).into());
        }
        let secret = KeySecret::presented(&req.secret);
        let key = self.ports.stores.keys.find_key(&secret.hash())?;
        if !self.settings.allowed_domains.allows(&domain) {
            self.audit(key.as_ref(), AuthEventKind::DomainNotAllowed, Some(domain))?;
            return Err(OpenSessionError::DomainNotAllowed);
        }
        let Some(key) = key else {
            self.audit(None, AuthEventKind::UnknownKey, Some(domain))?;
            return Err(OpenSessionError::Key(KeyRejection::UnknownKey));
        };
        let now = self.ports.clock.now();
        if let Err(rejection) = key.check_usable(now) {
            self.audit(Some(&key), rejection.into(), Some(domain))?;
            return Err(OpenSessionError::Key(rejection));
        }
        let spec = OpenSession {
            id: SessionId::derive(&secret, req.stream_key.as_deref(), &domain),
            key_id: key.id,
            org_id: key.org_id.clone(),
            domain: domain.clone(),
            stream_key: req.stream_key,
            sequence: initial_sequence(req.sequence, key.sequence, key.last_caption_at, now),
            targets: req.targets,
            now,
        };
        let opened = self.ports.stores.sessions.open_session(spec)?;
        self.audit(Some(&key), AuthEventKind::SessionStart, Some(domain))?;
        Ok(Opened {
            session: opened.session,
            key,
            created: opened.created,
        })
    }

    /// Checks that a (verified) session token is still honoured — its session is open, in the
    /// lifetime the token was issued for (`started_at`, when the token says), and its key
    /// neither revoked, erased, expired nor deleted — and records the activity.
    ///
    /// # Errors
    /// [`AuthorizeSessionError`]; a token of an earlier lifetime of a session that was ended
    /// and opened again is [`AuthorizeSessionError::SessionEnded`].
    pub fn authorize_lifetime(
        &self,
        token: &TokenSession,
        started_at: OffsetDateTime,
    ) -> Result<(Session, ApiKey), AuthorizeSessionError> {
        let (session, key) = self.authorize(token)?;
        if !session.in_lifetime(started_at) {
            return Err(AuthorizeSessionError::SessionEnded);
        }
        Ok((session, key))
    }

    /// [`Self::authorize_lifetime`] without the lifetime check.
    ///
    /// # Errors
    /// [`AuthorizeSessionError`].
    pub fn authorize(
        &self,
        token: &TokenSession,
    ) -> Result<(Session, ApiKey), AuthorizeSessionError> {
        let keys = &self.ports.stores.keys;
        let key = match &token.org {
            Some(org) => keys.get_key_in(org, token.key_id)?,
            // A token issued before tokens named the organisation: the key is read by id
            // alone — the one lookup of the session routes that a distributed schema cannot
            // route to one shard. It disappears once such tokens have expired (they live at
            // most the session TTL after the upgrade).
            None => keys.get_key(token.key_id)?,
        }
        .ok_or(AuthorizeSessionError::Key(KeyRejection::UnknownKey))?;
        let now = self.ports.clock.now();
        // The same rule as everywhere a key is used: erased, revoked or expired keys end
        // their sessions' tokens too.
        key.check_usable(now).map_err(AuthorizeSessionError::Key)?;
        // A session belongs to its key's organisation.
        let session = SessionRef::new(key.org_id.clone(), token.id.clone());
        let session = self
            .ports
            .stores
            .sessions
            .touch_session(&session, now)?
            .ok_or(AuthorizeSessionError::SessionEnded)?;
        if session.key_id != token.key_id {
            return Err(AuthorizeSessionError::SessionEnded);
        }
        Ok((session, key))
    }

    /// Applies a validated patch.
    ///
    /// # Errors
    /// Too many targets; store.
    pub fn update(
        &self,
        session: &SessionRef,
        patch: &SessionPatch,
    ) -> Result<Option<Session>, OpenSessionError> {
        if patch
            .targets
            .as_ref()
            .is_some_and(|t| t.len() > MAX_TARGETS)
        {
            return Err(InvalidValue(format!("at most {MAX_TARGETS} targets")).into());
        }
        Ok(self
            .ports
            .stores
            .sessions
            .update_session(session, patch, self.ports.clock.now())?)
    }

    /// Ends a session once and tells its subscribers.
    ///
    /// # Errors
    /// Store.
    pub fn end(
        &self,
        session: &SessionRef,
        reason: EndReason,
    ) -> Result<Option<SessionRecord>, StoreError> {
        let record =
            self.ports
                .stores
                .sessions
                .end_session(session, reason, self.ports.clock.now())?;
        if record.is_some() {
            self.ports
                .publish(session.id(), LiveEvent::SessionClosed {});
        }
        Ok(record)
    }

    /// Ends every session idle for at least the TTL (`endedBy: ttl`); returns those ended.
    ///
    /// # Errors
    /// Store.
    pub fn sweep(&self) -> Result<Vec<SessionRef>, StoreError> {
        let cutoff = self.ports.clock.now() - self.settings.idle_ttl;
        let mut ended = Vec::new();
        for session in self.ports.stores.sessions.idle_sessions(cutoff)? {
            if self.end(&session, EndReason::Ttl)?.is_some() {
                ended.push(session);
            }
        }
        Ok(ended)
    }

    /// Applies a mic action and tells every subscriber the holder (also after a no-op).
    /// `None` when the session is not open.
    ///
    /// # Errors
    /// Store.
    pub fn mic(
        &self,
        session: &SessionRef,
        action: MicAction,
        client: &ClientId,
    ) -> Result<Option<Option<ClientId>>, StoreError> {
        let holder = self.ports.stores.sessions.apply_mic(
            session,
            action,
            client,
            self.ports.clock.now(),
        )?;
        if let Some(h) = &holder {
            self.ports
                .publish(session.id(), LiveEvent::MicState { holder: h.clone() });
        }
        Ok(holder)
    }

    /// Records how a caption batch fared and tells the session's subscribers.
    ///
    /// # Errors
    /// Store.
    pub fn report_delivery(
        &self,
        session: &Session,
        request_id: &str,
        sequence: u64,
        outcome: DeliveryOutcome,
        receipt: &DeliveryReceipt,
    ) -> Result<(), StoreError> {
        self.ports.stores.sessions.record_delivery(DeliveryReport {
            session_id: session.id.clone(),
            key_id: session.key_id,
            org_id: session.org_id.clone(),
            domain: session.domain.clone(),
            outcome: outcome.clone(),
            at: self.ports.clock.now(),
        })?;
        self.announce_delivery(session, request_id, sequence, &outcome, receipt);
        Ok(())
    }

    /// Tells the session's subscribers how a caption batch fared (`caption_result` or
    /// `caption_error`), without recording it: for a batch already recorded with its meter.
    pub fn announce_delivery(
        &self,
        session: &Session,
        request_id: &str,
        sequence: u64,
        outcome: &DeliveryOutcome,
        receipt: &DeliveryReceipt,
    ) {
        let event = match outcome {
            DeliveryOutcome::Delivered { batch_size } => LiveEvent::CaptionResult {
                request_id: request_id.to_owned(),
                sequence,
                count: *batch_size,
                status_code: receipt.status_code.unwrap_or(200),
                server_timestamp: receipt.server_timestamp.clone(),
            },
            DeliveryOutcome::Failed {
                error, status_code, ..
            } => LiveEvent::CaptionError {
                request_id: request_id.to_owned(),
                error: error.clone(),
                status_code: status_code.unwrap_or(502),
                sequence,
            },
        };
        self.ports.publish(&session.id, event);
    }
}
