//! The seed documents themselves, run: every example request of the five documents
//! (`docs/seeds/`, read at test time by [`crate::seed_docs`]) is sent as written — only the
//! host, the credentials and the placeholder ids are swapped — to a server holding a seeded
//! dataset, and each response must have the document's example shape, field by field, JSON
//! types included (arrays by their first element; fields the document does not show are
//! allowed). Runs on the suite's store (`TALLY_TEST_STORE=postgres` for Postgres).
//!
//! What cannot run verbatim (docs/API.md, "The seed documents' examples") is said where it is
//! swapped below.

use serde_json::{json, Value};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use crate::lcyt_client::ADMIN;
use crate::seed_client::{midnight, seeded, World};
use crate::seed_docs::{doc, doc_dir, parse, shape_problems, Example};

/// Placeholder text → what it stands for on this server.
type Swaps = Vec<(String, String)>;

fn swap(text: &str, swaps: &Swaps) -> String {
    swaps.iter().fold(text.to_owned(), |t, (from, to)| {
        t.replace(from.as_str(), to)
    })
}

/// The path and query of a documented URL (any host, or none, is this server).
fn path_of(url: &str) -> &str {
    match url.split_once("://") {
        Some((_, rest)) => rest.find('/').map_or("/", |i| &rest[i..]),
        None => url,
    }
}

/// Sends `ex` with `swaps` applied and checks the answer against its example response (or,
/// for a DELETE without one of its own, only its status). Returns the answer's body.
async fn run(w: &World, doc_name: &str, ex: &Example, swaps: &Swaps) -> Value {
    let path = swap(path_of(&ex.url), swaps);
    let headers: Vec<(String, String)> = ex
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), swap(v, swaps)))
        .collect();
    let refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let body = ex
        .body
        .as_deref()
        .map(|b| serde_json::from_str::<Value>(&swap(b, swaps)).unwrap());
    let res = w.app.call(&ex.method, &path, &refs, body).await;
    let at = format!(
        "{doc_name} line {} ({} {} {path})",
        ex.line, ex.form, ex.method
    );
    assert!(
        (200..300).contains(&res.status),
        "{at}: status {}: {}",
        res.status,
        String::from_utf8_lossy(&res.body)
    );
    match &ex.response {
        // Billix documents no DELETE answer; Tally's is `204 No Content`.
        None | Some((_, false)) if ex.method == "DELETE" => {
            assert_eq!(res.status, 204, "{at}");
            Value::Null
        }
        Some((example, own)) => {
            let got = res.json();
            // Billix shows one record, before its calls; its lists answer arrays of them.
            let example = match (own, &got) {
                (false, Value::Array(_)) if example.is_object() => json!([example]),
                _ => example.clone(),
            };
            let problems = shape_problems("$", &example, &got);
            assert!(
                problems.is_empty(),
                "{at}:\n{}\n{got:#}",
                problems.join("\n")
            );
            got
        }
        None => panic!("{at}: the document shows no response for it"),
    }
}

fn stamp(t: OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap()
}

/// Usage the shared dataset lacks but the documents' examples show: Alice's newest call with
/// every log field, a bot per platform, a recording, webhook deliveries and a Punjabi job;
/// `testuser` (the new-api documents' user) with models in the documents' time window.
async fn more_usage(w: &World) -> (String, u64) {
    let (tid, tnumber, ttoken) = w.app.seed_user("testuser", None, "user").await;
    let (tkey, _) = w.app.seed_key(&tid, Some("testuser-key")).await;
    let late = midnight(w.now.date()) + Duration::hours(23) + Duration::minutes(59);
    let alice = |at: OffsetDateTime, extra: Value| {
        let mut e = json!({
            "user_id": w.alice.id, "key_id": w.alice.keys[0].0, "occurred_at": stamp(at),
            "ip": "192.168.1.1", "user_agent": "curl/7.85.0",
        });
        e.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        e
    };
    let mut events = vec![
        alice(
            late,
            json!({"method": "POST", "path": "/api/v1/bots", "status_code": 201,
                "response_time_ms": 45, "api_name": "bots", "endpoint": "/bots",
                "model": "zoom"}),
        ),
        alice(
            late - Duration::hours(1),
            json!({"api_name": "bots", "model": "google"}),
        ),
        alice(
            late - Duration::hours(2),
            json!({"api_name": "bots", "model": "teams", "success": false}),
        ),
        alice(
            late - Duration::hours(3),
            json!({"api_name": "recordings", "units": 1500, "duration_ms": 3_600_000}),
        ),
        alice(
            late - Duration::hours(4),
            json!({"api_name": "webhooks", "duration_ms": 120}),
        ),
        alice(
            late - Duration::hours(5),
            json!({"api_name": "webhooks", "duration_ms": 131, "success": false}),
        ),
        alice(
            late - Duration::hours(6),
            json!({"kind": "job", "language": "Punjabi", "duration_ms": 270_000}),
        ),
    ];
    // new-api's examples ask for 2021-12-31 00:00 .. 2022-01-01 00:00 UTC.
    let new_year = OffsetDateTime::from_unix_timestamp(1_640_995_200).unwrap();
    for (model, tokens) in [("gpt-3.5-turbo", 2000), ("gpt-4", 1500)] {
        events.push(json!({
            "user_id": tid, "key_id": tkey, "occurred_at": stamp(new_year + Duration::minutes(5)),
            "model": model, "tokens": tokens, "quota": tokens * 5,
        }));
    }
    let res = w
        .app
        .admin("POST", "/v1/events", Some(json!({ "events": events })))
        .await;
    assert_eq!(res.status, 200, "{}", res.json());
    (ttoken, tnumber)
}

/// A user's number, looked up by name.
async fn number_of(w: &World, username: &str) -> u64 {
    let users = w.app.admin("GET", "/v1/users", None).await.json();
    users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .and_then(|u| u["number"].as_u64())
        .unwrap()
}

#[actix_web::test]
async fn every_example_of_every_seed_document_answers_in_its_shape() {
    let w = seeded().await;
    let (test_token, test_number) = more_usage(&w).await;
    let alice_key = w.alice.keys[0].1.clone();

    // 000 (lcyt). Alice's key has an ended session (a session record), a failed delivery
    // (a caption error: its generic target's port is closed) and an open session whose
    // token is `<token>`.
    let lcyt = w
        .app
        .new_key(json!({ "owner": "Alice", "email": "alice@example.com",
            "expires": "2099-01-01T00:00:00.000Z", "daily_limit": 1000, "lifetime_limit": 50000 }))
        .await;
    let site = "localhost";
    let dead = json!([{ "type": "generic", "url": "http://127.0.0.1:9/hook" }]);
    let opened = w
        .app
        .call(
            "POST",
            "/live",
            &[],
            Some(json!({ "apiKey": lcyt, "domain": site, "targets": dead })),
        )
        .await;
    assert_eq!(opened.status, 200, "{}", opened.json());
    let first = opened.json()["token"].as_str().unwrap().to_owned();
    assert_eq!(w.app.captions(&first, 2).await.status, 202);
    let mut failed = false;
    for _ in 0..200 {
        let stats = w.app.bearer("GET", "/stats", &first, None).await.json();
        if !stats["captionErrors"].as_array().unwrap().is_empty() {
            failed = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert!(failed, "the delivery to a closed port failed");
    assert_eq!(
        w.app.bearer("DELETE", "/live", &first, None).await.status,
        200
    );
    let (token, _) = w.app.open(&lcyt, site).await;
    assert_eq!(w.app.captions(&token, 3).await.status, 202);
    // `DELETE /stats` erases the key behind its token; it gets a key of its own so that the
    // examples after it (`POST /mic`) still have a live session.
    let doomed = w.app.new_key(json!({ "owner": "Bob" })).await;
    let (doomed_token, _) = w.app.open(&doomed, site).await;
    let today = w.now.date();
    for ex in parse(&doc("000")).examples {
        let mut swaps: Swaps = vec![("<ADMIN_KEY>".into(), ADMIN.into())];
        let session = if ex.method == "DELETE" {
            &doomed_token
        } else {
            &token
        };
        swaps.push(("<token>".into(), session.clone()));
        // The example asks for January 2024; Tally's data is today's, and an empty `data`
        // has no row to compare. The dates become this month's; the rest is verbatim.
        swaps.push((
            "from=2024-01-01".into(),
            format!("from={}", today.replace_day(1).unwrap()),
        ));
        swaps.push(("to=2024-01-31".into(), format!("to={today}")));
        run(&w, "000", &ex, &swaps).await;
    }

    // 001 (Billix ledger). `usage-uuid` is the record the first example creates; the key
    // the record names (`pk_live_abc123`) is Alice's.
    let mut swaps: Swaps = vec![
        ("<token>".into(), w.alice.token.clone()),
        ("${token}".into(), w.alice.token.clone()),
        ("<admin_or_user_token>".into(), w.alice.token.clone()),
        ("<admin_token>".into(), w.root.clone()),
        ("pk_live_abc123".into(), alice_key.clone()),
        ("uuid123".into(), w.alice.id.clone()),
    ];
    for ex in parse(&doc("001")).examples {
        let got = run(&w, "001", &ex, &swaps).await;
        if ex.method == "POST" && !swaps.iter().any(|(k, _)| k == "usage-uuid") {
            swaps.push((
                "usage-uuid".into(),
                got["usage_id"].as_str().unwrap().to_owned(),
            ));
        }
    }

    // 002 (meetbot): `YOUR_API_KEY` is Alice's key, `YOUR_ACCESS_TOKEN` her user token, and
    // key `1` her key.
    let swaps: Swaps = vec![
        ("YOUR_API_KEY".into(), alice_key.clone()),
        ("YOUR_ACCESS_TOKEN".into(), w.alice.token.clone()),
        (
            "/api-keys/1/".into(),
            format!("/api-keys/{}/", w.alice.keys[0].0),
        ),
    ];
    for ex in parse(&doc("002")).examples {
        run(&w, "002", &ex, &swaps).await;
    }

    // 003 (lyrcs): the key in `$LYRCS_API_KEY` is Alice's.
    let swaps: Swaps = vec![
        ("$LYRCS_API_KEY".into(), alice_key.clone()),
        ("${process.env.LYRCS_API_KEY}".into(), alice_key.clone()),
        ("{os.environ['LYRCS_API_KEY']}".into(), alice_key.clone()),
    ];
    for ex in parse(&doc("003")).examples {
        run(&w, "003", &ex, &swaps).await;
    }

    // 004 (new-api): `your_user_id` is the number of the user whose token is sent.
    let root_number = number_of(&w, "root").await;
    let parsed = parse(&doc("004"));
    for ex in &parsed.examples {
        let admin = ex
            .headers
            .iter()
            .any(|(_, v)| v.contains("your_admin_token"));
        let swaps: Swaps = vec![
            ("your_user_token".into(), test_token.clone()),
            ("your_admin_token".into(), w.root.clone()),
            (
                "your_user_id".into(),
                if admin { root_number } else { test_number }.to_string(),
            ),
        ];
        let got = run(&w, "004", ex, &swaps).await;
        assert!(!got["data"].as_array().unwrap().is_empty());
        // The failure examples: no documented request fails, so each success example is
        // sent again with a start that is no timestamp; the answer (a 4xx here, new-api's
        // 200) must have the failure example's shape.
        let bad = Example {
            url: ex
                .url
                .replace("start_timestamp=1640908800", "start_timestamp=yesterday"),
            ..ex.clone()
        };
        let failure = parsed
            .failures
            .iter()
            .find(|(line, _)| *line > ex.line)
            .map(|(_, v)| v)
            .unwrap();
        let path = swap(path_of(&bad.url), &swaps);
        let headers: Vec<(String, String)> = bad
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), swap(v, &swaps)))
            .collect();
        let refs: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let res = w.app.call("GET", &path, &refs, None).await;
        assert_eq!(res.status, 400, "{path}");
        let problems = shape_problems("$", failure, &res.json());
        assert!(problems.is_empty(), "004 failure {path}: {problems:?}");
    }
}

/// The copies in `docs/seeds/` are the documents the project was given, unchanged.
#[test]
fn the_seed_document_copies_match_the_shared_ones() {
    let ours: Vec<_> = std::fs::read_dir(doc_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(ours.len(), 5, "five seed documents");
    let shared = doc_dir().join("../../../shared/seeds");
    if !shared.is_dir() {
        eprintln!(
            "{} is absent: the copies cannot be compared",
            shared.display()
        );
        return;
    }
    for name in ours {
        let a = std::fs::read(doc_dir().join(&name)).unwrap();
        let b = std::fs::read(shared.join(&name)).unwrap();
        assert!(
            a == b,
            "docs/seeds/{} differs from the shared copy",
            name.to_string_lossy()
        );
    }
}
