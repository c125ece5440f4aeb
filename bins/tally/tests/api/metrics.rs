//! `GET /metrics` on the metrics listener, scraped after a known workload. The server runs as
//! its own process (the real binary): the recorder is process-wide, and the other tests of
//! this binary must not count into it.

use std::collections::BTreeMap;

use awc::Client;
use serde_json::{json, Value};

use crate::helpers::on_postgres;
use crate::process::start;

async fn post(client: &Client, url: &str, body: &Value) -> u16 {
    let mut res = client
        .post(url)
        .insert_header(("X-Admin-Key", "metrics-admin"))
        .send_json(body)
        .await
        .expect("request");
    let _body = res.body().await;
    res.status().as_u16()
}

/// `name{labels} value` lines as (name, labels) → value.
fn samples(text: &str) -> BTreeMap<(String, BTreeMap<String, String>), f64> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("a sample line");
            let (name, labels) = match series.split_once('{') {
                Some((n, rest)) => (n, rest.trim_end_matches('}')),
                None => (series, ""),
            };
            let labels = labels
                .split("\",")
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').expect("label=value");
                    (k.to_owned(), v.trim_matches('"').to_owned())
                })
                .collect();
            ((name.to_owned(), labels), value.parse().expect("a number"))
        })
        .collect()
}

fn value(
    s: &BTreeMap<(String, BTreeMap<String, String>), f64>,
    name: &str,
    labels: &[(&str, &str)],
) -> f64 {
    let labels = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    let series = (name.to_owned(), labels);
    s.get(&series)
        .copied()
        .unwrap_or_else(|| panic!("no sample {series:?}"))
}

#[actix_web::test]
async fn the_counters_match_a_known_workload() {
    let server = start(&[("TALLY_METRICS__ADDRESS", "127.0.0.1:0")]);
    let client = Client::default();
    let created = client
        .post(format!("{}/v1/keys", server.api))
        .insert_header(("X-Admin-Key", "metrics-admin"))
        .send_json(&json!({ "name": "metered", "lifetime_limit": 3 }))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let key = created["key"].as_str().expect("a secret").to_owned();
    let verify = format!("{}/v1/verify", server.api);
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(post(&client, &verify, &json!({ "key": key })).await);
    }
    statuses.push(post(&client, &verify, &json!({ "key": "tk_nobody_at_all" })).await);
    assert_eq!(statuses, [200, 200, 200, 429, 429, 401]);
    for _ in 0..2 {
        let res = client
            .get(format!("{}/no/such/route", server.api))
            .send()
            .await;
        assert_eq!(res.unwrap().status().as_u16(), 404);
    }

    let text = client
        .get(&server.metrics)
        .send()
        .await
        .unwrap()
        .body()
        .await
        .unwrap();
    let s = samples(std::str::from_utf8(&text).unwrap());
    let decisions = "tally_meter_decisions_total";
    assert_eq!(value(&s, decisions, &[("outcome", "admitted")]), 3.0);
    assert_eq!(
        value(&s, decisions, &[("outcome", "lifetime_limit_exceeded")]),
        2.0
    );
    assert_eq!(value(&s, decisions, &[("outcome", "unknown_key")]), 1.0);
    let requests = "tally_http_requests_total";
    let verify_with = |status| {
        [
            ("method", "POST"),
            ("route", "/v1/verify"),
            ("status", status),
        ]
    };
    assert_eq!(value(&s, requests, &verify_with("200")), 3.0);
    assert_eq!(value(&s, requests, &verify_with("429")), 2.0);
    assert_eq!(value(&s, requests, &verify_with("401")), 1.0);
    let created = [("method", "POST"), ("route", "/v1/keys"), ("status", "201")];
    assert_eq!(value(&s, requests, &created), 1.0);
    let unmatched = [("method", "GET"), ("route", "unmatched"), ("status", "404")];
    assert_eq!(value(&s, requests, &unmatched), 2.0);
    let histogram = "tally_http_request_duration_seconds_count";
    let verify_route = [("method", "POST"), ("route", "/v1/verify")];
    assert_eq!(value(&s, histogram, &verify_route), 6.0);
    assert_eq!(value(&s, "tally_meter_duration_seconds_count", &[]), 6.0);
    assert_eq!(value(&s, "tally_caption_delivery_backlog", &[]), 0.0);
    if on_postgres() {
        assert!(value(&s, "tally_db_connections", &[("state", "idle")]) >= 1.0);
        assert_eq!(value(&s, "tally_meter_queue", &[]), 0.0);
    }
}

#[actix_web::test]
async fn the_json_access_log_has_one_line_per_request_and_no_secret() {
    let mut server = start(&[
        ("TALLY_LOG_FORMAT", "json"),
        ("RUST_LOG", "warn,tally_http::access=info"),
    ]);
    let client = Client::default();
    let created = client
        .post(format!("{}/v1/keys", server.api))
        .insert_header(("X-Admin-Key", "metrics-admin"))
        .send_json(&json!({ "name": "logged" }))
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let secret = created["key"].as_str().unwrap().to_owned();
    let verify = format!("{}/v1/verify", server.api);
    assert_eq!(post(&client, &verify, &json!({ "key": secret })).await, 200);
    let res = client
        .get(format!(
            "{}/v1/analytics?from=2026-01-01&to=2026-01-02",
            server.api
        ))
        .insert_header(("Authorization", format!("Bearer {secret}")))
        .insert_header(("X-Request-Id", "trace-me-42"))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success() || res.status().is_client_error());
    let _stopped = server.child.kill();
    let mut log = String::new();
    std::io::Read::read_to_string(&mut server.child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(!log.contains(&secret), "a key secret reached the log");
    assert!(
        !log.contains("metrics-admin"),
        "the admin key reached the log"
    );
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .filter(|l: &Value| l["target"] == "tally_http::access")
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    let routes: Vec<(&str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["route"].as_str().unwrap(),
                l["principal"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        routes,
        [
            ("/v1/keys", "admin_key"),
            ("/v1/verify", "admin_key"),
            ("/v1/analytics", "api_key")
        ]
    );
    assert_eq!(lines[2]["request_id"], "trace-me-42");
    for line in &lines {
        assert!(line["status"].as_u64().is_some() && line["elapsed_us"].as_u64().is_some());
        assert!(line["request_id"].as_str().is_some_and(|id| !id.is_empty()));
    }
}
