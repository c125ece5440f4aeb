//! `dashboard`: how long each dashboard page takes to load in headless Chromium over a seeded
//! history — from the start of the navigation to the page's data on screen (its table, chart or
//! live status drawn from the API's answers), as the page's own `performance.now()` says.
//!
//! Chromium is driven over W3C WebDriver by Debian's `chromedriver` (started here on a free
//! port); each load is a full navigation (a new query string, so nothing is reused but the
//! browser's revalidated asset cache — the `no-cache` + `ETag` files answer 304), runs
//! `--runs` times per page. The slowest API call of each load comes from the Resource Timing
//! entries of the page's `fetch` calls.

use std::net::{SocketAddr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::seed::{self, USERS};
use super::{admin, analytics::size};
use crate::error::{setup, BenchError, Result};
use crate::http::{Conn, Request};
use crate::report::Section;
use crate::Opts;

/// `(page, credential kind, test for "the data is on screen")`.
const PAGES: &[(&str, &str, &str)] = &[
    (
        "overview",
        "admin",
        "document.querySelector('#chart canvas') && document.querySelector('#today-count')",
    ),
    (
        "keys",
        "admin",
        "document.querySelector('#keys-table tbody tr')",
    ),
    (
        "users",
        "admin",
        "document.querySelector('#users-table tbody tr')",
    ),
    (
        "orgs",
        "admin",
        "document.querySelector('#orgs-table tbody tr')",
    ),
    ("live", "admin", "document.querySelector('#live-status.ok')"),
    (
        "sites",
        "admin",
        "document.querySelector('#sites-table, #sites .message.empty')",
    ),
    (
        "overview",
        "token",
        "document.querySelector('#chart canvas') && document.querySelector('#today-count')",
    ),
    (
        "keys",
        "token",
        "document.querySelector('#keys-table tbody tr')",
    ),
    (
        "logs",
        "token",
        "document.querySelector('#logs-table tbody tr')",
    ),
];

/// Waits (in the page) for `ready`, then answers the time since navigation start, the slowest
/// API call and any error message on the page.
const MEASURE: &str = "const [test, done] = [new Function('return ' + arguments[0]), arguments[arguments.length - 1]];
const report = () => {
  const api = performance.getEntriesByType('resource').filter((e) => e.initiatorType === 'fetch');
  done({ ms: performance.now(), api_ms: Math.max(0, ...api.map((e) => e.duration)), calls: api.length });
};
const error = () => document.querySelector('#page .message.error');
const check = () => {
  if (test()) { report(); return true; }
  if (error()) { done({ error: error().textContent }); return true; }
  return false;
};
if (!check()) {
  const seen = new MutationObserver(() => { if (check()) seen.disconnect(); });
  seen.observe(document.body, { subtree: true, childList: true, attributes: true, characterData: true });
}";

/// A chromedriver and the one headless Chromium session it runs; killed when dropped.
struct Driver {
    child: std::process::Child,
    addr: SocketAddr,
    session: String,
}

impl Driver {
    async fn start() -> Result<Self> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())?;
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| {
                BenchError::Setup(format!(
                    "chromedriver ({e}): apt-get install chromium chromium-driver"
                ))
            })?;
        let mut d = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            session: String::new(),
        };
        let started = Instant::now();
        while Conn::connect(d.addr).await.is_err() {
            if started.elapsed() > Duration::from_secs(15) {
                return Err(BenchError::Setup("chromedriver did not start".to_owned()));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": { "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--no-first-run", "--window-size=1280,1000"] },
        }}});
        let v = d.call("POST", "/session", &caps).await?;
        d.session = v["sessionId"]
            .as_str()
            .ok_or_else(|| BenchError::Setup(format!("no WebDriver session: {v}")))?
            .to_owned();
        Ok(d)
    }

    /// One WebDriver command (chromedriver insists on a local `Host`).
    async fn call(&self, method: &str, path: &str, body: &Value) -> Result<Value> {
        let body = body.to_string();
        let path = if path == "/session" {
            path.to_owned()
        } else {
            format!("/session/{}{path}", self.session)
        };
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        let req = Request([head.into_bytes(), body.into_bytes()].concat());
        let v = Conn::connect(self.addr).await?.send(&req).await?.json()?;
        let value = v.get("value").cloned().unwrap_or(v);
        if let Some(e) = value.get("error").and_then(Value::as_str) {
            return Err(BenchError::Protocol(format!(
                "WebDriver {path}: {e}: {}",
                value["message"]
            )));
        }
        Ok(value)
    }

    async fn goto(&self, url: &str) -> Result<()> {
        self.call("POST", "/url", &json!({ "url": url }))
            .await
            .map(drop)
    }

    async fn script(&self, kind: &str, script: &str, args: Value) -> Result<Value> {
        self.call(
            "POST",
            &format!("/execute/{kind}"),
            &json!({ "script": script, "args": args }),
        )
        .await
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Loads every page `runs` times with `secret` of `kind` in session storage: one table row each.
async fn measure_pages(
    opts: &Opts,
    d: &Driver,
    base: &str,
    creds: &[(&str, &str)],
    n: &str,
) -> Result<Vec<String>> {
    let mut rows = Vec::new();
    let mut load = 0_u32;
    for (kind, secret) in creds {
        d.goto(&format!("{base}/ui/")).await?;
        d.script(
            "sync",
            "sessionStorage.setItem('tally.credential', JSON.stringify({kind: arguments[0], secret: arguments[1]}))",
            json!([kind, secret]),
        )
        .await?;
        for (page, who, ready) in PAGES.iter().filter(|p| p.1 == *kind) {
            let (mut total, mut api, mut calls) = (Vec::new(), Vec::new(), 0);
            for _ in 0..opts.runs.max(1) {
                load += 1;
                d.goto(&format!("{base}/ui/?load={load}#/{page}")).await?;
                let v = d.script("async", MEASURE, json!([ready])).await?;
                if let Some(e) = v.get("error") {
                    return Err(BenchError::Protocol(format!("page {page} ({who}): {e}")));
                }
                total.push(v["ms"].as_f64().unwrap_or(f64::NAN));
                api.push(v["api_ms"].as_f64().unwrap_or(f64::NAN));
                calls = v["calls"].as_u64().unwrap_or(0);
            }
            let who = if *who == "admin" {
                "admin key"
            } else {
                "user token"
            };
            rows.push(format!(
                "| {page} ({who}) @ {n} | {} | {:.0} | {:.0} | {calls} | {:.0} |",
                total.len(),
                median(total.clone()),
                total.iter().copied().fold(0.0, f64::max),
                median(api)
            ));
        }
    }
    Ok(rows)
}

/// Runs the scenario and returns its section.
///
/// # Errors
/// Setup, seeding and browser failures.
pub async fn run(opts: &Opts) -> Result<Section> {
    let server = opts.server("dashboard")?;
    let (owners, _) = seed::owners(opts, server.addr, USERS).await?;
    // A user token for the owner whose events the per-user endpoints read (owner 1).
    let user = owners.users.get(1).ok_or_else(|| setup("no owners"))?;
    let tok = crate::http::call(
        server.addr,
        &admin(opts, "POST", &format!("/v1/users/{user}/tokens"), None),
        201,
    )
    .await?;
    let token = tok["token"]
        .as_str()
        .ok_or_else(|| setup("no token"))?
        .to_owned();
    let end = time::OffsetDateTime::now_utc();
    let driver = Driver::start().await?;
    let base = format!("http://{}", server.addr);
    let creds = [
        ("admin", opts.admin_key.as_str()),
        ("token", token.as_str()),
    ];
    let mut out = vec![
        format!(
            "### dashboard — {} store, page load in headless Chromium (navigation start → data on screen), {USERS} users, {} loads per page\n",
            opts.store_name(),
            opts.runs.max(1)
        ),
        "| page @ history | loads | median ms | max ms | API calls | slowest API call (median ms) |".to_owned(),
        "|---|---|---|---|---|---|".to_owned(),
    ];
    let mut seeded = 0;
    for &target in &opts.history {
        if target > seeded {
            let t = Instant::now();
            seed::seed(opts, &server, &owners, end, seeded, target - seeded).await?;
            eprintln!(
                "dashboard: seeded {} events in {:.0} s",
                target - seeded,
                t.elapsed().as_secs_f64()
            );
            seeded = target;
        }
        out.extend(measure_pages(opts, &driver, &base, &creds, &size(seeded)).await?);
    }
    Ok(Section {
        text: out.join("\n"),
        figures: Vec::new(),
    })
}
