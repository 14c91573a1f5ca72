//! The plain-HTTP listener's inline HTTP/1.1 server, on the wire with a raw TCP client:
//! pipelining, persistence (HTTP/1.0, `Connection: close`), `HEAD`, chunked responses, the
//! hand-off to hyper mid-connection (a request with a body), hyper's answers to heads the
//! inline server does not take, the idle timeout, and shutdown (idle and in flight).

mod common;

use std::time::Duration;

use common::*;
use ingress_proxy::{Limits, ProxyConfig, ProxyError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

/// A response read off the wire.
#[derive(Debug)]
struct Wire {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Wire {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A raw client connection with what it has read but not yet parsed.
struct RawClient {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl RawClient {
    async fn connect(proxy: &Proxy) -> RawClient {
        RawClient {
            stream: TcpStream::connect(proxy.http).await.expect("connect"),
            buffer: Vec::new(),
        }
    }

    async fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("send");
    }

    /// Reads more into the buffer; false at EOF. Bounded by 5 s.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        let read = tokio::time::timeout(Duration::from_secs(5), self.stream.read(&mut chunk))
            .await
            .expect("read within 5 s")
            .expect("read");
        self.buffer.extend_from_slice(&chunk[..read]);
        read > 0
    }

    /// Reads one response; `head_request` says it answers a `HEAD` (no body).
    async fn response(&mut self, head_request: bool) -> Wire {
        let (length, status, headers) = loop {
            let mut fields = [httparse::EMPTY_HEADER; 64];
            let mut response = httparse::Response::new(&mut fields);
            if let httparse::Status::Complete(length) =
                response.parse(&self.buffer).expect("valid response head")
            {
                let headers = response
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_ascii_lowercase(),
                            String::from_utf8_lossy(h.value).into_owned(),
                        )
                    })
                    .collect::<Vec<_>>();
                break (length, response.code.expect("status"), headers);
            }
            assert!(
                self.fill().await,
                "connection closed before a response head"
            );
        };
        self.buffer.drain(..length);
        let mut wire = Wire {
            status,
            headers,
            body: Vec::new(),
        };
        if head_request || status == 204 || status == 304 {
            return wire;
        }
        if let Some(length) = wire.header("content-length") {
            let length: usize = length.parse().expect("numeric length");
            while self.buffer.len() < length {
                assert!(self.fill().await, "connection closed mid-body");
            }
            wire.body = self.buffer.drain(..length).collect();
        } else if wire.header("transfer-encoding") == Some("chunked") {
            loop {
                let line_end = loop {
                    if let Some(at) = self.buffer.windows(2).position(|w| w == b"\r\n") {
                        break at;
                    }
                    assert!(self.fill().await, "connection closed mid-chunk");
                };
                let size_line = String::from_utf8_lossy(&self.buffer[..line_end]).into_owned();
                let size = usize::from_str_radix(size_line.trim(), 16).expect("chunk size");
                while self.buffer.len() < line_end + 2 + size + 2 {
                    assert!(self.fill().await, "connection closed mid-chunk");
                }
                let chunk = self.buffer[line_end + 2..line_end + 2 + size].to_vec();
                assert_eq!(
                    &self.buffer[line_end + 2 + size..line_end + 4 + size],
                    b"\r\n"
                );
                self.buffer.drain(..line_end + 4 + size);
                if size == 0 {
                    break;
                }
                wire.body.extend_from_slice(&chunk);
            }
        } else {
            while self.fill().await {}
            wire.body = std::mem::take(&mut self.buffer);
        }
        wire
    }

    /// Whether the proxy closes the connection (EOF, with nothing more sent) within 5 s.
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read =
            tokio::time::timeout(Duration::from_secs(5), self.stream.read_to_end(&mut rest)).await;
        matches!(read, Ok(Ok(_))) && rest.is_empty() && self.buffer.is_empty()
    }
}

async fn proxy_with(config: ProxyConfig) -> (Proxy, backend::Backend, ingress_core::TableWriter) {
    let web = backend::start("web", false).await;
    let (writer, reader) = web_table(&[web.address]);
    (Proxy::start(reader, config).await, web, writer)
}

/// Waits (up to 5 s) for `run` to return after shutdown began, and checks it returned `Ok`.
async fn run_returns(stopped: JoinHandle<Result<(), ProxyError>>) {
    tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("run returns once the connection closed")
        .expect("run task")
        .expect("run");
}

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: a.example\r\n\r\n")
}

#[tokio::test]
async fn pipelined_requests_are_answered_in_order() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    client
        .send(format!("{}{}{}", get("/one"), get("/two"), get("/three")).as_bytes())
        .await;
    for path in ["/one", "/two", "/three"] {
        let response = client.response(false).await;
        assert_eq!(response.status, 200);
        assert_eq!(response.header("x-seen-target"), Some(path));
        assert_eq!(response.body, b"web");
        assert!(response.header("date").is_some(), "{response:?}");
    }
}

#[tokio::test]
async fn a_request_with_a_body_mid_connection_goes_to_hyper_which_serves_the_rest() {
    let (proxy, web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    client.send(get("/before").as_bytes()).await;
    assert_eq!(
        client.response(false).await.header("x-seen-target"),
        Some("/before")
    );
    // The body and the next request arrive with the head, so hyper gets them all.
    client
        .send(
            format!(
                "POST /echo HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello{}",
                get("/after")
            )
            .as_bytes(),
        )
        .await;
    let echoed = client.response(false).await;
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.body, b"hello");
    let after = client.response(false).await;
    assert_eq!(after.header("x-seen-target"), Some("/after"));
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::SeqCst), 3);
}

#[tokio::test]
async fn http10_and_connection_close_end_the_connection_after_the_response() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig::default()).await;

    let mut client = RawClient::connect(&proxy).await;
    client
        .send(b"GET /a HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n")
        .await;
    let response = client.response(false).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed().await, "closed after the response");

    let mut client = RawClient::connect(&proxy).await;
    client
        .send(b"GET /b HTTP/1.0\r\nHost: a.example\r\n\r\n")
        .await;
    let response = client.response(false).await;
    assert_eq!(response.body, b"web");
    assert!(client.closed().await, "HTTP/1.0 without keep-alive closes");

    let mut client = RawClient::connect(&proxy).await;
    for path in ["/c", "/d"] {
        client
            .send(
                format!("GET {path} HTTP/1.0\r\nHost: a.example\r\nConnection: keep-alive\r\n\r\n")
                    .as_bytes(),
            )
            .await;
        let response = client.response(false).await;
        assert_eq!(response.header("x-seen-target"), Some(path));
        assert_eq!(response.header("connection"), Some("keep-alive"));
    }
}

#[tokio::test]
async fn a_head_response_carries_no_body_and_the_connection_goes_on() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    client
        .send(format!("HEAD /h HTTP/1.1\r\nHost: a.example\r\n\r\n{}", get("/g")).as_bytes())
        .await;
    let head = client.response(true).await;
    assert_eq!(head.status, 200);
    assert_eq!(head.header("content-length"), Some("3"));
    // Had the HEAD response carried a body, this would read it as the next head and fail.
    let next = client.response(false).await;
    assert_eq!(next.header("x-seen-target"), Some("/g"));
    assert_eq!(next.body, b"web");
}

#[tokio::test]
async fn a_streamed_upstream_body_reaches_the_client_chunked() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    let size = 300 * 1024 + 7;
    client
        .send(get(&format!("/download/{size}")).as_bytes())
        .await;
    let response = client.response(false).await;
    assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    assert_eq!(response.body.len(), size);
    assert!(response.body.iter().all(|&b| b == b'x'));
    client.send(get("/next").as_bytes()).await;
    assert_eq!(
        client.response(false).await.header("x-seen-target"),
        Some("/next")
    );
}

#[tokio::test]
async fn heads_the_inline_server_does_not_take_get_hypers_answers() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig {
        limits: Limits {
            max_request_header_bytes: 8 * 1024,
            ..Limits::default()
        },
        ..ProxyConfig::default()
    })
    .await;
    let mut client = RawClient::connect(&proxy).await;
    client
        .send(b"GET / HTTP/1.1\r\nHost: a.example\r\nBad Name: x\r\n\r\n")
        .await;
    assert_eq!(client.response(false).await.status, 400);

    let mut client = RawClient::connect(&proxy).await;
    client
        .send(
            format!(
                "GET / HTTP/1.1\r\nHost: a.example\r\nX-Big: {}\r\n\r\n",
                "v".repeat(16 * 1024)
            )
            .as_bytes(),
        )
        .await;
    assert_eq!(client.response(false).await.status, 431);

    // After a served request too.
    let mut client = RawClient::connect(&proxy).await;
    client.send(get("/ok").as_bytes()).await;
    assert_eq!(client.response(false).await.status, 200);
    client.send(b"GET /\x01 HTTP/1.1\r\n\r\n").await;
    assert_eq!(client.response(false).await.status, 400);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_closes_after_the_request_head_timeout() {
    let (proxy, _web, _writer) = proxy_with(ProxyConfig {
        limits: Limits {
            request_header_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..ProxyConfig::default()
    })
    .await;
    let mut client = RawClient::connect(&proxy).await;
    client.send(get("/").as_bytes()).await;
    assert_eq!(client.response(false).await.status, 200);
    let idle = tokio::time::Instant::now();
    assert!(client.closed().await, "closed while idle");
    assert!(
        idle.elapsed() >= Duration::from_millis(250),
        "not before the timeout: {:?}",
        idle.elapsed()
    );
}

#[tokio::test]
async fn an_idle_connection_closes_when_shutdown_begins() {
    let (mut proxy, _web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    client.send(get("/").as_bytes()).await;
    assert_eq!(client.response(false).await.status, 200);
    let stopped = proxy.begin_shutdown();
    assert!(client.closed().await, "the idle connection is closed");
    run_returns(stopped).await;
}

#[tokio::test]
async fn a_response_in_flight_when_shutdown_begins_is_written_with_connection_close() {
    let (mut proxy, web, _writer) = proxy_with(ProxyConfig::default()).await;
    let mut client = RawClient::connect(&proxy).await;
    client.send(get("/hold").as_bytes()).await;
    tokio::time::timeout(Duration::from_secs(5), web.held.notified())
        .await
        .expect("request reached the backend");
    let stopped = proxy.begin_shutdown();
    // Let the shutdown signal reach the server before the response is released.
    let signalled = eventually(|| async { TcpStream::connect(proxy.http).await.is_err() }).await;
    assert!(signalled, "the listener stopped accepting");
    web.release.notify_one();
    let response = client.response(false).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"web");
    assert_eq!(response.header("connection"), Some("close"));
    assert!(client.closed().await, "closed after the response");
    run_returns(stopped).await;
}
