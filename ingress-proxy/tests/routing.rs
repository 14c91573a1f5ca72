//! Host and path routing, default backends, failures, headers, HTTP/2, upgrades and retries,
//! through a real proxy on loopback with real clients and backends.

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::backend;
use common::*;
use http::{Request, StatusCode};
use http_body_util::Full;
use ingress_core::Change;
use ingress_proxy::{ProxyConfig, Timeouts};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn routes_by_host_and_path() {
    let web = backend::start("web", false).await;
    let api = backend::start("api", false).await;
    let other = backend::start("other", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "api", &[api.address]);
    add_service(&mut writer, "other", &[other.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "site",
        1,
        &[
            (Some("foo.example"), "/", "web"),
            (Some("foo.example"), "/api", "api"),
            (Some("bar.example"), "/only", "other"),
            (Some("*.wild.example"), "/", "other"),
        ],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();

    let cases = [
        ("foo.example", "/", "web"),
        ("foo.example", "/api", "api"),
        ("foo.example", "/api/v1?x=1", "api"),
        ("foo.example", "/apix", "web"),
        ("FOO.example.:8080", "/api", "api"),
        ("bar.example", "/only/x", "other"),
        ("x.wild.example", "/anything", "other"),
    ];
    for (host, path, expected) in cases {
        let answer = get(&client, proxy.http, host, path).await;
        assert_eq!(answer.status, StatusCode::OK, "{host}{path}");
        assert_eq!(answer.body, expected, "{host}{path}");
        assert_eq!(
            answer.header("x-seen-target"),
            path,
            "original target forwarded for {host}{path}"
        );
    }
    // A known host without a matching path, and an unknown host: built-in default backend.
    for (host, path) in [
        ("bar.example", "/other"),
        ("unknown.example", "/"),
        ("y.x.wild.example", "/"),
    ] {
        let answer = get(&client, proxy.http, host, path).await;
        assert_eq!(answer.status, StatusCode::NOT_FOUND, "{host}{path}");
        assert!(answer.body.starts_with("404 Not Found"), "{}", answer.body);
    }
}

#[tokio::test]
async fn host_and_global_default_backends_answer_unmatched_requests() {
    let web = backend::start("web", false).await;
    let host_default = backend::start("host-default", false).await;
    let global_default = backend::start("global-default", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "host-default", &[host_default.address]);
    add_service(&mut writer, "global-default", &[global_default.address]);
    // `a` has rules for a.example and a defaultBackend: the per-host default. `b` is older,
    // so its defaultBackend is the global default (SEMANTICS §3).
    let mut with_host_default = ingress("a", 2, &[(Some("a.example"), "/app", "web")]);
    with_host_default.spec.default_backend = Some(backend_ref("host-default", 80));
    let mut host_less = ingress("b", 1, &[]);
    host_less.spec.default_backend = Some(backend_ref("global-default", 80));
    writer.apply(Change::UpsertIngress(with_host_default));
    writer.apply(Change::UpsertIngress(host_less));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();

    assert_eq!(
        get(&client, proxy.http, "a.example", "/app").await.body,
        "web"
    );
    let unmatched_path = get(&client, proxy.http, "a.example", "/other").await;
    assert_eq!(unmatched_path.body, "host-default");
    let unmatched_host = get(&client, proxy.http, "z.example", "/").await;
    assert_eq!(unmatched_host.status, StatusCode::OK);
    assert_eq!(unmatched_host.body, "global-default");
}

#[tokio::test]
async fn missing_endpoints_answer_503_and_resources_too() {
    let (mut writer, reader) = table();
    writer.apply(Change::UpsertService(service("empty", None)));
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[
            (Some("a.example"), "/", "empty"),
            (Some("b.example"), "/", "no-such-service"),
        ],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for host in ["a.example", "b.example"] {
        let answer = get(&client, proxy.http, host, "/").await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{host}");
        assert!(answer.body.starts_with("503"), "{}", answer.body);
    }
}

#[tokio::test]
async fn forwarding_headers_are_set_and_hop_by_hop_headers_removed() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let request = Request::get(format!("http://{}/p?q=1", proxy.http))
        .header("host", "a.example:8080")
        .header("x-forwarded-for", "198.51.100.1")
        .header("connection", "x-secret")
        .header("x-secret", "dropped")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = send(&http1_client(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(
        answer.header("x-seen-host"),
        "a.example:8080",
        "original Host kept"
    );
    assert_eq!(
        answer.header("x-seen-x-forwarded-for"),
        "127.0.0.1",
        "the client's X-Forwarded-For is replaced (ingress-nginx's default)"
    );
    assert_eq!(answer.header("x-seen-x-real-ip"), "127.0.0.1");
    assert_eq!(answer.header("x-seen-x-forwarded-proto"), "http");
    assert_eq!(answer.header("x-seen-x-forwarded-host"), "a.example:8080");
    assert_eq!(
        answer.header("x-seen-x-forwarded-port"),
        proxy.http.port().to_string()
    );
    assert_eq!(
        answer.header("x-seen-x-secret"),
        "",
        "Connection-named header removed"
    );
    assert_eq!(answer.header("x-seen-target"), "/p?q=1");
    assert!(
        answer.headers.get("x-hop").is_none(),
        "response hop-by-hop header removed"
    );
}

/// Sends a request whose client claims forwarded fields, and returns what the upstream saw.
async fn spoofed_forwarded_fields(config: ProxyConfig) -> Answer {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let proxy = Proxy::start(reader, config).await;
    let request = Request::get(format!("http://{}/", proxy.http))
        .header("host", "a.example")
        .header("x-forwarded-for", "198.51.100.1")
        .header("x-forwarded-proto", "https")
        .header("x-forwarded-host", "public.example")
        .header("x-forwarded-port", "443")
        .header("x-real-ip", "198.51.100.1")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = send(&http1_client(), request).await;
    assert_eq!(answer.status, StatusCode::OK);
    answer
}

#[tokio::test]
async fn untrusted_forwarded_fields_are_replaced() {
    let answer = spoofed_forwarded_fields(ProxyConfig::default()).await;
    assert_eq!(answer.header("x-seen-x-forwarded-for"), "127.0.0.1");
    assert_eq!(answer.header("x-seen-x-real-ip"), "127.0.0.1");
    assert_eq!(answer.header("x-seen-x-forwarded-proto"), "http");
    assert_eq!(answer.header("x-seen-x-forwarded-host"), "a.example");
}

#[tokio::test]
async fn a_trusted_peer_names_the_client_as_ingress_nginx_s_realip_does() {
    let config = ProxyConfig {
        use_forwarded_headers: true,
        ..ProxyConfig::default()
    };
    let answer = spoofed_forwarded_fields(config).await;
    // X-Forwarded-For and X-Real-IP are the client's address ($remote_addr), not the peer's.
    assert_eq!(answer.header("x-seen-x-forwarded-for"), "198.51.100.1");
    assert_eq!(answer.header("x-seen-x-real-ip"), "198.51.100.1");
    assert_eq!(answer.header("x-seen-x-forwarded-proto"), "https");
    assert_eq!(answer.header("x-seen-x-forwarded-host"), "public.example");
    assert_eq!(answer.header("x-seen-x-forwarded-port"), "443");
}

#[tokio::test]
async fn header_names_with_underscores_are_dropped_unless_enabled() {
    for (enabled, expected) in [(false, ""), (true, "yes")] {
        let web = backend::start("web", false).await;
        let (_writer, reader) = web_table(&[web.address]);
        let config = ProxyConfig {
            enable_underscores_in_headers: enabled,
            ..ProxyConfig::default()
        };
        let proxy = Proxy::start(reader, config).await;
        let request = Request::get(format!("http://{}/", proxy.http))
            .header("host", "a.example")
            .header("x_underscore", "yes")
            .body(Full::new(Bytes::new()))
            .expect("request");
        let answer = send(&http1_client(), request).await;
        assert_eq!(answer.status, StatusCode::OK);
        assert_eq!(
            answer.header("x-seen-x_underscore"),
            expected,
            "enabled={enabled}"
        );
    }
}

#[tokio::test]
async fn h2c_clients_and_h2c_upstreams_are_served() {
    let web = backend::start("web", false).await;
    let grpc = backend::start("grpc", true).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertService(service("grpc", Some("grpc"))));
    for slice in slices("grpc", Some("grpc"), &[grpc.address]) {
        writer.apply(Change::UpsertEndpointSlice(slice));
    }
    let mut routes = ingress("a", 1, &[(Some("a.example"), "/", "web")]);
    routes.spec.rules.push(ingress_core::IngressRule {
        host: Some("grpc.example".into()),
        paths: vec![ingress_core::HttpIngressPath {
            path: Some("/".into()),
            path_type: "Prefix".into(),
            backend: backend_ref_named("grpc", "grpc"),
        }],
    });
    writer.apply(Change::UpsertIngress(routes));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    // h2c (prior knowledge) client → HTTP/1.1 upstream; the authority is not resolvable, so
    // the connection is made by hand to the proxy's address.
    let stream = TcpStream::connect(proxy.http).await.expect("connect");
    let (mut sender, connection) = hyper::client::conn::http2::handshake(
        hyper_util::rt::TokioExecutor::new(),
        hyper_util::rt::TokioIo::new(stream),
    )
    .await
    .expect("h2c handshake");
    tokio::spawn(connection);
    let request = Request::get(format!("http://a.example:{}/", proxy.http.port()))
        .version(http::Version::HTTP_2)
        .body(Full::new(Bytes::new()))
        .expect("request");
    let response = sender.send_request(request).await.expect("h2c response");
    let headers = response.headers().clone();
    let answer_via_loopback = Answer {
        status: response.status(),
        body: backend::body_text(response.into_body()).await,
        headers,
    };
    assert_eq!(answer_via_loopback.status, StatusCode::OK);
    assert_eq!(answer_via_loopback.body, "web");
    assert_eq!(answer_via_loopback.header("x-seen-version"), "HTTP/1.1");
    assert_eq!(
        answer_via_loopback.header("x-seen-host"),
        format!("a.example:{}", proxy.http.port())
    );

    // HTTP/1.1 client → h2c upstream chosen by the port name `grpc`.
    let answer = get(&http1_client(), proxy.http, "grpc.example", "/svc/Method").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "grpc");
    assert_eq!(answer.header("x-seen-version"), "HTTP/2.0");
}

#[tokio::test]
async fn websocket_upgrade_is_tunnelled() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[(Some("ws.example"), "/", "web")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    let (mut stream, head) = raw::open_tunnel(proxy.http, "ws.example").await;
    assert!(head.to_lowercase().contains("upgrade: websocket"), "{head}");
    for message in [&b"hello"[..], b"second frame"] {
        raw::echo(&mut stream, message).await;
    }
}

#[tokio::test]
async fn a_refused_endpoint_is_retried_on_another() {
    let web = backend::start("web", false).await;
    // A port that refuses: bind, read the address, close.
    let refused = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("address")
    };
    let (_writer, reader) = web_table(&[refused, web.address]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    for i in 0..6 {
        // POST with a body: the retry must resend it intact.
        let request = Request::post(format!("http://{}/echo", proxy.http))
            .header("host", "a.example")
            .body(Full::new(Bytes::from(format!("payload {i}"))))
            .expect("request");
        let answer = send(&client, request).await;
        assert_eq!(answer.status, StatusCode::OK, "attempt {i}");
        assert_eq!(answer.body, format!("payload {i}"));
    }
    let metrics = get(&client, proxy.admin, "admin", "/metrics").await.body;
    let retries = metric_value(&metrics, "ingress_upstream_retries_total");
    assert!(retries >= 1.0, "at least one retry recorded:\n{metrics}");
}

#[tokio::test]
async fn upstream_failures_map_to_502_and_504() {
    let web = backend::start("web", false).await;
    let refused = {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        listener.local_addr().expect("address")
    };
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "dead", &[refused]);
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[
            (Some("a.example"), "/", "web"),
            (Some("dead.example"), "/", "dead"),
        ],
    )));
    writer.commit();
    let config = ProxyConfig {
        timeouts: Timeouts {
            read: Duration::from_millis(300),
            ..Timeouts::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;
    let client = http1_client();
    let dead = get(&client, proxy.http, "dead.example", "/").await;
    assert_eq!(dead.status, StatusCode::BAD_GATEWAY);
    assert!(dead.body.starts_with("502"), "{}", dead.body);
    let slow = get(&client, proxy.http, "a.example", "/stall").await;
    assert_eq!(slow.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(slow.body.starts_with("504"), "{}", slow.body);
}

#[tokio::test]
async fn admin_reports_readiness_and_metrics() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    assert_eq!(
        get(&client, proxy.admin, "admin", "/healthz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, proxy.admin, "admin", "/readyz").await.status,
        StatusCode::SERVICE_UNAVAILABLE,
        "not ready before the first snapshot"
    );
    add_service(&mut writer, "web", &[web.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[(Some("a.example"), "/", "web")],
    )));
    writer.commit();
    assert_eq!(
        get(&client, proxy.admin, "admin", "/readyz").await.status,
        StatusCode::OK
    );
    assert_eq!(
        get(&client, proxy.http, "a.example", "/").await.status,
        StatusCode::OK
    );
    // The access record (and its metrics) is written when the response body is done.
    let found = eventually(|| async {
        let text = get(&client, proxy.admin, "admin", "/metrics").await.body;
        text.contains(r#"ingress_requests_total{namespace="default",ingress="a",service="web",status="200"} 1"#)
    })
    .await;
    assert!(found, "request counted by ingress and service");
}

/// The value of the first sample of `name` in a Prometheus text exposition.
fn metric_value(text: &str, name: &str) -> f64 {
    text.lines()
        .filter(|line| line.starts_with(name))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Sends raw bytes on a fresh connection and returns the status line of the answer.
async fn raw_status_line(address: std::net::SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream.write_all(request).await.expect("write request");
    let mut received = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut received)).await;
    String::from_utf8_lossy(&received)
        .lines()
        .next()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn oversized_or_overlong_request_heads_are_refused() {
    let web = backend::start("web", false).await;
    let (_writer, reader) = web_table(&[web.address]);
    let config = ProxyConfig {
        limits: ingress_proxy::Limits {
            max_request_headers: 20,
            max_request_header_bytes: 16 * 1024,
            ..ingress_proxy::Limits::default()
        },
        ..ProxyConfig::default()
    };
    let proxy = Proxy::start(reader, config).await;

    let mut many = String::from("GET / HTTP/1.1\r\nHost: a.example\r\n");
    for i in 0..40 {
        many.push_str(&format!("X-Header-{i}: {i}\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    let status = raw_status_line(proxy.http, many.as_bytes()).await;
    assert!(
        status.starts_with("HTTP/1.1 431"),
        "too many headers: {status:?}"
    );

    let big = format!(
        "GET / HTTP/1.1\r\nHost: a.example\r\nX-Big: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(32 * 1024)
    );
    let status = raw_status_line(proxy.http, big.as_bytes()).await;
    assert!(
        status.starts_with("HTTP/1.1 431"),
        "oversized head: {status:?}"
    );

    let fine = "GET / HTTP/1.1\r\nHost: a.example\r\nConnection: close\r\n\r\n";
    assert_eq!(
        raw_status_line(proxy.http, fine.as_bytes()).await,
        "HTTP/1.1 200 OK"
    );
    assert_eq!(
        web.requests.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "only the fine request was forwarded"
    );
}
