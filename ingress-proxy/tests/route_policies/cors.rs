//! `enable-cors` through the data plane: preflights answered by the proxy, the fields on
//! proxied answers, origins matched as listed, defaults as ingress-nginx's.

use super::*;

/// A request for `a.example/api` with `method` and an optional `Origin`.
async fn cross_origin(proxy: &Proxy, method: &str, origin: Option<&str>) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(format!("http://{}/api", proxy.http))
        .header("host", "a.example");
    if let Some(origin) = origin {
        request = request
            .header("origin", origin)
            .header("access-control-request-method", "PUT");
    }
    let request = request.body(Full::new(Bytes::new())).expect("request");
    send(&http1_client(), request).await
}

#[tokio::test]
async fn a_preflight_is_answered_by_the_proxy_with_ingress_nginx_s_defaults() {
    let (proxy, web) = proxy_for("/", "Prefix", &[("enable-cors", "true")], false).await;
    let preflight = cross_origin(&proxy, "OPTIONS", Some("https://app.example")).await;
    assert_eq!(preflight.status, StatusCode::NO_CONTENT);
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::SeqCst), 0);
    let expected = [
        ("access-control-allow-origin", "*"),
        ("access-control-allow-credentials", "true"),
        (
            "access-control-allow-methods",
            "GET, PUT, POST, DELETE, PATCH, OPTIONS",
        ),
        (
            "access-control-allow-headers",
            "DNT,Keep-Alive,User-Agent,X-Requested-With,If-Modified-Since,Cache-Control,Content-Type,Range,Authorization",
        ),
        ("access-control-max-age", "1728000"),
    ];
    for (name, value) in expected {
        assert_eq!(preflight.header(name), value, "{name}");
    }
    assert!(
        preflight
            .headers
            .get("access-control-expose-headers")
            .is_none()
    );
    assert!(preflight.headers.get("vary").is_none(), "`*` does not vary");

    // A proxied request gets the same fields on the upstream's answer.
    let get = cross_origin(&proxy, "GET", Some("https://app.example")).await;
    assert_eq!(get.status, StatusCode::OK);
    assert_eq!(get.header("x-backend"), "web");
    for (name, value) in expected {
        assert_eq!(get.header(name), value, "{name}");
    }
}

#[tokio::test]
async fn listed_origins_are_echoed_and_others_get_no_cors_fields() {
    let (proxy, web) = proxy_for(
        "/",
        "Prefix",
        &[
            ("enable-cors", "true"),
            (
                "cors-allow-origin",
                "https://app.example, https://*.tenants.example:8443",
            ),
            ("cors-allow-methods", "GET, POST"),
            ("cors-allow-headers", "X-Custom, Authorization"),
            ("cors-expose-headers", "X-Total-Count"),
            ("cors-allow-credentials", "false"),
            ("cors-max-age", "600"),
        ],
        false,
    )
    .await;
    for origin in ["https://app.example", "https://blue.tenants.example:8443"] {
        let preflight = cross_origin(&proxy, "OPTIONS", Some(origin)).await;
        assert_eq!(preflight.status, StatusCode::NO_CONTENT, "{origin}");
        assert_eq!(preflight.header("access-control-allow-origin"), origin);
        assert_eq!(
            preflight.header("access-control-allow-methods"),
            "GET, POST"
        );
        assert_eq!(
            preflight.header("access-control-allow-headers"),
            "X-Custom, Authorization"
        );
        assert_eq!(
            preflight.header("access-control-expose-headers"),
            "X-Total-Count"
        );
        assert_eq!(preflight.header("access-control-max-age"), "600");
        assert_eq!(preflight.header("vary"), "Origin");
        assert!(
            preflight
                .headers
                .get("access-control-allow-credentials")
                .is_none()
        );
    }
    // Not listed (scheme, port, a second label, no Origin at all): the request goes to the
    // upstream as any other, and the answer carries no CORS field.
    for origin in [
        Some("http://app.example"),
        Some("https://blue.tenants.example"),
        Some("https://a.b.tenants.example:8443"),
        Some("https://app.example.evil"),
        None,
    ] {
        let answer = cross_origin(&proxy, "OPTIONS", origin).await;
        assert_eq!(answer.status, StatusCode::OK, "{origin:?}");
        assert_eq!(answer.header("x-backend"), "web", "{origin:?}");
        assert!(
            answer.headers.get("access-control-allow-origin").is_none(),
            "{origin:?}"
        );
    }
    assert_eq!(web.requests.load(std::sync::atomic::Ordering::SeqCst), 5);
}

#[tokio::test]
async fn an_invalid_cors_value_denies_its_paths_without_cors_fields() {
    let (proxy, _web) = proxy_for(
        "/",
        "Prefix",
        &[
            ("enable-cors", "true"),
            ("cors-allow-origin", "https://app.example/path"),
        ],
        false,
    )
    .await;
    let answer = cross_origin(&proxy, "OPTIONS", Some("https://app.example")).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.get("access-control-allow-origin").is_none());
}
