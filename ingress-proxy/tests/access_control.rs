//! Access control through the data plane: per-client limits (`limit-rps` +
//! `limit-burst-multiplier`, `limit-connections`, `limit-whitelist`, and the ConfigMap's
//! `limit-req-status-code` / `limit-conn-status-code`) and basic authentication (`auth-type`,
//! `auth-secret`, `auth-secret-type`, `auth-realm`). The test client is 127.0.0.1 unless a
//! trusted balancer names another address.

mod common;

use std::time::Duration;

use common::*;
use http::StatusCode;
use ingress_core::{Change, Ingress, TableWriter};
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

async fn proxy(ingresses: Vec<Ingress>) -> (Proxy, TableWriter, backend::Backend) {
    let web = backend::start("web", false).await;
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", &[web.address]);
    for ingress in ingresses {
        writer.apply(Change::UpsertIngress(ingress));
    }
    writer.commit();
    (
        Proxy::start(reader, ProxyConfig::default()).await,
        writer,
        web,
    )
}

async fn status(proxy: &Proxy, host: &str, path: &str, headers: &[(&str, &str)]) -> StatusCode {
    get_with_headers(proxy.http, host, path, headers)
        .await
        .status
}

/// `ingress_requests_denied_total{reason="REASON"}` on the admin listener (0 when absent).
async fn denied(proxy: &Proxy, reason: &str) -> u64 {
    let metrics = get(&http1_client(), proxy.admin, "admin", "/metrics")
        .await
        .body;
    let series = format!("ingress_requests_denied_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or(0)
}

/// Requests sent back to back until one is refused (at most 50): how many were served.
async fn served_before_refusal(proxy: &Proxy, host: &str, headers: &[(&str, &str)]) -> usize {
    for served in 0..50 {
        if status(proxy, host, "/p", headers).await != StatusCode::OK {
            return served;
        }
    }
    50
}

#[tokio::test]
async fn limit_rps_serves_the_burst_then_answers_the_configured_status_per_client() {
    let (proxy, mut writer, _web) = proxy(vec![
        // limit-rps 1 with ingress-nginx's default multiplier 5: 1 + 5 at once.
        annotated("limited", "limited.example", &[("limit-rps", "1")]),
        annotated(
            "doubled",
            "doubled.example",
            &[("limit-rps", "1"), ("limit-burst-multiplier", "2")],
        ),
        annotated(
            "exempt",
            "exempt.example",
            &[("limit-rps", "1"), ("limit-whitelist", "127.0.0.0/8")],
        ),
        annotated("open", "open.example", &[]),
    ])
    .await;
    assert_eq!(
        served_before_refusal(&proxy, "limited.example", &[]).await,
        6
    );
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::SERVICE_UNAVAILABLE,
        "ingress-nginx's default limit-req-status-code"
    );
    assert_eq!(
        served_before_refusal(&proxy, "doubled.example", &[]).await,
        3
    );
    assert_eq!(
        served_before_refusal(&proxy, "exempt.example", &[]).await,
        50,
        "limit-whitelist"
    );
    assert_eq!(
        served_before_refusal(&proxy, "open.example", &[]).await,
        50,
        "another Ingress is not limited"
    );

    // The ConfigMap's status code; the client a trusted balancer names is the one counted.
    configmap(
        &mut writer,
        &[
            ("limit-req-status-code", "429"),
            ("use-forwarded-headers", "true"),
        ],
    );
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let elsewhere: &[(&str, &str)] = &[("x-forwarded-for", "192.0.2.7")];
    assert_eq!(
        served_before_refusal(&proxy, "limited.example", elsewhere).await,
        6,
        "a different client has its own bucket"
    );

    // Each refusal is counted by reason: three `served_before_refusal` that ended in one, and
    // two direct checks.
    assert_eq!(denied(&proxy, "limit").await, 5);

    // The bucket drains at 1 request a second.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::OK
    );
}

#[tokio::test]
async fn limit_connections_counts_requests_in_progress_until_their_response_is_sent() {
    let (proxy, mut writer, web) = proxy(vec![annotated(
        "limited",
        "limited.example",
        &[("limit-connections", "1")],
    )])
    .await;
    configmap(&mut writer, &[("limit-conn-status-code", "429")]);
    let address = proxy.http;
    let held =
        tokio::spawn(
            async move { get(&http1_client(), address, "limited.example", "/hold").await },
        );
    tokio::time::timeout(Duration::from_secs(5), web.held.notified())
        .await
        .expect("the first request reached the backend");
    assert_eq!(
        status(&proxy, "limited.example", "/p", &[]).await,
        StatusCode::TOO_MANY_REQUESTS,
        "a second request while the first is in progress"
    );
    web.release.notify_one();
    assert_eq!(held.await.expect("client task").status, StatusCode::OK);
    assert!(
        eventually(|| async {
            status(&proxy, "limited.example", "/p", &[]).await == StatusCode::OK
        })
        .await,
        "the slot is released with the response"
    );
}

/// An `Opaque` Secret `name` with `data`.
fn opaque_secret(name: &str, data: &[(&str, &str)]) -> Change {
    Change::UpsertOpaqueSecret(ingress_core::OpaqueSecret {
        meta: ingress_core::ObjectMeta::new(NS, name, Some(1)),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), std::sync::Arc::from(v.as_bytes())))
            .collect(),
    })
}

fn basic(user: &str, password: &str) -> String {
    use base64::Engine as _;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
    )
}

#[tokio::test]
async fn basic_auth_answers_401_with_the_realm_lets_valid_users_through_and_follows_the_secret() {
    let (proxy, mut writer, _web) = proxy(vec![
        annotated(
            "private",
            "private.example",
            &[
                ("auth-type", "basic"),
                ("auth-secret", "users"),
                ("auth-realm", "Authentication Required - foo"),
            ],
        ),
        annotated(
            "mapped",
            "mapped.example",
            &[
                ("auth-type", "basic"),
                ("auth-secret", "default/mapped-users"),
                ("auth-secret-type", "auth-map"),
            ],
        ),
        annotated(
            "missing",
            "missing.example",
            &[("auth-type", "basic"), ("auth-secret", "nobody-made-this")],
        ),
        annotated(
            "digest",
            "digest.example",
            &[("auth-type", "digest"), ("auth-secret", "users")],
        ),
    ])
    .await;
    // `htpasswd -nbm foo password` and `htpasswd -nbB -C 5 baz password`.
    writer.apply(opaque_secret(
        "users",
        &[(
            "auth",
            "foo:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00\n\
             baz:$2y$05$bvIG6Nmid91Mu9RcmmWZfO5HJIMCT8riNW0hEp8f6/FuA2/mHZFpe\n",
        )],
    ));
    writer.apply(opaque_secret(
        "mapped-users",
        &[("alice", "{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=")],
    ));
    writer.commit();

    let answer = |host: &'static str, authorization: Option<String>| {
        let proxy = &proxy;
        async move {
            let headers: Vec<(&str, &str)> = authorization
                .iter()
                .map(|value| ("authorization", value.as_str()))
                .collect();
            get_with_headers(proxy.http, host, "/p", &headers).await
        }
    };
    let refused = answer("private.example", None).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        refused.header("www-authenticate"),
        "Basic realm=\"Authentication Required - foo\""
    );
    for (user, password, expected) in [
        ("foo", "password", StatusCode::OK),
        ("foo", "wrong", StatusCode::UNAUTHORIZED),
        ("baz", "password", StatusCode::OK),
        ("baz", "password", StatusCode::OK), // remembered: not checked with bcrypt again
        ("baz", "passwore", StatusCode::UNAUTHORIZED),
        ("nobody", "password", StatusCode::UNAUTHORIZED),
    ] {
        assert_eq!(
            answer("private.example", Some(basic(user, password)))
                .await
                .status,
            expected,
            "{user}:{password}"
        );
    }
    assert_eq!(
        answer("mapped.example", Some(basic("alice", "password")))
            .await
            .status,
        StatusCode::OK
    );
    // A missing Secret or an unimplemented auth type denies, never allows.
    for host in ["missing.example", "digest.example"] {
        assert_eq!(
            answer(host, Some(basic("foo", "password"))).await.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{host}"
        );
    }
    assert_eq!(denied(&proxy, "invalid_annotation").await, 2);

    // Rotation: the new Secret applies to the next request, and the old password stops working
    // even where a success was remembered.
    // `htpasswd -nbs baz qux`.
    writer.apply(opaque_secret(
        "users",
        &[("auth", "baz:{SHA}tUun9WISQNQD8GgV9yRgBu+MfUM=\n")],
    ));
    writer.commit();
    assert_eq!(
        answer("private.example", Some(basic("baz", "password")))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        answer("private.example", Some(basic("baz", "qux")))
            .await
            .status,
        StatusCode::OK
    );
}
