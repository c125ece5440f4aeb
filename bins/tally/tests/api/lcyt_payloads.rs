//! What viewers and generic targets receive, byte for byte as lcyt-backend sends it
//! (lcyt-clients reference §3, §4), and the caption fields' validation.

use serde_json::json;
use tally_domain::caption::iso_z;
use time::OffsetDateTime;

use crate::fake_youtube::Recorder;
use crate::helpers::spawn_app;

fn at_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

#[actix_web::test]
async fn viewers_and_webhooks_get_lcyts_payloads_and_the_targets_headers() {
    let app = spawn_app().await;
    let hook = Recorder::start("/hook");
    let key = app.new_key(json!({ "owner": "A" })).await;
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "http://localhost:5173", "targets": [
                { "id": "v", "type": "viewer", "viewerKey": "room-7" },
                { "id": "g", "type": "generic", "url": hook.url,
                  "headers": { "X-Token": "s3cret", "Content-Type": "application/json; charset=utf-8" } },
            ] })),
        )
        .await;
    assert_eq!(res.status, 200);
    let live = res.json();
    let token = live["token"].as_str().unwrap().to_owned();
    let started_at = live["startedAt"].as_i64().unwrap();
    let mut viewer = app.sse("/viewer/room-7", None).await;
    assert_eq!(
        viewer.next_raw().await,
        "event: connected\ndata: {\"ok\":true}"
    );

    let res = app
        .bearer(
            "POST",
            "/captions",
            &token,
            Some(json!({ "captions": [
                { "text": "hello", "translations": { "fi": "hei" }, "captionLang": "fi",
                  "showOriginal": true, "codes": { "section": "A" }, "time": 5000 },
                { "text": "x", "timestamp": "2024-01-15T12:00:00.123" },
                { "text": "y", "timestamp": 1_705_320_000_597_i64, "translations": { "sv": "y" } },
                { "text": "z", "timestamp": "", "captionLang": "de", "showOriginal": false },
            ] })),
        )
        .await;
    assert_eq!(res.status, 202);
    // `time` is startedAt + time (+ syncOffset, 0 without a YouTube sender), ISO with `Z`.
    let resolved = iso_z(at_ms(started_at + 5000));
    let frames = [
        format!(
            r#"{{"text":"hello","composedText":"hello<br>hei","sequence":1,"timestamp":"{resolved}","translations":{{"fi":"hei"}},"codes":{{"section":"A"}}}}"#
        ),
        r#"{"text":"x","composedText":"x","sequence":1,"timestamp":"2024-01-15T12:00:00.123"}"#
            .to_owned(),
        r#"{"text":"y","composedText":"y","sequence":1,"translations":{"sv":"y"}}"#.to_owned(),
        r#"{"text":"z","composedText":"z","sequence":1,"timestamp":""}"#.to_owned(),
    ];
    for expected in frames {
        assert_eq!(
            viewer.next_raw().await,
            format!("event: caption\ndata: {expected}")
        );
    }

    let got = hook.wait_for(1).await;
    let post = &got[0];
    assert_eq!(post.target(), "/hook");
    assert_eq!(
        post.text(),
        format!(
            concat!(
                r#"{{"source":"http://localhost:5173","sequence":1,"captions":["#,
                r#"{{"text":"hello","composedText":"hello<br>hei","timestamp":"{resolved}","translations":{{"fi":"hei"}},"captionLang":"fi","showOriginal":true,"codes":{{"section":"A"}}}},"#,
                r#"{{"text":"x","composedText":"x","timestamp":"2024-01-15T12:00:00.123"}},"#,
                r#"{{"text":"y","composedText":"y","translations":{{"sv":"y"}}}},"#,
                r#"{{"text":"z","composedText":"z","timestamp":"","captionLang":"de","showOriginal":false}}]}}"#
            ),
            resolved = resolved
        )
    );
    // The target's headers are sent, after (so overriding) Content-Type.
    assert_eq!(post.header("x-token"), Some("s3cret"));
    assert_eq!(
        post.header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert_eq!(post.header("authorization"), None);
}

#[actix_web::test]
async fn caption_fields_are_validated_naming_the_field() {
    let app = spawn_app().await;
    let key = app.new_key(json!({ "owner": "A" })).await;
    let (token, _) = app.open(&key, "localhost").await;
    for (caption, needle) in [
        (json!({ "text": "a", "time": "soon" }), "captions[0].time"),
        (
            json!({ "text": "a", "timestamp": true }),
            "captions[0].timestamp",
        ),
        (
            json!({ "text": "a", "timestamp": "yesterdayZ" }),
            "captions[0].timestamp",
        ),
        (
            json!({ "text": "a", "translations": ["fi"] }),
            "captions[0].translations",
        ),
        (json!({ "text": "a", "codes": "x" }), "captions[0].codes"),
        (
            json!({ "text": "a", "showOriginal": "yes" }),
            "captions[0].showOriginal",
        ),
        (
            json!({ "text": "a", "captionLang": 5 }),
            "captions[0].captionLang",
        ),
    ] {
        let res = app
            .bearer(
                "POST",
                "/captions",
                &token,
                Some(json!({ "captions": [caption] })),
            )
            .await;
        assert_eq!(res.status, 400, "{caption}");
        let error = res.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(needle), "{error} lacks {needle}");
    }
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(stats["usage"]["lifetimeUsed"], 0, "nothing was metered");
    // A bad header or target is refused before the session is opened.
    let res = app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": key, "domain": "localhost", "targets": [
                { "type": "generic", "url": "https://h.example", "headers": { "X-A": 5 } }
            ] })),
        )
        .await;
    assert_eq!(res.status, 400);
    assert!(res.json()["error"]
        .as_str()
        .unwrap()
        .contains("targets[0].headers.X-A"));
}
