//! The admin listener's `/api/status` (groups, servers, listeners, VRRP) and the dashboard,
//! served only with `dashboard = true`.

mod common;

use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One GET on the admin listener: (status line, head, body).
async fn admin_get(lb: &Running, path: &str) -> (String, String, String) {
    let mut stream = TcpStream::connect(lb.admin).await.expect("admin connect");
    stream
        .write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read");
    let (head, body) = response.split_once("\r\n\r\n").expect("a head");
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn status_lists_groups_servers_and_listeners_with_their_state() {
    let a = Backend::start("a").await;
    let dead = dead_address().await;
    let servers = [
        server(a.address, "weight = 3"),
        server(dead, "max_fails = 1, fail_timeout = \"30s\""),
    ];
    let lb = Running::start(&config(&servers, "", "")).await;
    // The dead server fails once and is ejected; the next connections go to `a`.
    for _ in 0..4 {
        assert_eq!(greeting(lb.address).await.as_deref(), Some("a"));
    }
    let (status, head, body) = admin_get(&lb, "/api/status").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{head}");
    assert!(head.contains("content-type: application/json"), "{head}");
    let json: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let group = &json["groups"][0];
    assert_eq!(group["name"], "u", "{json}");
    assert_eq!(group["algorithm"], "round_robin");
    let servers = group["servers"].as_array().expect("servers");
    let up = servers
        .iter()
        .find(|s| s["address"] == a.address.to_string())
        .expect("a");
    assert_eq!(
        (up["weight"].as_u64(), up["state"].as_str()),
        (Some(3), Some("up"))
    );
    let ejected = servers
        .iter()
        .find(|s| s["address"] == dead.to_string())
        .expect("dead");
    assert_eq!(ejected["state"], "unavailable", "{json}");
    assert_eq!(ejected["failures"], 1, "{json}");
    assert!(
        ejected["ejected_for_seconds"]
            .as_f64()
            .is_some_and(|s| s > 0.0 && s <= 30.0),
        "{json}"
    );
    assert!(up["ejected_for_seconds"].is_null(), "{json}");
    assert_eq!(json["listeners"][0]["upstream"], "u");
    // The configured address (the test binds its own socket on port 0).
    assert_eq!(json["listeners"][0]["address"], "127.0.0.1:0");
    assert!(json["vrrp"].is_null(), "no [vrrp] section: {json}");

    // The dashboard is off unless the configuration turns it on.
    let (status, _, _) = admin_get(&lb, "/dashboard").await;
    assert!(status.starts_with("HTTP/1.1 404"), "{status}");
    lb.stop().await;
}

#[tokio::test]
async fn the_dashboard_is_served_with_dashboard_true() {
    let a = Backend::start("a").await;
    let toml = format!(
        "dashboard = true\n{}",
        config(&[server(a.address, "")], "", "")
    );
    let lb = Running::start(&toml).await;
    let (status, head, body) = admin_get(&lb, "/dashboard").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{head}");
    assert!(
        head.contains("content-type: text/html; charset=utf-8"),
        "{head}"
    );
    assert!(
        head.contains("content-security-policy: default-src 'self'"),
        "{head}"
    );
    assert!(body.contains("/dashboard/lb.js"), "{body}");
    let (status, head, body) = admin_get(&lb, "/dashboard/lb.js").await;
    assert_eq!(status, "HTTP/1.1 200 OK", "{head}");
    assert!(body.contains("/api/status"));
    lb.stop().await;
}
