//! A minimal HTTP/1.1 keep-alive client over a raw socket: requests are prebuilt byte strings,
//! responses are read whole (`Content-Length` or chunked). Enough for Tally's JSON endpoints,
//! and much cheaper per request than a general client — the generator shares the machine's
//! two cores with the server it measures.

use std::net::SocketAddr;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::error::{BenchError, Result};

/// One request, serialised.
#[derive(Debug, Clone)]
pub struct Request(pub Vec<u8>);

impl Request {
    /// A request with extra headers and an optional JSON body.
    #[must_use]
    pub fn new(method: &str, path: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Self {
        let body = body.map(Value::to_string).unwrap_or_default();
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: bench\r\n");
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str("Content-Type: application/json\r\n");
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body.as_bytes());
        Self(bytes)
    }
}

/// A response: status and body.
#[derive(Debug)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body, de-chunked.
    pub body: Vec<u8>,
}

impl Response {
    /// The body as JSON.
    ///
    /// # Errors
    /// [`BenchError::Protocol`] when it is not JSON.
    pub fn json(&self) -> Result<Value> {
        serde_json::from_slice(&self.body).map_err(|e| {
            BenchError::Protocol(format!(
                "status {}: not JSON ({e}): {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            ))
        })
    }
}

/// A keep-alive connection.
#[derive(Debug)]
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Conn {
    /// Connects (with `TCP_NODELAY`).
    ///
    /// # Errors
    /// The socket's error.
    pub async fn connect(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(8192),
        })
    }

    /// Writes raw bytes (for streams that are read with [`Conn::read_some`]).
    ///
    /// # Errors
    /// The socket's error.
    pub async fn write(&mut self, bytes: &[u8]) -> Result<()> {
        Ok(self.stream.write_all(bytes).await?)
    }

    /// Reads whatever arrives next; `0` when the peer closed.
    ///
    /// # Errors
    /// The socket's error.
    pub async fn read_some(&mut self, out: &mut [u8]) -> Result<usize> {
        Ok(self.stream.read(out).await?)
    }

    /// Sends a request and reads its whole response.
    ///
    /// # Errors
    /// [`BenchError::Io`] for the socket, [`BenchError::Protocol`] for a response this client
    /// cannot read.
    pub async fn send(&mut self, req: &Request) -> Result<Response> {
        self.stream.write_all(&req.0).await?;
        let head_end = loop {
            if let Some(i) = find(&self.buf, b"\r\n\r\n") {
                break i + 4;
            }
            self.fill().await?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).to_ascii_lowercase();
        let status = head
            .get(9..12)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| BenchError::Protocol(format!("bad status line: {head:.40}")))?;
        let length = head.lines().find_map(|l| {
            l.strip_prefix("content-length:")
                .and_then(|v| v.trim().parse::<usize>().ok())
        });
        self.buf.drain(..head_end);
        let body = match length {
            Some(n) => {
                while self.buf.len() < n {
                    self.fill().await?;
                }
                self.buf.drain(..n).collect()
            }
            None if head.contains("transfer-encoding: chunked") => self.chunked().await?,
            None => Vec::new(),
        };
        Ok(Response { status, body })
    }

    async fn chunked(&mut self) -> Result<Vec<u8>> {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(&self.buf, b"\r\n") {
                    break i;
                }
                self.fill().await?;
            };
            let size_text = String::from_utf8_lossy(&self.buf[..line_end]).to_string();
            let size = usize::from_str_radix(size_text.trim(), 16)
                .map_err(|_| BenchError::Protocol(format!("bad chunk size {size_text:?}")))?;
            while self.buf.len() < line_end + 2 + size + 2 {
                self.fill().await?;
            }
            body.extend_from_slice(&self.buf[line_end + 2..line_end + 2 + size]);
            self.buf.drain(..line_end + 2 + size + 2);
            if size == 0 {
                return Ok(body);
            }
        }
    }

    async fn fill(&mut self) -> Result<()> {
        let mut chunk = [0_u8; 16384];
        let n = self.stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(BenchError::Io(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed the connection",
            )));
        }
        self.buf.extend_from_slice(&chunk[..n]);
        Ok(())
    }
}

/// Position of `needle` in `hay`.
#[must_use]
pub fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One request on a fresh connection, for setup steps; the status must be `expect`.
///
/// # Errors
/// The connection's errors, or [`BenchError::Protocol`] for another status.
pub async fn call(addr: SocketAddr, req: &Request, expect: u16) -> Result<Value> {
    let res = Conn::connect(addr).await?.send(req).await?;
    if res.status != expect {
        return Err(BenchError::Protocol(format!(
            "expected {expect}, got {}: {}",
            res.status,
            String::from_utf8_lossy(&res.body)
        )));
    }
    res.json()
}
