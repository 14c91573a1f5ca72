//! Lifecycle under stress: graceful shutdown with a request in flight, a slow-header client
//! cut off, and route-table swaps every 10 ms under a bounded load loop with zero failures.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::*;
use http::StatusCode;
use ingress_core::Change;
use ingress_proxy::{Limits, ProxyConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn graceful_shutdown_finishes_the_in_flight_request_and_stops_accepting() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let mut proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let address = proxy.http;

    let in_flight =
        tokio::spawn(async move { get(&http1_client(), address, "a.example", "/hold").await });
    tokio::time::timeout(Duration::from_secs(5), web.held.notified())
        .await
        .expect("request reached the backend");
    let stopped = proxy.begin_shutdown();
    let refusing = eventually(|| async { TcpStream::connect(address).await.is_err() }).await;
    assert!(refusing, "new connections are refused once shutdown began");
    assert!(
        !stopped.is_finished(),
        "run waits for the in-flight request"
    );

    web.release.notify_one();
    let answer = in_flight.await.expect("client task");
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "web");
    let result = tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("run returns after draining")
        .expect("run task");
    assert!(result.is_ok(), "{result:?}");
}

#[tokio::test]
async fn shutdown_closes_idle_keep_alive_connections_without_waiting_for_the_grace_period() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let mut proxy = Proxy::start(reader, ProxyConfig::default()).await;
    // One request answered, then the connection stays open and idle (keep-alive).
    let mut idle = TcpStream::connect(proxy.http).await.expect("connect");
    idle.write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\n\r\n")
        .await
        .expect("write");
    let mut response = [0u8; 1024];
    let read = idle.read(&mut response).await.expect("read");
    assert!(response[..read].starts_with(b"HTTP/1.1 200"));

    let started = std::time::Instant::now();
    let stopped = proxy.begin_shutdown();
    // The default grace period is 30 s: returning within 5 s means the idle connection was
    // told to drain, not waited out.
    let result = tokio::time::timeout(Duration::from_secs(5), stopped)
        .await
        .expect("run returns without waiting out the grace period")
        .expect("run task");
    assert!(result.is_ok(), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    let mut rest = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), idle.read_to_end(&mut rest)).await;
    assert!(
        matches!(closed, Ok(Ok(_))),
        "the proxy closed the idle connection"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_cut_off() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let config = ProxyConfig {
        limits: Limits {
            request_header_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;

    let mut slow = TcpStream::connect(proxy.http).await.expect("connect");
    slow.write_all(b"GET / HTTP/1.1\r\nHost: a.example\r\nX-Slow: ")
        .await
        .expect("partial head");
    let started = tokio::time::Instant::now();
    let mut received = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut received)).await;
    assert!(read.is_ok(), "connection closed within 5 s");
    assert!(
        started.elapsed() >= Duration::from_millis(250),
        "not before the timeout"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(
        !text.contains("200 OK"),
        "no response to an incomplete head: {text}"
    );
    assert_eq!(web.requests.load(Ordering::SeqCst), 0);

    // Other clients are unaffected.
    assert_eq!(
        get(&http1_client(), proxy.http, "a.example", "/")
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_the_table_every_10ms_under_load_fails_no_request() {
    let first = backend::start("web", false).await;
    let second = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[first.address, second.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[(Some("a.example"), "/", "web")],
    )));
    let start_generation = writer.commit().generation;
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let done = Arc::new(AtomicBool::new(false));
    let (ok, failed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let mut clients = Vec::new();
    for _ in 0..4 {
        let (done, ok, failed, address) = (done.clone(), ok.clone(), failed.clone(), proxy.http);
        clients.push(tokio::spawn(async move {
            let client = http1_client();
            // Bounded: stops when the swapper is done, or after 20 000 requests.
            for _ in 0..20_000 {
                if done.load(Ordering::SeqCst) {
                    break;
                }
                let answer = get(&client, address, "a.example", "/").await;
                if answer.status == StatusCode::OK && answer.body == "web" {
                    ok.fetch_add(1, Ordering::SeqCst);
                } else {
                    failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }

    // 150 swaps, 10 ms apart: alternately a full rebuild (an unrelated Ingress comes and goes)
    // and an endpoint-only update (the Service's endpoints shrink to one and grow back).
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    let mut last = start_generation;
    for i in 0..150u32 {
        interval.tick().await;
        match i % 4 {
            0 => writer.apply(Change::UpsertIngress(ingress(
                "churn",
                2,
                &[(Some("churn.example"), "/", "web")],
            ))),
            1 => writer.apply(Change::DeleteIngress(ingress_core::ObjectKey::new(
                NS, "churn",
            ))),
            2 => writer.apply(Change::DeleteEndpointSlice(ingress_core::ObjectKey::new(
                NS, "web-1",
            ))),
            _ => {
                for slice in slices("web", None, &[first.address, second.address]) {
                    writer.apply(Change::UpsertEndpointSlice(slice));
                }
            }
        }
        last = writer.commit().generation;
    }
    done.store(true, Ordering::SeqCst);
    for client in clients {
        client.await.expect("client task");
    }
    let (ok, failed) = (ok.load(Ordering::SeqCst), failed.load(Ordering::SeqCst));
    assert_eq!(failed, 0, "{failed} failed of {}", ok + failed);
    assert!(ok >= 100, "load ran during the swaps: {ok} requests");
    assert!(
        last >= start_generation + 75,
        "snapshots were published: {start_generation} → {last}"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_until_one_closes() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let proxy = Proxy::start(reader, config_with_max_connections(1)).await;

    let mut first = TcpStream::connect(proxy.http).await.expect("connect first");
    first.write_all(raw::GET_ROOT).await.expect("first request");
    raw::answered_ok(&mut first, "first").await;

    // The first connection stays open (keep-alive): the second is not served meanwhile.
    let mut second = raw::unanswered_request(proxy.http, "the first holds the only slot").await;

    drop(first);
    raw::answered_ok(&mut second, "second, once the first closed").await;
}
