//! A recording upstream on raw TCP: it records every request head (and body) the proxy sends
//! it, and answers each with a fixed `200` (`Content-Length: 2`, body `ok`; no body to `HEAD`),
//! keeping the connection open for the next request.
//!
//! It reads request bodies by their framing (`Content-Length`, or chunked with trailers
//! dropped) so the connection stays in step; a body cut short or malformed is recorded as such
//! and ends the connection.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::differential::normalised;

/// The answer to every request but `HEAD`.
const ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
/// The answer to `HEAD`: the same head, no body.
const HEAD_ANSWER: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";

/// One request as the upstream received it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub method: String,
    pub target: String,
    /// `1` for HTTP/1.1, `0` for HTTP/1.0.
    pub minor_version: u8,
    /// The header fields, normalised (see [`normalised`]).
    pub fields: Vec<(String, String)>,
    /// The body, de-chunked; `Err` says how it failed to arrive whole.
    pub body: Result<Vec<u8>, &'static str>,
}

/// A running recording upstream.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub address: SocketAddr,
    /// Requests received, in order of arrival.
    pub seen: Arc<Mutex<Vec<Seen>>>,
    /// Requests whose head arrived and whose body has not ended yet.
    pub busy: Arc<AtomicUsize>,
}

impl Recorder {
    pub async fn start() -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let recorder = Recorder {
            address: listener.local_addr().expect("address"),
            seen: Arc::default(),
            busy: Arc::default(),
        };
        let serving = recorder.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                tokio::spawn(serving.clone().serve(stream));
            }
        });
        recorder
    }

    /// The requests recorded so far.
    pub fn snapshot(&self) -> Vec<Seen> {
        self.seen.lock().expect("lock").clone()
    }

    /// Waits (up to `limit`) until no request is half received; false if one still is.
    pub async fn settled(&self, limit: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + limit;
        while self.busy.load(Ordering::SeqCst) != 0 {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        true
    }

    async fn serve(self, stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let mut connection = Connection {
            stream,
            buffer: Vec::new(),
        };
        while let Some((seen, body_framing)) = connection.head().await {
            let head_request = seen.method == "HEAD";
            let index = {
                let mut all = self.seen.lock().expect("lock");
                all.push(seen);
                all.len() - 1
            };
            self.busy.fetch_add(1, Ordering::SeqCst);
            let body = connection.body(body_framing).await;
            let complete = body.is_ok();
            if let Some(seen) = self.seen.lock().expect("lock").get_mut(index) {
                seen.body = body;
            }
            let answer = if head_request { HEAD_ANSWER } else { ANSWER };
            let answered = complete && connection.stream.write_all(answer).await.is_ok();
            self.busy.fetch_sub(1, Ordering::SeqCst);
            if !answered {
                return;
            }
        }
    }
}

/// The values of the fields named `name` (lower case).
fn values<'a>(fields: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    fields
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

/// How a request body is framed.
#[derive(Debug, Clone, Copy)]
enum BodyFraming {
    None,
    Length(usize),
    Chunked,
}

struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    /// Reads more; false at EOF or on an error.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buffer.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// The next request head; `None` when the connection ends or sends no valid head.
    async fn head(&mut self) -> Option<(Seen, BodyFraming)> {
        loop {
            let mut fields = [httparse::EMPTY_HEADER; 256];
            let mut request = httparse::Request::new(&mut fields);
            match request.parse(&self.buffer) {
                Ok(httparse::Status::Complete(length)) => {
                    let parsed = Self::seen(&request);
                    self.buffer.drain(..length);
                    return parsed;
                }
                Ok(httparse::Status::Partial) => {
                    if !self.fill().await {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    }

    fn seen(request: &httparse::Request<'_, '_>) -> Option<(Seen, BodyFraming)> {
        let fields = normalised(request.headers.iter().map(|h| (h.name, h.value)));
        let framing = if values(&fields, "transfer-encoding")
            .last()
            .is_some_and(|v| v.to_ascii_lowercase().ends_with("chunked"))
        {
            BodyFraming::Chunked
        } else if let Some(length) = values(&fields, "content-length").next() {
            BodyFraming::Length(length.parse().ok()?)
        } else {
            BodyFraming::None
        };
        let seen = Seen {
            method: request.method?.to_owned(),
            target: request.path?.to_owned(),
            minor_version: request.version?,
            fields,
            body: Err("not ended"),
        };
        Some((seen, framing))
    }

    async fn body(&mut self, framing: BodyFraming) -> Result<Vec<u8>, &'static str> {
        match framing {
            BodyFraming::None => Ok(Vec::new()),
            BodyFraming::Length(length) => {
                while self.buffer.len() < length {
                    if !self.fill().await {
                        return Err("closed mid-body");
                    }
                }
                Ok(self.buffer.drain(..length).collect())
            }
            BodyFraming::Chunked => self.chunked().await,
        }
    }

    async fn line(&mut self) -> Result<Vec<u8>, &'static str> {
        loop {
            if let Some(end) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                let line = self.buffer.drain(..end + 2).take(end).collect();
                return Ok(line);
            }
            if !self.fill().await {
                return Err("closed mid-body");
            }
        }
    }

    async fn chunked(&mut self) -> Result<Vec<u8>, &'static str> {
        let mut body = Vec::new();
        loop {
            let line = self.line().await?;
            let size = line.split(|&b| b == b';').next().unwrap_or_default();
            let size = std::str::from_utf8(size).map_err(|_| "malformed chunk size")?;
            let size =
                usize::from_str_radix(size.trim(), 16).map_err(|_| "malformed chunk size")?;
            if size == 0 {
                // Trailers, up to the blank line.
                while !self.line().await?.is_empty() {}
                return Ok(body);
            }
            while self.buffer.len() < size + 2 {
                if !self.fill().await {
                    return Err("closed mid-body");
                }
            }
            body.extend(self.buffer.drain(..size));
            if self.buffer.drain(..2).as_slice() != b"\r\n" {
                return Err("malformed chunk end");
            }
        }
    }
}
