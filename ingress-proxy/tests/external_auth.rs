//! External authentication (`auth-url` and its companions) through the data plane, against a
//! small stand-in for oauth2-proxy: `/oauth2/auth` answers `202` with `X-Auth-Request-User`
//! for a `_oauth2_proxy` cookie, `403` for `Authorization: Bearer forbidden`, else `401` with a
//! challenge; `/oauth2/start?rd=URL` sets the cookie and redirects back; `/status/N` answers
//! `N`; `/refresh` answers `200` with a `Set-Cookie`. It records every request it receives.

mod common;
#[path = "external_auth/service.rs"]
mod service;

use common::*;
use http::StatusCode;
use ingress_core::{Change, Ingress, TableWriter};
use ingress_proxy::ProxyConfig;
use service::AuthService;
use tokio::net::TcpListener;

fn annotated(
    name: &str,
    host: &str,
    path: &str,
    service: &str,
    pairs: &[(&str, String)],
) -> Ingress {
    let mut ingress = ingress(name, 1, &[(Some(host), path, service)]);
    for (key, value) in pairs {
        ingress
            .meta
            .annotations
            .insert(format!("nginx.ingress.kubernetes.io/{key}"), value.clone());
    }
    ingress
}

struct Setup {
    proxy: Proxy,
    writer: TableWriter,
    auth: AuthService,
    _web: backend::Backend,
}

async fn setup() -> Setup {
    let web = backend::start("web", false).await;
    let auth = AuthService::start().await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    add_service(&mut writer, "oauth2-proxy", &[auth.address]);
    writer.commit();
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    Setup {
        proxy,
        writer,
        auth,
        _web: web,
    }
}

impl Setup {
    fn apply(&mut self, ingresses: Vec<Ingress>) {
        for ingress in ingresses {
            self.writer.apply(Change::UpsertIngress(ingress));
        }
        self.writer.commit();
    }

    fn auth_url(&self, path: &str) -> String {
        format!("http://{}{path}", self.auth.address)
    }

    async fn get(&self, host: &str, path: &str, headers: &[(&str, &str)]) -> Answer {
        get_with_headers(self.proxy.http, host, path, headers).await
    }
}

/// The pattern of ingress-nginx's oauth2-proxy documentation, end to end: the application's
/// Ingress asks `https://$host/oauth2/auth` (here plain HTTP on the proxy's own port: the
/// sub-request goes through the proxy to the `/oauth2` Ingress), sends unauthenticated users
/// to `auth-signin`, and passes the user to the application.
#[tokio::test]
async fn the_oauth2_proxy_pattern_works_end_to_end() {
    let mut setup = setup().await;
    let port = setup.proxy.http.port();
    setup.apply(vec![
        annotated("oauth2-proxy", "localhost", "/oauth2", "oauth2-proxy", &[]),
        annotated(
            "app",
            "localhost",
            "/",
            "web",
            &[
                ("auth-url", format!("http://$host:{port}/oauth2/auth")),
                (
                    "auth-signin",
                    format!("http://$host:{port}/oauth2/start?rd=$escaped_request_uri"),
                ),
                (
                    "auth-response-headers",
                    "X-Auth-Request-User, X-Auth-Request-Email".to_owned(),
                ),
            ],
        ),
    ]);
    let host = format!("localhost:{port}");

    // No session: sent to sign in, with the original URI to come back to.
    let first = setup.get(&host, "/private/page?x=1", &[]).await;
    assert_eq!(first.status, StatusCode::FOUND, "{first:?}");
    let location = first.header("location").to_owned();
    assert_eq!(
        location,
        format!("http://localhost:{port}/oauth2/start?rd=%2Fprivate%2Fpage%3Fx%3D1")
    );
    // The sub-request went through the proxy to the /oauth2 Ingress, as a GET with the
    // original request described.
    let asked = setup.auth.seen();
    let sub = asked.last().expect("the auth service was asked");
    assert_eq!(sub.method, "GET");
    assert_eq!(sub.target, "/oauth2/auth");
    let field = |name: &str| {
        sub.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    };
    assert_eq!(
        field("x-original-url"),
        format!("http://{host}/private/page?x=1")
    );
    assert_eq!(field("x-original-method"), "GET");
    assert_eq!(field("x-auth-request-redirect"), "/private/page?x=1");
    assert_eq!(field("x-sent-from"), "nginx-ingress-controller");
    assert_eq!(sub.body_len, 0);

    // Signing in sets the session cookie and comes back.
    let start_path = location.split_once(&host).expect("same host").1.to_owned();
    let signed_in = setup.get(&host, &start_path, &[]).await;
    assert_eq!(signed_in.status, StatusCode::FOUND);
    assert_eq!(signed_in.header("location"), "/private/page?x=1");
    assert!(
        signed_in
            .header("set-cookie")
            .starts_with("_oauth2_proxy=alice")
    );

    // With the session: through, the user passed on; a forged user field is replaced.
    let through = setup
        .get(
            &host,
            "/private/page?x=1",
            &[
                ("cookie", "_oauth2_proxy=alice"),
                ("x-auth-request-user", "mallory"),
            ],
        )
        .await;
    assert_eq!(through.status, StatusCode::OK, "{through:?}");
    assert_eq!(through.body, "web");
    assert_eq!(through.header("x-seen-x-auth-request-user"), "alice");
}

#[tokio::test]
async fn refusals_challenges_and_an_unreachable_service_never_let_a_request_through() {
    let mut setup = setup().await;
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind")
        .local_addr()
        .expect("addr");
    let auth_url = setup.auth_url("/oauth2/auth");
    setup.apply(vec![
        annotated(
            "bearer",
            "bearer.example",
            "/",
            "web",
            &[("auth-url", auth_url)],
        ),
        annotated(
            "down",
            "down.example",
            "/",
            "web",
            &[("auth-url", format!("http://{closed}/auth"))],
        ),
        annotated(
            "odd",
            "odd.example",
            "/",
            "web",
            &[("auth-url", setup.auth_url("/status/302"))],
        ),
        annotated(
            "broken",
            "broken.example",
            "/",
            "web",
            &[("auth-url", "http://auth.example/a b".to_owned())],
        ),
        annotated("open", "open.example", "/", "web", &[]),
    ]);

    let refused = setup.get("bearer.example", "/", &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.header("www-authenticate"), "Bearer realm=\"test\"");
    let forbidden = setup
        .get(
            "bearer.example",
            "/",
            &[("authorization", "Bearer forbidden")],
        )
        .await;
    assert_eq!(forbidden.status, StatusCode::FORBIDDEN);
    let allowed = setup
        .get("bearer.example", "/", &[("authorization", "Bearer good")])
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.body, "web");

    // Unreachable, or an answer that is neither 2xx nor 401/403: 500, as ingress-nginx.
    assert_eq!(
        setup.get("down.example", "/", &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        setup.get("odd.example", "/", &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // An invalid auth-url denies its own Ingress's paths only.
    assert_eq!(
        setup.get("broken.example", "/", &[]).await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(
        setup.get("open.example", "/", &[]).await.status,
        StatusCode::OK
    );

    let metrics = get(&http1_client(), setup.proxy.admin, "admin", "/metrics")
        .await
        .body;
    for (reason, count) in [
        ("external_auth", 2),
        ("auth_unavailable", 2),
        ("invalid_annotation", 1),
    ] {
        let series = format!("ingress_requests_denied_total{{reason=\"{reason}\"}} {count}");
        assert!(
            metrics.contains(&series),
            "{series} missing from:\n{metrics}"
        );
    }
}

#[tokio::test]
async fn method_redirect_cookies_and_the_answer_cache() {
    let mut setup = setup().await;
    setup.apply(vec![
        annotated(
            "posted",
            "posted.example",
            "/",
            "web",
            &[
                ("auth-url", setup.auth_url("/oauth2/auth")),
                ("auth-method", "POST".to_owned()),
                (
                    "auth-request-redirect",
                    "https://posted.example/back".to_owned(),
                ),
            ],
        ),
        annotated(
            "cookies",
            "cookies.example",
            "/",
            "web",
            &[
                ("auth-url", setup.auth_url("/refresh")),
                ("auth-response-headers", "X-Auth-Request-User".to_owned()),
            ],
        ),
        annotated(
            "cached",
            "cached.example",
            "/",
            "web",
            &[
                ("auth-url", setup.auth_url("/oauth2/auth")),
                ("auth-cache-key", "$http_authorization".to_owned()),
                ("auth-cache-duration", "200 202 1m".to_owned()),
            ],
        ),
    ]);

    let answer = setup
        .get(
            "posted.example",
            "/x?y=1",
            &[("authorization", "Bearer good")],
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let sub = setup.auth.seen().pop().expect("asked");
    let field = |name: &str| {
        sub.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    assert_eq!(sub.method, "POST");
    assert_eq!(field("x-original-uri"), "/x?y=1");
    assert_eq!(field("x-scheme"), "http");
    assert_eq!(
        field("x-auth-request-redirect"),
        "https://posted.example/back"
    );
    assert_eq!(field("x-forwarded-for"), "127.0.0.1");
    assert_eq!(field("x-real-ip"), "127.0.0.1");
    assert_eq!(field("x-forwarded-proto"), "", "cleared, as ingress-nginx");
    assert_eq!(
        field("authorization"),
        "Bearer good",
        "the client's fields are passed"
    );

    // The service's cookie reaches the client; its user field reaches the upstream.
    let answer = setup.get("cookies.example", "/", &[]).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("set-cookie"), "refreshed=1; Path=/");
    assert_eq!(answer.header("x-seen-x-auth-request-user"), "refresher");

    // Cached by Authorization: one sub-request per distinct key; refusals not listed in
    // auth-cache-duration are asked every time.
    let before = setup.auth.asked("/oauth2/auth");
    for _ in 0..3 {
        let answer = setup
            .get("cached.example", "/", &[("authorization", "Bearer good")])
            .await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    assert_eq!(setup.auth.asked("/oauth2/auth"), before + 1);
    for _ in 0..2 {
        let answer = setup
            .get(
                "cached.example",
                "/",
                &[("authorization", "Bearer forbidden")],
            )
            .await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(setup.auth.asked("/oauth2/auth"), before + 3);
}

#[tokio::test]
async fn global_auth_url_covers_every_path_but_the_opted_out_and_no_auth_locations() {
    let mut setup = setup().await;
    setup.apply(vec![
        annotated("plain", "plain.example", "/", "web", &[]),
        annotated(
            "opted-out",
            "public.example",
            "/",
            "web",
            &[("enable-global-auth", "false".to_owned())],
        ),
        annotated(
            "acme",
            "plain.example",
            "/.well-known/acme-challenge",
            "web",
            &[],
        ),
        annotated(
            "own",
            "own.example",
            "/",
            "web",
            &[("auth-url", setup.auth_url("/status/403"))],
        ),
    ]);
    let global_url = setup.auth_url("/oauth2/auth");
    configmap(
        &mut setup.writer,
        &[
            ("global-auth-url", global_url.as_str()),
            ("global-auth-response-headers", "X-Auth-Request-User"),
        ],
    );
    let status = |answer: Answer| answer.status;
    assert_eq!(
        status(setup.get("plain.example", "/", &[]).await),
        StatusCode::UNAUTHORIZED
    );
    let allowed = setup
        .get("plain.example", "/", &[("authorization", "Bearer good")])
        .await;
    assert_eq!(allowed.status, StatusCode::OK);
    assert_eq!(allowed.header("x-seen-x-auth-request-user"), "token-user");
    assert_eq!(
        status(setup.get("public.example", "/", &[]).await),
        StatusCode::OK,
        "enable-global-auth: false"
    );
    assert_eq!(
        status(
            setup
                .get("plain.example", "/.well-known/acme-challenge/token", &[])
                .await
        ),
        StatusCode::OK,
        "no-auth-locations' default"
    );
    assert_eq!(
        status(
            setup
                .get("own.example", "/", &[("authorization", "Bearer good")])
                .await
        ),
        StatusCode::FORBIDDEN,
        "an Ingress's own auth-url wins"
    );

    // Invalid global keys with no valid set before: denied, never open.
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[setup._web.address]);
    writer.apply(Change::UpsertIngress(annotated(
        "plain",
        "plain.example",
        "/",
        "web",
        &[],
    )));
    configmap(&mut writer, &[("global-auth-url", "ftp://nowhere/")]);
    let proxy = Proxy::start(reader, ProxyConfig::default()).await;
    let answer = get_with_headers(proxy.http, "plain.example", "/", &[]).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}
