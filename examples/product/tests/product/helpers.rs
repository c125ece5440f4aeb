//! `spawn_product` and `TestProduct`: the example product on port 0 and a client for it.

use awc::Client;
use serde_json::{json, Value};
use tally_domain::services::Stores;
use tally_http::StoreKind;
use tally_store_pg::testing::TestDb;

/// The admin key of the product's `/tally` routes in tests.
pub const ADMIN_KEY: &str = "test-admin-key";

/// A running product and a client for it.
pub struct TestProduct {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    pub client: Client,
    /// The Postgres database behind it, dropped with the product.
    pub _db: Option<TestDb>,
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

/// The store of this run: `TALLY_TEST_STORE=postgres` → a fresh cloned Postgres database.
pub fn on_postgres() -> bool {
    std::env::var("TALLY_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// The product on these stores, two workers, on a free port.
pub fn spawn_product_on(stores: Stores, kind: StoreKind) -> TestProduct {
    let state = product::state(stores, kind, Some(ADMIN_KEY.to_owned()));
    let running = product::serve(state, "127.0.0.1:0", 2).expect("product starts");
    actix_web::rt::spawn(running.server);
    TestProduct {
        address: format!("http://{}", running.addr),
        client: Client::default(),
        _db: None,
    }
}

/// The product on this run's store (see [`on_postgres`]).
pub fn spawn_product() -> TestProduct {
    let (stores, kind, db) = if on_postgres() {
        let db = TestDb::create().expect("TALLY_TEST_STORE=postgres needs a reachable Postgres");
        (db.stores(), StoreKind::Postgres, Some(db))
    } else {
        let (stores, kind) = product::stores(None).unwrap();
        (stores, kind, None)
    };
    let mut app = spawn_product_on(stores, kind);
    app._db = db;
    app
}

impl TestProduct {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// `GET path` with the key as a Bearer credential (none when `None`).
    pub async fn get_with_key(&self, path: &str, key: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(k) = key {
            req = req.insert_header(("Authorization", format!("Bearer {k}")));
        }
        send(req, None).await
    }

    /// `POST path` (empty body) with the key in `X-Api-Key` (the render scope's header).
    pub async fn post_with_api_key(&self, path: &str, key: &str) -> Reply {
        let req = self
            .client
            .post(self.url(path))
            .insert_header(("X-Api-Key", key));
        send(req, None).await
    }

    /// An admin request to the mounted Tally API (`/tally…`).
    pub async fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let req = self
            .client
            .request(method, self.url(&format!("/tally{path}")))
            .insert_header(("X-Admin-Key", ADMIN_KEY));
        match body {
            Some(b) => {
                send(
                    req.insert_header(("Content-Type", "application/json")),
                    Some(b.to_string()),
                )
                .await
            }
            None => send(req, None).await,
        }
    }

    /// A key with these limits, issued through `POST /tally/v1/keys`: `(id, secret)`.
    pub async fn key(&self, daily: Option<u64>, lifetime: Option<u64>) -> (i64, String) {
        let r = self
            .admin(
                "POST",
                "/v1/keys",
                Some(json!({ "owner": "test", "daily_limit": daily, "lifetime_limit": lifetime })),
            )
            .await;
        assert_eq!(r.status, 201, "{:?}", String::from_utf8_lossy(&r.body));
        let v = r.json();
        (
            v["id"].as_i64().unwrap(),
            v["key"].as_str().unwrap().to_owned(),
        )
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
        .expect("body")
        .to_vec();
    Reply {
        status,
        headers,
        body,
    }
}
