//! `TenantStore`: organisations and users.

use diesel::prelude::*;
use tally_domain::ports::{CreateOrgError, CreateUserError, TenantStore};
use tally_domain::tenancy::{Org, OrgId, User, UserId, Username};
use tally_domain::StoreError;

use crate::error::{foreign_key_violation, unique_violation};
use crate::rows::tenancy::{NewUserRow, OrgRow, UserRow};
use crate::schema::{orgs, users};
use crate::PgStore;

impl TenantStore for PgStore {
    fn create_org(&self, org: Org) -> Result<Org, CreateOrgError> {
        let row = OrgRow::from(&org);
        self.try_tx(|c| {
            let stored: OrgRow = diesel::insert_into(orgs::table)
                .values(&row)
                .returning(OrgRow::as_returning())
                .get_result(c)?;
            stored.into_domain()
        })
        .map_err(|e| match unique_violation(&e) {
            Some(_) => CreateOrgError::Duplicate,
            None => CreateOrgError::Store(e.into_store()),
        })
    }

    fn get_org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        self.read(|c| {
            orgs::table
                .find(id.as_str())
                .select(OrgRow::as_select())
                .first(c)
                .optional()?
                .map(OrgRow::into_domain)
                .transpose()
        })
    }

    fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        self.read(|c| {
            orgs::table
                .order(orgs::id.asc())
                .select(OrgRow::as_select())
                .load(c)?
                .into_iter()
                .map(OrgRow::into_domain)
                .collect()
        })
    }

    fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        let row = NewUserRow::from(&user);
        self.try_tx(|c| {
            let stored: UserRow = diesel::insert_into(users::table)
                .values(&row)
                .returning(UserRow::as_returning())
                .get_result(c)?;
            stored.into_domain()
        })
        .map_err(|e| match unique_violation(&e) {
            Some("users_username_key") => CreateUserError::DuplicateUsername,
            _ if foreign_key_violation(&e) => CreateUserError::UnknownOrg,
            _ => CreateUserError::Store(e.into_store()),
        })
    }

    fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.read(|c| {
            users::table
                .find(id.0)
                .select(UserRow::as_select())
                .first(c)
                .optional()?
                .map(UserRow::into_domain)
                .transpose()
        })
    }

    fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.read(|c| {
            users::table
                .filter(users::username.eq(username.as_str()))
                .select(UserRow::as_select())
                .first(c)
                .optional()?
                .map(UserRow::into_domain)
                .transpose()
        })
    }

    fn find_user_by_number(&self, number: u64) -> Result<Option<User>, StoreError> {
        let Ok(number) = i64::try_from(number) else {
            return Ok(None);
        };
        self.read(|c| {
            users::table
                .filter(users::number.eq(number))
                .select(UserRow::as_select())
                .first(c)
                .optional()?
                .map(UserRow::into_domain)
                .transpose()
        })
    }

    fn list_users(&self, org: Option<&OrgId>) -> Result<Vec<User>, StoreError> {
        self.read(|c| {
            let mut q = users::table
                .select(UserRow::as_select())
                .order((users::created_at.asc(), users::id.asc()))
                .into_boxed();
            if let Some(org) = org {
                q = q.filter(users::org_id.eq(org.as_str().to_owned()));
            }
            q.load(c)?.into_iter().map(UserRow::into_domain).collect()
        })
    }
}
