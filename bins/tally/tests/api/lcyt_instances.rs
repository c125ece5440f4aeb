//! Two server instances sharing one Postgres database: sessions, limits and live events
//! cross between them.

use serde_json::json;
use tally_http::StoreKind;
use tally_store_pg::testing::TestDb;

use crate::helpers::{spawn_with_stores, test_config};

#[actix_web::test]
async fn an_sse_client_on_one_instance_sees_the_mic_claimed_on_another() {
    let Some(db) = TestDb::create() else { return };
    let config = test_config();
    let a = spawn_with_stores(&config, db.stores(), StoreKind::Postgres);
    let b = spawn_with_stores(&config, db.stores(), StoreKind::Postgres);
    let key = a
        .new_key(json!({ "owner": "A", "lifetime_limit": 5 }))
        .await;
    let (token_a, sid) = a.open(&key, "localhost").await;
    let (token_b, sid_b) = b.open(&key, "localhost").await;
    assert_eq!(sid, sid_b, "both instances see the same session");

    let mut sse = a.sse("/events", Some(&token_a)).await;
    assert_eq!(sse.next().await.0, "connected");
    let res = b
        .bearer(
            "POST",
            "/mic",
            &token_b,
            Some(json!({ "action": "claim", "clientId": "on-b" })),
        )
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(
        sse.next().await,
        ("mic_state".to_owned(), json!({ "holder": "on-b" }))
    );

    // The lifetime limit is shared: 3 + 3 > 5 across instances.
    assert_eq!(a.captions(&token_a, 3).await.status, 202);
    assert_eq!(b.captions(&token_b, 3).await.status, 429);
    assert_eq!(b.captions(&token_b, 2).await.status, 202);

    // Ending on one instance closes the stream on the other, and kills every token.
    b.bearer("DELETE", "/live", &token_b, None).await;
    loop {
        let (name, _) = sse.next().await;
        if name == "session_closed" {
            break;
        }
    }
    assert_eq!(a.bearer("GET", "/live", &token_a, None).await.status, 401);
}

#[actix_web::test]
async fn a_sync_on_one_instance_is_the_offset_of_the_other() {
    let Some(db) = TestDb::create() else { return };
    let youtube = crate::fake_youtube::Recorder::start("/closedcaption");
    let config = crate::fake_youtube::config_with_youtube(&youtube);
    let a = spawn_with_stores(&config, db.stores(), StoreKind::Postgres);
    let b = spawn_with_stores(&config, db.stores(), StoreKind::Postgres);
    let key = a.new_key(json!({ "owner": "A" })).await;
    let open = json!({ "apiKey": key, "streamKey": "k", "domain": "localhost" });
    let token = a.call("POST", "/live", &[], Some(open)).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let ahead = time::OffsetDateTime::now_utc() + time::Duration::seconds(4);
    let clock = format!("{}\n", tally_domain::caption::youtube_time(ahead));
    youtube.reply(move || Some((200, clock.clone())));
    let synced = a.bearer("POST", "/sync", &token, None).await.json();
    let offset = synced["syncOffset"].as_i64().unwrap();
    assert!((3_700..=4_300).contains(&offset), "{synced}");
    let heartbeat = b.bearer("GET", "/live", &token, None).await.json();
    assert_eq!(heartbeat["syncOffset"], offset, "stored with the session");
}
