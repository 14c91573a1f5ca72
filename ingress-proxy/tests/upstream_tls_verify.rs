//! The `proxy-ssl-*` annotations through the real proxy: an upstream certificate checked
//! against the Secret's `ca.crt` and `proxy-ssl-name`, unchecked by default, a client
//! certificate presented to a backend that requires one, and a Secret that cannot be used.

mod common;

use common::tls::{TestCa, backend_config};
use common::*;
use http::StatusCode;
use ingress_core::{Change, Ingress};
use ingress_proxy::ProxyConfig;

/// The name on the backends' certificates.
const BACKEND_NAME: &str = "secure.default.svc";

/// An Ingress routing `host/` to Service `secure` over HTTPS, with `proxy-ssl-*` annotations.
fn https_route(name: &str, host: &str, annotations: &[(&str, &str)]) -> Ingress {
    let mut ingress = ingress(name, 1, &[(Some(host), "/", "secure")]);
    ingress.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/backend-protocol".to_owned(),
        "HTTPS".to_owned(),
    );
    for (key, value) in annotations {
        ingress.meta.annotations.insert(
            format!("nginx.ingress.kubernetes.io/{key}"),
            (*value).to_owned(),
        );
    }
    ingress
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

async fn proxy_for(
    backend: &backend::Backend,
    secrets: Vec<Change>,
    ingresses: Vec<Ingress>,
) -> (Proxy, ingress_core::TableWriter) {
    let (mut writer, reader) = table();
    add_service(&mut writer, "secure", &[backend.address]);
    for change in secrets {
        writer.apply(change);
    }
    for ingress in ingresses {
        writer.apply(Change::UpsertIngress(ingress));
    }
    writer.commit();
    (Proxy::start(reader, ProxyConfig::default()).await, writer)
}

#[tokio::test]
async fn the_upstream_certificate_is_checked_only_when_asked_and_pooled_connections_stay_apart() {
    let ca = TestCa::new("upstream CA");
    let other_ca = TestCa::new("another CA");
    let backend =
        backend::start_tls_with("secure", backend_config(&ca.server(&[BACKEND_NAME]), None)).await;
    let verify = |name: &'static str| {
        [
            ("proxy-ssl-verify", "on"),
            ("proxy-ssl-name", name),
            ("proxy-ssl-server-name", "on"),
        ]
    };
    let right = format!("{NS}/right-ca");
    let wrong = format!("{NS}/wrong-ca");
    let routes = vec![
        https_route("unchecked", "unchecked.example", &[]),
        https_route(
            "right",
            "right.example",
            &[
                &[("proxy-ssl-secret", right.as_str())][..],
                &verify(BACKEND_NAME),
            ]
            .concat(),
        ),
        https_route(
            "wrong",
            "wrong.example",
            &[
                &[("proxy-ssl-secret", wrong.as_str())][..],
                &verify(BACKEND_NAME),
            ]
            .concat(),
        ),
        https_route(
            "misnamed",
            "misnamed.example",
            &[
                &[("proxy-ssl-secret", right.as_str())][..],
                &verify("other.default.svc"),
            ]
            .concat(),
        ),
        // Without `proxy-ssl-name`, the endpoint's IP address is verified: not on the cert.
        https_route(
            "by-address",
            "by-address.example",
            &[
                ("proxy-ssl-secret", right.as_str()),
                ("proxy-ssl-verify", "on"),
            ],
        ),
        // A Secret without `proxy-ssl-verify` changes nothing about verification (off).
        https_route(
            "verify-off",
            "verify-off.example",
            &[("proxy-ssl-secret", wrong.as_str())],
        ),
    ];
    let secrets = vec![
        opaque_secret("right-ca", &[("ca.crt", &ca.pem())]),
        opaque_secret("wrong-ca", &[("ca.crt", &other_ca.pem())]),
    ];
    let (proxy, _writer) = proxy_for(&backend, secrets, routes).await;
    let client = http1_client();
    // Twice each, in an order where a pooled connection from an accepted policy could be
    // handed to a rejecting one if connections were pooled by peer alone.
    for _ in 0..2 {
        for (host, expected) in [
            ("unchecked.example", StatusCode::OK),
            ("right.example", StatusCode::OK),
            ("wrong.example", StatusCode::BAD_GATEWAY),
            ("misnamed.example", StatusCode::BAD_GATEWAY),
            ("by-address.example", StatusCode::BAD_GATEWAY),
            ("verify-off.example", StatusCode::OK),
        ] {
            let answer = get(&client, proxy.http, host, "/").await;
            assert_eq!(answer.status, expected, "{host}: {}", answer.body);
            if expected == StatusCode::OK {
                assert_eq!(answer.body, "secure", "{host}");
            }
        }
    }
}

#[tokio::test]
async fn the_secret_s_client_certificate_is_presented_to_a_backend_that_requires_one() {
    let ca = TestCa::new("upstream CA");
    let client_ca = TestCa::new("proxy clients");
    let backend = backend::start_tls_with(
        "mutual",
        backend_config(&ca.server(&[BACKEND_NAME]), Some(&client_ca)),
    )
    .await;
    let proxy_certificate = client_ca.client("ingress-proxy");
    let tls_secret = ingress_core::TlsSecret {
        ca_certificate_pem: Some(ca.pem().as_bytes().into()),
        ..tls_secret(
            "client-tls",
            &proxy_certificate.chain_pem,
            &proxy_certificate.key_pem,
        )
    };
    let secret = format!("{NS}/client-tls");
    let routes = vec![
        https_route(
            "with-certificate",
            "with.example",
            &[
                ("proxy-ssl-secret", secret.as_str()),
                ("proxy-ssl-verify", "on"),
                ("proxy-ssl-name", BACKEND_NAME),
            ],
        ),
        https_route("without-certificate", "without.example", &[]),
    ];
    let (proxy, _writer) =
        proxy_for(&backend, vec![Change::UpsertTlsSecret(tls_secret)], routes).await;
    let client = http1_client();
    let answer = get(&client, proxy.http, "with.example", "/").await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.body, "mutual");
    let answer = get(&client, proxy.http, "without.example", "/").await;
    assert_eq!(
        answer.status,
        StatusCode::BAD_GATEWAY,
        "the backend refuses a proxy without a client certificate"
    );
}

#[tokio::test]
async fn a_missing_or_unusable_secret_denies_the_ingress_never_connects_unverified() {
    let ca = TestCa::new("upstream CA");
    let backend =
        backend::start_tls_with("secure", backend_config(&ca.server(&[BACKEND_NAME]), None)).await;
    let routes = vec![
        https_route(
            "missing",
            "missing.example",
            &[
                ("proxy-ssl-secret", "default/nowhere"),
                ("proxy-ssl-verify", "on"),
            ],
        ),
        https_route(
            "broken",
            "broken.example",
            &[
                ("proxy-ssl-secret", "default/broken"),
                ("proxy-ssl-verify", "on"),
            ],
        ),
        // PEM that decodes, but not to a certificate: refused when the client is built.
        https_route(
            "junk",
            "junk.example",
            &[
                ("proxy-ssl-secret", "default/junk"),
                ("proxy-ssl-verify", "on"),
            ],
        ),
        https_route("fine", "fine.example", &[]),
    ];
    let junk = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
    let secrets = vec![
        opaque_secret("broken", &[("ca.crt", "not a certificate")]),
        opaque_secret("junk", &[("ca.crt", junk)]),
    ];
    let (proxy, _writer) = proxy_for(&backend, secrets, routes).await;
    let client = http1_client();
    for host in ["missing.example", "broken.example", "junk.example"] {
        let answer = get(&client, proxy.http, host, "/").await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{host}");
    }
    assert_eq!(
        backend.requests.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "nothing reached the backend"
    );
    let answer = get(&client, proxy.http, "fine.example", "/").await;
    assert_eq!(
        answer.status,
        StatusCode::OK,
        "other Ingresses are not affected"
    );
}

#[tokio::test]
async fn verify_depth_counts_the_intermediates_and_a_rotated_ca_applies() {
    let root = TestCa::new("upstream root");
    let intermediate = root.intermediate("upstream intermediate");
    let backend = backend::start_tls_with(
        "secure",
        backend_config(&intermediate.server(&[BACKEND_NAME]), None),
    )
    .await;
    let root_secret = format!("{NS}/root-ca");
    let rotating = format!("{NS}/rotating-ca");
    let verified = |secret: &str, depth: &str| {
        [
            ("proxy-ssl-secret", secret.to_owned()),
            ("proxy-ssl-verify", "on".to_owned()),
            ("proxy-ssl-name", BACKEND_NAME.to_owned()),
            ("proxy-ssl-verify-depth", depth.to_owned()),
        ]
    };
    let route = |name: &str, annotations: &[(&str, String)]| {
        let pairs: Vec<(&str, &str)> = annotations.iter().map(|(k, v)| (*k, v.as_str())).collect();
        https_route(name, &format!("{name}.example"), &pairs)
    };
    let routes = vec![
        route("shallow", &verified(&root_secret, "1")),
        route("deep", &verified(&root_secret, "2")),
        route("rotating", &verified(&rotating, "2")),
    ];
    let other = TestCa::new("not the upstream's CA");
    let secrets = vec![
        opaque_secret("root-ca", &[("ca.crt", &root.pem())]),
        opaque_secret("rotating-ca", &[("ca.crt", &other.pem())]),
    ];
    let (proxy, mut writer) = proxy_for(&backend, secrets, routes).await;
    let client = http1_client();
    for (host, expected) in [
        ("shallow.example", StatusCode::BAD_GATEWAY),
        ("deep.example", StatusCode::OK),
        ("rotating.example", StatusCode::BAD_GATEWAY),
    ] {
        let answer = get(&client, proxy.http, host, "/").await;
        assert_eq!(answer.status, expected, "{host}: {}", answer.body);
    }
    // The Secret is rotated to the right CA: the next connections verify.
    writer.apply(opaque_secret("rotating-ca", &[("ca.crt", &root.pem())]));
    writer.commit();
    assert!(
        eventually(|| async {
            get(&client, proxy.http, "rotating.example", "/")
                .await
                .status
                == StatusCode::OK
        })
        .await,
        "the rotated ca.crt applies"
    );
}
