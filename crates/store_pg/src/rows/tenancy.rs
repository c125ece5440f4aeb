//! Organisations and users.

use diesel::prelude::*;
use tally_domain::tenancy::{Email, Org, Role, User, UserId, Username};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::convert::{from_db, micros, org_id};
use crate::error::{corrupt, Fail};
use crate::schema::{orgs, users};

/// A row of `orgs`.
#[derive(Debug, Queryable, Selectable, Insertable)]
#[diesel(table_name = orgs, check_for_backend(diesel::pg::Pg))]
pub(crate) struct OrgRow {
    pub id: String,
    pub name: String,
    pub created_at: OffsetDateTime,
}

impl From<&Org> for OrgRow {
    fn from(o: &Org) -> Self {
        Self {
            id: o.id.as_str().to_owned(),
            name: o.name.clone(),
            created_at: micros(o.created_at),
        }
    }
}

impl OrgRow {
    pub(crate) fn into_domain(self) -> Result<Org, Fail> {
        Ok(Org {
            id: org_id(&self.id)?,
            name: self.name,
            created_at: self.created_at,
        })
    }
}

/// A row of `users` as stored (with its number).
#[derive(Debug, Queryable, Selectable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct UserRow {
    pub id: Uuid,
    pub org_id: String,
    pub username: String,
    pub email: Option<String>,
    pub role: String,
    pub created_at: OffsetDateTime,
    pub erased_at: Option<OffsetDateTime>,
    pub number: i64,
}

/// A row of `users` to insert: the database assigns its number.
#[derive(Debug, Insertable)]
#[diesel(table_name = users, check_for_backend(diesel::pg::Pg))]
pub(crate) struct NewUserRow {
    pub id: Uuid,
    pub org_id: String,
    pub username: String,
    pub email: Option<String>,
    pub role: String,
    pub created_at: OffsetDateTime,
    pub erased_at: Option<OffsetDateTime>,
}

impl From<&User> for NewUserRow {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.0,
            org_id: u.org_id.as_str().to_owned(),
            username: u.username.as_str().to_owned(),
            email: u.email.as_ref().map(|e| e.as_str().to_owned()),
            role: u.role.as_str().to_owned(),
            created_at: micros(u.created_at),
            erased_at: u.erased_at.map(micros),
        }
    }
}

impl UserRow {
    pub(crate) fn into_domain(self) -> Result<User, Fail> {
        Ok(User {
            id: UserId(self.id),
            org_id: org_id(&self.org_id)?,
            username: Username::parse(&self.username).map_err(|e| corrupt("username", e))?,
            email: self
                .email
                .map(|e| Email::parse(&e).map_err(|err| corrupt("user email", err)))
                .transpose()?,
            role: Role::parse(&self.role).map_err(|e| corrupt("role", e))?,
            created_at: self.created_at,
            erased_at: self.erased_at,
            number: from_db(self.number, "user number")?,
        })
    }
}
