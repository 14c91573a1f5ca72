//! The admin listener's JSON API: the routes in force, the diagnostics, and the backends with
//! their endpoints' passive health, as a script or the dashboard reads them.

mod common;

use common::*;
use http::StatusCode;
use ingress_core::Change;
use ingress_proxy::ProxyConfig;
use serde_json::Value;

async fn api(proxy: &Proxy, path: &str) -> Value {
    let answer = get(&http1_client(), proxy.admin, "admin", path).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.body);
    assert_eq!(answer.header("content-type"), "application/json");
    serde_json::from_str(&answer.body).expect("JSON")
}

#[tokio::test]
async fn routes_diagnostics_and_backend_health_are_listed() {
    let web = backend::start("web", false).await;
    // A port nothing listens on: connecting fails, and passive health ejects it.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let (mut writer, reader) = web_table(&[web.address, dead]);
    // Rejected: a path that does not start with '/'.
    writer.apply(Change::UpsertIngress(ingress(
        "broken",
        2,
        &[(Some("b.example"), "no-slash", "web")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let routes = api(&proxy, "/api/routes").await;
    let listed = routes["routes"].as_array().expect("routes");
    assert_eq!(listed.len(), 1, "{routes}");
    assert_eq!(listed[0]["host"], "a.example");
    assert_eq!(listed[0]["path"], "/");
    assert_eq!(listed[0]["path_type"], "Prefix");
    assert_eq!(listed[0]["ingress"], "default/a");
    assert_eq!(listed[0]["backend"]["service"], "default/web:80");

    let diagnostics = api(&proxy, "/api/diagnostics").await;
    let listed = diagnostics["diagnostics"].as_array().expect("diagnostics");
    assert_eq!(listed.len(), 1, "{diagnostics}");
    assert_eq!(listed[0]["object"], "default/broken");
    assert_eq!(listed[0]["reason"], "Rejected");
    assert!(
        listed[0]["message"].as_str().unwrap_or("").contains("path"),
        "{diagnostics}"
    );

    // Every endpoint eligible before any request; after requests, the dead one is ejected.
    let before = api(&proxy, "/api/backends").await;
    let endpoints = before["backends"][0]["endpoints"]
        .as_array()
        .expect("endpoints");
    assert_eq!(endpoints.len(), 2, "{before}");
    assert!(endpoints.iter().all(|e| e["eligible"] == true), "{before}");
    for _ in 0..4 {
        let answer = get(&http1_client(), proxy.http, "a.example", "/").await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    let after = api(&proxy, "/api/backends").await;
    let endpoints = after["backends"][0]["endpoints"]
        .as_array()
        .expect("endpoints");
    let dead_entry = endpoints
        .iter()
        .find(|e| e["address"] == dead.to_string())
        .expect("dead endpoint listed");
    assert_eq!(dead_entry["eligible"], false, "{after}");
    assert!(dead_entry["failures"].as_u64().unwrap_or(0) >= 1, "{after}");
}
