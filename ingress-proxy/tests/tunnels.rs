//! Upgraded (`101`) tunnels: closed when idle, counted as their client connection (in the
//! open-connections gauge and against `max_connections`) until they end, and closed by
//! shutdown once the grace period is over.

mod common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use common::raw::{answered_ok, echo, unanswered_request};
use common::*;
use ingress_core::TableReader;
use ingress_proxy::{ProxyConfig, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// An upgrade-capable (echoing) backend behind `a.example`, and the table routing to it.
async fn echo_backend() -> (backend::Backend, ingress_core::TableWriter, TableReader) {
    let web = backend::start("web", false).await;
    let (writer, reader) = web_table(&[web.address]);
    (web, writer, reader)
}

/// A tunnel for `a.example` through the proxy at `address`.
async fn open_tunnel(address: SocketAddr) -> TcpStream {
    raw::open_tunnel(address, "a.example").await.0
}

/// Waits up to 5 s for the proxy to close `stream` (end of stream or reset) and returns when.
async fn closed_by_proxy(stream: &mut TcpStream) -> Instant {
    let mut rest = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut rest))
        .await
        .expect("the proxy closes the tunnel within 5 s");
    assert!(
        !matches!(read, Ok(n) if n > 0),
        "no bytes expected, got {read:?}"
    );
    Instant::now()
}

/// The `ingress_open_connections` gauge, read on a connection of its own (counted too) that
/// closes after the answer.
async fn open_connections(admin: SocketAddr) -> i64 {
    let mut stream = TcpStream::connect(admin).await.expect("connect admin");
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: admin\r\nConnection: close\r\n\r\n")
        .await
        .expect("write scrape");
    let mut text = Vec::new();
    tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut text))
        .await
        .expect("metrics within 5 s")
        .expect("read metrics");
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|line| line.strip_prefix("ingress_open_connections "))
        .and_then(|value| value.trim().parse().ok())
        .expect("ingress_open_connections in /metrics")
}

#[tokio::test]
async fn an_idle_tunnel_is_closed_after_the_tunnel_idle_timeout() {
    let (_web, _writer, reader) = echo_backend().await;
    let idle = Duration::from_millis(500);
    let config = ProxyConfig {
        timeouts: Timeouts {
            tunnel_idle: Some(idle),
            ..Timeouts::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;
    let mut tunnel = open_tunnel(proxy.http).await;
    // Traffic keeps it open past the timeout: idle counts from the last byte.
    let started = Instant::now();
    for round in 0..8u8 {
        echo(&mut tunnel, &[b'a' + round; 8]).await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        started.elapsed() > idle,
        "traffic outlasted the idle timeout"
    );
    // The proxy moves the last bytes after this instant, so it may close the tunnel no
    // earlier than `idle` later (less the millisecond its clock rounds off).
    let last_sent = Instant::now();
    echo(&mut tunnel, b"still open").await;
    let closed = closed_by_proxy(&mut tunnel).await;
    assert!(
        closed.duration_since(last_sent) >= idle - Duration::from_millis(2),
        "closed {:?} after the last byte, before the idle timeout",
        closed.duration_since(last_sent)
    );
}

#[tokio::test]
async fn the_read_timeout_is_the_default_tunnel_idle_timeout() {
    let (_web, _writer, reader) = echo_backend().await;
    let config = ProxyConfig {
        timeouts: Timeouts {
            read: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..ProxyConfig::default()
    };
    assert_eq!(config.timeouts.tunnel_idle, None);
    let proxy = Proxy::start(reader, config).await;
    let mut tunnel = open_tunnel(proxy.http).await;
    echo(&mut tunnel, b"hello").await;
    closed_by_proxy(&mut tunnel).await;
}

#[tokio::test]
async fn a_tunnel_counts_in_the_open_connections_gauge_until_it_ends() {
    let (_web, _writer, reader) = echo_backend().await;
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let mut tunnel = open_tunnel(proxy.http).await;
    echo(&mut tunnel, b"hello").await;
    // The scrape's own connection counts as one.
    assert!(
        eventually(|| async { open_connections(proxy.admin).await == 2 }).await,
        "tunnel and scrape counted: {}",
        open_connections(proxy.admin).await
    );
    drop(tunnel);
    assert!(
        eventually(|| async { open_connections(proxy.admin).await == 1 }).await,
        "the ended tunnel no longer counted: {}",
        open_connections(proxy.admin).await
    );
}

#[tokio::test]
async fn a_tunnel_holds_its_connection_slot_under_max_connections() {
    let (_web, _writer, reader) = echo_backend().await;
    let proxy = Proxy::start(reader, config_with_max_connections(1)).await;
    let mut tunnel = open_tunnel(proxy.http).await;
    echo(&mut tunnel, b"hello").await;

    let mut second = unanswered_request(proxy.http, "the tunnel holds the only slot").await;
    echo(&mut tunnel, b"the tunnel still works").await;

    drop(tunnel);
    answered_ok(&mut second, "second, once the tunnel ended").await;
}

#[tokio::test]
async fn shutdown_waits_for_a_tunnel_for_the_grace_period_then_closes_it() {
    let (_web, _writer, reader) = echo_backend().await;
    let grace = Duration::from_millis(500);
    let config = ProxyConfig {
        timeouts: Timeouts {
            shutdown_grace: grace,
            ..Timeouts::default()
        },
        ..ProxyConfig::default()
    };
    let mut proxy = Proxy::start(reader, config).await;
    let mut tunnel = open_tunnel(proxy.http).await;
    echo(&mut tunnel, b"hello").await;

    let shutdown_began = Instant::now();
    let stopped = proxy.begin_shutdown();
    // Within the grace period the tunnel carries on.
    echo(&mut tunnel, b"during the grace period").await;
    let result = tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("run returns within 5 s")
        .expect("run task");
    assert!(result.is_ok(), "{result:?}");
    assert!(
        shutdown_began.elapsed() >= grace,
        "run returned after {:?}, without waiting for the tunnel",
        shutdown_began.elapsed()
    );
    let closed = closed_by_proxy(&mut tunnel).await;
    assert!(closed.duration_since(shutdown_began) >= grace);
}
