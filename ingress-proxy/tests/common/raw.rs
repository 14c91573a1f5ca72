//! Raw-socket clients, for what an HTTP client library hides: upgraded tunnels, and
//! connections held open or left waiting.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A bodiless request for `a.example`.
pub const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n";

/// Opens a WebSocket-like tunnel through the proxy at `address` for `host`: sends the upgrade
/// request, reads the response head (asserting `101`) and returns the connection and the head.
pub async fn open_tunnel(address: SocketAddr, host: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let request = format!(
        "GET /chat HTTP/1.1\r\nHost: {host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
         Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
    );
    stream
        .write_all(request.as_bytes())
        .await
        .expect("write upgrade request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut byte))
            .await
            .expect("response head within 5 s")
            .expect("read response head");
        assert_eq!(n, 1, "connection closed before the response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (stream, head)
}

/// Sends `message` through a tunnel to an echoing backend and reads it back.
pub async fn echo(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.expect("write to tunnel");
    let mut echoed = vec![0u8; message.len()];
    tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut echoed))
        .await
        .expect("echo within 5 s")
        .expect("read echo");
    assert_eq!(echoed, message);
}

/// Connects to `address`, sends [`GET_ROOT`] and asserts that no answer comes within 300 ms
/// (the connection is waiting for a slot, `why`); returns the waiting connection.
pub async fn unanswered_request(address: SocketAddr, why: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(GET_ROOT).await.expect("write request");
    let mut buffer = [0u8; 1024];
    let waiting = tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buffer)).await;
    assert!(waiting.is_err(), "connection served while {why}");
    stream
}

/// Reads the answer on `stream` within 5 s and asserts it is a `200`.
pub async fn answered_ok(stream: &mut TcpStream, what: &str) {
    let mut buffer = [0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buffer))
        .await
        .unwrap_or_else(|_| panic!("{what} answered within 5 s"))
        .expect("read answer");
    let answer = String::from_utf8_lossy(&buffer[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{what}: {answer}");
}
