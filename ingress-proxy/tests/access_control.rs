//! Per-client limits through the data plane: `limit-rps` (+ `limit-burst-multiplier`),
//! `limit-connections`, `limit-whitelist`, and the ConfigMap's `limit-req-status-code` /
//! `limit-conn-status-code`. The test client is 127.0.0.1 unless a trusted balancer names
//! another address.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use ingress_core::{Change, Ingress, TableWriter};
use ingress_proxy::ProxyConfig;

fn annotated(name: &str, host: &str, annotations: &[(&str, &str)]) -> Ingress {
    let mut ingress = ingress(name, 1, &[(Some(host), "/", "web")]);
    for (key, value) in annotations {
        ingress.meta.annotations.insert(
            format!("nginx.ingress.kubernetes.io/{key}"),
            (*value).to_owned(),
        );
    }
    ingress
}

async fn proxy(ingresses: Vec<Ingress>) -> (Proxy, TableWriter, backend::Backend) {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    for ingress in ingresses {
        writer.apply(Change::UpsertIngress(ingress));
    }
    writer.commit();
    (
        Proxy::start(reader, ProxyConfig::default()).await,
        writer,
        web,
    )
}

async fn status(proxy: &Proxy, host: &str, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut builder = Request::get(format!("http://{}{path}", proxy.http)).header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(
        &http1_client(),
        builder.body(Full::new(Bytes::new())).expect("request"),
    )
    .await
    .status
}

/// Requests sent back to back until one is refused (at most 50): how many were served.
async fn served_before_refusal(proxy: &Proxy, host: &str, headers: &[(&str, &str)]) -> usize {
    for served in 0..50 {
        if status(proxy, host, "/p", headers).await != StatusCode::OK {
            return served;
        }
    }
    50
}

#[tokio::test]
async fn limit_rps_serves_the_burst_then_answers_the_configured_status_per_client() {
    let (proxy, mut writer, _web) = proxy(vec![
        // limit-rps 1 with ingress-nginx's default multiplier 5: 1 + 5 at once.
        annotated("limited", "limited.example", &[("limit-rps", "1")]),
        annotated(
            "doubled",
            "doubled.example",
            &[("limit-rps", "1"), ("limit-burst-multiplier", "2")],
        ),
        annotated(
            "exempt",
            "exempt.example",
            &[("limit-rps", "1"), ("limit-whitelist", "127.0.0.0/8")],
        ),
        annotated("open", "open.example", &[]),
    ])
    .await;
    assert_eq!(
        served_before_refusal(&proxy, "limited.example", &[]).await,
        6
    );
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingress-nginx's default limit-req-status-code"
    );
    assert_eq!(
        served_before_refusal(&proxy, "doubled.example", &[]).await,
        3
    );
    assert_eq!(
        served_before_refusal(&proxy, "exempt.example", &[]).await,
        50,
        "limit-whitelist"
    );
    assert_eq!(
        served_before_refusal(&proxy, "open.example", &[]).await,
        50,
        "another Ingress is not limited"
    );

    // The ConfigMap's status code; the client a trusted balancer names is the one counted.
    configmap(
        &mut writer,
        &[
            ("limit-req-status-code", "429"),
            ("use-forwarded-headers", "true"),
        ],
    );
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let elsewhere: &[(&str, &str)] = &[("x-forwarded-for", "192.0.2.7")];
    assert_eq!(
        served_before_refusal(&proxy, "limited.example", elsewhere).await,
        6,
        "a different client has its own bucket"
    );

    // The bucket drains at 1 request a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn limit_connections_counts_requests_in_progress_until_their_response_is_sent() {
    let (proxy, mut writer, web) = proxy(vec![annotated(
        "limited",
        "limited.example",
        &[("limit-connections", "1")],
    )])
    .await;
    configmap(&mut writer, &[("limit-conn-status-code", "429")]);
    let address = proxy.http;
    let held =
        tokio::spawn(
            async move { get(&http1_client(), address, "limited.example", "/hold").await },
        );
    tokio::time::timeout(Duration::from_secs(5), web.held.notified())
        .await
        .expect("the first request reached the backend");
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a second request while the first is in progress"
    );
    web.release.notify_one();
    assert_eq!(held.await.expect("client task").status, StatusCode::OK);
    assert!(
        eventually(|| async {
            status(&proxy, "limited.example", "/p", &[]).await == StatusCode::OK
        })
        .await,
        "the slot is released with the response"
    );
}
