//! `MemStore::set_unavailable`: a switched-off store refuses every port and changes nothing.

use std::sync::Arc;

use tally_domain::key::{KeyFilter, KeyPatch, KeySecret};
use tally_domain::ports::{CreateKeyError, CreateOrgError, MeterError};
use tally_domain::services::Stores;
use tally_domain::{LocalBus, StoreError};
use tally_store_mem::{MemStore, SWITCHED_OFF};
use tally_testkit::{create_key, limits, meter, new_key, open_spec, T0};
use time::Duration;

fn off(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(m) if m == SWITCHED_OFF)
}

#[test]
fn a_switched_off_store_refuses_every_port_and_changes_nothing() {
    let mem = Arc::new(MemStore::new());
    let stores = Stores::from_one(mem.clone(), Arc::new(LocalBus::new()));
    let key = create_key(&stores, "secret-key-1", limits(None, Some(10)));
    let spec = open_spec(&key, "secret-key-1", "a.example", T0);
    let sid = tally_domain::session::SessionRef::new(spec.org_id.clone(), spec.id.clone());
    stores.sessions.open_session(spec.clone()).unwrap();

    mem.set_unavailable(true);
    assert!(off(&stores.usage.ping().unwrap_err()));
    assert!(off(&stores.tenants.list_orgs().unwrap_err()));
    assert!(matches!(
        stores.tenants.create_org(tally_domain::tenancy::Org {
            id: tally_domain::tenancy::OrgId::parse("org_x").unwrap(),
            name: "x".to_owned(),
            created_at: T0,
        }),
        Err(CreateOrgError::Store(ref e)) if off(e)
    ));
    assert!(matches!(
        stores.keys.create_key(new_key("secret-key-2", limits(None, None))),
        Err(CreateKeyError::Store(ref e)) if off(e)
    ));
    let hash = KeySecret::presented("secret-key-1").hash();
    assert!(off(&stores.keys.find_key(&hash).unwrap_err()));
    assert!(off(&stores
        .keys
        .list_keys(&KeyFilter::default())
        .unwrap_err()));
    assert!(off(&stores
        .keys
        .update_key(key.id, &KeyPatch::default())
        .unwrap_err()));
    assert!(off(&stores.keys.revoke_key(key.id, T0).unwrap_err()));
    assert!(off(&stores.sessions.get_session(&sid).unwrap_err()));
    assert!(off(&stores
        .sessions
        .touch_session(&sid, T0 + Duration::hours(1))
        .unwrap_err()));
    assert!(off(&stores.sessions.open_session(spec).unwrap_err()));
    assert!(off(&stores
        .sessions
        .end_session(&sid, tally_domain::session::EndReason::Client, T0)
        .unwrap_err()));
    assert!(matches!(
        stores.usage.meter(meter(&key, 1, T0)),
        Err(MeterError::Store(ref e)) if off(e)
    ));
    assert!(off(&stores.usage.erase_keys(&[key.id], T0).unwrap_err()));

    mem.set_unavailable(false);
    stores.usage.ping().unwrap();
    let keys = stores.keys.list_keys(&KeyFilter::default()).unwrap();
    assert_eq!(keys.len(), 1, "no key was created while off");
    let k = &keys[0];
    assert!(k.active && k.erased_at.is_none() && k.lifetime_used == 0);
    let session = stores.sessions.get_session(&sid).unwrap().unwrap();
    assert_eq!(session.last_activity_at, T0, "the touch did not land");
    assert_eq!(stores.tenants.list_orgs().unwrap().len(), 1);
    assert_eq!(
        stores
            .usage
            .meter(meter(&key, 1, T0))
            .unwrap()
            .usage
            .lifetime_used,
        1
    );
}
