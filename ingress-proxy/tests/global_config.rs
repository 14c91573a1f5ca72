//! The global configuration (ingress-nginx's ConfigMap) through the data plane: it is read
//! from the snapshot per request, so a `Change::UpsertGlobalConfig` changes the next request;
//! with a ConfigMap its keys decide, without one the embedder's `ProxyConfig` does; the
//! `ssl-redirect` / `force-ssl-redirect` keys are the defaults of the annotations.

mod common;

#[path = "global_config/connections.rs"]
mod connections;
#[path = "global_config/proxy_protocol.rs"]
mod proxy_protocol;

use common::*;
use http::StatusCode;
use ingress_core::{Change, TableWriter};
use ingress_proxy::ProxyConfig;

/// `tls.example` has a TLS entry, `plain.example` none; `annotated.example` has a TLS entry
/// and `ssl-redirect: "true"`.
async fn proxy(config: ProxyConfig) -> (Proxy, TableWriter, backend::Backend) {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertIngress(with_tls(
        ingress("secure", 1, &[(Some("tls.example"), "/", "web")]),
        &["tls.example"],
        "secure-cert",
    )));
    writer.apply(Change::UpsertIngress(ingress(
        "open",
        2,
        &[(Some("plain.example"), "/", "web")],
    )));
    let mut annotated = with_tls(
        ingress("annotated", 3, &[(Some("annotated.example"), "/", "web")]),
        &["annotated.example"],
        "annotated-cert",
    );
    annotated.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/ssl-redirect".into(),
        "true".into(),
    );
    writer.apply(Change::UpsertIngress(annotated));
    writer.commit();
    (Proxy::start(reader, config).await, writer, web)
}

async fn request(proxy: &Proxy, host: &str, headers: &[(&str, &str)]) -> Answer {
    get_with_headers(proxy.http, host, "/p", headers).await
}

#[tokio::test]
async fn global_ssl_redirect_keys_are_the_annotation_defaults() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    let status = |host: &'static str| {
        let proxy = &proxy;
        async move { request(proxy, host, &[]).await.status }
    };
    assert_eq!(status("tls.example").await, StatusCode::PERMANENT_REDIRECT);

    configmap(&mut writer, &[("ssl-redirect", "false")]);
    assert_eq!(status("tls.example").await, StatusCode::OK);
    assert_eq!(
        status("annotated.example").await,
        StatusCode::PERMANENT_REDIRECT,
        "the Ingress's own ssl-redirect wins over the global key"
    );

    configmap(&mut writer, &[("force-ssl-redirect", "true")]);
    assert_eq!(
        status("plain.example").await,
        StatusCode::PERMANENT_REDIRECT
    );
    assert_eq!(
        status("unknown.example").await,
        StatusCode::NOT_FOUND,
        "as ingress-nginx's default server, a request no rule matched is not forced to HTTPS"
    );
}

#[tokio::test]
async fn with_a_configmap_its_keys_decide_over_the_proxy_config() {
    let trusting = ProxyConfig {
        use_forwarded_headers: true,
        enable_underscores_in_headers: true,
        ..ProxyConfig::default()
    };
    let (proxy, mut writer, _web) = proxy(trusting).await;
    let forwarded_https = [("x-forwarded-proto", "https"), ("x_underscore", "yes")];

    // No ConfigMap: the embedder's settings.
    let answer = request(&proxy, "tls.example", &forwarded_https).await;
    assert_eq!(answer.status, StatusCode::OK, "trusted X-Forwarded-Proto");
    assert_eq!(answer.header("x-seen-x_underscore"), "yes");

    // A ConfigMap without those keys: ingress-nginx's defaults (both off).
    configmap(&mut writer, &[("hsts", "true")]);
    let answer = request(&proxy, "tls.example", &forwarded_https).await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    let answer = request(&proxy, "plain.example", &forwarded_https).await;
    assert_eq!(answer.header("x-seen-x_underscore"), "");

    // The keys set: on again, from the ConfigMap.
    configmap(
        &mut writer,
        &[
            ("use-forwarded-headers", "true"),
            ("enable-underscores-in-headers", "true"),
        ],
    );
    let answer = request(&proxy, "plain.example", &forwarded_https).await;
    assert_eq!(answer.header("x-seen-x_underscore"), "yes");
    assert_eq!(answer.header("x-seen-x-forwarded-proto"), "https");

    // Deleted: back to the embedder's settings.
    writer.apply(Change::DeleteGlobalConfig);
    writer.commit();
    let answer = request(&proxy, "tls.example", &forwarded_https).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn the_client_address_follows_the_realip_keys() {
    let (proxy, mut writer, _web) = proxy(ProxyConfig::default()).await;
    let seen = |answer: &Answer| {
        (
            answer.header("x-seen-x-forwarded-for").to_owned(),
            answer.header("x-seen-x-real-ip").to_owned(),
        )
    };
    let from = |list: &'static str| [("x-forwarded-for", list), ("x-client", "203.0.113.9")];
    let pair = |a: &str, b: &str| (a.to_owned(), b.to_owned());

    // Trusted peer (127.0.0.1 is inside 0.0.0.0/0): the rightmost untrusted address.
    configmap(&mut writer, &[("use-forwarded-headers", "true")]);
    let answer = request(&proxy, "plain.example", &from("198.51.100.1, 10.1.1.1")).await;
    // Every address is trusted under 0.0.0.0/0: the leftmost.
    assert_eq!(seen(&answer), pair("198.51.100.1", "198.51.100.1"));

    // proxy-real-ip-cidr: only 10.0.0.0/8 and loopback hops are trusted.
    configmap(
        &mut writer,
        &[
            ("use-forwarded-headers", "true"),
            ("proxy-real-ip-cidr", "10.0.0.0/8,127.0.0.1"),
        ],
    );
    let answer = request(
        &proxy,
        "plain.example",
        &from("198.51.100.1, 192.0.2.4, 10.1.1.1"),
    )
    .await;
    assert_eq!(seen(&answer), pair("192.0.2.4", "192.0.2.4"));

    // A peer outside the ranges names no one.
    configmap(
        &mut writer,
        &[
            ("use-forwarded-headers", "true"),
            ("proxy-real-ip-cidr", "10.0.0.0/8"),
        ],
    );
    let answer = request(&proxy, "plain.example", &from("198.51.100.1")).await;
    assert_eq!(seen(&answer), pair("127.0.0.1", "127.0.0.1"));

    // forwarded-for-header: the client's address comes from another field.
    configmap(
        &mut writer,
        &[
            ("use-forwarded-headers", "true"),
            ("forwarded-for-header", "X-Client"),
        ],
    );
    let answer = request(&proxy, "plain.example", &from("198.51.100.1")).await;
    assert_eq!(seen(&answer), pair("203.0.113.9", "203.0.113.9"));

    // compute-full-forwarded-for: the client's list and the peer.
    configmap(
        &mut writer,
        &[
            ("use-forwarded-headers", "true"),
            ("compute-full-forwarded-for", "true"),
        ],
    );
    let answer = request(&proxy, "plain.example", &from("198.51.100.1, 10.1.1.1")).await;
    assert_eq!(
        seen(&answer),
        pair("198.51.100.1, 10.1.1.1, 127.0.0.1", "198.51.100.1")
    );
    // Without use-forwarded-headers none of it applies.
    configmap(&mut writer, &[("compute-full-forwarded-for", "true")]);
    let answer = request(&proxy, "plain.example", &from("198.51.100.1")).await;
    assert_eq!(seen(&answer), pair("127.0.0.1", "127.0.0.1"));
}

#[tokio::test]
async fn source_ranges_allow_and_deny_by_the_resolved_client_address() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let annotated = |name: &str, host: &str, pairs: &[(&str, &str)]| {
        let mut ingress = ingress(name, 1, &[(Some(host), "/", "web")]);
        for (key, value) in pairs {
            ingress.meta.annotations.insert(
                format!("nginx.ingress.kubernetes.io/{key}"),
                (*value).to_owned(),
            );
        }
        Change::UpsertIngress(ingress)
    };
    writer.apply(annotated("plain", "plain.example", &[]));
    writer.apply(annotated(
        "elsewhere",
        "elsewhere.example",
        &[("allowlist-source-range", "10.0.0.0/8")],
    ));
    writer.apply(annotated(
        "local",
        "local.example",
        &[("whitelist-source-range", "127.0.0.1/32")],
    ));
    writer.apply(annotated(
        "denied",
        "denied.example",
        &[
            ("whitelist-source-range", "127.0.0.0/8"),
            ("denylist-source-range", "127.0.0.1"),
        ],
    ));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let status = |host: &'static str, headers: &'static [(&'static str, &'static str)]| {
        let proxy = &proxy;
        async move { request(proxy, host, headers).await.status }
    };
    // Annotations only (the test client is 127.0.0.1).
    assert_eq!(status("plain.example", &[]).await, StatusCode::OK);
    assert_eq!(
        status("elsewhere.example", &[]).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(status("local.example", &[]).await, StatusCode::OK);
    assert_eq!(
        status("denied.example", &[]).await,
        StatusCode::FORBIDDEN,
        "the deny list wins"
    );

    // The ConfigMap's lists for paths whose Ingress sets none.
    configmap(&mut writer, &[("whitelist-source-range", "10.0.0.0/8")]);
    assert_eq!(status("plain.example", &[]).await, StatusCode::FORBIDDEN);
    assert_eq!(
        status("local.example", &[]).await,
        StatusCode::OK,
        "the annotation wins"
    );

    // The address a trusted balancer names is the one checked.
    configmap(
        &mut writer,
        &[
            ("whitelist-source-range", "10.0.0.0/8"),
            ("use-forwarded-headers", "true"),
        ],
    );
    let forwarded: &[(&str, &str)] = &[("x-forwarded-for", "10.1.2.3")];
    assert_eq!(status("plain.example", forwarded).await, StatusCode::OK);
    assert_eq!(
        status("local.example", forwarded).await,
        StatusCode::FORBIDDEN
    );
}
