//! How a session is named wherever it is looked up, touched, changed or ended: by its
//! organisation and its id.
//!
//! Sessions are keyed `(org_id, id)` so the schema can be distributed by organisation (see
//! docs/SCALING.md): naming the organisation with the id is what lets a store route every
//! statement on a session to one shard. Two organisations may even hold the same session id;
//! each sees only its own.

use std::fmt;

use crate::session::SessionId;
use crate::tenancy::OrgId;

/// One session of one organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionRef {
    org: OrgId,
    id: SessionId,
}

impl SessionRef {
    /// The session `id` of organisation `org`.
    #[must_use]
    pub fn new(org: OrgId, id: SessionId) -> Self {
        Self { org, id }
    }

    /// The organisation.
    #[must_use]
    pub fn org(&self) -> &OrgId {
        &self.org
    }

    /// The session id (unique within the organisation).
    #[must_use]
    pub fn id(&self) -> &SessionId {
        &self.id
    }
}

impl fmt::Display for SessionRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.org.as_str(), self.id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_id_in_two_orgs_names_two_sessions() {
        let id = SessionId::parse("0123456789abcdef").unwrap();
        let a = SessionRef::new(OrgId::default_org(), id.clone());
        let b = SessionRef::new(OrgId::parse("org_other").unwrap(), id.clone());
        assert_ne!(a, b);
        assert_eq!((a.id(), b.id()), (&id, &id));
        assert_eq!(a.to_string(), "org_default/0123456789abcdef");
    }
}
