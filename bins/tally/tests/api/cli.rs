//! The `tally` CLI against a Postgres-backed server: create a key, use it over HTTP, list it
//! with its usage, revoke it, export usage to CSV and compare with `/v1/analytics`; users,
//! organisations, erasure, and the exit codes of failures.

use std::process::{Command, Output};

use awc::Client;
use serde_json::{json, Value};
use tally_store_pg::testing::TestDb;
use time::OffsetDateTime;

use crate::helpers::{spawn_with_stores, test_config};

/// Runs `tally <args>` against `url` with the test admin key; returns its output.
async fn tally(url: &str, args: &[&str]) -> Output {
    let mut all = vec!["--url", url, "--admin-key", "test-admin-key"];
    all.extend_from_slice(args);
    let all: Vec<String> = all.into_iter().map(str::to_owned).collect();
    actix_web::rt::task::spawn_blocking(move || {
        Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(&all)
            .env_remove("ADMIN_KEY")
            .output()
            .expect("the tally binary runs")
    })
    .await
    .unwrap()
}

async fn tally_json(url: &str, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = tally(url, &all).await;
    assert!(
        out.status.success(),
        "tally {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("--json prints JSON")
}

async fn verify(address: &str, secret: &str) -> u16 {
    Client::default()
        .post(format!("{address}/v1/verify"))
        .insert_header(("X-Admin-Key", "test-admin-key"))
        .send_json(&json!({ "key": secret, "units": 2 }))
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[actix_web::test]
async fn the_cli_manages_keys_and_exports_usage_on_postgres() {
    let db = TestDb::create().expect("a Postgres");
    let app = spawn_with_stores(&test_config(), db.stores(), tally_http::StoreKind::Postgres);
    let url = app.address.as_str();

    let key = tally_json(
        url,
        &["keys", "create", "--name", "cli", "--daily-limit", "5"],
    )
    .await;
    let (id, secret) = (
        key["id"].as_i64().unwrap(),
        key["key"].as_str().unwrap().to_owned(),
    );
    assert_eq!(key["daily_limit"], 5);
    assert_eq!(verify(url, &secret).await, 200);
    assert_eq!(verify(url, &secret).await, 200);
    assert_eq!(verify(url, &secret).await, 429, "2 + 2 + 2 crosses 5");

    let list = tally_json(url, &["keys", "list"]).await;
    let listed = list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .expect("the key is listed");
    assert_eq!(listed["lifetime_used"], 4);
    let table = tally(url, &["keys", "list"]).await;
    let table = String::from_utf8(table.stdout).unwrap();
    assert!(table.lines().next().unwrap().starts_with("id"), "{table}");
    assert!(table.contains("cli"), "{table}");

    let changed = tally_json(
        url,
        &["keys", "update", &id.to_string(), "--daily-limit", "none"],
    )
    .await;
    assert_eq!(changed["daily_limit"], Value::Null);
    assert_eq!(verify(url, &secret).await, 200, "unlimited now");

    // Export today's usage and compare with the analytics it is made of.
    let today = OffsetDateTime::now_utc().date().to_string();
    let out = tally(url, &["usage", "export", "--from", &today, "--to", &today]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8(out.stdout).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("bucket,key,count,units,cost_usd,tokens,quota,duration_ms")
    );
    let exported: Vec<&str> = lines.collect();
    let analytics: Value = Client::default()
        .get(format!(
            "{url}/v1/analytics?from={today}&to={}&granularity=day&group_by=key",
            OffsetDateTime::now_utc().date().next_day().unwrap()
        ))
        .insert_header(("X-Admin-Key", "test-admin-key"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = analytics["rows"].as_array().unwrap();
    assert_eq!(exported.len(), rows.len(), "{csv}");
    let ours = rows.iter().find(|r| r["key"] == id).expect("the key's row");
    assert_eq!(ours["units"], 6);
    assert!(
        exported
            .contains(&format!("{},{id},3,6,0,0,0,0", ours["bucket"].as_str().unwrap()).as_str()),
        "{csv}"
    );

    let revoked = tally_json(url, &["keys", "revoke", &id.to_string()]).await;
    assert_eq!(revoked["revoked"], true);
    assert_eq!(verify(url, &secret).await, 401);

    let org = tally_json(
        url,
        &["orgs", "create", "--name", "Acme", "--id", "org_acme"],
    )
    .await;
    assert_eq!(org["id"], "org_acme");
    let user = tally_json(
        url,
        &[
            "users",
            "create",
            "--username",
            "alice",
            "--org-id",
            "org_acme",
        ],
    )
    .await;
    let user_id = user["id"].as_str().unwrap().to_owned();
    let token = tally_json(url, &["users", "token", &user_id, "--ttl-secs", "60"]).await;
    assert!(token["token"]
        .as_str()
        .is_some_and(|t| t.split('.').count() == 3));
    let users = tally_json(url, &["users", "list", "--org-id", "org_acme"]).await;
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    let erased = tally_json(url, &["erase", "user", &user_id]).await;
    assert_eq!(erased["ok"], true);
    let erased = tally_json(url, &["erase", "key", &id.to_string()]).await;
    assert_eq!(erased["receipts"].as_array().unwrap().len(), 1);
    let deleted = tally_json(url, &["keys", "delete", &id.to_string()]).await;
    assert_eq!(deleted["deleted"], true);

    // Failures: the API's message and status 1; usage errors 2; an unreachable server 3.
    let missing = tally(url, &["keys", "show", &id.to_string()]).await;
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("API key not found"));
    let bad = tally(url, &["keys", "update", "1", "--user-id", "x"]).await;
    assert_eq!(bad.status.code(), Some(2));
    let away = tally("http://127.0.0.1:9", &["orgs", "list"]).await;
    assert_eq!(away.status.code(), Some(3));
}
