//! Client methods for the lcyt surface, and an SSE reader.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{json, Value};

use crate::helpers::{send, Reply, TestApp};

/// The admin key of `test_config()`.
pub const ADMIN: &str = "test-admin-key";

impl TestApp {
    /// Any request with extra headers and an optional JSON body.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.address));
        for (k, v) in headers {
            req = req.insert_header((*k, *v));
        }
        match body {
            Some(b) => {
                let req = req.insert_header(("Content-Type", "application/json"));
                send(req, Some(b.to_string())).await
            }
            None => send(req, None).await,
        }
    }

    /// An admin request.
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, &[("X-Admin-Key", ADMIN)], body)
            .await
    }

    /// A request with a session token.
    pub async fn bearer(
        &self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> Reply {
        let auth = format!("Bearer {token}");
        self.call(method, path, &[("Authorization", auth.as_str())], body)
            .await
    }

    /// Creates a key (asserting 201) and returns its raw secret.
    pub async fn new_key(&self, body: Value) -> String {
        let res = self.admin("POST", "/keys", Some(body)).await;
        assert_eq!(res.status, 201, "{:?}", String::from_utf8_lossy(&res.body));
        res.json()["key"].as_str().expect("key").to_owned()
    }

    /// Opens a session (asserting 200) and returns `(token, sessionId)`.
    pub async fn open(&self, key: &str, domain: &str) -> (String, String) {
        let res = self
            .call(
                "POST",
                "/live",
                &[],
                Some(json!({ "apiKey": key, "domain": domain })),
            )
            .await;
        assert_eq!(res.status, 200, "{:?}", String::from_utf8_lossy(&res.body));
        let b = res.json();
        (
            b["token"].as_str().unwrap().to_owned(),
            b["sessionId"].as_str().unwrap().to_owned(),
        )
    }

    /// Posts `n` captions with a token.
    pub async fn captions(&self, token: &str, n: usize) -> Reply {
        let caps: Vec<Value> = (0..n)
            .map(|i| json!({ "text": format!("caption {i}") }))
            .collect();
        self.bearer(
            "POST",
            "/captions",
            token,
            Some(json!({ "captions": caps })),
        )
        .await
    }

    /// Opens an SSE stream.
    pub async fn sse(&self, path: &str, token: Option<&str>) -> Sse {
        let mut req = self
            .client
            .get(format!("{}{path}", self.address))
            .timeout(Duration::from_secs(3600));
        if let Some(t) = token {
            req = req.insert_header(("Authorization", format!("Bearer {t}")));
        }
        let res = req.send().await.expect("sse connect");
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(
            res.headers().get("content-type").unwrap(),
            "text/event-stream"
        );
        Sse {
            res: Box::pin(res),
            buf: String::new(),
        }
    }
}

type Body = std::pin::Pin<
    Box<dyn futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>>,
>;

/// A server-sent event stream being read.
pub struct Sse {
    res: Body,
    buf: String,
}

impl Sse {
    /// The next event `(name, data)`, skipping comments; panics after 5 s.
    pub async fn next(&mut self) -> (String, Value) {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an SSE event within 5 s")
    }

    /// The next event, or `None` when the stream ended or nothing came in time.
    pub async fn next_within(&mut self, wait: Duration) -> Option<(String, Value)> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                let mut name = None;
                let mut data = String::new();
                for line in frame.lines() {
                    if let Some(n) = line.strip_prefix("event: ") {
                        name = Some(n.to_owned());
                    } else if let Some(d) = line.strip_prefix("data: ") {
                        data.push_str(d);
                    }
                }
                if let Some(name) = name {
                    return Some((name, serde_json::from_str(&data).expect("SSE data is JSON")));
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.next())
                .await
                .ok()??;
            self.buf
                .push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf-8"));
        }
    }

    /// The next event named `name`, skipping others (`usage`, …); panics after 5 s.
    pub async fn next_named(&mut self, name: &str) -> (String, Value) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let ev = self
                .next_within(left)
                .await
                .unwrap_or_else(|| panic!("no {name} event within 5 s"));
            if ev.0 == name {
                return ev;
            }
        }
    }

    /// The next frame exactly as sent (without its closing blank line), comments included;
    /// `None` when the stream ended or nothing came within `wait`.
    pub async fn next_raw_within(&mut self, wait: Duration) -> Option<String> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let frame: String = self.buf.drain(..end + 2).collect();
                return Some(frame[..end].to_owned());
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.next())
                .await
                .ok()??;
            self.buf
                .push_str(std::str::from_utf8(&chunk.expect("chunk")).expect("utf-8"));
        }
    }

    /// The next frame exactly as sent; panics after 5 s.
    pub async fn next_raw(&mut self) -> String {
        self.next_raw_within(Duration::from_secs(5))
            .await
            .expect("an SSE frame within 5 s")
    }

    /// Whether the server closed the stream (within 5 s).
    pub async fn ended(&mut self) -> bool {
        matches!(
            tokio::time::timeout(Duration::from_secs(5), self.res.next()).await,
            Ok(None)
        )
    }
}
