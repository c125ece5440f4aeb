//! Issuing, finding, revoking and deleting API keys.

use time::{Date, Month, OffsetDateTime};

use super::Ports;
use crate::key::{ApiKey, KeyId, KeyPatch, KeySecret, NewApiKey};
use crate::limits::Limits;
use crate::live::LiveEvent;
use crate::ports::{CreateKeyError, StoreError};
use crate::session::EndReason;
use crate::tenancy::{parse_name, Email, InvalidValue, OrgId, UserId};

/// Limits of a self-service free-tier key: 200 per day, 1,000 in all.
pub const FREE_TIER_LIMITS: Limits = Limits {
    daily: Some(200),
    lifetime: Some(1_000),
};

/// What an admin asks for when creating a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateKey {
    /// A custom secret; a `tk_…` secret is generated when absent.
    pub secret: Option<String>,
    /// Owner (free text, required).
    pub owner: String,
    /// Display name.
    pub name: Option<String>,
    /// Contact address.
    pub email: Option<Email>,
    /// Bound user.
    pub user_id: Option<UserId>,
    /// Organisation.
    pub org_id: OrgId,
    /// Expiry instant.
    pub expires_at: Option<OffsetDateTime>,
    /// Limits.
    pub limits: Limits,
    /// Refuse when the e-mail is already known (atomically; see `NewApiKey`).
    pub email_must_be_new: bool,
}

/// A new key and its secret, which is shown this once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuedKey {
    /// The stored key.
    pub key: ApiKey,
    /// The raw secret.
    pub secret: KeySecret,
}

/// Why a key could not be issued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssueKeyError {
    /// A field is invalid (the message names it).
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The custom secret is taken.
    #[error("a key with this secret already exists")]
    Duplicate,
    /// The organisation does not exist.
    #[error("unknown organisation")]
    UnknownOrg,
    /// Free tier: a key was already issued for this e-mail (erased keys included).
    #[error("A key already exists for this email")]
    EmailKnown,
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<CreateKeyError> for IssueKeyError {
    fn from(e: CreateKeyError) -> Self {
        match e {
            CreateKeyError::DuplicateSecret => Self::Duplicate,
            CreateKeyError::UnknownOrg => Self::UnknownOrg,
            CreateKeyError::EmailKnown => Self::EmailKnown,
            CreateKeyError::Store(s) => Self::Store(s),
        }
    }
}

/// Why a key could not be changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpdateKeyError {
    /// A field is invalid (the message names it).
    #[error("{0}")]
    Invalid(#[from] InvalidValue),
    /// The key was erased: it keeps nothing that could be changed.
    #[error("API key is erased")]
    Erased,
    /// Backend failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Key management use cases.
#[derive(Debug, Clone)]
pub struct KeyService {
    ports: Ports,
}

impl KeyService {
    /// A service over `ports`.
    #[must_use]
    pub fn new(ports: Ports) -> Self {
        Self { ports }
    }

    /// Issues a key.
    ///
    /// # Errors
    /// Invalid owner, name or custom secret; duplicate secret; unknown organisation; store.
    pub fn issue(&self, req: CreateKey) -> Result<IssuedKey, IssueKeyError> {
        let secret = match &req.secret {
            Some(custom) => KeySecret::custom(custom)?,
            None => KeySecret::generate(self.ports.ids.as_ref()),
        };
        let new = NewApiKey {
            secret: secret.clone(),
            name: req
                .name
                .as_deref()
                .map(|n| parse_name("name", n))
                .transpose()?,
            owner: parse_name("owner", &req.owner)?,
            email: req.email,
            user_id: req.user_id,
            org_id: req.org_id,
            created_at: self.ports.clock.now(),
            expires_at: req.expires_at,
            limits: req.limits,
            email_must_be_new: req.email_must_be_new,
        };
        let key = self.ports.stores.keys.create_key(new)?;
        Ok(IssuedKey { key, secret })
    }

    /// Issues a self-service free-tier key: [`FREE_TIER_LIMITS`], expiring one calendar month
    /// from now, refused for an e-mail that any key ever had.
    ///
    /// # Errors
    /// Invalid name or e-mail; [`IssueKeyError::EmailKnown`]; store.
    pub fn issue_free_tier(&self, name: &str, email: &str) -> Result<IssuedKey, IssueKeyError> {
        let name = parse_name("name", name).map_err(|_| InvalidValue("name is required".into()))?;
        let email = Email::parse(email)?;
        let now = self.ports.clock.now();
        self.issue(CreateKey {
            secret: None,
            owner: name,
            name: None,
            email: Some(email),
            user_id: None,
            org_id: OrgId::default_org(),
            expires_at: Some(add_one_month(now)),
            limits: FREE_TIER_LIMITS,
            email_must_be_new: true,
        })
    }

    /// The key a presented secret belongs to (whatever its state).
    ///
    /// # Errors
    /// Store.
    pub fn find(&self, secret: &str) -> Result<Option<ApiKey>, StoreError> {
        self.ports
            .stores
            .keys
            .find_key(&KeySecret::presented(secret).hash())
    }

    /// Changes a key: owner and name are validated like on creation; an erased key cannot be
    /// changed (it would get personal data back). Counters are never touched. `None` when
    /// there is no such key.
    ///
    /// # Errors
    /// [`UpdateKeyError`].
    pub fn update(&self, id: KeyId, mut patch: KeyPatch) -> Result<Option<ApiKey>, UpdateKeyError> {
        patch.owner = patch
            .owner
            .as_deref()
            .map(|o| parse_name("owner", o))
            .transpose()?;
        patch.name = patch
            .name
            .map(|n| n.as_deref().map(|n| parse_name("name", n)).transpose())
            .transpose()?;
        let keys = &self.ports.stores.keys;
        match keys.get_key(id)? {
            None => Ok(None),
            Some(k) if k.erased_at.is_some() => Err(UpdateKeyError::Erased),
            Some(_) => Ok(keys.update_key(id, &patch)?),
        }
    }

    /// Revokes a key and ends its open sessions (`endedBy: revoked`), telling their
    /// subscribers.
    ///
    /// # Errors
    /// Store.
    pub fn revoke(&self, id: KeyId) -> Result<Option<ApiKey>, StoreError> {
        let now = self.ports.clock.now();
        let Some(key) = self.ports.stores.keys.revoke_key(id, now)? else {
            return Ok(None);
        };
        for session in self.ports.stores.sessions.list_open_sessions(Some(id))? {
            if self
                .ports
                .stores
                .sessions
                .end_session(&session.reference(), EndReason::Revoked, now)?
                .is_some()
            {
                self.ports.publish(&session.id, LiveEvent::SessionClosed {});
            }
        }
        Ok(Some(key))
    }

    /// Hard-deletes a key with everything keyed to it; tells its sessions' subscribers.
    ///
    /// # Errors
    /// Store.
    pub fn delete(&self, id: KeyId) -> Result<bool, StoreError> {
        let Some(closed) = self.ports.stores.keys.delete_key(id)? else {
            return Ok(false);
        };
        for session in closed {
            self.ports.publish(&session, LiveEvent::SessionClosed {});
        }
        Ok(true)
    }
}

/// The same instant one calendar month later, on the last day of the month when the day does
/// not exist (31 January → 28 or 29 February).
#[must_use]
pub fn add_one_month(t: OffsetDateTime) -> OffsetDateTime {
    let (y, m) = match t.month() {
        Month::December => (t.year() + 1, Month::January),
        m => (t.year(), m.next()),
    };
    let last = m.length(y);
    let day = t.day().min(last);
    Date::from_calendar_date(y, m, day).map_or(t, |d| t.replace_date(d))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn one_month_later_clamps_to_month_end() {
        assert_eq!(
            add_one_month(datetime!(2026-01-31 10:00 UTC)),
            datetime!(2026-02-28 10:00 UTC)
        );
        assert_eq!(
            add_one_month(datetime!(2028-01-31 10:00 UTC)),
            datetime!(2028-02-29 10:00 UTC)
        );
        assert_eq!(
            add_one_month(datetime!(2026-12-15 0:00 UTC)),
            datetime!(2027-01-15 0:00 UTC)
        );
    }
}
