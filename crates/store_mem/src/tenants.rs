//! `TenantStore` for `MemStore`.

use tally_domain::ports::{CreateOrgError, CreateUserError, StoreError, TenantStore};
use tally_domain::tenancy::{Org, OrgId, User, UserId, Username};

use crate::MemStore;

impl TenantStore for MemStore {
    fn create_org(&self, org: Org) -> Result<Org, CreateOrgError> {
        self.available()?;
        let mut s = self.lock();
        if s.orgs.contains_key(&org.id) {
            return Err(CreateOrgError::Duplicate);
        }
        s.orgs.insert(org.id.clone(), org.clone());
        Ok(org)
    }

    fn get_org(&self, id: &OrgId) -> Result<Option<Org>, StoreError> {
        self.available()?;
        Ok(self.lock().orgs.get(id).cloned())
    }

    fn list_orgs(&self) -> Result<Vec<Org>, StoreError> {
        self.available()?;
        Ok(self.lock().orgs.values().cloned().collect())
    }

    fn create_user(&self, user: User) -> Result<User, CreateUserError> {
        self.available()?;
        let mut s = self.lock();
        if !s.orgs.contains_key(&user.org_id) {
            return Err(CreateUserError::UnknownOrg);
        }
        if s.users.values().any(|u| u.username == user.username) || s.users.contains_key(&user.id) {
            return Err(CreateUserError::DuplicateUsername);
        }
        let user = User {
            number: s.next_user_number,
            ..user
        };
        s.next_user_number += 1;
        s.users.insert(user.id, user.clone());
        Ok(user)
    }

    fn get_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.available()?;
        Ok(self.lock().users.get(&id).cloned())
    }

    fn find_user(&self, username: &Username) -> Result<Option<User>, StoreError> {
        self.available()?;
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.username == *username)
            .cloned())
    }

    fn find_user_by_number(&self, number: u64) -> Result<Option<User>, StoreError> {
        self.available()?;
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.number == number)
            .cloned())
    }

    fn list_users(&self, org: Option<&OrgId>) -> Result<Vec<User>, StoreError> {
        self.available()?;
        let s = self.lock();
        let mut users: Vec<User> = s
            .users
            .values()
            .filter(|u| org.is_none_or(|o| u.org_id == *o))
            .cloned()
            .collect();
        users.sort_by_key(|u| (u.created_at, u.id));
        Ok(users)
    }
}
