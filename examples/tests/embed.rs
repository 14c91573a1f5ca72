//! Runs the `embed` example's proxy against two real backends on loopback.
#![allow(
    clippy::unwrap_used,
    reason = "test helpers: a failure is a test failure"
)]

#[path = "../embed.rs"]
mod embed;

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

async fn backend(name: &'static str) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            tokio::spawn(async move {
                let mut buf = [0; 1024];
                let _ = socket.read(&mut buf).await;
                let body = format!("hello from {name}");
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(response.as_bytes()).await;
            });
        }
    });
    address
}

async fn get(proxy: SocketAddr, host: &str) -> String {
    let mut socket = TcpStream::connect(proxy).await.unwrap();
    let request = format!("GET /index.html HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
    socket.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    socket.read_to_string(&mut response).await.unwrap();
    response
}

#[tokio::test]
async fn embedded_core_routes_and_balances_real_requests() {
    let backends = [backend("pod-a").await, backend("pod-b").await];
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = listener.local_addr().unwrap();
    tokio::spawn(embed::serve(listener, embed::demo_table(&backends)));

    let responses = tokio::time::timeout(Duration::from_secs(10), async {
        let mut all = Vec::new();
        for _ in 0..4 {
            all.push(get(proxy, "demo.local").await);
        }
        all
    })
    .await
    .expect("requests finish within 10 s");
    let from = |pod: &str| {
        responses
            .iter()
            .filter(|r| r.ends_with(&format!("hello from {pod}")))
            .count()
    };
    assert!(
        responses.iter().all(|r| r.starts_with("HTTP/1.1 200")),
        "{responses:?}"
    );
    assert_eq!(
        (from("pod-a"), from("pod-b")),
        (2, 2),
        "round-robin over both endpoints"
    );

    let unknown = get(proxy, "unknown.example").await;
    assert!(unknown.starts_with("HTTP/1.1 404"), "{unknown}");
}
