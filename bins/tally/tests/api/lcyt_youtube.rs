//! YouTube caption delivery as lcyt does it, against a fake ingestion server: the legacy
//! `streamKey` sender (sync at start, one POST per batch at the session's `seq`, YouTube's
//! status on `caption_result`/`caption_error` and in `/stats`), `youtube` targets, and
//! `POST /sync`.

use serde_json::{json, Value};
use tally_domain::caption::youtube_time;
use time::{Duration, OffsetDateTime};

use crate::fake_youtube::{spawn_with_youtube, Recorder};
use crate::helpers::TestApp;

fn at_ms(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
}

/// A YouTube answer body: its clock, `ahead_ms` ahead of ours.
fn youtube_clock(ahead_ms: i64) -> String {
    format!(
        "{}\n",
        youtube_time(OffsetDateTime::now_utc() + Duration::milliseconds(ahead_ms))
    )
}

async fn open(app: &TestApp, body: Value) -> Value {
    let res = app.call("POST", "/live", &[], Some(body)).await;
    assert_eq!(res.status, 200, "{}", res.json());
    res.json()
}

/// Every request lcyt's sender makes: exactly `Content-Type: text/plain`, the body's byte
/// count, no credentials.
fn assert_lcyt_headers(r: &crate::fake_youtube::Received) {
    assert_eq!(r.request_line.split(' ').next(), Some("POST"));
    assert_eq!(r.header("content-type"), Some("text/plain"), "{r:?}");
    assert_eq!(
        r.header("content-length"),
        Some(r.body.len().to_string().as_str())
    );
    assert_eq!(r.header("authorization"), None);
    // Nothing else but the HTTP client's transport headers.
    let mut names: Vec<&str> = r.headers.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "accept-encoding",
            "content-length",
            "content-type",
            "date",
            "host"
        ],
        "{r:?}"
    );
    assert_eq!(r.header("accept-encoding"), Some("identity"));
}

#[actix_web::test]
async fn a_stream_key_session_syncs_then_posts_each_batch_and_reports_youtubes_status() {
    let youtube = Recorder::start("/closedcaption");
    youtube.reply(|| Some((200, youtube_clock(3_000))));
    let app = spawn_with_youtube(&youtube);
    let key = app.new_key(json!({ "owner": "A" })).await;
    // What the Python client sends: streamKey, domain, sequence, no auth header.
    let live = open(
        &app,
        json!({ "apiKey": key, "streamKey": "ab-cd", "domain": "http://localhost", "sequence": 5 }),
    )
    .await;
    let token = live["token"].as_str().unwrap().to_owned();
    let started_at = live["startedAt"].as_i64().unwrap();
    let offset = live["syncOffset"].as_i64().unwrap();
    assert!((2_800..=3_200).contains(&offset), "{live}");
    assert_eq!(live["sequence"], 5);

    // The sync: an empty-body POST at the current seq, which it does not advance.
    let sync = &youtube.wait_for(1).await[0];
    assert_eq!(sync.target(), "/closedcaption?cid=ab-cd&seq=5");
    assert_eq!(sync.header("content-length"), Some("0"));
    assert_lcyt_headers(sync);
    let heartbeat = app.bearer("GET", "/live", &token, None).await.json();
    assert_eq!(heartbeat, json!({ "sequence": 5, "syncOffset": offset }));

    let mut events = app.sse("/events", Some(&token)).await;
    assert_eq!(events.next().await.0, "connected");
    youtube.reply(|| Some((200, "2024-01-15T12:00:00.700\n".to_owned())));
    let res = app
        .bearer(
            "POST",
            "/captions",
            &token,
            Some(json!({ "captions": [
                { "text": "a", "timestamp": "2024-01-15T12:00:00.597" },
                { "text": "b", "timestamp": "2024-01-15T12:00:00.697" },
                { "text": "c", "time": 5000 },
            ] })),
        )
        .await;
    assert_eq!(res.status, 202);
    let request_id = res.json()["requestId"].as_str().unwrap().to_owned();
    let batch = &youtube.wait_for(2).await[1];
    assert_eq!(batch.target(), "/closedcaption?cid=ab-cd&seq=5");
    assert_lcyt_headers(batch);
    let resolved = youtube_time(at_ms(started_at + 5000 + offset));
    assert_eq!(
        batch.text(),
        format!("2024-01-15T12:00:00.597\na\n2024-01-15T12:00:00.697\nb\n{resolved}\nc\n")
    );
    let (name, data) = events.next_named("caption_result").await;
    assert_eq!(name, "caption_result");
    assert_eq!(
        data,
        json!({ "requestId": request_id, "sequence": 5, "count": 3, "statusCode": 200,
                "serverTimestamp": "2024-01-15T12:00:00.700" })
    );

    // A refusal: its status on caption_error, in /stats, and the next batch's seq.
    youtube.reply(|| Some((403, String::new())));
    assert_eq!(app.captions(&token, 1).await.status, 202);
    let refused = &youtube.wait_for(3).await[2];
    assert_eq!(refused.target(), "/closedcaption?cid=ab-cd&seq=6");
    let (_, error) = events.next_named("caption_error").await;
    assert_eq!(
        (
            error["error"].as_str(),
            error["statusCode"].as_u64(),
            error["sequence"].as_u64()
        ),
        (Some("YouTube returned status 403"), Some(403), Some(6))
    );

    // YouTube unreachable: 502 with the transport's message.
    youtube.reply(|| None);
    assert_eq!(app.captions(&token, 2).await.status, 202);
    let (_, error) = events.next_named("caption_error").await;
    assert_eq!(error["statusCode"], 502);
    assert!(
        error["error"]
            .as_str()
            .unwrap()
            .starts_with("Failed to send"),
        "{error}"
    );

    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    let errors = stats["captionErrors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{stats}");
    assert_eq!(
        (
            errors[1]["errorCode"].as_u64(),
            errors[1]["errorMsg"].as_str(),
            errors[1]["batchSize"].as_u64()
        ),
        (Some(403), Some("YouTube returned status 403"), Some(1))
    );
    assert_eq!(errors[1]["error"], "YouTube returned status 403");
    assert!(errors[1]["timestamp"].is_string());
    assert_eq!(
        (
            errors[0]["errorCode"].as_u64(),
            errors[0]["batchSize"].as_u64()
        ),
        (Some(502), Some(2))
    );
    let res = app.bearer("DELETE", "/live", &token, None).await;
    assert_eq!(res.status, 200);
    let stats = app
        .bearer("GET", "/stats", &reopen(&app, &key).await, None)
        .await
        .json();
    let session = &stats["sessions"][0];
    assert_eq!(
        (
            session["captionsSent"].as_u64(),
            session["captionsFailed"].as_u64()
        ),
        (Some(3), Some(3))
    );
}

async fn reopen(app: &TestApp, key: &str) -> String {
    let live = open(app, json!({ "apiKey": key, "domain": "localhost" })).await;
    live["token"].as_str().unwrap().to_owned()
}

#[actix_web::test]
async fn youtube_targets_get_each_batch_at_the_sessions_seq_and_their_failures_count() {
    let youtube = Recorder::start("/closedcaption");
    let app = spawn_with_youtube(&youtube);
    let key = app.new_key(json!({ "owner": "A" })).await;
    // lcyt-web's target-array mode; an entry without a stream key is dropped, as lcyt does.
    let live = open(
        &app,
        json!({ "apiKey": key, "domain": "http://localhost:5173", "sequence": 0, "targets": [
            { "id": "t1", "type": "youtube", "streamKey": "  ef gh/1  " },
            { "id": "t2", "type": "youtube", "streamKey": "" },
        ] }),
    )
    .await;
    assert_eq!(live["syncOffset"], 0);
    let token = live["token"].as_str().unwrap().to_owned();
    let mut events = app.sse("/events", Some(&token)).await;
    events.next().await;
    assert!(
        youtube.received().is_empty(),
        "no sync without a stream key"
    );

    let before = OffsetDateTime::now_utc();
    assert_eq!(app.captions(&token, 2).await.status, 202);
    let got = youtube.wait_for(1).await;
    assert_eq!(got.len(), 1, "one POST per batch and target");
    assert_eq!(got[0].target(), "/closedcaption?cid=ef+gh%2F1&seq=0");
    assert_lcyt_headers(&got[0]);
    let body = got[0].text();
    let lines: Vec<&str> = body.split('\n').collect();
    assert_eq!(lines.len(), 5, "{body:?}");
    assert_eq!(
        (lines[1], lines[3], lines[4]),
        ("caption 0", "caption 1", "")
    );
    // Unstamped captions: the moment of sending, 100 ms apart.
    let first = youtube_time(before);
    assert!(
        lines[0] >= first.as_str() && lines[0].len() == 23,
        "{body:?}"
    );
    assert!(lines[2] > lines[0]);
    let (_, result) = events.next_named("caption_result").await;
    assert_eq!(
        (
            result["sequence"].as_u64(),
            result["statusCode"].as_u64(),
            result["serverTimestamp"].is_null()
        ),
        (Some(1), Some(200), true)
    );

    youtube.reply(|| Some((500, String::new())));
    assert_eq!(app.captions(&token, 1).await.status, 202);
    let got = youtube.wait_for(2).await;
    assert_eq!(got[1].target(), "/closedcaption?cid=ef+gh%2F1&seq=1");
    let (_, error) = events.next_named("caption_error").await;
    assert_eq!(
        (error["error"].as_str(), error["statusCode"].as_u64()),
        (Some("YouTube returned status 500"), Some(500))
    );
    let stats = app.bearer("GET", "/stats", &token, None).await.json();
    assert_eq!(stats["captionErrors"][0]["errorCode"], 500);

    // PATCH /live's sequence reaches the YouTube targets too.
    youtube.reply(|| Some((200, String::new())));
    let res = app
        .bearer("PATCH", "/live", &token, Some(json!({ "sequence": 40 })))
        .await;
    assert_eq!(res.status, 200);
    assert_eq!(app.captions(&token, 1).await.status, 202);
    let got = youtube.wait_for(3).await;
    assert_eq!(got[2].target(), "/closedcaption?cid=ef+gh%2F1&seq=40");
}

#[actix_web::test]
async fn post_sync_measures_the_offset_and_reports_youtubes_status() {
    let youtube = Recorder::start("/closedcaption");
    let app = spawn_with_youtube(&youtube);
    let key = app.new_key(json!({ "owner": "A" })).await;
    let live = open(
        &app,
        json!({ "apiKey": key, "streamKey": "k1", "domain": "localhost" }),
    )
    .await;
    assert_eq!(
        live["syncOffset"], 0,
        "an empty answer leaves the offset at 0"
    );
    let token = live["token"].as_str().unwrap().to_owned();

    // YouTube's status is reported, not checked: a 403 with a time still syncs.
    youtube.reply(|| Some((403, youtube_clock(-2_000))));
    let res = app.bearer("POST", "/sync", &token, None).await;
    assert_eq!(res.status, 200, "{}", res.json());
    let body = res.json();
    let offset = body["syncOffset"].as_i64().unwrap();
    assert!((-2_200..=-1_800).contains(&offset), "{body}");
    assert_eq!(body["statusCode"], 403);
    assert!(body["roundTripTime"].as_i64().unwrap() >= 0);
    assert_eq!(body.as_object().unwrap().len(), 4, "{body}");
    assert_eq!(
        body["serverTimestamp"].as_str().map(str::len),
        Some(23),
        "{body}"
    );
    let sync = youtube.received().pop().unwrap();
    assert_eq!(sync.target(), "/closedcaption?cid=k1&seq=0");
    assert!(sync.body.is_empty());
    let heartbeat = app.bearer("GET", "/live", &token, None).await.json();
    assert_eq!(heartbeat["syncOffset"], offset);

    // An answer without a time: the offset stays.
    youtube.reply(|| Some((200, String::new())));
    let body = app.bearer("POST", "/sync", &token, None).await.json();
    assert_eq!(
        (
            body["syncOffset"].as_i64(),
            body["serverTimestamp"].is_null()
        ),
        (Some(offset), true)
    );

    // Unreachable: 502 with lcyt's body shape.
    youtube.reply(|| None);
    let res = app.bearer("POST", "/sync", &token, None).await;
    assert_eq!(res.status, 502);
    assert_eq!(res.json()["statusCode"], 502);
    assert!(res.json()["error"]
        .as_str()
        .unwrap()
        .starts_with("Failed to send"));

    // Target-array mode has no YouTube sender: the session's state, not a fault, so a 409
    // (lcyt answers 502) in lcyt's body shape.
    let other = open(&app, json!({ "apiKey": key, "domain": "localhost" })).await;
    let res = app
        .bearer("POST", "/sync", other["token"].as_str().unwrap(), None)
        .await;
    assert_eq!(res.status, 409);
    assert_eq!(res.json()["statusCode"], 409);
    assert_eq!(res.json()["title"], "Conflict");
    assert!(res.json()["error"]
        .as_str()
        .unwrap()
        .contains("without a streamKey"));
    assert_eq!(app.call("POST", "/sync", &[], None).await.status, 401);
}
