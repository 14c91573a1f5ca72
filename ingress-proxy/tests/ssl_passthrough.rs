//! `ssl-passthrough` on the shared HTTPS listener: a host with the annotation has its TLS
//! connections passed, undecrypted, to a backend that terminates TLS with its own certificate;
//! other hosts on the same listener are terminated by the proxy as before; a first flight that
//! is not TLS does not hang the listener; without `--enable-ssl-passthrough` nothing is passed.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use http::Request;
use http_body_util::Full;
use ingress_core::{Change, ClassSelection, TableConfig, TableReader, TableWriter};
use ingress_proxy::ProxyConfig;
use rustls::pki_types::{CertificateDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

fn passthrough_table(enabled: bool) -> (TableWriter, TableReader) {
    ingress_core::table(TableConfig {
        classes: ClassSelection {
            controller_name: "k8s.io/ingress-nginx".into(),
            class_names: vec!["nginx".into()],
            watch_without_class: true,
        },
        default_backend: None,
        default_certificate: None,
        ssl_passthrough: enabled,
    })
}

/// A backend terminating TLS itself for `pass.example`, answering every request on the
/// connection with `passed-through`. Returns its address and certificate.
async fn tls_backend() -> (SocketAddr, CertificateDer<'static>) {
    let generated = rcgen::generate_simple_self_signed(vec!["pass.example".to_owned()]).unwrap();
    let certificate = generated.cert.der().clone();
    let key = PrivatePkcs8KeyDer::from(generated.signing_key.serialize_der());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certificate.clone()], key.into())
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else {
                    return;
                };
                let mut buffer = vec![0u8; 4096];
                let mut head = Vec::new();
                while let Ok(n) = tls.read(&mut buffer).await {
                    if n == 0 {
                        return;
                    }
                    head.extend_from_slice(&buffer[..n]);
                    if head.windows(4).any(|w| w == b"\r\n\r\n") {
                        head.clear();
                        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 14\r\n\r\npassed-through";
                        if tls.write_all(answer).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    (address, certificate)
}

fn get(host: &str) -> Request<Full<Bytes>> {
    Request::get("/")
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .unwrap()
}

async fn setup(enabled: bool) -> (Proxy, TableWriter, CertificateDer<'static>) {
    let (backend, certificate) = tls_backend().await;
    let web = backend::start("web", false).await;
    let (mut writer, reader) = passthrough_table(enabled);
    add_service(&mut writer, "secure", &[backend]);
    add_service(&mut writer, "web", &[web.address]);
    let mut passed = ingress("pass", 1, &[(Some("pass.example"), "/", "secure")]);
    passed.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/ssl-passthrough".to_owned(),
        "true".to_owned(),
    );
    writer.apply(Change::UpsertIngress(passed));
    writer.apply(Change::UpsertIngress(ingress(
        "web",
        2,
        &[(Some("web.example"), "/", "web")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    (proxy, writer, certificate)
}

#[tokio::test]
async fn a_passthrough_host_reaches_its_own_tls_backend_and_others_are_terminated() {
    let (proxy, _writer, backend_certificate) = setup(true).await;

    let (stream, served) = tls::connect(proxy.https, Some("pass.example"), &[], false).await;
    assert_eq!(
        served, backend_certificate,
        "the backend's own certificate, end to end"
    );
    let answer = tls::request(stream, get("pass.example")).await;
    assert_eq!(answer.body, "passed-through");
    // TLS 1.2 too (a different ClientHello).
    let (stream, served) = tls::connect(proxy.https, Some("pass.example"), &[], true).await;
    assert_eq!(served, backend_certificate);
    assert_eq!(
        tls::request(stream, get("pass.example")).await.body,
        "passed-through"
    );

    // Another host on the same listener: the proxy terminates TLS and routes the request.
    let (stream, served) = tls::connect(
        proxy.https,
        Some("web.example"),
        &[b"h2", b"http/1.1"],
        false,
    )
    .await;
    assert_ne!(served, backend_certificate);
    let answer = tls::request(stream, get("web.example")).await;
    assert_eq!(answer.body, "web");
    assert_eq!(answer.header("x-backend"), "web");

    // Not TLS at all: answered by the failed handshake (closed), never left hanging.
    let mut raw = TcpStream::connect(proxy.https).await.unwrap();
    raw.write_all(b"GET / HTTP/1.1\r\nhost: pass.example\r\n\r\n")
        .await
        .unwrap();
    let mut sink = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(10), raw.read_to_end(&mut sink)).await;
    assert!(closed.is_ok(), "the connection is closed, not left waiting");

    let metrics = get_metrics(&proxy).await;
    assert!(
        metrics.contains("ingress_ssl_passthrough_connections_total{result=\"passed\"} 2"),
        "{metrics}"
    );
}

#[tokio::test]
async fn without_the_flag_the_annotation_is_reported_and_tls_is_terminated() {
    let (proxy, _writer, backend_certificate) = setup(false).await;
    let (stream, served) = tls::connect(proxy.https, Some("pass.example"), &[], false).await;
    assert_ne!(
        served, backend_certificate,
        "the proxy's certificate: terminated"
    );
    let answer = tls::request(stream, get("pass.example")).await;
    assert_eq!(answer.status, 502, "a plain HTTP request to a TLS backend");
    let diagnostics = common::get(&http1_client(), proxy.admin, "admin", "/api/diagnostics")
        .await
        .body;
    assert!(
        diagnostics.contains("ssl-passthrough") && diagnostics.contains("enable-ssl-passthrough"),
        "{diagnostics}"
    );
}

async fn get_metrics(proxy: &Proxy) -> String {
    common::get(&http1_client(), proxy.admin, "admin", "/metrics")
        .await
        .body
}

/// Reads until the proxy closes the connection (bounded at 10 s).
async fn closed_by_the_proxy(stream: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut seen = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut seen)).await;
    assert!(read.is_ok(), "{what}: the proxy kept the connection open");
    seen
}

#[tokio::test]
async fn first_flights_that_are_not_a_client_hello_are_closed_in_time() {
    let (proxy, mut writer, backend_certificate) = setup(true).await;
    // Bounds both the ClientHello read and the TLS handshake.
    configmap(&mut writer, &[("client-header-timeout", "1")]);

    // A truncated ClientHello, then the client's end of the stream.
    let mut stream = TcpStream::connect(proxy.https).await.unwrap();
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .await
        .unwrap();
    stream.shutdown().await.unwrap();
    closed_by_the_proxy(&mut stream, "truncated hello").await;
    // A record announcing more than the reader ever waits for, then nothing.
    let mut stream = TcpStream::connect(proxy.https).await.unwrap();
    stream
        .write_all(&[0x16, 0x03, 0x01, 0x40, 0x01, 0x01])
        .await
        .unwrap();
    closed_by_the_proxy(&mut stream, "oversized record").await;
    // A client that sends nothing at all.
    let mut stream = TcpStream::connect(proxy.https).await.unwrap();
    closed_by_the_proxy(&mut stream, "silent client").await;

    // The listener still passes through afterwards.
    let (stream, served) = tls::connect(proxy.https, Some("pass.example"), &[], false).await;
    assert_eq!(served, backend_certificate);
    assert_eq!(
        tls::request(stream, get("pass.example")).await.body,
        "passed-through"
    );
}

/// A rustls client's first flight for `name` (the handshake is never finished).
fn client_hello(name: &str) -> Vec<u8> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
    let name = rustls::pki_types::ServerName::try_from(name.to_owned()).unwrap();
    let mut client = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut bytes = Vec::new();
    while client.wants_write() {
        client.write_tls(&mut bytes).unwrap();
    }
    bytes
}

#[tokio::test]
async fn a_passthrough_host_without_endpoints_is_closed_and_counted() {
    let (mut writer, reader) = passthrough_table(true);
    writer.apply(Change::UpsertService(service("empty", None)));
    let mut pass = ingress("pass", 1, &[(Some("pass.example"), "/", "empty")]);
    pass.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/ssl-passthrough".to_owned(),
        "true".to_owned(),
    );
    writer.apply(Change::UpsertIngress(pass));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let mut stream = TcpStream::connect(proxy.https).await.unwrap();
    stream
        .write_all(&client_hello("pass.example"))
        .await
        .unwrap();
    let seen = closed_by_the_proxy(&mut stream, "no endpoint").await;
    assert!(seen.is_empty(), "nothing answered: {seen:?}");
    let counted = eventually(|| async {
        get_metrics(&proxy)
            .await
            .contains("ingress_ssl_passthrough_connections_total{result=\"no_endpoint\"} 1")
    })
    .await;
    assert!(counted, "{}", get_metrics(&proxy).await);
}
