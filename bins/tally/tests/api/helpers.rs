//! `spawn_app` and `TestApp`: the server on port 0 and a client with one method per endpoint.

use std::collections::HashMap;

use actix_web::dev::ServerHandle;
use awc::Client;
use serde_json::Value;
use tally::config::{self, Config, Sources};
use tally::wiring;
use tally_domain::services::Stores;
use tally_http::StoreKind;
use tally_store_pg::testing::TestDb;

/// A running server and a client for it. The server stops when the test's runtime ends.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: Client,
    /// Stops the server (tests that need a restart use it).
    #[expect(dead_code, reason = "not every test stops its server")]
    pub handle: ServerHandle,
    /// The Postgres test database behind the server, dropped with the app.
    pub db: Option<TestDb>,
}

/// A response, read whole.
pub struct Reply {
    pub status: u16,
    pub headers: awc::http::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", String::from_utf8_lossy(&self.body)))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(|v| v.to_str().unwrap())
    }
}

/// The test configuration: defaults, a free port, one worker, a fixed JWT secret, and a
/// YouTube ingestion URL nothing listens on (tests that talk to YouTube start a fake one).
pub fn test_config() -> Config {
    let env: HashMap<String, String> = [
        ("TALLY_HTTP__PORT", "0"),
        ("TALLY_HTTP__WORKERS", "1"),
        ("JWT_SECRET", "test-secret"),
        ("ADMIN_KEY", "test-admin-key"),
        (
            "TALLY_YOUTUBE__INGESTION_URL",
            "http://127.0.0.1:9/closedcaption",
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    config::load(&Sources { file: None, env }).expect("test configuration")
}

/// Which store the black-box suite runs on: `TALLY_TEST_STORE=postgres` runs it on a fresh
/// cloned Postgres database per app (CI runs the suite both ways); anything else on memory.
pub fn on_postgres() -> bool {
    std::env::var("TALLY_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The server on the suite's store (see [`on_postgres`]).
pub async fn spawn_app() -> TestApp {
    spawn_on(&test_config())
}

/// The server for this configuration on the suite's store.
pub fn spawn_on(config: &Config) -> TestApp {
    if on_postgres() {
        let db = TestDb::create().expect("TALLY_TEST_STORE=postgres needs a reachable Postgres");
        let mut app = spawn_with_stores(config, db.stores(), StoreKind::Postgres);
        app.db = Some(db);
        app
    } else {
        let (stores, kind) = wiring::stores(config).expect("stores");
        spawn_with_stores(config, stores, kind)
    }
}

/// The server on the given stores.
pub fn spawn_with_stores(config: &Config, stores: Stores, kind: StoreKind) -> TestApp {
    // As `tally`'s `main` does: OpenSSL initialised without its exit handler, which would
    // otherwise free OpenSSL's state when the test process exits while servers' threads
    // (webhook deliveries, pool connections) may still be inside it — seen once as "double
    // free or corruption" after every test of the suite had passed.
    openssl::init();
    let state = wiring::state(config, stores, kind);
    let running = tally::serve(state, &config.http).expect("server starts");
    let handle = running.server.handle();
    actix_web::rt::spawn(running.server);
    TestApp {
        address: format!("http://{}", running.addr),
        client: Client::default(),
        handle,
        db: None,
    }
}

impl TestApp {
    /// `GET /health`.
    pub async fn get_health(&self) -> Reply {
        self.get("/health").await
    }

    /// `GET` of any path.
    pub async fn get(&self, path: &str) -> Reply {
        send(self.client.get(self.url(path)), None).await
    }

    /// `GET` with one extra header.
    pub async fn get_with_header(&self, path: &str, name: &str, value: &str) -> Reply {
        send(
            self.client.get(self.url(path)).insert_header((name, value)),
            None,
        )
        .await
    }

    /// A request of any method with a raw body of the given content type.
    pub async fn send_raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: &str,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let req = self
            .client
            .request(method, self.url(path))
            .insert_header(("Content-Type", content_type));
        send(req, Some(body.to_owned())).await
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }
}

/// Sends a request and reads the whole response.
pub async fn send(req: awc::ClientRequest, body: Option<String>) -> Reply {
    let sent = match body {
        Some(body) => req.send_body(body).await,
        None => req.send().await,
    };
    let mut res = sent.expect("request sent");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    let body = res
        .body()
        .limit(4 * 1024 * 1024)
        .await
        .expect("body read")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}
