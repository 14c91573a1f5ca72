//! Client certificates (`auth-tls-*`) on the shared HTTPS listener, through the real proxy:
//! the handshake asks only for the hosts that want one, nginx's `400`s, the error page, the
//! `ssl-client-*` fields the upstream gets (client-sent copies replaced), `auth-tls-match-cn`,
//! and the SNI/`Host` mismatch guard.

mod common;

use bytes::Bytes;
use common::tls::{Issued, TestCa, connect_with_client_certificate, request};
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use ingress_core::{Change, Ingress};
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

struct Setup {
    proxy: Proxy,
    _writer: ingress_core::TableWriter,
    _web: backend::Backend,
    alice: Issued,
    bob: Issued,
    stranger: Issued,
}

async fn setup() -> Setup {
    let ca = TestCa::new("client CA");
    let other_ca = TestCa::new("other CA");
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertOpaqueSecret(ingress_core::OpaqueSecret {
        meta: ingress_core::ObjectMeta::new(NS, "client-ca", Some(1)),
        data: [("ca.crt".to_owned(), ca.pem().as_bytes().into())].into(),
    }));
    let secret = ("auth-tls-secret", "default/client-ca");
    for ingress in [
        annotated(
            "on",
            "on.example",
            &[secret, ("auth-tls-pass-certificate-to-upstream", "true")],
        ),
        annotated(
            "optional",
            "optional.example",
            &[secret, ("auth-tls-verify-client", "optional")],
        ),
        annotated(
            "no-ca",
            "no-ca.example",
            &[secret, ("auth-tls-verify-client", "optional_no_ca")],
        ),
        annotated(
            "page",
            "page.example",
            &[
                secret,
                ("auth-tls-error-page", "https://login.example/cert.html"),
            ],
        ),
        annotated(
            "missing",
            "missing.example",
            &[("auth-tls-secret", "default/nowhere")],
        ),
        annotated(
            "cn",
            "cn.example",
            &[secret, ("auth-tls-match-cn", "CN=(alice|carol)$")],
        ),
        annotated("plain", "plain.example", &[]),
    ] {
        writer.apply(Change::UpsertIngress(ingress));
    }
    writer.commit();
    Setup {
        proxy: Proxy::start(reader, ProxyConfig::default()).await,
        _writer: writer,
        _web: web,
        alice: ca.client("alice"),
        bob: ca.client("bob"),
        stranger: other_ca.client("mallory"),
    }
}

/// One request on a new connection with `sni`, `host` and `client`'s certificate: the
/// answer, and whether the handshake asked for a certificate.
async fn ask(
    proxy: &Proxy,
    sni: Option<&str>,
    host: &str,
    client: Option<&Issued>,
    headers: &[(&str, &str)],
) -> (Answer, bool) {
    let (stream, asked) = connect_with_client_certificate(proxy.https, sni, client).await;
    let mut builder = Request::get("/").header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let answer = request(
        stream,
        builder.body(Full::new(Bytes::new())).expect("request"),
    )
    .await;
    (answer, asked)
}

#[tokio::test]
async fn verify_on_refuses_without_a_valid_certificate_and_passes_the_fields() {
    let setup = setup().await;
    let proxy = &setup.proxy;
    let forged = [
        ("ssl-client-verify", "SUCCESS"),
        ("ssl-client-subject-dn", "CN=admin"),
    ];

    let (answer, asked) = ask(proxy, Some("on.example"), "on.example", None, &forged).await;
    assert!(asked, "an auth-tls host asks for a client certificate");
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("No required SSL certificate was sent"),
        "{}",
        answer.body
    );

    let stranger = Some(&setup.stranger);
    let (answer, _) = ask(proxy, Some("on.example"), "on.example", stranger, &[]).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(
        answer.body.contains("The SSL certificate error"),
        "{}",
        answer.body
    );

    let alice = Some(&setup.alice);
    let (answer, _) = ask(proxy, Some("on.example"), "on.example", alice, &forged).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("x-seen-ssl-client-verify"), "SUCCESS");
    assert_eq!(answer.header("x-seen-ssl-client-subject-dn"), "CN=alice");
    assert_eq!(answer.header("x-seen-ssl-client-issuer-dn"), "CN=client CA");
    assert!(
        answer
            .header("x-seen-ssl-client-cert")
            .starts_with("-----BEGIN%20CERTIFICATE-----%0A"),
        "auth-tls-pass-certificate-to-upstream: {}",
        answer.header("x-seen-ssl-client-cert")
    );
}

#[tokio::test]
async fn optional_modes_let_requests_through_and_say_what_was_proved() {
    let setup = setup().await;
    let proxy = &setup.proxy;
    let forged = [("ssl-client-verify", "SUCCESS")];
    let (answer, asked) = ask(
        proxy,
        Some("optional.example"),
        "optional.example",
        None,
        &forged,
    )
    .await;
    assert!(asked);
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("x-seen-ssl-client-verify"),
        "NONE",
        "the client's own ssl-client-verify is replaced"
    );
    assert_eq!(
        answer.header("x-seen-ssl-client-cert"),
        "",
        "not passed by default"
    );

    let stranger = Some(&setup.stranger);
    let (answer, _) = ask(
        proxy,
        Some("optional.example"),
        "optional.example",
        stranger,
        &[],
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "optional: a sent certificate must verify"
    );

    let (answer, _) = ask(proxy, Some("no-ca.example"), "no-ca.example", stranger, &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "optional_no_ca accepts any certificate"
    );
    assert_eq!(
        answer.header("x-seen-ssl-client-verify"),
        "FAILED:unable to get local issuer certificate"
    );
    assert_eq!(answer.header("x-seen-ssl-client-subject-dn"), "CN=mallory");

    let alice = Some(&setup.alice);
    let (answer, _) = ask(
        proxy,
        Some("optional.example"),
        "optional.example",
        alice,
        &[],
    )
    .await;
    assert_eq!(answer.header("x-seen-ssl-client-verify"), "SUCCESS");
}

#[tokio::test]
async fn the_error_page_replaces_the_400_match_cn_filters_and_an_unusable_secret_refuses() {
    let setup = setup().await;
    let proxy = &setup.proxy;
    let (answer, _) = ask(proxy, Some("page.example"), "page.example", None, &[]).await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.header("location"), "https://login.example/cert.html");
    let stranger = Some(&setup.stranger);
    let (answer, _) = ask(proxy, Some("page.example"), "page.example", stranger, &[]).await;
    assert_eq!(answer.status, StatusCode::FOUND);

    let alice = Some(&setup.alice);
    let (answer, _) = ask(proxy, Some("cn.example"), "cn.example", alice, &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "auth-tls-match-cn matches alice"
    );
    let bob = Some(&setup.bob);
    let (answer, _) = ask(proxy, Some("cn.example"), "cn.example", bob, &[]).await;
    assert_eq!(
        answer.status,
        StatusCode::FORBIDDEN,
        "a verified certificate, but not alice's"
    );

    let (answer, asked) = ask(
        proxy,
        Some("missing.example"),
        "missing.example",
        alice,
        &[],
    )
    .await;
    assert!(!asked, "no CA to ask with");
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn other_hosts_never_ask_and_a_host_that_was_not_negotiated_is_misdirected() {
    let setup = setup().await;
    let proxy = &setup.proxy;
    let alice = Some(&setup.alice);
    let (answer, asked) = ask(proxy, Some("plain.example"), "plain.example", alice, &[]).await;
    assert!(
        !asked,
        "a host without auth-tls-secret never asks for a certificate"
    );
    assert_eq!(answer.status, StatusCode::OK);

    // SNI names a host that asks for nothing, Host names one that needs a certificate.
    let (answer, _) = ask(proxy, Some("plain.example"), "on.example", alice, &[]).await;
    assert_eq!(answer.status, StatusCode::MISDIRECTED_REQUEST);
    // Verified for one host's settings, sent to a host with others.
    let (answer, _) = ask(proxy, Some("no-ca.example"), "on.example", alice, &[]).await;
    assert_eq!(answer.status, StatusCode::MISDIRECTED_REQUEST);
    // Without SNI nothing was asked for: no certificate.
    let (answer, asked) = ask(proxy, None, "on.example", alice, &[]).await;
    assert!(!asked);
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    // A verified connection may go on to a host without client certificates.
    let (answer, _) = ask(proxy, Some("on.example"), "plain.example", alice, &[]).await;
    assert_eq!(answer.status, StatusCode::OK);

    // Plain HTTP to a host that needs a certificate is refused.
    let answer = get(&http1_client(), proxy.http, "on.example", "/").await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);

    let metrics = get(&http1_client(), proxy.admin, "admin", "/metrics")
        .await
        .body;
    let denied = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix("ingress_requests_denied_total{reason=\"client_certificate\"} ")
        })
        .and_then(|value| value.trim().parse::<u64>().ok());
    assert_eq!(denied, Some(4), "{metrics}");
}

#[tokio::test]
async fn verify_depth_counts_the_intermediates_the_client_sends() {
    let root = TestCa::new("client root");
    let intermediate = root.intermediate("client intermediate");
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertOpaqueSecret(ingress_core::OpaqueSecret {
        meta: ingress_core::ObjectMeta::new(NS, "root-ca", Some(1)),
        data: [("ca.crt".to_owned(), root.pem().as_bytes().into())].into(),
    }));
    let secret = ("auth-tls-secret", "default/root-ca");
    writer.apply(Change::UpsertIngress(annotated(
        "shallow",
        "shallow.example",
        &[secret],
    )));
    writer.apply(Change::UpsertIngress(annotated(
        "deep",
        "deep.example",
        &[secret, ("auth-tls-verify-depth", "2")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let carol = intermediate.client("carol");
    let (answer, _) = ask(
        &proxy,
        Some("shallow.example"),
        "shallow.example",
        Some(&carol),
        &[],
    )
    .await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_REQUEST,
        "depth 1: issued by a root only"
    );
    let (answer, _) = ask(
        &proxy,
        Some("deep.example"),
        "deep.example",
        Some(&carol),
        &[],
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.header("x-seen-ssl-client-issuer-dn"),
        "CN=client intermediate"
    );
}

#[tokio::test]
async fn one_http2_connection_serves_only_the_hosts_its_handshake_allows() {
    let setup = setup().await;
    let (stream, asked) = common::tls::connect_with_client_certificate_alpn(
        setup.proxy.https,
        Some("on.example"),
        Some(&setup.alice),
        b"h2",
    )
    .await;
    assert!(asked);
    assert_eq!(stream.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2 handshake");
    tokio::spawn(connection);
    // A browser coalescing hosts on one connection: each request is judged by its own host.
    for (host, expected) in [
        ("on.example", StatusCode::OK),
        ("plain.example", StatusCode::OK),
        // Same CA, other settings (`optional`, `optional_no_ca`): another handshake is needed.
        ("optional.example", StatusCode::MISDIRECTED_REQUEST),
        ("no-ca.example", StatusCode::MISDIRECTED_REQUEST),
        ("on.example", StatusCode::OK),
    ] {
        let request = Request::get(format!("https://{host}/"))
            .body(Full::new(Bytes::new()))
            .expect("request");
        let response = sender.send_request(request).await.expect("h2 response");
        assert_eq!(response.status(), expected, "{host}");
    }
}

#[tokio::test]
async fn host_less_rules_protect_every_name_no_rule_names() {
    let ca = TestCa::new("default server CA");
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertOpaqueSecret(ingress_core::OpaqueSecret {
        meta: ingress_core::ObjectMeta::new(NS, "default-ca", Some(1)),
        data: [("ca.crt".to_owned(), ca.pem().as_bytes().into())].into(),
    }));
    let mut catch_all = ingress("catch-all", 1, &[(None, "/", "web")]);
    catch_all.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/auth-tls-secret".to_owned(),
        "default/default-ca".to_owned(),
    );
    writer.apply(Change::UpsertIngress(catch_all));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let dave = ca.client("dave");
    let (answer, asked) = ask(&proxy, Some("any.example"), "any.example", None, &[]).await;
    assert!(asked);
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let (answer, _) = ask(&proxy, Some("any.example"), "any.example", Some(&dave), &[]).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.header("x-seen-ssl-client-subject-dn"), "CN=dave");
}
