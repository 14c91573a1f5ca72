//! TLS: SNI certificate selection (exact, wildcard, default), rotation without restart, broken
//! Secrets, HTTP→HTTPS redirect with HSTS, and HTTP/2 over TLS.

mod common;

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use ingress_core::Change;
use ingress_proxy::ProxyConfig;

fn get_request(host: &str, path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .expect("request")
}

#[tokio::test]
async fn sni_selects_exact_then_wildcard_then_default_and_rotation_applies_without_restart() {
    let web = backend::start("web", false).await;
    let (exact_chain, exact_key, exact_der) = tls::certificate(&["a.example"]);
    let (wild_chain, wild_key, wild_der) = tls::certificate(&["*.w.example"]);
    let (default_chain, default_key, default_der) = tls::certificate(&["default.example"]);
    let (mut writer, reader) = table_with(Some("default-cert"));
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "exact",
        &exact_chain,
        &exact_key,
    )));
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "wild",
        &wild_chain,
        &wild_key,
    )));
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "default-cert",
        &default_chain,
        &default_key,
    )));
    let site = ingress(
        "site",
        1,
        &[
            (Some("a.example"), "/", "web"),
            (Some("*.w.example"), "/", "web"),
        ],
    );
    let site = with_tls(
        with_tls(site, &["a.example"], "exact"),
        &["*.w.example"],
        "wild",
    );
    writer.apply(Change::UpsertIngress(site));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let cases = [
        (Some("a.example"), &exact_der, false),
        (Some("x.w.example"), &wild_der, true),
        (Some("y.x.w.example"), &default_der, false),
        (Some("other.example"), &default_der, false),
        (None, &default_der, true),
    ];
    for (sni, expected, tls12) in cases {
        let (_stream, served) = tls::connect(proxy.https, sni, &[b"http/1.1"], tls12).await;
        assert_eq!(
            &served, expected,
            "certificate for SNI {sni:?} (TLS 1.2 only: {tls12})"
        );
    }

    // Rotate the exact Secret: the next handshake gets the new certificate, same listener.
    let (rotated_chain, rotated_key, rotated_der) = tls::certificate(&["a.example"]);
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "exact",
        &rotated_chain,
        &rotated_key,
    )));
    writer.commit();
    let (stream, served) =
        tls::connect(proxy.https, Some("a.example"), &[b"h2", b"http/1.1"], false).await;
    assert_eq!(
        served, rotated_der,
        "rotated certificate served without restart"
    );
    assert_ne!(served, exact_der);

    // HTTP/2 over TLS (ALPN h2), routed by Host/:authority, with HSTS for a TLS host.
    let answer = tls::request(stream, get_request("a.example", "https://a.example/x")).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "web");
    assert_eq!(answer.header("x-seen-x-forwarded-proto"), "https");
    assert_eq!(
        answer.header("strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test]
async fn without_a_configured_default_a_self_signed_certificate_is_served() {
    let (mut writer, reader) = table();
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let (first, first_cert) =
        tls::connect(proxy.https, Some("nothing.example"), &[b"http/1.1"], false).await;
    let (_second, second_cert) = tls::connect(proxy.https, None, &[b"http/1.1"], false).await;
    assert_eq!(
        first_cert, second_cert,
        "one self-signed certificate generated at start"
    );
    let answer = tls::request(first, get_request("nothing.example", "/")).await;
    assert_eq!(
        answer.status,
        StatusCode::NOT_FOUND,
        "no route: built-in default backend"
    );
    assert!(
        answer.headers.get("strict-transport-security").is_none(),
        "no HSTS without a TLS host"
    );
}

#[tokio::test]
async fn a_broken_secret_falls_back_to_the_default_certificate_and_is_reported() {
    let web = backend::start("web", false).await;
    let (good_chain, good_key, _) = tls::certificate(&["good.example"]);
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "broken",
        "not a certificate",
        "not a key",
    )));
    writer.apply(Change::UpsertTlsSecret(tls_secret(
        "good",
        &good_chain,
        &good_key,
    )));
    let site = ingress(
        "site",
        1,
        &[
            (Some("broken.example"), "/", "web"),
            (Some("good.example"), "/", "web"),
        ],
    );
    writer.apply(Change::UpsertIngress(with_tls(
        with_tls(site, &["broken.example"], "broken"),
        &["good.example"],
        "good",
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let (_, self_signed) = tls::connect(proxy.https, Some("unknown.example"), &[], false).await;
    let (stream, broken) = tls::connect(proxy.https, Some("broken.example"), &[], false).await;
    assert_eq!(
        broken, self_signed,
        "broken Secret's host gets the default certificate"
    );
    let answer = tls::request(stream, get_request("broken.example", "/")).await;
    assert_eq!(answer.body, "web", "the host is still served");
    let metrics = get(&http1_client(), proxy.admin, "admin", "/metrics")
        .await
        .body;
    assert!(
        metrics.contains(r#"ingress_tls_secret_errors_total{secret="default/broken"} 1"#),
        "{metrics}"
    );
    assert!(!metrics.contains(r#"secret="default/good""#), "{metrics}");
}

#[tokio::test]
async fn plain_http_to_a_tls_host_redirects_except_acme_challenges() {
    let web = backend::start("web", false).await;
    let (chain, key, _) = tls::certificate(&["secure.example"]);
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertTlsSecret(tls_secret("secure", &chain, &key)));
    let site = ingress(
        "site",
        1,
        &[
            (Some("secure.example"), "/", "web"),
            (Some("plain.example"), "/", "web"),
        ],
    );
    writer.apply(Change::UpsertIngress(with_tls(
        site,
        &["secure.example"],
        "secure",
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();

    let redirected = get(&client, proxy.http, "secure.example:8080", "/a/b?c=d").await;
    assert_eq!(redirected.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        redirected.header("location"),
        "https://secure.example/a/b?c=d"
    );
    assert_eq!(
        web.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "not forwarded"
    );

    let acme = get(
        &client,
        proxy.http,
        "secure.example",
        "/.well-known/acme-challenge/token",
    )
    .await;
    assert_eq!(
        acme.status,
        StatusCode::OK,
        "ACME challenges are served over plain HTTP"
    );
    assert_eq!(acme.body, "web");
    assert!(
        acme.headers.get("strict-transport-security").is_none(),
        "no HSTS over plain HTTP"
    );

    let plain = get(&client, proxy.http, "plain.example", "/").await;
    assert_eq!(
        plain.status,
        StatusCode::OK,
        "hosts without TLS are not redirected"
    );
}

#[tokio::test]
async fn ssl_protocols_and_ssl_ciphers_apply_to_the_next_handshake() {
    use rustls::version::{TLS12, TLS13};
    use rustls::{CipherSuite, ProtocolVersion};
    let web = backend::start("web", false).await;
    let (chain, key, _) = tls::certificate(&["a.example"]);
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertTlsSecret(tls_secret("cert", &chain, &key)));
    writer.apply(Change::UpsertIngress(with_tls(
        ingress("site", 1, &[(Some("a.example"), "/", "web")]),
        &["a.example"],
        "cert",
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let https = proxy.https;
    // The test certificate's key is ECDSA P-256.
    let (aes128, aes256) = (
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    );
    // Defaults: TLS 1.2 with any suite.
    let (version, _) = tls::handshake(https, &[&TLS12], Some(aes128))
        .await
        .unwrap();
    assert_eq!(version, ProtocolVersion::TLSv1_2);

    // ssl-protocols: TLSv1.3 only.
    configmap(&mut writer, &[("ssl-protocols", "TLSv1.3")]);
    assert!(tls::handshake(https, &[&TLS12], None).await.is_err());
    let (version, _) = tls::handshake(https, &[&TLS13, &TLS12], None)
        .await
        .unwrap();
    assert_eq!(version, ProtocolVersion::TLSv1_3);

    // ssl-ciphers: one TLS 1.2 suite; TLS 1.3 unaffected.
    configmap(
        &mut writer,
        &[("ssl-ciphers", "ECDHE-ECDSA-AES256-GCM-SHA384")],
    );
    assert!(
        tls::handshake(https, &[&TLS12], Some(aes128))
            .await
            .is_err()
    );
    let (version, suite) = tls::handshake(https, &[&TLS12], Some(aes256))
        .await
        .unwrap();
    assert_eq!((version, suite), (ProtocolVersion::TLSv1_2, aes256));
    let (version, _) = tls::handshake(https, &[&TLS13], None).await.unwrap();
    assert_eq!(version, ProtocolVersion::TLSv1_3);
}
