//! The soft mic lock: advisory, one holder per session.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::tenancy::InvalidValue;

/// A client's id within a session: 1-128 characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id.
    ///
    /// # Errors
    /// Empty or longer than 128 characters (`clientId required`).
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        if s.is_empty() || s.chars().count() > 128 {
            Err(InvalidValue::new("clientId required"))
        } else {
            Ok(Self(s.to_owned()))
        }
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a client does with the lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MicAction {
    /// Take it, overwriting any holder.
    Claim,
    /// Give it up (only the holder can).
    Release,
}

impl MicAction {
    /// Parses the wire form.
    ///
    /// # Errors
    /// Anything but `claim` or `release`.
    pub fn parse(s: &str) -> Result<Self, InvalidValue> {
        match s {
            "claim" => Ok(Self::Claim),
            "release" => Ok(Self::Release),
            _ => Err(InvalidValue::new("action must be claim or release")),
        }
    }
}

/// The holder after `client` performs `action`: a claim always takes the lock; a release
/// clears it only when `client` holds it and is otherwise a no-op.
#[must_use]
pub fn next_holder(
    holder: Option<ClientId>,
    action: MicAction,
    client: &ClientId,
) -> Option<ClientId> {
    match action {
        MicAction::Claim => Some(client.clone()),
        MicAction::Release if holder.as_ref() == Some(client) => None,
        MicAction::Release => holder,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(s: &str) -> ClientId {
        ClientId::parse(s).unwrap()
    }

    #[test]
    fn claim_overwrites() {
        assert_eq!(next_holder(None, MicAction::Claim, &c("a")), Some(c("a")));
        assert_eq!(
            next_holder(Some(c("a")), MicAction::Claim, &c("b")),
            Some(c("b"))
        );
    }

    #[test]
    fn release_by_holder_clears_and_by_others_is_a_no_op() {
        assert_eq!(next_holder(Some(c("a")), MicAction::Release, &c("a")), None);
        assert_eq!(
            next_holder(Some(c("a")), MicAction::Release, &c("b")),
            Some(c("a"))
        );
        assert_eq!(next_holder(None, MicAction::Release, &c("b")), None);
    }

    #[test]
    fn validation() {
        assert!(ClientId::parse("").is_err());
        assert!(ClientId::parse(&"x".repeat(128)).is_ok());
        assert!(ClientId::parse(&"x".repeat(129)).is_err());
        assert!(MicAction::parse("grab").is_err());
    }
}
