//! Erasing a person's data (GDPR).

use super::Ports;
use crate::erasure::ErasureOutcome;
use crate::key::KeyId;
use crate::live::LiveEvent;
use crate::ports::StoreError;
use crate::tenancy::UserId;

/// Erasure use cases.
#[derive(Debug, Clone)]
pub struct ErasureService {
    ports: Ports,
}

impl ErasureService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Erases one key (idempotent) and tells the subscribers of the sessions it closed.
    ///
    /// # Errors
    /// Store; nothing changes then.
    pub fn erase_key(&self, id: KeyId) -> Result<ErasureOutcome, StoreError> {
        self.erase(&[id])
    }

    /// Erases a user and every key bound to them, in one transaction; their tokens die.
    /// `None` when there is no such user.
    ///
    /// # Errors
    /// Store; nothing changes then.
    pub fn erase_user(&self, user: UserId) -> Result<Option<ErasureOutcome>, StoreError> {
        let outcome = self
            .ports
            .stores
            .usage
            .erase_user(user, self.ports.clock.now())?;
        for session in outcome.iter().flat_map(|o| &o.closed_sessions) {
            self.ports.publish(session, LiveEvent::SessionClosed {});
        }
        Ok(outcome)
    }

    fn erase(&self, ids: &[KeyId]) -> Result<ErasureOutcome, StoreError> {
        let outcome = self
            .ports
            .stores
            .usage
            .erase_keys(ids, self.ports.clock.now())?;
        for session in &outcome.closed_sessions {
            self.ports.publish(session, LiveEvent::SessionClosed {});
        }
        Ok(outcome)
    }
}
