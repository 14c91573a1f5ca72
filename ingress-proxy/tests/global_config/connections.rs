//! The ConfigMap's client-connection keys through the data plane, on raw TCP so the
//! connection's end is seen: `keep-alive`, `keep-alive-requests`, `client-header-timeout`,
//! `client-body-timeout`. Each applies to connections accepted after the change.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::*;

const GET: &[u8] = b"GET /p HTTP/1.1\r\nhost: plain.example\r\n\r\n";

/// Reads until the peer closes (or 5 s pass): what arrived, and whether it closed.
async fn read_until_closed(stream: &mut TcpStream) -> (String, bool) {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&seen).into_owned(), true),
            Ok(Ok(n)) => seen.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&seen).into_owned(), false),
        }
    }
}

/// Reads one whole response (a small body with `content-length`).
async fn read_response(stream: &mut TcpStream) -> String {
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
            .await
            .expect("a response within 5 s")
            .expect("read");
        assert!(n > 0, "closed before a whole response: {seen:?}");
        seen.extend_from_slice(&buffer[..n]);
        let text = String::from_utf8_lossy(&seen).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length: ")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if body.len() >= length {
                return text;
            }
        }
    }
}

#[tokio::test]
async fn keep_alive_zero_closes_after_each_response() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    configmap(&mut writer, &[("keep-alive", "0")]);
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream.write_all(GET).await.unwrap();
    let (seen, closed) = read_until_closed(&mut stream).await;
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(
        seen.to_ascii_lowercase().contains("connection: close"),
        "{seen}"
    );
    assert!(closed, "the connection closes after the response");
}

#[tokio::test]
async fn keep_alive_requests_bounds_the_requests_of_a_connection() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    configmap(&mut writer, &[("keep-alive-requests", "2")]);
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream.write_all(GET).await.unwrap();
    let first = read_response(&mut stream).await;
    assert!(
        !first.to_ascii_lowercase().contains("connection: close"),
        "{first}"
    );
    stream.write_all(GET).await.unwrap();
    let (second, closed) = read_until_closed(&mut stream).await;
    assert!(second.starts_with("HTTP/1.1 200"), "{second}");
    assert!(
        second.to_ascii_lowercase().contains("connection: close"),
        "{second}"
    );
    assert!(closed, "closed after the second response");
}

#[tokio::test]
async fn client_header_timeout_and_keep_alive_close_slow_and_idle_connections() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    configmap(
        &mut writer,
        &[("client-header-timeout", "1"), ("keep-alive", "1")],
    );
    // A head that never ends.
    let mut slow = TcpStream::connect(proxy.http).await.unwrap();
    slow.write_all(b"GET /p HTTP/1.1\r\nhost: plain.example\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    let (_, closed) = read_until_closed(&mut slow).await;
    assert!(closed, "an unfinished head is cut off");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    // An idle keep-alive connection after one response.
    let mut idle = TcpStream::connect(proxy.http).await.unwrap();
    idle.write_all(GET).await.unwrap();
    read_response(&mut idle).await;
    let (_, closed) = read_until_closed(&mut idle).await;
    assert!(closed, "an idle connection closes after keep-alive");
}

#[tokio::test]
async fn client_body_timeout_answers_408_when_the_body_stalls() {
    // An upstream that reads whatever comes and waits for the whole body before answering
    // (as one that buffers requests does): only the client's stall can end the exchange.
    let upstream = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = upstream.local_addr().unwrap();
    let reader_task = tokio::spawn(async move {
        let (mut socket, _) = upstream.accept().await.unwrap();
        let mut sink = [0u8; 1024];
        while let Ok(n) = socket.read(&mut sink).await {
            if n == 0 {
                break;
            }
        }
    });
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[address]);
    writer.apply(Change::UpsertIngress(ingress(
        "open",
        1,
        &[(Some("plain.example"), "/", "web")],
    )));
    configmap(&mut writer, &[("client-body-timeout", "1")]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let mut stream = TcpStream::connect(proxy.http).await.unwrap();
    stream
        .write_all(b"POST /p HTTP/1.1\r\nhost: plain.example\r\ncontent-length: 10\r\n\r\nabc")
        .await
        .unwrap();
    let started = Instant::now();
    let answer = read_response(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("client-body-timeout"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    reader_task.abort();
}
