//! The migrations run up, down and up again, and every `down.sql` really undoes its `up.sql`.

use diesel::prelude::*;
use diesel::sql_types::BigInt;
use tally_domain::tenancy::OrgId;
use tally_domain::TenantStore;
use tally_store_pg::testing::{revert_all_migrations, TestDb};

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn public_tables(url: &str) -> i64 {
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(
        "SELECT count(*) AS n FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_name <> '__diesel_schema_migrations'",
    )
    .get_result::<Count>(&mut conn)
    .unwrap()
    .n
}

#[test]
fn migrations_run_up_down_up() {
    let Some(db) = TestDb::create() else { return };
    let store = db.store();
    assert_eq!(public_tables(db.url()), 17);
    revert_all_migrations(&store).unwrap();
    assert_eq!(public_tables(db.url()), 0, "down.sql leaves nothing behind");
    store.migrate().unwrap();
    assert_eq!(public_tables(db.url()), 17);
    assert!(store.get_org(&OrgId::default_org()).unwrap().is_some());
    store.migrate().unwrap();
}
