//! Active TCP health checks over real TCP on 127.0.0.1: the checker alone (no client
//! connection) takes a dead server out of rotation and brings it back once it listens again.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;

use common::*;

/// The `health_check_transitions_total` sample of `server` into `state`, if exported.
fn transitions(metrics: &str, server: SocketAddr, state: &str) -> Option<u64> {
    let prefix = format!(
        "ingress_lb_health_check_transitions_total{{group=\"u\",server=\"{server}\",state=\"{state}\"}} "
    );
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(prefix.as_str()))?
        .trim()
        .parse()
        .ok()
}

/// Greetings of `count` sequential connections, counted by backend name.
async fn spread(lb: &Running, count: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..count {
        let name = greeting(lb.address).await.expect("served");
        *counts.entry(name).or_default() += 1;
    }
    counts
}

#[tokio::test]
async fn active_checks_take_a_dead_server_out_and_bring_it_back() {
    let (a, b) = (Backend::start("a").await, Backend::start("b").await);
    let a_address = a.address;
    let check = "health_check = { interval = \"100ms\", rise = 2, fall = 2, timeout = \"100ms\" }";
    let servers = [server(a.address, ""), server(b.address, "")];
    let lb = Running::start(&config(&servers, check, "")).await;

    // (1) Both servers serve.
    let counts = spread(&lb, 10).await;
    assert!(
        counts.get("a").copied().unwrap_or(0) > 0 && counts.get("b").copied().unwrap_or(0) > 0,
        "connections not spread over a and b: {counts:?}"
    );
    assert_eq!(transitions(&lb.metrics().await, a_address, "down"), None);

    // (2) A stops listening. No client connects until the checker has marked it down.
    a.stop().await;
    eventually("the checker to mark a down", || async {
        transitions(&lb.metrics().await, a_address, "down") == Some(1)
    })
    .await;
    for i in 0..20 {
        assert_eq!(
            greeting(lb.address).await.as_deref(),
            Some("b"),
            "connection {i} after a was marked down"
        );
    }
    let metrics = lb.metrics().await;
    // The active checker, not a failed client connect (passive health), removed a.
    assert!(
        !metrics.contains(&format!(
            "ingress_lb_upstream_connect_failures_total{{group=\"u\",server=\"{a_address}\"}}"
        )),
        "a client connect was sent to a: {metrics}"
    );
    assert_eq!(transitions(&metrics, b.address, "down"), None, "{metrics}");

    // (3) A listens again on the same port; after `rise` good checks it serves again.
    let revived = tokio::net::TcpListener::bind(a_address)
        .await
        .expect("rebind the freed port");
    let a = Backend::serve("a", revived);
    eventually("the checker to mark a up", || async {
        transitions(&lb.metrics().await, a_address, "up") == Some(1)
    })
    .await;
    let counts = spread(&lb, 10).await;
    assert!(
        counts.get("a").copied().unwrap_or(0) > 0 && counts.get("b").copied().unwrap_or(0) > 0,
        "a not back in rotation: {counts:?}"
    );
    assert_eq!(
        transitions(&lb.metrics().await, a_address, "down"),
        Some(1),
        "a flapped"
    );
    lb.stop().await;
    a.stop().await;
    b.stop().await;
}
