//! PROXY protocol headers, half-close in both directions, and reload with an open
//! connection, over real TCP on 127.0.0.1.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

/// A backend that reports the first `length` bytes it receives on each connection.
async fn header_backend(length: usize) -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = bind().await;
    let address = listener.local_addr().expect("addr");
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut header = vec![0u8; length];
            if stream.read_exact(&mut header).await.is_ok() {
                let _ = sender.send(header).await;
            }
        }
    });
    (address, receiver)
}

#[tokio::test]
async fn proxy_protocol_v1_header_is_exact() {
    let (backend, mut headers) = header_backend_line().await;
    let lb = Running::start(&config(
        &[server(backend, "")],
        "",
        "proxy_protocol = \"v1\"",
    ))
    .await;
    let mut client = TcpStream::connect(lb.address).await.expect("connect");
    client.write_all(b"payload").await.expect("write");
    let client_address = client.local_addr().expect("addr");
    let header = tokio::time::timeout(WAIT, headers.recv())
        .await
        .expect("in time")
        .expect("header");
    let want = format!(
        "PROXY TCP4 127.0.0.1 127.0.0.1 {} {}\r\npayload",
        client_address.port(),
        lb.address.port()
    );
    assert_eq!(String::from_utf8_lossy(&header), want);
    drop(client);
    lb.stop().await;
}

/// A backend that reports everything up to and including "payload".
async fn header_backend_line() -> (SocketAddr, mpsc::Receiver<Vec<u8>>) {
    let listener = bind().await;
    let address = listener.local_addr().expect("addr");
    let (sender, receiver) = mpsc::channel(4);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut received = Vec::new();
            let mut chunk = [0u8; 256];
            while !received.ends_with(b"payload") {
                match stream.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(read) => received.extend_from_slice(&chunk[..read]),
                }
            }
            let _ = sender.send(received).await;
        }
    });
    (address, receiver)
}

#[tokio::test]
async fn proxy_protocol_v2_header_is_exact() {
    let (backend, mut headers) = header_backend(16 + 12 + 7).await;
    let lb = Running::start(&config(
        &[server(backend, "")],
        "",
        "proxy_protocol = \"v2\"",
    ))
    .await;
    let mut client = TcpStream::connect(lb.address).await.expect("connect");
    client.write_all(b"payload").await.expect("write");
    let client_address = client.local_addr().expect("addr");
    let header = tokio::time::timeout(WAIT, headers.recv())
        .await
        .expect("in time")
        .expect("header");
    let mut want = b"\r\n\r\n\0\r\nQUIT\n".to_vec();
    want.extend_from_slice(&[0x21, 0x11, 0x00, 0x0c, 127, 0, 0, 1, 127, 0, 0, 1]);
    want.extend_from_slice(&client_address.port().to_be_bytes());
    want.extend_from_slice(&lb.address.port().to_be_bytes());
    want.extend_from_slice(b"payload");
    assert_eq!(header, want);
    drop(client);
    lb.stop().await;
}

#[tokio::test]
async fn client_half_close_reaches_the_backend_and_replies_still_flow() {
    let a = Backend::start("a").await;
    let lb = Running::start(&config(&[server(a.address, "")], "", "")).await;
    let mut client = TcpStream::connect(lb.address).await.expect("connect");
    client.write_all(b"first\nsecond\n").await.expect("write");
    // Client is done sending; the echo backend sees EOF only through our half-close.
    client.shutdown().await.expect("shutdown write");
    let mut received = String::new();
    tokio::time::timeout(WAIT, client.read_to_string(&mut received))
        .await
        .expect("in time")
        .expect("read");
    assert_eq!(received, "a\nfirst\nsecond\n");
    lb.stop().await;
}

#[tokio::test]
async fn backend_half_close_reaches_the_client_and_requests_still_flow() {
    // The backend says hello, closes its sending side, then reads until the client is done.
    let listener = bind().await;
    let backend = listener.local_addr().expect("addr");
    let (sender, mut received) = mpsc::channel::<Vec<u8>>(1);
    tokio::spawn(async move {
        let Ok((mut stream, _)) = listener.accept().await else {
            return;
        };
        let _ = stream.write_all(b"hello").await;
        let _ = stream.shutdown().await;
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
        let _ = sender.send(rest).await;
    });
    let lb = Running::start(&config(&[server(backend, "")], "", "")).await;
    let mut client = TcpStream::connect(lb.address).await.expect("connect");
    let mut greeting = Vec::new();
    tokio::time::timeout(WAIT, client.read_to_end(&mut greeting))
        .await
        .expect("EOF in time")
        .expect("read");
    assert_eq!(greeting, b"hello");
    // The upstream stopped sending, but the client may still talk to it.
    client
        .write_all(b"after the backend's EOF")
        .await
        .expect("write");
    client.shutdown().await.expect("shutdown");
    let got = tokio::time::timeout(WAIT, received.recv())
        .await
        .expect("in time")
        .expect("bytes");
    assert_eq!(got, b"after the backend's EOF");
    lb.stop().await;
}

#[tokio::test]
async fn reload_keeps_open_connections_and_rejects_invalid_files() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let directory = std::env::temp_dir().join(format!("ingress-lb-reload-{}", std::process::id()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let path = directory.join("lb.toml");
    std::fs::write(&path, config(&[server(a.address, "")], "", "")).expect("write config");
    let lb = Running::start(&std::fs::read_to_string(&path).expect("read")).await;
    lb.server
        .watch_config(path.clone(), Duration::from_millis(20))
        .expect("watch");
    let mut generations = lb.server.generations();

    let (mut open_to_a, name) = open(lb.address).await;
    assert_eq!(name, "a");

    std::fs::write(&path, config(&[server(b.address, "")], "", "")).expect("rewrite config");
    tokio::time::timeout(WAIT, generations.wait_for(|generation| *generation == 2))
        .await
        .expect("reloaded in time")
        .expect("watch");
    assert_eq!(greeting(lb.address).await.as_deref(), Some("b"));
    assert_eq!(
        echo(&mut open_to_a, "still connected").await,
        "still connected"
    );

    // An invalid file is rejected and the running configuration stays.
    std::fs::write(&path, "[upstreams.u]\nservers = [{ address = \"nope\" }]\n")
        .expect("write bad config");
    eventually("the rejected reload", || async {
        lb.metrics()
            .await
            .contains("ingress_lb_reloads_total{result=\"error\"} 1")
    })
    .await;
    assert_eq!(*generations.borrow(), 2);
    assert_eq!(greeting(lb.address).await.as_deref(), Some("b"));
    assert_eq!(echo(&mut open_to_a, "and still").await, "and still");
    lb.stop().await;
    let _ = std::fs::remove_dir_all(&directory);
}
