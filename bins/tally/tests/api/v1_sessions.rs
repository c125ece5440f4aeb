//! `GET /v1/sessions` and `GET /v1/sessions/events`: who sees which open sessions, the bounds
//! and filters, and the live stream (snapshot, a new session, the mic, caption counts, the end).

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::TestApp;
use crate::lcyt_keys::spawn_app_with;

/// A server that lets sessions open from the test sites.
fn app() -> TestApp {
    spawn_app_with(&[
        ("ADMIN_KEY", "test-admin-key"),
        ("ALLOWED_DOMAINS", "a.example,b.example"),
    ])
}

/// Two users of one organisation with a key each, a key of nobody, and an admin-role user.
struct People {
    alice: String,
    alice_key: String,
    alice_key_id: i64,
    bob: String,
    bob_key: String,
    free_key: String,
    admin: String,
}

async fn people(app: &TestApp) -> People {
    let res = app
        .admin(
            "POST",
            "/v1/orgs",
            Some(json!({ "id": "org_live", "name": "Live" })),
        )
        .await;
    assert_eq!(res.status, 201, "{}", res.json());
    let (alice_id, _, alice) = app.seed_user("alice", Some("org_live"), "user").await;
    let (bob_id, _, bob) = app.seed_user("bob", Some("org_live"), "user").await;
    let (_, _, admin) = app.seed_user("root", None, "admin").await;
    let (alice_key_id, alice_key) = app.seed_key(&alice_id, Some("alice-live")).await;
    let (_, bob_key) = app.seed_key(&bob_id, Some("bob-live")).await;
    let free_key = app.new_key(json!({ "owner": "nobody" })).await;
    People {
        alice,
        alice_key,
        alice_key_id,
        bob,
        bob_key,
        free_key,
        admin,
    }
}

fn ids(body: &Value) -> Vec<String> {
    body["sessions"]
        .as_array()
        .unwrap_or_else(|| panic!("no sessions in {body}"))
        .iter()
        .map(|s| s["session_id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn sessions_are_listed_to_admins_and_to_their_keys_users_only() {
    let app = app();
    let p = people(&app).await;
    let (alice_token, alice_a) = app.open(&p.alice_key, "https://a.example").await;
    let (_, alice_b) = app.open(&p.alice_key, "https://b.example").await;
    let (_, bob_a) = app.open(&p.bob_key, "https://a.example").await;
    let (_, free_a) = app.open(&p.free_key, "https://a.example").await;
    let res = app
        .bearer(
            "POST",
            "/mic",
            &alice_token,
            Some(json!({ "action": "claim", "clientId": "desk-1" })),
        )
        .await;
    assert_eq!(res.status, 200);

    let all = app.admin("GET", "/v1/sessions", None).await;
    assert_eq!(all.status, 200, "{}", all.json());
    let body = all.json();
    assert_eq!(
        ids(&body),
        [
            free_a.clone(),
            bob_a.clone(),
            alice_b.clone(),
            alice_a.clone()
        ],
        "newest first"
    );
    assert_eq!(body["has_more"], false);
    let first = body["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["session_id"] == alice_a.as_str())
        .unwrap()
        .clone();
    assert_eq!(first["mic_holder"], "desk-1");
    assert_eq!(first["key_id"], p.alice_key_id);
    assert_eq!(first["org_id"], "org_live");
    assert_eq!(first["domain"], "https://a.example");
    assert_eq!(
        (
            &first["sequence"],
            &first["captions_sent"],
            &first["captions_failed"]
        ),
        (&json!(0), &json!(0), &json!(0))
    );
    for field in ["started_at", "last_activity_at"] {
        assert!(first[field].as_str().unwrap().ends_with('Z'), "{first}");
    }
    // An admin-role user token is an admin here too.
    let as_admin = app.get_as(&p.admin, "/v1/sessions").await;
    assert_eq!(ids(&as_admin.json()), ids(&body));

    // Filters narrow; the bound cuts and says so.
    let org = app.admin("GET", "/v1/sessions?org_id=org_live", None).await;
    assert_eq!(
        ids(&org.json()),
        [bob_a.clone(), alice_b.clone(), alice_a.clone()]
    );
    let site = app
        .admin("GET", "/v1/sessions?domain=A.example", None)
        .await;
    assert_eq!(
        ids(&site.json()),
        [free_a.clone(), bob_a.clone(), alice_a.clone()]
    );
    let one = app.admin("GET", "/v1/sessions?limit=1", None).await.json();
    assert_eq!(
        (ids(&one), &one["has_more"]),
        (vec![free_a.clone()], &json!(true))
    );

    // A user sees only the sessions of keys bound to them, whatever they ask for.
    let mine = app.get_as(&p.alice, "/v1/sessions").await;
    assert_eq!(mine.status, 200);
    assert_eq!(ids(&mine.json()), [alice_b.clone(), alice_a.clone()]);
    let narrowed = app.get_as(&p.alice, "/v1/sessions?domain=b.example").await;
    assert_eq!(ids(&narrowed.json()), std::slice::from_ref(&alice_b));
    let bobs = app.get_as(&p.bob, "/v1/sessions").await;
    assert_eq!(ids(&bobs.json()), std::slice::from_ref(&bob_a));
    let other_org = app.get_as(&p.bob, "/v1/sessions?org_id=org_default").await;
    assert!(ids(&other_org.json()).is_empty(), "a filter never widens");

    // Ended sessions are gone.
    let res = app.bearer("DELETE", "/live", &alice_token, None).await;
    assert_eq!(res.status, 200);
    let mine = app.get_as(&p.alice, "/v1/sessions").await;
    assert_eq!(ids(&mine.json()), std::slice::from_ref(&alice_b));
}

#[actix_web::test]
async fn sessions_refuse_keys_and_bad_queries() {
    let app = app();
    let p = people(&app).await;
    let (session_token, _) = app.open(&p.alice_key, "https://a.example").await;
    for path in ["/v1/sessions", "/v1/sessions/events"] {
        let none = app.get(path).await;
        assert_eq!(
            (none.status, none.json()["error"].as_str()),
            (401, Some("Authentication required")),
            "{path}"
        );
        let key = app.get_as(&p.alice_key, path).await;
        assert_eq!(key.status, 403, "{path}: a raw key");
        assert!(key.json()["error"]
            .as_str()
            .unwrap()
            .contains("admins and user tokens"));
        let session = app.get_as(&session_token, path).await;
        assert_eq!(session.status, 403, "{path}: a session token");
        let wrong = app
            .call("GET", path, &[("X-Admin-Key", "wrong")], None)
            .await;
        assert_eq!(wrong.status, 403, "{path}: a wrong admin key");
    }
    for (query, needle) in [
        ("limit=0", "limit must be between 1 and 1000"),
        ("limit=1001", "limit must be between 1 and 1000"),
        ("limit=-5", "limit must be between 1 and 1000"),
        ("limit=many", "limit"),
        ("org_id=acme", "org_id"),
        ("domain=", "domain"),
        ("colour=red", "colour"),
    ] {
        for path in ["/v1/sessions", "/v1/sessions/events"] {
            let res = app.admin("GET", &format!("{path}?{query}"), None).await;
            assert_eq!(res.status, 400, "{path}?{query}");
            let msg = res.json()["error"].as_str().unwrap().to_owned();
            assert!(msg.contains(needle), "{path}?{query}: {msg}");
        }
    }
    assert_eq!(
        app.admin("GET", "/v1/sessions?limit=1000", None)
            .await
            .status,
        200
    );
}

#[actix_web::test]
async fn the_session_stream_follows_opens_the_mic_captions_and_ends() {
    let app = app();
    let p = people(&app).await;
    let (bob_token, bob_a) = app.open(&p.bob_key, "https://a.example").await;

    let mut admin = app.sse("/v1/sessions/events", Some(&p.admin)).await;
    let (name, snap) = admin.next().await;
    assert_eq!(name, "snapshot");
    assert_eq!(ids(&snap), std::slice::from_ref(&bob_a));
    let mut alice = app.sse("/v1/sessions/events", Some(&p.alice)).await;
    let (name, snap) = alice.next().await;
    assert_eq!((name.as_str(), ids(&snap).len()), ("snapshot", 0));

    // A session opened after the stream started appears (the stream lists again every 5 s).
    let (alice_token, alice_a) = app.open(&p.alice_key, "https://a.example").await;
    let wait = Duration::from_secs(8);
    let (name, s) = admin.next_within(wait).await.expect("the new session");
    assert_eq!(
        (name.as_str(), s["session_id"].as_str()),
        ("session", Some(alice_a.as_str()))
    );
    let (name, s) = alice.next_within(wait).await.expect("her new session");
    assert_eq!(
        (name.as_str(), s["session_id"].as_str()),
        ("session", Some(alice_a.as_str()))
    );
    assert_eq!(s["domain"], "https://a.example");

    // The mic holder is pushed as it changes, to every stream that sees the session.
    let claim = |holder: &'static str| json!({ "action": "claim", "clientId": holder });
    let res = app
        .bearer("POST", "/mic", &alice_token, Some(claim("laptop")))
        .await;
    assert_eq!(res.status, 200);
    let (name, mic) = alice.next_named("mic_state").await;
    assert_eq!(name, "mic_state");
    assert_eq!(mic, json!({ "session_id": alice_a, "holder": "laptop" }));
    let (_, mic) = admin.next_named("mic_state").await;
    assert_eq!(mic["holder"], "laptop");

    // Bob's mic is not Alice's business: her next frame is about her own session.
    let res = app
        .bearer("POST", "/mic", &bob_token, Some(claim("bob-desk")))
        .await;
    assert_eq!(res.status, 200);
    let (_, mic) = admin.next_named("mic_state").await;
    assert_eq!(mic, json!({ "session_id": bob_a, "holder": "bob-desk" }));

    // Caption counts arrive as an updated session (read within a second of the captions).
    assert_eq!(app.captions(&alice_token, 3).await.status, 202);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let updated = loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let (name, s) = alice.next_within(left).await.expect("the updated counts");
        assert_ne!(s["session_id"], bob_a.as_str(), "{name}: {s}");
        if name == "session" && s["captions_sent"] == 3 {
            break s;
        }
    };
    assert_eq!(
        (&updated["sequence"], &updated["mic_holder"]),
        (&json!(1), &json!("laptop"))
    );

    // The end is pushed; the stream stays open for what comes next.
    let res = app.bearer("DELETE", "/live", &alice_token, None).await;
    assert_eq!(res.status, 200);
    let (_, closed) = alice.next_named("session_closed").await;
    assert_eq!(closed, json!({ "session_id": alice_a }));
    let (_, closed) = admin.next_named("session_closed").await;
    assert_eq!(closed["session_id"], alice_a.as_str());
    let list = app.get_as(&p.alice, "/v1/sessions").await;
    assert!(ids(&list.json()).is_empty());
}

#[actix_web::test]
async fn the_session_stream_of_an_erased_user_ends() {
    let app = app();
    let (user, _, token) = app.seed_user("erin", None, "user").await;
    let mut stream = app.sse("/v1/sessions/events", Some(&token)).await;
    assert_eq!(stream.next().await.0, "snapshot");
    let res = app
        .admin("DELETE", &format!("/v1/users/{user}/data"), None)
        .await;
    assert_eq!(res.status, 200);
    let (name, data) = stream
        .next_within(Duration::from_secs(8))
        .await
        .expect("the stream says why it ends");
    assert_eq!(name, "unauthorized");
    assert_eq!(data["error"], "Invalid or expired token");
    assert!(stream.ended().await);
}
