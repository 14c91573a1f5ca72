//! `proxy-send-timeout` through the data plane: an upstream that stops reading the request
//! body is given up on after the route's limit (`504`), on either transport.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::*;

#[tokio::test]
async fn an_upstream_that_stops_reading_the_body_times_out_with_504() {
    // Accepts, reads the request head and a little, then reads nothing more.
    let upstream = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = upstream.local_addr().unwrap();
    let stuck = tokio::spawn(async move {
        let (mut socket, _) = upstream.accept().await.unwrap();
        let mut first = [0u8; 4096];
        let _ = socket.read(&mut first).await;
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(socket);
    });
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[address]);
    let mut ingress: Ingress = ingress("web", 1, &[(Some("a.example"), "/", "web")]);
    annotate(
        &mut ingress,
        &[("proxy-send-timeout", "1"), ("proxy-body-size", "0")],
    );
    writer.apply(Change::UpsertIngress(ingress));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    // A client with a large body it keeps sending as fast as the proxy takes it.
    let size: usize = 256 << 20;
    let mut client = TcpStream::connect(proxy.http).await.unwrap();
    let (mut read_half, mut write_half) = client.split();
    let head =
        format!("POST /upload HTTP/1.1\r\nhost: a.example\r\ncontent-length: {size}\r\n\r\n");
    let started = Instant::now();
    let sending = async {
        write_half.write_all(head.as_bytes()).await.unwrap();
        let chunk = vec![b'x'; 1 << 16];
        let mut sent = 0;
        while sent < size {
            if write_half.write_all(&chunk).await.is_err() {
                break;
            }
            sent += chunk.len();
        }
        std::future::pending::<()>().await;
    };
    let answer = async {
        let mut seen = Vec::new();
        let mut buffer = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
            match read_half.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buffer[..n]),
            }
        }
        String::from_utf8_lossy(&seen).into_owned()
    };
    let answer = tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            () = sending => unreachable!("the sender never finishes"),
            answer = answer => answer,
        }
    })
    .await
    .expect("an answer within 20 s");
    assert!(answer.starts_with("HTTP/1.1 504"), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "{:?}",
        started.elapsed()
    );
    stuck.abort();
}
