//! The admin endpoints the dashboard draws: `/api/explain` (the rule a request takes and why
//! the others lost, canary included), `/api/traffic` (requests, errors and latency per Ingress
//! and Service, sampled every second), and the dashboard itself (off unless enabled).

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
async fn explain_names_the_winning_rule_and_why_the_others_lost() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = web_table(&[web.address]);
    add_service(&mut writer, "api", &[web.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "api",
        2,
        &[(Some("a.example"), "/api", "api")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let answer = api(&proxy, "/api/explain?host=A.example%3A80&path=%2Fapi%2Fv1").await;
    assert_eq!(answer["request"]["host"], "a.example", "{answer}");
    assert_eq!(answer["request"]["path"], "/api/v1");
    assert_eq!(answer["decision"]["service"], "default/api:80", "{answer}");
    assert_eq!(answer["decision"]["rule"]["ingress"], "default/api");
    assert_eq!(answer["decision"]["source"], "a path rule");
    let candidates = answer["candidates"].as_array().expect("candidates");
    let root = candidates
        .iter()
        .find(|c| c["ingress"] == "default/a")
        .expect("the other rule is a candidate");
    assert_eq!(root["chosen"], false);
    assert!(
        root["verdict"]
            .as_str()
            .is_some_and(|v| v.contains("outranked by default/api") && v.contains("longer path")),
        "{root}"
    );
    assert_eq!(answer["endpoints"][0]["address"], web.address.to_string());
    assert!(
        answer["text"]
            .as_str()
            .is_some_and(|t| t.contains("CHOSEN")),
        "{answer}"
    );

    // Another path: the root rule wins; a host nobody serves: the built-in 404.
    let answer = api(&proxy, "/api/explain?host=a.example&path=/").await;
    assert_eq!(answer["decision"]["rule"]["ingress"], "default/a");
    let answer = api(&proxy, "/api/explain?host=none.example").await;
    assert_eq!(answer["decision"]["target"], "the built-in 404", "{answer}");
    assert!(answer["decision"]["rule"].is_null());
}

#[tokio::test]
async fn explain_says_whether_the_header_or_cookie_selects_the_canary() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = web_table(&[web.address]);
    add_service(&mut writer, "next", &[web.address]);
    let mut canary = ingress("canary", 2, &[(Some("a.example"), "/", "next")]);
    for (key, value) in [
        ("canary", "true"),
        ("canary-by-header", "X-Canary"),
        ("canary-by-cookie", "beta"),
        ("canary-weight", "10"),
    ] {
        canary.meta.annotations.insert(
            format!("nginx.ingress.kubernetes.io/{key}"),
            value.to_owned(),
        );
    }
    writer.apply(Change::UpsertIngress(canary));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let outcome = |answer: &Value| answer["canary"]["outcome"].as_str().map(str::to_owned);
    let by_header = api(&proxy, "/api/explain?host=a.example&header=X-Canary:always").await;
    assert_eq!(
        outcome(&by_header).as_deref(),
        Some("selected"),
        "{by_header}"
    );
    assert_eq!(by_header["canary"]["ingress"], "default/canary");
    let by_cookie = api(&proxy, "/api/explain?host=a.example&cookie=beta%3Dnever").await;
    assert_eq!(outcome(&by_cookie).as_deref(), Some("not_selected"));
    let by_weight = api(&proxy, "/api/explain?host=a.example").await;
    assert_eq!(outcome(&by_weight).as_deref(), Some("by_weight"));
    let routes = api(&proxy, "/api/routes").await;
    let policies = routes["routes"][0]["policies"].to_string();
    assert!(policies.contains("canary default/canary"), "{routes}");
}

#[tokio::test]
async fn traffic_counts_requests_errors_and_latency_per_ingress_and_service() {
    let web = backend::start("web", false).await;
    // A port nothing listens on: its Service answers 502.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port");
    let (mut writer, reader) = web_table(&[web.address]);
    add_service(&mut writer, "gone", &[dead]);
    writer.apply(Change::UpsertIngress(ingress(
        "broken",
        2,
        &[(Some("b.example"), "/", "gone")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for _ in 0..5 {
        assert_eq!(get(&client, proxy.http, "a.example", "/").await.status, 200);
    }
    for _ in 0..2 {
        assert_eq!(get(&client, proxy.http, "b.example", "/").await.status, 502);
    }

    // The sampler runs every second: wait (bounded) for the counts to show.
    let series = |answer: &Value, kind: &str, name: &str| {
        answer[kind]
            .as_array()
            .and_then(|list| list.iter().find(|s| s["name"] == name).cloned())
    };
    let mut answer = Value::Null;
    let mut seen = false;
    for _ in 0..50 {
        answer = api(&proxy, "/api/traffic").await;
        seen = series(&answer, "ingresses", "default/a").is_some_and(|s| s["requests_total"] == 5)
            && series(&answer, "ingresses", "default/broken")
                .is_some_and(|s| s["requests_total"] == 2);
        if seen {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(seen, "{answer}");
    let a = series(&answer, "ingresses", "default/a").expect("a");
    assert_eq!(a["errors_total"], 0);
    let samples = a["samples"].as_array().expect("samples");
    let busy = samples
        .iter()
        .find(|s| s["requests"].as_u64().unwrap_or(0) > 0)
        .expect("a sample with requests");
    assert!(
        busy["p50"].as_f64().is_some_and(|p| p > 0.0 && p < 5.0),
        "{busy}"
    );
    assert!(busy["p99"].as_f64() >= busy["p50"].as_f64(), "{busy}");
    let broken = series(&answer, "services", "default/gone").expect("Service gone");
    assert_eq!(broken["errors_total"], 2, "{answer}");
    assert_eq!(answer["window"], 300);

    // `since` leaves out the samples already seen.
    let newest = samples
        .iter()
        .filter_map(|s| s["time"].as_u64())
        .max()
        .expect("a sample time");
    let later = api(&proxy, &format!("/api/traffic?since={newest}")).await;
    let older = series(&later, "ingresses", "default/a")
        .and_then(|s| s["samples"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s["time"].as_u64().is_some_and(|t| t <= newest))
        .count();
    assert_eq!(older, 0, "{later}");
}

#[tokio::test]
async fn the_dashboard_is_served_only_when_enabled_and_only_from_embedded_assets() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let off = Proxy::start(reader.clone(), ProxyConfig::default()).await;
    let client = http1_client();
    assert_eq!(
        get(&client, off.admin, "admin", "/dashboard").await.status,
        StatusCode::NOT_FOUND
    );
    let on = Proxy::start(
        reader,
        ProxyConfig {
            dashboard: true,
            ..ProxyConfig::default()
        },
    )
    .await;
    let page = get(&client, on.admin, "admin", "/dashboard").await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.header("content-type"), "text/html; charset=utf-8");
    assert!(
        page.header("content-security-policy")
            .contains("default-src 'self'")
    );
    assert!(page.body.contains("/dashboard/routes.js"), "{}", page.body);
    let script = get(&client, on.admin, "admin", "/dashboard/traffic.js").await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        script.header("content-type"),
        "text/javascript; charset=utf-8"
    );
    assert!(script.body.contains("/api/traffic"));
    let missing = get(&client, on.admin, "admin", "/dashboard/../metrics").await;
    assert_ne!(missing.status, StatusCode::OK);
}
