//! The path and upstream annotations through the data plane, one family per test:
//! `use-regex` + `rewrite-target`, `app-root`, `permanent-redirect`/`temporal-redirect`,
//! `proxy-body-size` (declared and streamed bodies), `upstream-vhost` + `x-forwarded-prefix`,
//! `proxy-read-timeout` and `backend-protocol`; CORS and the traffic annotations in the
//! submodules.

mod common;
#[path = "route_policies/cors.rs"]
mod cors;
#[path = "route_policies/send_timeout.rs"]
mod send_timeout;
#[path = "route_policies/traffic.rs"]
mod traffic;
use traffic::closed_port;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::*;
use http::{Request, StatusCode};
use http_body_util::{Full, StreamBody};
use ingress_core::{Change, Ingress};
use ingress_proxy::ProxyConfig;

/// Adds `nginx.ingress.kubernetes.io/` annotations to `ingress`.
fn annotate(ingress: &mut Ingress, pairs: &[(&str, &str)]) {
    for (key, value) in pairs {
        ingress.meta.annotations.insert(
            format!("nginx.ingress.kubernetes.io/{key}"),
            (*value).to_owned(),
        );
    }
}

/// One Ingress `web` for `a.example` with `path` (of `path_type`) and `annotations`, to a
/// test backend (`tls`: one serving HTTPS).
async fn proxy_for(
    path: &str,
    path_type: &str,
    annotations: &[(&str, &str)],
    tls: bool,
) -> (Proxy, backend::Backend) {
    let web = if tls {
        backend::start_tls("web").await
    } else {
        backend::start("web", false).await
    };
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let mut ingress: Ingress = ingress("web", 1, &[(Some("a.example"), path, "web")]);
    ingress.spec.rules[0].paths[0].path_type = path_type.to_owned();
    annotate(&mut ingress, annotations);
    writer.apply(Change::UpsertIngress(ingress));
    writer.commit();
    (Proxy::start(reader, ProxyConfig::default()).await, web)
}

async fn get_a(proxy: &Proxy, path: &str) -> Answer {
    get(&http1_client(), proxy.http, "a.example", path).await
}

#[tokio::test]
async fn a_regex_path_is_rewritten_with_its_captures_and_the_query_kept() {
    let (proxy, _web) = proxy_for(
        "/something(/|$)(.*)",
        "ImplementationSpecific",
        &[("use-regex", "true"), ("rewrite-target", "/$2")],
        false,
    )
    .await;
    for (request, upstream) in [
        ("/something", "/"),
        ("/something/", "/"),
        ("/something/new?q=1", "/new?q=1"),
        ("/SOMETHING/a/b", "/a/b"),
    ] {
        let answer = get_a(&proxy, request).await;
        assert_eq!(answer.status, StatusCode::OK, "{request}");
        assert_eq!(answer.header("x-seen-target"), upstream, "{request}");
    }
    assert_eq!(
        get_a(&proxy, "/somethingelse").await.status,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn app_root_redirects_only_the_root() {
    let (proxy, _web) = proxy_for("/", "Prefix", &[("app-root", "/app1")], false).await;
    let root = get_a(&proxy, "/").await;
    assert_eq!(root.status, StatusCode::FOUND);
    assert_eq!(root.header("location"), "http://a.example/app1");
    assert_eq!(get_a(&proxy, "/app1").await.status, StatusCode::OK);
}

#[tokio::test]
async fn permanent_and_temporal_redirects_answer_every_request() {
    let (proxy, web) = proxy_for(
        "/",
        "Prefix",
        &[
            ("permanent-redirect", "https://www.example.com/new"),
            ("permanent-redirect-code", "308"),
        ],
        false,
    )
    .await;
    let answer = get_a(&proxy, "/any/path").await;
    assert_eq!(answer.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(answer.header("location"), "https://www.example.com/new");
    let (temporal, _web2) = proxy_for(
        "/",
        "Prefix",
        &[("temporal-redirect", "https://b.example/")],
        false,
    )
    .await;
    let answer = get_a(&temporal, "/x").await;
    assert_eq!(answer.status, StatusCode::FOUND);
    assert_eq!(answer.header("location"), "https://b.example/");
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::Relaxed), 0);
}

async fn post(proxy: &Proxy, body: Vec<u8>, declared: bool) -> StatusCode {
    let uri = format!("http://{}/echo", proxy.http);
    let answer = if declared {
        let request = Request::post(uri)
            .header("host", "a.example")
            .body(Full::new(Bytes::from(body)))
            .expect("request");
        send(&http1_client(), request).await
    } else {
        // A streamed body without a declared length (chunked on HTTP/1.1).
        let chunks = body
            .chunks(8)
            .map(|c| {
                Ok::<_, std::convert::Infallible>(http_body::Frame::data(Bytes::copy_from_slice(c)))
            })
            .collect::<Vec<_>>();
        let request = Request::post(uri)
            .header("host", "a.example")
            .body(StreamBody::new(futures::stream::iter(chunks)))
            .expect("request");
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http();
        let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
            .await
            .expect("in time")
            .expect("response");
        return response.status();
    };
    answer.status
}

#[tokio::test]
async fn proxy_body_size_refuses_larger_bodies_declared_or_streamed() {
    let (proxy, _web) = proxy_for("/", "Prefix", &[("proxy-body-size", "16")], false).await;
    assert_eq!(post(&proxy, vec![b'x'; 16], true).await, StatusCode::OK);
    assert_eq!(
        post(&proxy, vec![b'x'; 17], true).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    assert_eq!(post(&proxy, vec![b'x'; 16], false).await, StatusCode::OK);
    assert_eq!(
        post(&proxy, vec![b'x'; 40], false).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
}

#[tokio::test]
async fn the_default_body_limit_is_ingress_nginx_s_one_mebibyte() {
    let (proxy, _web) = proxy_for("/", "Prefix", &[], false).await;
    assert_eq!(
        post(&proxy, vec![b'x'; 1 << 20], true).await,
        StatusCode::OK
    );
    assert_eq!(
        post(&proxy, vec![b'x'; (1 << 20) + 1], true).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let (unlimited, _web2) = proxy_for("/", "Prefix", &[("proxy-body-size", "0")], false).await;
    assert_eq!(
        post(&unlimited, vec![b'x'; 3 << 20], true).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn upstream_vhost_and_x_forwarded_prefix_reach_the_upstream() {
    let (proxy, _web) = proxy_for(
        "/",
        "Prefix",
        &[
            ("upstream-vhost", "internal.svc"),
            ("x-forwarded-prefix", "/api"),
        ],
        false,
    )
    .await;
    let answer = get_a(&proxy, "/p").await;
    assert_eq!(answer.header("x-seen-host"), "internal.svc");
    assert_eq!(answer.header("x-seen-x-forwarded-prefix"), "/api");
}

#[tokio::test]
async fn proxy_read_timeout_applies_to_its_route() {
    let (proxy, _web) = proxy_for("/", "Prefix", &[("proxy-read-timeout", "1")], false).await;
    let started = Instant::now();
    let answer = get_a(&proxy, "/stall").await;
    assert_eq!(answer.status, StatusCode::GATEWAY_TIMEOUT);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn backend_protocol_https_speaks_tls_to_the_endpoints() {
    let (proxy, _web) = proxy_for("/", "Prefix", &[("backend-protocol", "HTTPS")], true).await;
    let answer = get_a(&proxy, "/p").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-backend"), "web");
    let (plain, _web2) = proxy_for("/", "Prefix", &[], true).await;
    assert_eq!(get_a(&plain, "/p").await.status, StatusCode::BAD_GATEWAY);
}

#[tokio::test]
async fn custom_http_errors_are_answered_by_the_default_backend_annotation() {
    let web = backend::start("web", false).await;
    let errors = backend::start("errors", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "errors", &[errors.address]);
    add_service(&mut writer, "empty", &[]);
    let mut routes = ingress(
        "web",
        1,
        &[
            (Some("a.example"), "/", "web"),
            (Some("empty.example"), "/", "empty"),
        ],
    );
    annotate(
        &mut routes,
        &[
            ("custom-http-errors", "503,404"),
            ("default-backend", "errors"),
        ],
    );
    writer.apply(Change::UpsertIngress(routes));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;

    // A listed status: the error backend answers, told what happened.
    let request = Request::get(format!("http://{}/unavailable-on/web?x=1", proxy.http))
        .header("host", "a.example")
        .header("accept", "application/json")
        .body(Full::new(Bytes::new()))
        .expect("request");
    let answer = send(&http1_client(), request).await;
    assert_eq!(answer.header("x-backend"), "errors");
    assert_eq!(answer.header("x-seen-x-code"), "503");
    assert_eq!(
        answer.header("x-seen-x-original-uri"),
        "/unavailable-on/web?x=1"
    );
    assert_eq!(answer.header("x-seen-x-ingress-name"), "web");
    assert_eq!(answer.header("x-seen-x-service-name"), "web");
    assert_eq!(answer.header("x-seen-x-format"), "application/json");
    assert_eq!(answer.header("x-seen-target"), "/");
    // An unlisted status passes.
    assert_eq!(get_a(&proxy, "/p").await.header("x-backend"), "web");
    // A Service without endpoints: the default backend serves the path.
    let empty = get(&http1_client(), proxy.http, "empty.example", "/p").await;
    assert_eq!(empty.status, StatusCode::OK);
    assert_eq!(empty.header("x-backend"), "errors");
}

#[tokio::test]
async fn from_to_www_redirect_sends_the_twin_host_to_the_rule_s_host() {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let mut routes = ingress(
        "web",
        1,
        &[
            (Some("www.shop.example"), "/", "web"),
            (Some("blog.example"), "/", "web"),
        ],
    );
    annotate(&mut routes, &[("from-to-www-redirect", "true")]);
    writer.apply(Change::UpsertIngress(routes));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let client = http1_client();
    let bare = get(&client, proxy.http, "shop.example:8080", "/cart?id=1").await;
    assert_eq!(bare.status, StatusCode::PERMANENT_REDIRECT);
    assert_eq!(
        bare.header("location"),
        "http://www.shop.example:8080/cart?id=1"
    );
    let www = get(&client, proxy.http, "www.blog.example", "/").await;
    assert_eq!(www.header("location"), "http://blog.example/");
    assert_eq!(
        get(&client, proxy.http, "www.shop.example", "/")
            .await
            .status,
        StatusCode::OK
    );
}

/// `service-upstream`: the Service's cluster IP and port, not its endpoints (here the one
/// endpoint listed is dead; the "cluster IP" is loopback where the backend listens).
#[tokio::test]
async fn service_upstream_sends_traffic_to_the_cluster_ip() {
    for (service_upstream, expected) in [(true, StatusCode::OK), (false, StatusCode::BAD_GATEWAY)] {
        let web = backend::start("web", false).await;
        let dead = closed_port().await;
        let (mut writer, reader) = table();
        add_service(&mut writer, "web", &[dead]);
        let mut svc = service("web", None);
        svc.ports[0].port = i32::from(web.address.port());
        svc.cluster_ip = Some(web.address.ip());
        writer.apply(Change::UpsertService(svc));
        let mut route = ingress("web", 1, &[(Some("a.example"), "/", "web")]);
        route.spec.rules[0].paths[0].backend = backend_ref("web", i32::from(web.address.port()));
        if service_upstream {
            annotate(&mut route, &[("service-upstream", "true")]);
        }
        writer.apply(Change::UpsertIngress(route));
        writer.commit();
        let proxy = Proxy::start(reader, ProxyConfig::default()).await;
        assert_eq!(
            get_a(&proxy, "/p").await.status,
            expected,
            "service-upstream={service_upstream}"
        );
    }
}

/// The ConfigMap's keys are the defaults of the route annotations: `proxy-body-size`,
/// `proxy-read-timeout`, `proxy-next-upstream` and `custom-http-errors` (with
/// `--default-backend-service`); an annotation still wins.
#[tokio::test]
async fn configmap_keys_are_the_defaults_of_the_route_annotations() {
    let web = backend::start("web", false).await;
    let errors = backend::start("errors", false).await;
    let (mut writer, reader) = ingress_core::table(ingress_core::TableConfig {
        classes: ingress_core::ClassSelection {
            watch_without_class: true,
            ..Default::default()
        },
        default_backend: Some(ingress_core::ServiceRef {
            namespace: NS.into(),
            name: "errors".into(),
            port: ingress_core::PortRef::Number(80),
        }),
        default_certificate: None,
        ssl_passthrough: false,
    });
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "errors", &[errors.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "plain",
        1,
        &[(Some("a.example"), "/", "web")],
    )));
    let mut big = ingress("big", 2, &[(Some("big.example"), "/", "web")]);
    annotate(&mut big, &[("proxy-body-size", "1k")]);
    writer.apply(Change::UpsertIngress(big));
    let data = [
        ("proxy-body-size", "16"),
        ("proxy-read-timeout", "1"),
        ("custom-http-errors", "503"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    writer.apply(Change::UpsertGlobalConfig {
        source: ingress_core::ObjectKey::new("ingress-nginx", "ingress-nginx-controller"),
        data,
    });
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    assert_eq!(
        post(&proxy, vec![b'x'; 17], true).await,
        StatusCode::PAYLOAD_TOO_LARGE
    );
    let big_post = Request::post(format!("http://{}/echo", proxy.http))
        .header("host", "big.example")
        .body(Full::new(Bytes::from(vec![b'x'; 512])))
        .expect("request");
    assert_eq!(send(&http1_client(), big_post).await.status, StatusCode::OK);
    let started = Instant::now();
    assert_eq!(
        get_a(&proxy, "/stall").await.status,
        StatusCode::GATEWAY_TIMEOUT
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    let replaced = get_a(&proxy, "/unavailable-on/web").await;
    assert_eq!(replaced.header("x-backend"), "errors");
    assert_eq!(replaced.header("x-seen-x-code"), "503");
}
