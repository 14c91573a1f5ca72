//! TLS upstreams chosen by the Service port name: `https` (HTTP/1.1 over TLS) and `grpcs`
//! (HTTP/2 over TLS by ALPN), against a backend with a self-signed certificate, as in-cluster
//! TLS backends usually are.

mod common;

use common::*;
use http::StatusCode;
use ingress_core::{Change, HttpIngressPath, IngressRule};
use ingress_proxy::ProxyConfig;

/// A table routing `{port_name}.example/` to Service `{port_name}` whose port has that name.
fn named_port_table(
    routes: &[(&str, std::net::SocketAddr)],
) -> (ingress_core::TableWriter, ingress_core::TableReader) {
    let (mut writer, reader) = table();
    let mut rules = Vec::new();
    for (port_name, address) in routes {
        writer.apply(Change::UpsertService(service(port_name, Some(port_name))));
        for slice in slices(port_name, Some(port_name), &[*address]) {
            writer.apply(Change::UpsertEndpointSlice(slice));
        }
        rules.push(IngressRule {
            host: Some(format!("{port_name}.example")),
            paths: vec![HttpIngressPath {
                path: Some("/".into()),
                path_type: "Prefix".into(),
                backend: backend_ref_named(port_name, port_name),
            }],
        });
    }
    let mut routes = ingress("tls-upstreams", 1, &[]);
    routes.spec.rules = rules;
    writer.apply(Change::UpsertIngress(routes));
    writer.commit();
    (writer, reader)
}

#[tokio::test]
async fn https_and_grpcs_ports_are_reached_over_tls() {
    let secure = backend::start_tls("secure").await;
    let (_writer, reader) =
        named_port_table(&[("https", secure.address), ("grpcs", secure.address)]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for _ in 0..3 {
        let answer = get(&client, proxy.http, "https.example", "/x?y=1").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.body, "secure");
        assert_eq!(answer.header("x-seen-version"), "HTTP/1.1");
        assert_eq!(answer.header("x-seen-target"), "/x?y=1");
        assert_eq!(answer.header("x-seen-host"), "https.example");

        let answer = get(&client, proxy.http, "grpcs.example", "/svc/Method").await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.header("x-seen-version"), "HTTP/2.0");
        assert_eq!(answer.header("x-seen-target"), "/svc/Method");
    }
}

#[tokio::test]
async fn a_plain_http_backend_on_an_https_port_is_a_502() {
    // The port says TLS, the endpoint speaks plain HTTP: the handshake fails, nothing is sent.
    let plain = backend::start("plain", false).await;
    let (_writer, reader) = named_port_table(&[("https", plain.address)]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let answer = get(&http1_client(), proxy.http, "https.example", "/").await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert_eq!(
        plain.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no request reached the plain backend"
    );
}
