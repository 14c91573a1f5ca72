//! The upstream connection pool: keep-alive reuse, connections the upstream closes, the idle
//! timeout, and the retry of a request whose fresh connection was reset before it was sent.

mod common;

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures::StreamExt;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::server::conn::{http1, http2};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use ingress_proxy::{ProxyConfig, Timeouts, UpstreamProtocol};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// A backend that counts the connections it accepted and how many are still open.
struct CountingBackend {
    address: SocketAddr,
    accepted: Arc<AtomicUsize>,
    open: Arc<AtomicUsize>,
}

/// Answers `200 ok`; with `close_each`, asks for the connection to close after each response.
async fn counting_backend(close_each: bool) -> CountingBackend {
    counting(close_each, false).await
}

/// Serves HTTP/1.1, or HTTP/2 (h2c, prior knowledge) with `http2`.
async fn counting(close_each: bool, http2: bool) -> CountingBackend {
    counting_server(move |stream| async move {
        let service = service_fn(move |_request| async move {
            let mut response = Response::new(Full::new(Bytes::from_static(b"ok")));
            if close_each {
                response
                    .headers_mut()
                    .insert("connection", "close".parse().expect("value"));
            }
            Ok::<_, Infallible>(response)
        });
        let io = TokioIo::new(stream);
        let _ = if http2 {
            http2::Builder::new(TokioExecutor::new())
                .serve_connection(io, service)
                .await
        } else {
            http1::Builder::new().serve_connection(io, service).await
        };
    })
    .await
}

/// Accepts connections and serves each with `serve`, counting the accepted and the open ones.
async fn counting_server<F, Fut>(serve: F) -> CountingBackend
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let accepted = Arc::new(AtomicUsize::new(0));
    let open = Arc::new(AtomicUsize::new(0));
    let (accepted_count, open_count) = (accepted.clone(), open.clone());
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            accepted_count.fetch_add(1, Ordering::SeqCst);
            open_count.fetch_add(1, Ordering::SeqCst);
            let (open_count, serving) = (open_count.clone(), serve(stream));
            tokio::spawn(async move {
                serving.await;
                open_count.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    CountingBackend {
        address,
        accepted,
        open,
    }
}

#[tokio::test]
async fn sequential_requests_reuse_one_upstream_connection() {
    let backend = counting_backend(false).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for i in 0..20 {
        let answer = get(&client, proxy.http, "a.example", "/").await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
        assert_eq!(answer.body, "ok");
    }
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn requests_with_bodies_reuse_the_connection_once_the_body_was_sent() {
    let backend = counting_backend(false).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for i in 0..10 {
        let request = Request::post(format!("http://{}/", proxy.http))
            .header("host", "a.example")
            .body(Full::new(Bytes::from(format!("payload {i}"))))
            .expect("request");
        assert_eq!(send(&client, request).await.status, StatusCode::OK);
    }
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn concurrent_requests_open_at_most_one_connection_each() {
    let backend = counting_backend(false).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for _round in 0..5 {
        let requests = (0..8).map(|_| get(&client, proxy.http, "a.example", "/"));
        for answer in futures::future::join_all(requests).await {
            assert_eq!(answer.status, StatusCode::OK);
        }
    }
    let accepted = backend.accepted.load(Ordering::SeqCst);
    assert!(
        (1..=8).contains(&accepted),
        "40 requests, 8 at a time, used {accepted} connections"
    );
}

#[tokio::test]
async fn connections_the_upstream_closes_are_not_reused() {
    let backend = counting_backend(true).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for i in 0..10 {
        let answer = get(&client, proxy.http, "a.example", "/").await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
    }
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 10);
}

#[tokio::test]
async fn idle_upstream_connections_are_closed_after_the_idle_timeout() {
    let backend = counting_backend(false).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let config = ProxyConfig {
        timeouts: Timeouts {
            upstream_idle: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;
    let client = http1_client();
    assert_eq!(
        get(&client, proxy.http, "a.example", "/").await.status,
        StatusCode::OK
    );
    assert_eq!(backend.open.load(Ordering::SeqCst), 1);
    // No further request: only the sweep can close it.
    assert!(
        eventually(|| async { backend.open.load(Ordering::SeqCst) == 0 }).await,
        "the idle connection was closed by the proxy"
    );
}

/// The `web` Service over h2c, with the given upstream idle timeout.
fn h2c_config(upstream_idle: Duration) -> ProxyConfig {
    ProxyConfig {
        timeouts: Timeouts {
            upstream_idle,
            ..Timeouts::default()
        },
        upstream_protocols: [(format!("{NS}/web"), UpstreamProtocol::H2c)].into(),
        ..ProxyConfig::default()
    }
}

#[tokio::test]
async fn an_unused_http2_upstream_connection_is_closed_after_the_idle_timeout() {
    let backend = counting(false, true).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, h2c_config(Duration::from_millis(300))).await;
    let client = http1_client();
    for i in 0..5 {
        let answer = get(&client, proxy.http, "a.example", "/").await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
    }
    assert_eq!(
        backend.accepted.load(Ordering::SeqCst),
        1,
        "one shared connection"
    );
    assert_eq!(backend.open.load(Ordering::SeqCst), 1);
    assert!(
        eventually(|| async { backend.open.load(Ordering::SeqCst) == 0 }).await,
        "the unused HTTP/2 connection was let go"
    );
    // The next request opens a new one.
    assert_eq!(
        get(&client, proxy.http, "a.example", "/").await.status,
        StatusCode::OK
    );
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 2);
}

/// An h2c backend whose responses send `first ` at once and `second` only once `release` is
/// notified; counts accepted and open connections.
async fn held_http2_backend(release: Arc<Notify>) -> CountingBackend {
    counting_server(move |stream| {
        let release = release.clone();
        async move {
            let service = service_fn(move |_request| {
                let release = release.clone();
                async move {
                    let second = async move {
                        release.notified().await;
                        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"second")))
                    };
                    let frames = futures::stream::once(async {
                        Ok::<_, Infallible>(Frame::data(Bytes::from_static(b"first ")))
                    })
                    .chain(futures::stream::once(second));
                    Ok::<_, Infallible>(Response::new(StreamBody::new(frames)))
                }
            });
            let _ = http2::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(stream), service)
                .await;
        }
    })
    .await
}

#[tokio::test]
async fn a_response_streaming_while_its_http2_connection_is_let_go_still_completes() {
    let release = Arc::new(Notify::new());
    let backend = held_http2_backend(release.clone()).await;
    let (_writer, reader) = web_table(&[backend.address]);
    let proxy = Proxy::start(reader, h2c_config(Duration::from_millis(200))).await;
    let client = http1_client();
    let request = Request::get(format!("http://{}/", proxy.http))
        .header("host", "a.example")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("response head within 10 s")
        .expect("response head");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let first = tokio::time::timeout(Duration::from_secs(10), body.frame())
        .await
        .expect("first frame within 10 s")
        .expect("a first frame")
        .expect("first frame")
        .into_data()
        .expect("data");
    assert_eq!(&first[..], b"first ");
    // The stream stays open past the idle timeout and several sweeps (every 100 ms here), so
    // the pool lets go of the connection's handle while the response is still streaming.
    tokio::time::sleep(Duration::from_millis(700)).await;
    release.notify_one();
    let rest = tokio::time::timeout(Duration::from_secs(10), body.collect())
        .await
        .expect("rest of the body within 10 s")
        .expect("rest of the body")
        .to_bytes();
    assert_eq!(&rest[..], b"second", "the stream ended whole");
    // With its last stream ended and no handle left, the connection closes.
    assert!(
        eventually(|| async { backend.open.load(Ordering::SeqCst) == 0 }).await,
        "the let-go connection closed after its stream ended"
    );
    // The handle was gone while the stream was open: the next request opens a new connection.
    release.notify_one();
    assert_eq!(
        get(&client, proxy.http, "a.example", "/").await.body,
        "first second"
    );
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_connection_reset_before_the_request_is_sent_is_retried_on_another_endpoint() {
    let web = counting_backend(false).await;
    // Accepts, then resets at once (SO_LINGER 0): the TCP handshake succeeds, the request is
    // never read. The proxy sees the reset while setting up the connection (here: when it
    // configures the new socket) or, in a later race, when hyper finds the connection closed
    // before writing; either way nothing was sent and the request goes to the other endpoint.
    let resetting = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let resetting_address = resetting.local_addr().expect("address");
    let resets = Arc::new(AtomicUsize::new(0));
    let reset_count = resets.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = resetting.accept().await {
            reset_count.fetch_add(1, Ordering::SeqCst);
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    let (_writer, reader) = web_table(&[resetting_address, web.address]);
    let config = ProxyConfig {
        // Keep the resetting endpoint in rotation so several requests meet it.
        passive_health_ejection: Duration::ZERO,
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;
    let client = http1_client();
    for i in 0..6 {
        // POST with a body: the retry must send it intact.
        let request = Request::post(format!("http://{}/", proxy.http))
            .header("host", "a.example")
            .body(Full::new(Bytes::from(format!("payload {i}"))))
            .expect("request");
        let answer = send(&client, request).await;
        assert_eq!(
            answer.status,
            StatusCode::OK,
            "request {i}: {}",
            answer.body
        );
    }
    assert!(
        resets.load(Ordering::SeqCst) >= 1,
        "the resetting endpoint was tried"
    );
    let metrics = get(&client, proxy.admin, "admin", "/metrics").await.body;
    let retries = metrics
        .lines()
        .find(|line| line.starts_with("ingress_upstream_retries_total"))
        .and_then(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .unwrap_or(0.0);
    assert!(retries >= 1.0, "retries recorded:\n{metrics}");
}

/// Sends `count` sequential requests through a proxy whose ConfigMap has `pairs`; returns how
/// many upstream connections they used.
async fn connections_used(pairs: &[(&str, &str)], count: usize) -> usize {
    let backend = counting_backend(false).await;
    let (mut writer, reader) = web_table(&[backend.address]);
    configmap(&mut writer, pairs);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for i in 0..count {
        let answer = get(&client, proxy.http, "a.example", "/").await;
        assert_eq!(answer.status, StatusCode::OK, "request {i}");
    }
    backend.accepted.load(Ordering::SeqCst)
}

#[tokio::test]
async fn upstream_keepalive_keys_bound_the_reuse_of_upstream_connections() {
    // ingress-nginx's defaults: one connection carries them all.
    assert_eq!(connections_used(&[], 6).await, 1);
    // upstream-keepalive-requests: 2 exchanges per connection.
    assert_eq!(
        connections_used(&[("upstream-keepalive-requests", "2")], 6).await,
        3
    );
    // upstream-keepalive-connections: 0 keeps none idle.
    assert_eq!(
        connections_used(&[("upstream-keepalive-connections", "0")], 4).await,
        4
    );
}

#[tokio::test]
async fn upstream_keepalive_timeout_and_time_retire_idle_and_old_connections() {
    let backend = counting_backend(false).await;
    let (mut writer, reader) = web_table(&[backend.address]);
    configmap(&mut writer, &[("upstream-keepalive-timeout", "1")]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    get(&client, proxy.http, "a.example", "/").await;
    // Idle past the 1 s timeout: the next request opens a new connection.
    tokio::time::sleep(Duration::from_millis(1300)).await;
    get(&client, proxy.http, "a.example", "/").await;
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 2);
    // upstream-keepalive-time: a connection older than 1 s is not reused, busy or not.
    configmap(&mut writer, &[("upstream-keepalive-time", "1s")]);
    get(&client, proxy.http, "a.example", "/").await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    get(&client, proxy.http, "a.example", "/").await;
    get(&client, proxy.http, "a.example", "/").await;
    assert_eq!(backend.accepted.load(Ordering::SeqCst), 3);
}
