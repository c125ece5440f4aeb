//! The idle sweep, with a one-second TTL.

use std::time::Duration;

use serde_json::json;

use crate::lcyt_keys::spawn_app_with;

#[actix_web::test]
async fn idle_sessions_are_ended_by_the_sweep() {
    let app = spawn_app_with(&[
        ("ADMIN_KEY", "test-admin-key"),
        ("TALLY_SESSION__TTL_SECS", "1"),
        ("TALLY_SESSION__SWEEP_SECS", "1"),
    ]);
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, sid) = app.open(&key, "localhost").await;
    let mut ended = false;
    for _ in 0..40 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let usage = app.admin("GET", "/usage", None).await.json();
        if usage["data"][0]["sessions_ended"] == 1 {
            ended = true;
            break;
        }
    }
    assert!(ended, "the sweep ended the idle session");
    assert_eq!(app.bearer("GET", "/live", &token, None).await.status, 401);
    let (fresh, _) = app.open(&key, "localhost").await;
    let stats = app.bearer("GET", "/stats", &fresh, None).await.json();
    assert_eq!(
        (
            stats["sessions"][0]["sessionId"].as_str(),
            stats["sessions"][0]["endedBy"].as_str()
        ),
        (Some(sid.as_str()), Some("ttl"))
    );
}
