//! Traffic-shaping annotations through the data plane: canary, cookie affinity,
//! `upstream-hash-by`, `appProtocol`, `proxy-next-upstream`.

use super::*;

#[tokio::test]
async fn a_canary_takes_requests_by_header_then_cookie_then_weight() {
    let stable = backend::start("stable", false).await;
    let next = backend::start("next", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "stable", &[stable.address]);
    add_service(&mut writer, "next", &[next.address]);
    writer.apply(Change::UpsertIngress(ingress(
        "main",
        1,
        &[(Some("a.example"), "/", "stable")],
    )));
    let mut canary = ingress("canary", 2, &[(Some("a.example"), "/", "next")]);
    annotate(
        &mut canary,
        &[
            ("canary", "true"),
            ("canary-by-header", "X-Canary"),
            ("canary-by-cookie", "canary"),
            ("canary-weight", "0"),
        ],
    );
    writer.apply(Change::UpsertIngress(canary.clone()));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let backend_for = |header: Option<&'static str>, cookie: Option<&'static str>| {
        let mut request =
            Request::get(format!("http://{}/p", proxy.http)).header("host", "a.example");
        if let Some(value) = header {
            request = request.header("x-canary", value);
        }
        if let Some(value) = cookie {
            request = request.header("cookie", format!("other=1; canary={value}"));
        }
        let request = request.body(Full::new(Bytes::new())).expect("request");
        async move {
            send(&http1_client(), request)
                .await
                .header("x-backend")
                .to_owned()
        }
    };
    assert_eq!(backend_for(None, None).await, "stable");
    assert_eq!(backend_for(Some("always"), None).await, "next");
    assert_eq!(backend_for(Some("never"), Some("always")).await, "stable");
    assert_eq!(backend_for(Some("other"), Some("always")).await, "next");
    assert_eq!(backend_for(None, Some("never")).await, "stable");

    // Weight 100: every request without a header or cookie saying otherwise.
    annotate(&mut canary, &[("canary-weight", "100")]);
    writer.apply(Change::UpsertIngress(canary));
    writer.commit();
    for _ in 0..5 {
        assert_eq!(backend_for(None, None).await, "next");
    }
    assert_eq!(backend_for(Some("never"), None).await, "stable");
}

/// One Ingress for `a.example` to a Service with two endpoints (`one`, `two`).
async fn two_endpoints(annotations: &[(&str, &str)]) -> (Proxy, [backend::Backend; 2]) {
    let one = backend::start("one", false).await;
    let two = backend::start("two", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[one.address, two.address]);
    let mut web = ingress("web", 1, &[(Some("a.example"), "/", "web")]);
    annotate(&mut web, annotations);
    writer.apply(Change::UpsertIngress(web));
    writer.commit();
    (
        Proxy::start(reader, ProxyConfig::default()).await,
        [one, two],
    )
}

async fn get_with_cookie(proxy: &Proxy, path: &str, cookie: Option<&str>) -> Answer {
    let mut request =
        Request::get(format!("http://{}{path}", proxy.http)).header("host", "a.example");
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    send(
        &http1_client(),
        request.body(Full::new(Bytes::new())).expect("request"),
    )
    .await
}

#[tokio::test]
async fn cookie_affinity_keeps_a_session_on_one_endpoint_in_both_modes() {
    for mode in ["balanced", "persistent"] {
        let (proxy, _backends) = two_endpoints(&[
            ("affinity", "cookie"),
            ("affinity-mode", mode),
            ("session-cookie-name", "route"),
            ("session-cookie-max-age", "3600"),
        ])
        .await;
        let mut seen = std::collections::BTreeSet::new();
        // Balanced sessions land by random key: 24 of them all on one of two endpoints has a
        // chance below 1 in 4000 even on a ring split 70/30.
        for _ in 0..24 {
            let first = get_with_cookie(&proxy, "/p", None).await;
            let set_cookie = first.header("set-cookie").to_owned();
            assert!(
                set_cookie.starts_with("route=")
                    && set_cookie.contains("; Path=/; Max-Age=3600; HttpOnly"),
                "{mode}: {set_cookie}"
            );
            let pair = set_cookie.split(';').next().unwrap_or_default().to_owned();
            let backend = first.header("x-backend").to_owned();
            seen.insert(backend.clone());
            for _ in 0..3 {
                let again = get_with_cookie(&proxy, "/p", Some(&pair)).await;
                assert_eq!(again.header("x-backend"), backend, "{mode}: sticky");
                assert_eq!(again.header("set-cookie"), "", "{mode}: no new cookie");
            }
        }
        assert_eq!(
            seen.len(),
            2,
            "{mode}: new sessions spread over both endpoints"
        );
    }
}

#[tokio::test]
async fn upstream_hash_by_sends_equal_keys_to_one_endpoint() {
    let (proxy, _backends) = two_endpoints(&[("upstream-hash-by", "$arg_user")]).await;
    let mut seen = std::collections::BTreeSet::new();
    for user in 0..16 {
        let path = format!("/p?user={user}");
        let first = get_with_cookie(&proxy, &path, None)
            .await
            .header("x-backend")
            .to_owned();
        for _ in 0..3 {
            let again = get_with_cookie(&proxy, &path, None).await;
            assert_eq!(again.header("x-backend"), first, "user {user}");
        }
        seen.insert(first);
    }
    assert_eq!(seen.len(), 2, "keys spread over both endpoints");
}

/// The Service port's `appProtocol` decides when the Ingress does not, even when the Ingress
/// numbers the port (the port name then plays no part).
#[tokio::test]
async fn the_service_port_app_protocol_chooses_tls_to_the_endpoints() {
    let web = backend::start_tls("web").await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    let mut service = service("web", None);
    service.ports[0].app_protocol = Some("https".to_owned());
    writer.apply(Change::UpsertService(service));
    writer.apply(Change::UpsertIngress(ingress(
        "web",
        1,
        &[(Some("a.example"), "/", "web")],
    )));
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let answer = get_a(&proxy, "/p").await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("x-backend"), "web");
}

/// An address on loopback where nothing listens.
pub(super) async fn closed_port() -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    listener.local_addr().expect("address")
}

#[tokio::test]
async fn proxy_next_upstream_tries_three_endpoints_by_default_and_none_when_off() {
    for (annotations, expected_failures) in
        [(&[][..], 0), (&[("proxy-next-upstream", "off")][..], 2)]
    {
        let alive = backend::start("alive", false).await;
        let (mut writer, reader) = table();
        let dead = [closed_port().await, closed_port().await];
        add_service(&mut writer, "web", &[dead[0], dead[1], alive.address]);
        let mut web = ingress("web", 1, &[(Some("a.example"), "/", "web")]);
        annotate(&mut web, annotations);
        writer.apply(Change::UpsertIngress(web));
        writer.commit();
        let proxy = Proxy::start(reader, ProxyConfig::default()).await;
        let mut failures = 0;
        // Round robin starts each of the three endpoints once in three requests.
        for _ in 0..3 {
            match get_a(&proxy, "/p").await.status {
                StatusCode::OK => {}
                StatusCode::BAD_GATEWAY => failures += 1,
                other => panic!("{annotations:?}: {other}"),
            }
        }
        assert_eq!(failures, expected_failures, "{annotations:?}");
    }
}

#[tokio::test]
async fn a_listed_status_goes_on_to_the_next_endpoint() {
    for (annotations, retried) in [
        (
            &[("proxy-next-upstream", "error timeout http_503")][..],
            true,
        ),
        (&[][..], false),
    ] {
        let (proxy, _backends) = two_endpoints(annotations).await;
        let mut seen = Vec::new();
        for _ in 0..4 {
            let answer = get_a(&proxy, "/unavailable-on/one").await;
            seen.push((answer.status, answer.header("x-backend").to_owned()));
        }
        let unavailable = seen
            .iter()
            .filter(|(status, _)| *status == StatusCode::SERVICE_UNAVAILABLE)
            .count();
        if retried {
            assert_eq!(unavailable, 0, "{seen:?}");
            assert!(seen.iter().all(|(_, backend)| backend == "two"), "{seen:?}");
        } else {
            assert!(unavailable > 0, "{seen:?}");
        }
    }
}
