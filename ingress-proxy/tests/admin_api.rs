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
    // Ejected for passive_health_ejection (10 s by default) from the failure on.
    assert!(
        dead_entry["ejected_for_seconds"]
            .as_f64()
            .is_some_and(|s| s > 0.0 && s <= 10.0),
        "{after}"
    );
}

/// The value of the sample `name{labels…}` whose labels include every pair of `wanted`.
fn sample(text: &str, name: &str, wanted: &[(&str, &str)]) -> Option<f64> {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, labels) = series.split_once('{')?;
            (metric == name).then_some((labels.trim_end_matches('}'), value))
        })
        .find(|(labels, _)| {
            wanted
                .iter()
                .all(|(k, v)| labels.split(',').any(|pair| pair == format!("{k}=\"{v}\"")))
        })
        .and_then(|(_, value)| value.parse().ok())
}

#[tokio::test]
async fn ingress_nginx_s_request_metrics_are_exposed_under_their_names() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let config = ingress_proxy::ProxyConfig {
        controller: ingress_proxy::ControllerLabels {
            namespace: "ingress-engine".into(),
            class: "ingress-engine.dev/controller".into(),
            pod: "controller-0".into(),
        },
        ..ingress_proxy::ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;
    let client = http1_client();
    for _ in 0..3 {
        assert_eq!(
            get(&client, proxy.http, "a.example", "/x").await.status,
            200
        );
    }
    assert_eq!(
        get(&client, proxy.http, "none.example", "/").await.status,
        404
    );
    let text = get(&client, proxy.admin, "admin", "/metrics").await.body;
    let served = [
        ("controller_namespace", "ingress-engine"),
        ("controller_class", "ingress-engine.dev/controller"),
        ("controller_pod", "controller-0"),
        ("status", "200"),
        ("method", "GET"),
        ("path", "/"),
        ("host", "a.example"),
        ("namespace", "default"),
        ("ingress", "a"),
        ("service", "web"),
        ("canary", ""),
    ];
    assert_eq!(
        sample(&text, "nginx_ingress_controller_requests_total", &served),
        Some(3.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "nginx_ingress_controller_request_duration_seconds_count",
            &served
        ),
        Some(3.0)
    );
    assert_eq!(
        sample(
            &text,
            "nginx_ingress_controller_response_duration_seconds_count",
            &served
        ),
        Some(3.0),
        "upstream latency observed for each answered request"
    );
    assert!(
        sample(&text, "nginx_ingress_controller_request_size_sum", &served)
            .is_some_and(|bytes| bytes > 0.0)
    );
    // Every change applies: the first snapshot counts as a successful reload, with its time.
    let reloaded = eventually(|| async {
        let text = get(&http1_client(), proxy.admin, "admin", "/metrics")
            .await
            .body;
        sample(
            &text,
            "nginx_ingress_controller_config_last_reload_successful",
            &[("controller_pod", "controller-0")],
        ) == Some(1.0)
            && sample(
                &text,
                "nginx_ingress_controller_config_last_reload_successful_timestamp_seconds",
                &[("controller_pod", "controller-0")],
            )
            .is_some_and(|seconds| seconds > 1.7e9)
    })
    .await;
    assert!(reloaded, "reload gauges set");
    // The default backend's 404: no rule, so `-` for path and host, and no upstream.
    let missed = [("status", "404"), ("path", "-"), ("host", "-")];
    assert_eq!(
        sample(&text, "nginx_ingress_controller_requests_total", &missed),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "nginx_ingress_controller_response_duration_seconds_count",
            &missed
        )
        .unwrap_or(0.0),
        0.0,
        "no upstream, no upstream latency"
    );
}

#[tokio::test]
async fn certificates_are_listed_with_expiry_and_counted_in_the_metrics_without_key_material() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = web_table(&[web.address]);
    let mut params =
        rcgen::CertificateParams::new(vec!["secure.example".to_owned()]).expect("params");
    params.not_after = rcgen::date_time_ymd(2030, 6, 1);
    let key = rcgen::KeyPair::generate().expect("key");
    let certificate = params.self_signed(&key).expect("certificate");
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "secure-cert",
        &certificate.pem(),
        &key.serialize_pem(),
    )));
    writer.apply(Change::UpsertIngress(with_tls(
        ingress("secure", 2, &[(Some("secure.example"), "/", "web")]),
        &["secure.example"],
        "secure-cert",
    )));
    writer.apply(Change::UpsertIngress(with_tls(
        ingress("unsigned", 3, &[(Some("unsigned.example"), "/", "web")]),
        &["unsigned.example"],
        "absent-cert",
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let listed = api(&proxy, "/api/certificates").await;
    let rows = listed["certificates"].as_array().expect("certificates");
    assert_eq!(rows.len(), 2, "{listed}");
    let secure = &rows[0];
    assert_eq!(secure["host"], "secure.example");
    assert_eq!(secure["secret"], "default/secure-cert");
    assert_eq!(secure["ingress"], "default/secure");
    assert_eq!(
        secure["not_after"], 1_906_502_400_i64,
        "2030-06-01T00:00:00Z"
    );
    assert_eq!(secure["expired"], false);
    assert!(secure["days_left"].as_i64().unwrap_or(0) > 1000, "{listed}");
    assert_eq!(rows[1]["host"], "unsigned.example");
    assert!(
        rows[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("does not exist"),
        "{listed}"
    );
    let text = listed.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("BEGIN"),
        "{text}"
    );

    let metrics = get(&http1_client(), proxy.admin, "admin", "/metrics")
        .await
        .body;
    assert_eq!(
        sample(
            &metrics,
            "nginx_ingress_controller_ssl_expire_time_seconds",
            &[
                ("host", "secure.example"),
                ("namespace", "default"),
                ("secret_name", "secure-cert")
            ],
        ),
        Some(1_906_502_400.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            "ingress_diagnostics",
            &[("reason", "TLSSecretMissing")]
        ),
        Some(1.0),
        "{metrics}"
    );
}
