//! Balancing, failover and limits over real TCP on 127.0.0.1.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

#[tokio::test]
async fn weighted_distribution_follows_weights() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let servers = [
        server(a.address, "weight = 5"),
        server(b.address, "weight = 3"),
        server(c.address, "weight = 1"),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    let total = 900;
    for _ in 0..total {
        let name = greeting(lb.address).await.expect("served");
        *counts.entry(name).or_default() += 1;
    }
    // Tolerance: ±2% of N per server. Sequential connections make smooth weighted
    // round-robin exact (500/300/100), the tolerance only allows for a future change of
    // algorithm details.
    for (name, weight) in [("a", 5), ("b", 3), ("c", 1)] {
        let want = total * weight / 9;
        let got = counts.get(name).copied().unwrap_or(0);
        assert!(
            got.abs_diff(want) <= total / 50,
            "{name}: {got} of {total}, want {want} ± 2%: {counts:?}"
        );
    }
    lb.stop().await;
}

#[tokio::test]
async fn connect_failure_ejects_then_readmits_after_fail_timeout() {
    let down = bind().await;
    let down_address = down.local_addr().expect("addr");
    drop(down);
    let b = Backend::start("b").await;
    let servers = [
        server(down_address, "max_fails = 1, fail_timeout = \"1s\""),
        server(b.address, ""),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    let ejected_at = tokio::time::Instant::now();
    for _ in 0..20 {
        assert_eq!(greeting(lb.address).await.as_deref(), Some("b"));
    }
    // One failed connect ejected the dead server: the other 19 connections never tried it.
    let metrics = lb.metrics().await;
    let failures = format!(
        "ingress_lb_upstream_connect_failures_total{{group=\"u\",server=\"{down_address}\"}} 1"
    );
    assert!(metrics.contains(&failures), "{metrics}");
    assert!(
        metrics.contains("ingress_lb_upstream_ejections_total"),
        "{metrics}"
    );

    // Bring it back; it is readmitted only once fail_timeout has passed since the failure.
    let revived = tokio::net::TcpListener::bind(down_address)
        .await
        .expect("rebind the freed port");
    let a = Backend::serve("a", revived);
    eventually("readmission", || async {
        greeting(lb.address).await.as_deref() == Some("a")
    })
    .await;
    assert!(
        ejected_at.elapsed() >= Duration::from_secs(1),
        "readmitted before fail_timeout"
    );
    lb.stop().await;
    a.stop().await;
}

#[tokio::test]
async fn backups_serve_only_when_every_primary_is_down() {
    let (a, b, c) = (
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    );
    let servers = [
        server(a.address, "fail_timeout = \"1h\""),
        server(b.address, "fail_timeout = \"1h\""),
        server(c.address, "backup = true"),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    for _ in 0..20 {
        let name = greeting(lb.address).await.expect("served");
        assert_ne!(name, "c", "backup used while primaries are up");
    }
    a.stop().await;
    assert_ne!(
        greeting(lb.address).await.as_deref(),
        Some("c"),
        "one primary is still up"
    );
    b.stop().await;
    for _ in 0..10 {
        assert_eq!(greeting(lb.address).await.as_deref(), Some("c"));
    }
    lb.stop().await;
}

#[tokio::test]
async fn killing_a_primary_mid_run_fails_no_client() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let servers = [
        server(
            a.address,
            "weight = 5, max_fails = 3, fail_timeout = \"30s\"",
        ),
        server(
            b.address,
            "weight = 5, max_fails = 3, fail_timeout = \"30s\"",
        ),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    let mut a = Some(a);
    let mut failed = 0;
    for i in 0..200 {
        if i == 50
            && let Some(a) = a.take()
        {
            a.stop().await;
        }
        // Four clients at a time, so the kill lands between concurrent picks too.
        let results = futures::future::join_all((0..4).map(|_| greeting(lb.address))).await;
        failed += results.iter().filter(|r| r.is_none()).count();
        if i > 50 {
            assert!(results.iter().all(|r| r.as_deref() != Some("a")));
        }
    }
    assert_eq!(failed, 0, "client connections failed after the kill");
    lb.stop().await;
}

#[tokio::test]
async fn all_servers_down_closes_the_client_at_once() {
    let servers = [
        server(dead_address().await, ""),
        server(dead_address().await, "backup = true"),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    let started = tokio::time::Instant::now();
    assert_eq!(greeting(lb.address).await, None);
    assert!(started.elapsed() < WAIT);
    let metrics = lb.metrics().await;
    assert!(
        metrics.contains("ending=\"no_live_upstreams\"} 1"),
        "{metrics}"
    );
    lb.stop().await;
}

#[tokio::test]
async fn hash_keeps_a_client_address_on_one_server() {
    let backends = [
        Backend::start("a").await,
        Backend::start("b").await,
        Backend::start("c").await,
    ];
    let servers: Vec<String> = backends.iter().map(|b| server(b.address, "")).collect();
    let lb = Running::start(&config(&servers, "algorithm = \"hash\"", "")).await;
    let first = greeting(lb.address).await.expect("served");
    for _ in 0..30 {
        assert_eq!(greeting(lb.address).await.as_deref(), Some(first.as_str()));
    }
    lb.stop().await;
}

#[tokio::test]
async fn least_conn_sends_new_connections_to_the_idle_server() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let servers = [server(a.address, ""), server(b.address, "")];
    let lb = Running::start(&config(&servers, "algorithm = \"least_conn\"", "")).await;
    let (mut held, busy) = open(lb.address).await;
    // Round-robin would alternate; least_conn keeps choosing the server with no connection.
    for _ in 0..5 {
        let (stream, other) = open(lb.address).await;
        assert_ne!(other, busy, "the server holding a connection was chosen");
        drop(stream);
        eventually("the closed session to end", || async {
            active_connections(&lb.metrics().await) == Some(1)
        })
        .await;
    }
    assert_eq!(echo(&mut held, "still here").await, "still here");
    lb.stop().await;
}

#[tokio::test]
async fn connection_limit_is_enforced() {
    let a = Backend::start("a").await;
    let lb = Running::start(&config(&[server(a.address, "")], "", "max_connections = 2")).await;
    let (first, _) = open(lb.address).await;
    let (_second, _) = open(lb.address).await;
    assert_eq!(
        greeting(lb.address).await,
        None,
        "third connection must be refused"
    );
    drop(first);
    eventually("a slot to free up", || async {
        greeting(lb.address).await.is_some()
    })
    .await;
    let metrics = lb.metrics().await;
    assert!(
        metrics.contains("ending=\"connection_limit\"}"),
        "{metrics}"
    );
    lb.stop().await;
}

#[tokio::test]
async fn idle_sessions_are_closed_after_timeout() {
    let a = Backend::start("a").await;
    let lb = Running::start(&config(&[server(a.address, "")], "", "timeout = \"200ms\"")).await;
    let (mut stream, _) = open(lb.address).await;
    let started = tokio::time::Instant::now();
    let mut rest = Vec::new();
    let read = tokio::time::timeout(
        WAIT,
        tokio::io::AsyncReadExt::read_to_end(&mut stream, &mut rest),
    )
    .await;
    assert!(matches!(read, Ok(Ok(0))), "{read:?}");
    assert!(started.elapsed() >= Duration::from_millis(150));
    eventually("the access log metric", || async {
        lb.metrics().await.contains("ending=\"idle_timeout\"} 1")
    })
    .await;
    lb.stop().await;
}

#[tokio::test]
async fn admin_listener_answers_only_metrics() {
    let a = Backend::start("a").await;
    let lb = Running::start(&config(&[server(a.address, "")], "", "")).await;
    let metrics = lb.metrics().await;
    assert!(metrics.starts_with("HTTP/1.1 200 OK\r\n"), "{metrics}");
    assert!(
        metrics.contains("# TYPE ingress_lb_active_connections gauge"),
        "{metrics}"
    );
    let mut stream = tokio::net::TcpStream::connect(lb.admin)
        .await
        .expect("connect");
    tokio::io::AsyncWriteExt::write_all(&mut stream, b"GET / HTTP/1.1\r\n\r\n")
        .await
        .expect("write");
    let mut response = String::new();
    tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response)
        .await
        .expect("read");
    assert!(response.starts_with("HTTP/1.1 404"), "{response}");
    lb.stop().await;
}

/// The value of the (single) listener's open-connections gauge.
fn active_connections(metrics: &str) -> Option<u64> {
    let line = metrics
        .lines()
        .find(|line| line.starts_with("ingress_lb_active_connections{"))?;
    line.rsplit(' ').next()?.parse().ok()
}
