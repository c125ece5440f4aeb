//! The first five minutes: `cargo run -p tally` on a fresh clone (memory store, no admin key)
//! leads to a first key, and a configured server never invents a credential.

use std::collections::HashMap;

use awc::Client;
use serde_json::{json, Value};
use tally::config::{self, Config, Sources};
use tally_store_pg::testing::TestDb;

fn config_of(pairs: &[(&str, &str)]) -> Config {
    let env: HashMap<String, String> = [("TALLY_HTTP__PORT", "0"), ("TALLY_HTTP__WORKERS", "1")]
        .iter()
        .chain(pairs)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    config::load(&Sources { file: None, env }).expect("configuration")
}

async fn create_key(address: &str, admin_key: &str) -> (u16, Value) {
    let mut res = Client::default()
        .post(format!("http://{address}/v1/keys"))
        .insert_header(("X-Admin-Key", admin_key))
        .send_json(&json!({ "name": "first" }))
        .await
        .expect("request");
    let body = res.body().await.expect("body");
    (
        res.status().as_u16(),
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    )
}

#[actix_web::test]
async fn a_trial_server_without_an_admin_key_makes_one_for_its_run() {
    let running = tally::spawn(&config_of(&[])).expect("serves");
    let key = running
        .generated_admin_key
        .clone()
        .expect("a made-up admin key");
    assert!(key.starts_with("tk_admin_") && key.len() == 41, "{key}");
    let address = running.addr.to_string();
    actix_web::rt::spawn(running.server);

    let (status, body) = create_key(&address, &key).await;
    assert_eq!(status, 201, "{body}");
    assert!(body["key"].as_str().is_some_and(|k| k.starts_with("tk_")));
    let (status, _) = create_key(&address, "tk_admin_not-this-one").await;
    assert_eq!(status, 403);

    // Another run gets another key.
    let again = tally::spawn(&config_of(&[])).expect("serves");
    assert_ne!(again.generated_admin_key.as_deref(), Some(key.as_str()));
}

#[actix_web::test]
async fn a_configured_server_never_invents_an_admin_key() {
    let running = tally::spawn(&config_of(&[("ADMIN_KEY", "configured-admin")])).unwrap();
    assert_eq!(running.generated_admin_key, None);
    let address = running.addr.to_string();
    actix_web::rt::spawn(running.server);
    assert_eq!(create_key(&address, "configured-admin").await.0, 201);

    // Postgres holds what it is given: no admin key there means the admin routes are off.
    let Some(db) = TestDb::create() else { return };
    let running = tally::spawn(&config_of(&[("DATABASE_URL", db.url())])).unwrap();
    assert_eq!(running.generated_admin_key, None);
    let address = running.addr.to_string();
    actix_web::rt::spawn(running.server);
    assert_eq!(create_key(&address, "anything").await.0, 503);
}
