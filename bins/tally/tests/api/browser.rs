//! A real headless Chromium for the dashboard tests, driven over the W3C WebDriver protocol by
//! Debian's `chromedriver` (started per test on a free port, killed with the [`Browser`]).
//! WebDriver is a handful of JSON calls, made here with the suite's own HTTP client (awc).
//!
//! Without `chromedriver`/`chromium` the browser tests say so on stderr and stop; with
//! `TALLY_REQUIRE_BROWSER=1` (CI) they fail instead, so CI never skips them silently.

use std::net::TcpListener;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use awc::Client;
use base64::Engine;
use serde_json::{json, Value};

/// The W3C key of an element reference.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a wait for the page lasts before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// A Chromium session and the chromedriver behind it.
pub struct Browser {
    driver: Child,
    base: String,
    client: Client,
    /// The test's name, prefixed to its screenshots.
    name: String,
}

/// An element of the page.
#[derive(Clone)]
pub struct El(String);

fn which(program: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(program))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Where screenshots go: `<target dir>/ui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../target")),
        PathBuf::from,
    );
    target.join("ui-screenshots")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium of `width`×`height`, or `None` (said loudly)
    /// when they are not installed and `TALLY_REQUIRE_BROWSER` is not `1`.
    pub async fn start(name: &str, width: u32, height: u32) -> Option<Self> {
        let (Some(driver), Some(chromium)) = (
            which("chromedriver"),
            which("chromium").or_else(|| which("chromium-browser")),
        ) else {
            assert!(
                std::env::var("TALLY_REQUIRE_BROWSER").as_deref() != Ok("1"),
                "TALLY_REQUIRE_BROWSER=1 but chromium or chromedriver is not installed \
                 (apt-get install chromium chromium-driver)"
            );
            eprintln!(
                "SKIPPED browser test {name}: chromium/chromedriver not installed \
                 (apt-get install chromium chromium-driver; CI sets TALLY_REQUIRE_BROWSER=1)"
            );
            return None;
        };
        let port = free_port();
        let child = Command::new(driver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            // Its own process group, so that dropping the browser ends Chromium too.
            .process_group(0)
            .spawn()
            .expect("chromedriver starts");
        let mut browser = Self {
            driver: child,
            base: format!("http://127.0.0.1:{port}"),
            client: Client::builder().timeout(Duration::from_secs(60)).finish(),
            name: name.to_owned(),
        };
        let started = Instant::now();
        while browser
            .client
            .get(format!("{}/status", browser.base))
            .send()
            .await
            .is_err()
        {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not start");
            actix_web::rt::time::sleep(Duration::from_millis(50)).await;
        }
        let caps = json!({ "capabilities": { "alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--no-first-run", "--lang=en-US",
                         format!("--window-size={width},{height}")],
            },
        }}});
        let session = browser.raw("POST", "/session", Some(caps)).await;
        let id = session["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {session}"))
            .to_owned();
        browser.base = format!("{}/session/{id}", browser.base);
        Some(browser)
    }

    async fn raw(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}{path}", self.base);
        let req = match method {
            "POST" => self.client.post(url),
            "DELETE" => self.client.delete(url),
            _ => self.client.get(url),
        };
        let mut res = match body {
            Some(b) => req.send_json(&b).await,
            None => req.send().await,
        }
        .expect("WebDriver answers");
        let value: Value = res
            .json()
            .limit(64 * 1024 * 1024)
            .await
            .expect("WebDriver JSON");
        value.get("value").cloned().unwrap_or(value)
    }

    async fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let v = self.raw(method, path, body).await;
        match v.get("error").and_then(Value::as_str) {
            Some(e) => Err(format!("{e}: {}", v["message"].as_str().unwrap_or(""))),
            None => Ok(v),
        }
    }

    /// Opens a URL.
    pub async fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })))
            .await
            .expect("navigate");
    }

    /// Runs a script in the page and returns its value.
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": script, "args": args })),
        )
        .await
        .unwrap_or_else(|e| panic!("script failed: {e}\n{script}"))
    }

    /// The first element matching `css`, waiting for it to appear and be displayed.
    pub async fn find(&self, css: &str) -> El {
        let started = Instant::now();
        loop {
            let found = self
                .cmd(
                    "POST",
                    "/element",
                    Some(json!({ "using": "css selector", "value": css })),
                )
                .await;
            if let Ok(v) = found {
                let el = El(v[ELEMENT].as_str().expect("element id").to_owned());
                let shown = self
                    .cmd("GET", &format!("/element/{}/displayed", el.0), None)
                    .await;
                if shown.ok().and_then(|v| v.as_bool()) == Some(true) {
                    return el;
                }
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: no visible {css} after {PATIENCE:?}; page text:\n{}",
                self.name,
                self.page_text().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Whether an element matching `css` is in the page now (no waiting).
    pub async fn exists(&self, css: &str) -> bool {
        self.js(
            "return document.querySelector(arguments[0]) !== null",
            vec![json!(css)],
        )
        .await
        .as_bool()
            == Some(true)
    }

    /// Waits until the text of the first element matching `css` satisfies `ok`; returns it.
    pub async fn wait_text(&self, css: &str, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let text = self
                .js(
                    "const e = document.querySelector(arguments[0]); return e ? e.innerText : null",
                    vec![json!(css)],
                )
                .await;
            if let Some(t) = text.as_str().filter(|t| ok(t)) {
                return t.to_owned();
            }
            assert!(
                started.elapsed() < PATIENCE,
                "{}: {css} never had the expected text (last: {text}); page text:\n{}",
                self.name,
                self.page_text().await
            );
            actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The visible text of the whole page.
    pub async fn page_text(&self) -> String {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({ "script": "return document.body.innerText", "args": [] })),
        )
        .await
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
    }

    /// Clicks the first element matching `css`.
    pub async fn click(&self, css: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{}/click", el.0), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Clears the field matching `css` and types `text` into it.
    pub async fn fill(&self, css: &str, text: &str) {
        let el = self.find(css).await;
        self.cmd("POST", &format!("/element/{}/clear", el.0), Some(json!({})))
            .await
            .unwrap_or_else(|e| panic!("clear {css}: {e}"));
        if !text.is_empty() {
            self.cmd(
                "POST",
                &format!("/element/{}/value", el.0),
                Some(json!({ "text": text })),
            )
            .await
            .unwrap_or_else(|e| panic!("type into {css}: {e}"));
        }
    }

    /// Picks the option with `value` in the select matching `css` (as a user would, firing
    /// `change`).
    pub async fn select(&self, css: &str, value: &str) {
        self.find(css).await;
        self.js(
            "const s = document.querySelector(arguments[0]); s.value = arguments[1]; \
             s.dispatchEvent(new Event('change', {bubbles: true}));",
            vec![json!(css), json!(value)],
        )
        .await;
    }

    /// Saves a PNG of the viewport as `target/ui-screenshots/<test>-<step>.png`.
    pub async fn screenshot(&self, step: &str) -> PathBuf {
        let b64 = self
            .cmd("GET", "/screenshot", None)
            .await
            .expect("screenshot");
        let png = base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64"))
            .expect("PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).expect("screenshot directory");
        let path = dir.join(format!("{}-{step}.png", self.name));
        std::fs::write(&path, png).expect("screenshot written");
        path
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // The whole group this test started: chromedriver and the Chromium it launched.
        let _group = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.driver.id())])
            .status();
        let _killed = self.driver.kill();
        let _reaped = self.driver.wait();
    }
}
