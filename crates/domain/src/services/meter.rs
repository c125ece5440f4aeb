//! The metered hot path: verify a key and count usage, exactly.

use uuid::Uuid;

use super::Ports;
use crate::key::{ApiKey, KeyRejection, KeySecret};
use crate::limits::{seconds_until_daily_reset, KeyUsage, LimitExceeded, Limits, Units};
use crate::live::LiveEvent;
use crate::ports::{KeyRef, MeterError, MeterRequest, Metered, StoreError};
use crate::session::Session;
use crate::tenancy::InvalidValue;
use crate::usage::{EventKind, NewUsageEvent};

/// Why a metered request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// Bad input (the message names it).
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The key is unknown, revoked, erased or expired.
    #[error("key rejected: {0:?}")]
    Key(KeyRejection),
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
        mut event: NewUsageEvent,
    ) -> Result<Metered, VerifyError> {
        event.validate()?;
        let now = self.ports.clock.now();
        event.occurred_at = now;
        let request = MeterRequest {
            event_id: self.ports.ids.uuid(),
            key: KeyRef::Secret(KeySecret::presented(secret).hash()),
            units,
            event,
            session: None,
            delivered: false,
            now,
        };
        self.meter(request)
    }

    /// Meters a caption batch of `count` captions for an authorised session and pushes the
    /// key's counters to the session's subscribers. A session without targets publishes to
    /// its own subscribers, which cannot fail: its batch is recorded as delivered in the
    /// meter's own transaction (the caller then only announces it, see
    /// [`super::SessionService::announce_delivery`]).
    ///
    /// # Errors
    /// [`VerifyError`]. A limit refusal writes an auth event with the session's domain.
    pub fn meter_captions(
        &self,
        session: &Session,
        key: &ApiKey,
        count: u64,
    ) -> Result<Metered, VerifyError> {
        let units = Units::new(i64::try_from(count).unwrap_or(i64::MAX))?;
        let mut event = NewUsageEvent::new(
            key.org_id.clone(),
            EventKind::Caption,
            self.ports.clock.now(),
        );
        event.units = count;
        event.domain = Some(session.domain.clone());
        event.session_id = Some(session.id.clone());
        let metered = self.meter(MeterRequest {
            event_id: self.ports.ids.uuid(),
            key: KeyRef::Id(key.id),
            units,
            event,
            session: Some(session.id.clone()),
            delivered: session.delivers_to_itself(),
            now: self.ports.clock.now(),
        })?;
        self.ports.publish(
            &session.id,
            LiveEvent::Usage {
                lifetime_used: metered.usage.lifetime_used,
                daily_used: metered.usage.daily_used,
                daily_limit: metered.limits.daily,
                lifetime_limit: metered.limits.lifetime,
            },
        );
        Ok(metered)
    }

    /// Runs a meter; the store records a limit refusal's auth event in the meter itself.
    fn meter(&self, request: MeterRequest) -> Result<Metered, VerifyError> {
        let now = request.now;
        match self.ports.stores.usage.meter(request) {
            Ok(m) => Ok(m),
            Err(MeterError::Key(k)) => Err(VerifyError::Key(k)),
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

    /// A fresh id for a request (e.g. the `requestId` of `/captions`).
    #[must_use]
    pub fn request_id(&self) -> Uuid {
        self.ports.ids.uuid()
    }
}
