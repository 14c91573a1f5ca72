//! ingress-nginx annotations through the data plane: `ssl-redirect`, `force-ssl-redirect`,
//! an invalid value (only that Ingress's paths answer 503), and a trusted
//! `X-Forwarded-Proto: https` that must not be redirected again.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use ingress_core::{Change, Ingress};
use ingress_proxy::ProxyConfig;

fn annotated(mut ingress: Ingress, pairs: &[(&str, &str)]) -> Ingress {
    for (key, value) in pairs {
        ingress.meta.annotations.insert(
            format!("nginx.ingress.kubernetes.io/{key}"),
            (*value).to_owned(),
        );
    }
    ingress
}

/// A proxy with: `tls.example` (TLS entry) annotated with `tls`, `plain.example` (no TLS)
/// annotated with `plain`, and `other.example` without annotations.
async fn proxy(
    tls: &[(&str, &str)],
    plain: &[(&str, &str)],
    config: ProxyConfig,
) -> (Proxy, backend::Backend) {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let secure = with_tls(
        ingress("secure", 1, &[(Some("tls.example"), "/", "web")]),
        &["tls.example"],
        "secure-cert",
    );
    writer.apply(Change::UpsertIngress(annotated(secure, tls)));
    let open = ingress("open", 2, &[(Some("plain.example"), "/", "web")]);
    writer.apply(Change::UpsertIngress(annotated(open, plain)));
    writer.apply(Change::UpsertIngress(ingress(
        "other",
        3,
        &[(Some("other.example"), "/", "web")],
    )));
    writer.commit();
    (Proxy::start(reader, config).await, web)
}

async fn status(proxy: &Proxy, host: &str) -> StatusCode {
    get(&http1_client(), proxy.http, host, "/p").await.status
}

#[tokio::test]
async fn ssl_redirect_is_on_by_default_and_can_be_turned_off() {
    let (on, _web) = proxy(&[], &[], ProxyConfig::default()).await;
    assert_eq!(
        status(&on, "tls.example").await,
        StatusCode::PERMANENT_REDIRECT
    );
    assert_eq!(status(&on, "plain.example").await, StatusCode::OK);
    let (off, _web2) = proxy(&[("ssl-redirect", "false")], &[], ProxyConfig::default()).await;
    assert_eq!(status(&off, "tls.example").await, StatusCode::OK);
}

#[tokio::test]
async fn force_ssl_redirect_redirects_hosts_without_tls() {
    let (proxy, _web) = proxy(
        &[],
        &[("force-ssl-redirect", "true")],
        ProxyConfig::default(),
    )
    .await;
    let answer = get(&http1_client(), proxy.http, "plain.example", "/p?q=1").await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(answer.header("location"), "https://plain.example/p?q=1");
}

#[tokio::test]
async fn an_invalid_value_answers_503_on_its_own_ingress_only() {
    let (proxy, _web) = proxy(&[], &[("ssl-redirect", "yes")], ProxyConfig::default()).await;
    let answer = get(&http1_client(), proxy.http, "plain.example", "/p").await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.body.contains("invalid value"), "{}", answer.body);
    assert_eq!(status(&proxy, "other.example").await, StatusCode::OK);
    assert_eq!(
        status(&proxy, "tls.example").await,
        StatusCode::PERMANENT_REDIRECT
    );
}

#[tokio::test]
async fn a_trusted_forwarded_proto_https_is_not_redirected_again() {
    for (trusted, expected) in [
        (false, StatusCode::PERMANENT_REDIRECT),
        (true, StatusCode::OK),
    ] {
        let config = ProxyConfig {
            use_forwarded_headers: trusted,
            ..ProxyConfig::default()
        };
        let (proxy, _web) = proxy(&[], &[], config).await;
        let request = Request::get(format!("http://{}/p", proxy.http))
            .header("host", "tls.example")
            .header("x-forwarded-proto", "https")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let answer = send(&http1_client(), request).await;
        assert_eq!(answer.status, expected, "trusted={trusted}");
    }
}
