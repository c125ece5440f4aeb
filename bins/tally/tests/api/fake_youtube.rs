//! A stand-in for YouTube's caption ingestion endpoint: a plain TCP server that records each
//! request exactly as it arrived (request line, headers, body bytes) and answers what the
//! test says, and a raw HTTP receiver for webhook targets built the same way.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tally::config::Config;

use crate::helpers::{spawn_on, test_config, TestApp};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `POST /closedcaption?cid=…&seq=… HTTP/1.1`.
    pub request_line: String,
    /// Header names lower-cased, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl Received {
    /// The request target (path and query).
    pub fn target(&self) -> &str {
        self.request_line.split(' ').nth(1).unwrap()
    }

    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

/// What the server answers: a status and a body, or `None` to drop the connection unanswered.
pub type Reply = Arc<dyn Fn() -> Option<(u16, String)> + Send + Sync>;

/// A running recorder.
pub struct Recorder {
    /// `http://127.0.0.1:<port>/closedcaption`.
    pub url: String,
    pub got: Arc<Mutex<Vec<Received>>>,
    reply: Arc<Mutex<Reply>>,
}

impl Recorder {
    /// Starts a recorder answering `200` with an empty body.
    pub fn start(path: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}{path}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<Received>>> = Arc::default();
        let reply: Arc<Mutex<Reply>> =
            Arc::new(Mutex::new(Arc::new(|| Some((200, String::new())))));
        let (seen, answer) = (got.clone(), reply.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { return };
                let (seen, answer) = (seen.clone(), answer.clone());
                std::thread::spawn(move || serve(conn, &seen, &answer));
            }
        });
        Self { url, got, reply }
    }

    /// Changes the answer from now on.
    pub fn reply(&self, f: impl Fn() -> Option<(u16, String)> + Send + Sync + 'static) {
        *self.reply.lock().unwrap() = Arc::new(f);
    }

    /// The requests received so far.
    pub fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }

    /// Waits (up to 5 s) until `n` requests have arrived and returns them all.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..200 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("expected {n} requests, got {:?}", self.received());
    }
}

fn serve(conn: TcpStream, seen: &Mutex<Vec<Received>>, answer: &Mutex<Reply>) {
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            let (k, v) = line.split_once(':').unwrap();
            headers.push((k.trim().to_ascii_lowercase(), v.trim().to_owned()));
        }
        let len: usize = headers
            .iter()
            .find(|(k, _)| k == "content-length")
            .map_or(0, |(_, v)| v.parse().unwrap());
        let mut body = vec![0; len];
        reader.read_exact(&mut body).unwrap();
        seen.lock().unwrap().push(Received {
            request_line: request_line.trim_end().to_owned(),
            headers,
            body,
        });
        let reply = answer.lock().unwrap().clone();
        let Some((status, text)) = reply() else {
            return;
        };
        let mut out = conn.try_clone().unwrap();
        let head = format!(
            "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nContent-Type: text/plain\r\n\r\n",
            text.len()
        );
        out.write_all(head.as_bytes()).unwrap();
        out.write_all(text.as_bytes()).unwrap();
    }
}

/// The test configuration with YouTube's ingestion URL pointing at `youtube`.
pub fn config_with_youtube(youtube: &Recorder) -> Config {
    let mut config = test_config();
    config.youtube_ingestion_url = youtube.url.clone();
    config
}

/// A server whose YouTube is `youtube`.
pub fn spawn_with_youtube(youtube: &Recorder) -> TestApp {
    spawn_on(&config_with_youtube(youtube))
}
