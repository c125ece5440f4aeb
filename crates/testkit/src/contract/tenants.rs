//! `TenantStore`: organisations and users.

use tally_domain::ports::{CreateOrgError, CreateUserError};
use tally_domain::services::Stores;
use tally_domain::tenancy::{Org, OrgId, Role, User, UserId, Username};

use crate::{create_org, create_user, uuid, T0};

/// The default organisation exists from the start.
pub fn tenants_default_org_exists(s: &Stores) {
    let org = s
        .tenants
        .get_org(&OrgId::default_org())
        .unwrap()
        .expect("default org");
    assert_eq!(org.id, OrgId::default_org());
    assert!(s
        .tenants
        .list_orgs()
        .unwrap()
        .iter()
        .any(|o| o.id == OrgId::default_org()));
}

/// Organisations round-trip; a second one with the same id is a duplicate.
pub fn tenants_orgs_round_trip_and_duplicates(s: &Stores) {
    let org = create_org(s, "org_acme");
    assert_eq!(s.tenants.get_org(&org.id).unwrap(), Some(org.clone()));
    assert_eq!(
        s.tenants
            .get_org(&OrgId::parse("org_none").unwrap())
            .unwrap(),
        None
    );
    let again = Org {
        name: "other".into(),
        ..org
    };
    assert_eq!(s.tenants.create_org(again), Err(CreateOrgError::Duplicate));
    let ids: Vec<String> = s
        .tenants
        .list_orgs()
        .unwrap()
        .into_iter()
        .map(|o| o.id.to_string())
        .collect();
    assert_eq!(ids, vec!["org_acme".to_owned(), "org_default".to_owned()]);
}

/// Users round-trip; usernames are unique; a user needs an existing organisation.
pub fn tenants_users_round_trip_and_unique_usernames(s: &Stores) {
    let acme = create_org(s, "org_acme");
    let alice = create_user(s, 1, "alice", &acme.id);
    let bob = create_user(s, 2, "bob", &OrgId::default_org());
    assert_eq!(s.tenants.get_user(alice.id).unwrap(), Some(alice.clone()));
    assert_eq!(
        s.tenants
            .find_user(&Username::parse("bob").unwrap())
            .unwrap(),
        Some(bob.clone())
    );
    assert_eq!(
        s.tenants
            .find_user(&Username::parse("carol").unwrap())
            .unwrap(),
        None
    );
    assert_eq!(s.tenants.get_user(UserId(uuid(99))).unwrap(), None);

    let dup = User {
        id: UserId(uuid(3)),
        ..alice.clone()
    };
    assert_eq!(
        s.tenants.create_user(dup),
        Err(CreateUserError::DuplicateUsername)
    );
    let orphan = User {
        id: UserId(uuid(4)),
        number: 0,
        org_id: OrgId::parse("org_missing").unwrap(),
        username: Username::parse("dave").unwrap(),
        email: None,
        role: Role::Admin,
        created_at: T0,
        erased_at: None,
    };
    assert_eq!(
        s.tenants.create_user(orphan),
        Err(CreateUserError::UnknownOrg)
    );

    assert_eq!(
        s.tenants.list_users(Some(&acme.id)).unwrap(),
        vec![alice.clone()]
    );
    let all = s.tenants.list_users(None).unwrap();
    assert_eq!(all, vec![alice.clone(), bob.clone()]);
}

/// Users get numbers from one increasing sequence at creation (whatever number the caller
/// put in), unique and not reused after a failed creation; a user is found by number.
pub fn tenants_users_get_increasing_numbers(s: &Stores) {
    let alice = create_user(s, 1, "alice", &OrgId::default_org());
    assert!(alice.number >= 1);
    let refused = User {
        id: UserId(uuid(9)),
        number: alice.number,
        ..alice.clone()
    };
    assert_eq!(
        s.tenants.create_user(refused),
        Err(CreateUserError::DuplicateUsername)
    );
    let bob = create_user(s, 2, "bob", &OrgId::default_org());
    assert!(
        bob.number > alice.number,
        "{} > {}",
        bob.number,
        alice.number
    );
    assert_eq!(
        s.tenants.get_user(bob.id).unwrap().unwrap().number,
        bob.number
    );
    assert_eq!(
        s.tenants.find_user_by_number(alice.number).unwrap(),
        Some(alice.clone())
    );
    assert_eq!(
        s.tenants.find_user_by_number(bob.number).unwrap(),
        Some(bob)
    );
    assert_eq!(
        s.tenants.find_user_by_number(alice.number + 1_000).unwrap(),
        None
    );
    assert_eq!(s.tenants.find_user_by_number(u64::MAX).unwrap(), None);
}
