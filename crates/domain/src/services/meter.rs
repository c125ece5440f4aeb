//! The metered hot path: verify a key and count usage, exactly.

use uuid::Uuid;

use super::Ports;
use crate::key::{KeyRejection, KeySecret};
use crate::limits::{seconds_until_daily_reset, KeyUsage, LimitExceeded, Limits, Units};
use crate::live::LiveEvent;
use crate::ports::{KeyRef, MeterError, MeterRequest, Metered, StoreError};

/// Where the `…_then` use cases of [`MeterService`] send their answer.
pub type VerifyDone = Box<dyn FnOnce(Result<Metered, VerifyError>) + Send>;
use super::sessions::TokenSession;
use crate::session::SessionId;
use crate::tenancy::{InvalidValue, OrgId};
use crate::usage::{EventKind, NewUsageEvent};
use time::OffsetDateTime;

/// Why a metered request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Bad input (the message names it).
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The key is unknown, revoked, erased or expired.
    #[error("key rejected: {0:?}")]
    Key(KeyRejection),
    /// The session is not open (or is another key's); nothing was counted.
    #[error("session has ended")]
    SessionEnded,
    /// A limit would be crossed; nothing was counted.
    #[error("{exceeded}")]
    Limit {
        /// Which limit.
        exceeded: LimitExceeded,
        /// Counters (unchanged).
        usage: KeyUsage,
        /// Limits.
        limits: Limits,
        /// Seconds until the daily counter resets (daily limit only).
        retry_after: Option<u64>,
    },
    /// Backend failure; nothing was counted.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Metering use cases.
#[derive(Debug, Clone)]
pub struct MeterService {
    ports: Ports,
}

impl MeterService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Verifies a presented key and meters `units` with `event` (its key, user and org are
    /// taken from the key), atomically.
    ///
    /// # Errors
    /// [`VerifyError`]. A limit refusal writes an auth event (in the meter).
    pub fn verify(
        &self,
        secret: &str,
        units: Units,
        event: NewUsageEvent,
    ) -> Result<Metered, VerifyError> {
        let request = self.verify_request(secret, units, event)?;
        self.meter(request)
    }

    /// [`MeterService::verify`], answered through `done` (exactly once, possibly on another
    /// thread after this call returns; see [`crate::ports::UsageStore::meter_then`]), so an
    /// async caller does not hold a thread while the meter's batch commits.
    pub fn verify_then(&self, secret: &str, units: Units, event: NewUsageEvent, done: VerifyDone) {
        match self.verify_request(secret, units, event) {
            Ok(request) => self.meter_then(request, done),
            Err(e) => done(Err(e)),
        }
    }

    fn verify_request(
        &self,
        secret: &str,
        units: Units,
        mut event: NewUsageEvent,
    ) -> Result<MeterRequest, VerifyError> {
        event.validate()?;
        let now = self.ports.clock.now();
        event.occurred_at = now;
        Ok(MeterRequest {
            event_id: self.ports.ids.uuid(),
            key: KeyRef::Secret(KeySecret::presented(secret).hash()),
            units,
            event,
            session: None,
            session_lifetime: None,
            now,
        })
    }

    /// Meters a caption batch of `count` captions for the session `session` of key `key`,
    /// in the session lifetime that started at `lifetime` (all three from a verified session
    /// token) and pushes the key's counters to the session's
    /// subscribers. The store checks in the meter itself that the session is open and the
    /// key's ([`VerifyError::SessionEnded`] otherwise), so a caption request costs one store
    /// call; the answer carries the session. A session without targets publishes to its own
    /// subscribers, which cannot fail: its batch is recorded as delivered in the meter's own
    /// transaction (the caller then only announces it, see
    /// [`super::SessionService::announce_delivery`]).
    ///
    /// # Errors
    /// [`VerifyError`]. A limit refusal writes an auth event with the session's domain.
    pub fn meter_captions(
        &self,
        token: &TokenSession,
        lifetime: OffsetDateTime,
        count: u64,
    ) -> Result<Metered, VerifyError> {
        let metered = self.meter(self.captions_request(token, lifetime, count)?)?;
        publish_usage(&self.ports, &token.id, &metered);
        Ok(metered)
    }

    /// [`MeterService::meter_captions`], answered through `done` (see
    /// [`MeterService::verify_then`]); the counters are pushed before `done` runs.
    pub fn meter_captions_then(
        &self,
        token: &TokenSession,
        lifetime: OffsetDateTime,
        count: u64,
        done: VerifyDone,
    ) {
        let request = match self.captions_request(token, lifetime, count) {
            Ok(request) => request,
            Err(e) => return done(Err(e)),
        };
        let (ports, session) = (self.ports.clone(), token.id.clone());
        self.meter_then(
            request,
            Box::new(move |result| {
                if let Ok(metered) = &result {
                    publish_usage(&ports, &session, metered);
                }
                done(result);
            }),
        );
    }

    fn captions_request(
        &self,
        token: &TokenSession,
        lifetime: OffsetDateTime,
        count: u64,
    ) -> Result<MeterRequest, VerifyError> {
        let session = &token.id;
        let units = Units::new(i64::try_from(count).unwrap_or(i64::MAX))?;
        let now = self.ports.clock.now();
        // The store sets the organisation (and user) from the key and the domain from the
        // session.
        let mut event = NewUsageEvent::new(OrgId::default_org(), EventKind::Caption, now);
        event.units = count;
        event.session_id = Some(session.clone());
        Ok(MeterRequest {
            event_id: self.ports.ids.uuid(),
            // A token naming its organisation names the key's shard too.
            key: match &token.org {
                Some(org) => KeyRef::InOrg(org.clone(), token.key_id),
                None => KeyRef::Id(token.key_id),
            },
            units,
            event,
            session: Some(session.clone()),
            session_lifetime: Some(lifetime),
            now,
        })
    }

    /// Runs a meter; the store records a limit refusal's auth event in the meter itself.
    fn meter(&self, request: MeterRequest) -> Result<Metered, VerifyError> {
        let now = request.now;
        verify_result(self.ports.stores.usage.meter(request), now)
    }

    fn meter_then(&self, request: MeterRequest, done: VerifyDone) {
        let now = request.now;
        self.ports
            .stores
            .usage
            .meter_then(request, Box::new(move |r| done(verify_result(r, now))));
    }

    /// A fresh id for a request (e.g. the `requestId` of `/captions`).
    #[must_use]
    pub fn request_id(&self) -> Uuid {
        self.ports.ids.uuid()
    }
}

/// A meter's answer as the use case's.
fn verify_result(
    result: Result<Metered, MeterError>,
    now: OffsetDateTime,
) -> Result<Metered, VerifyError> {
    match result {
        Ok(m) => Ok(m),
        Err(MeterError::Key(k)) => Err(VerifyError::Key(k)),
        Err(MeterError::SessionEnded) => Err(VerifyError::SessionEnded),
        Err(MeterError::Store(s)) => Err(VerifyError::Store(s)),
        Err(MeterError::Limit {
            exceeded,
            usage,
            limits,
        }) => {
            let retry_after =
                (exceeded == LimitExceeded::Daily).then(|| seconds_until_daily_reset(now));
            Err(VerifyError::Limit {
                exceeded,
                usage,
                limits,
                retry_after,
            })
        }
    }
}

/// Pushes a key's counters after a caption meter to the session's subscribers.
fn publish_usage(ports: &Ports, session: &SessionId, metered: &Metered) {
    ports.publish(
        session,
        LiveEvent::Usage {
            lifetime_used: metered.usage.lifetime_used,
            daily_used: metered.usage.daily_used,
            daily_limit: metered.limits.daily,
            lifetime_limit: metered.limits.lifetime,
        },
    );
}
