//! The `proxy-ssl-*` annotations: defaults, values, refusals, and reading the Secret.

use super::*;
use crate::annotations::{PREFIX, RoutePolicy};
use crate::model::ObjectMeta;

const CA: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";
const KEY: &str = "-----BEGIN PRIVATE KEY-----\nAAEC\n-----END PRIVATE KEY-----\n";

fn parse(pairs: &[(&str, &str)]) -> (Option<UpstreamTlsPolicy>, Vec<String>) {
    let annotations = pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
        .collect();
    let (policy, invalid) = RoutePolicy::parse(&annotations);
    assert_eq!(policy.denied.is_some(), !invalid.is_empty());
    let invalid = invalid
        .into_iter()
        .map(|i| i.annotation.trim_start_matches(PREFIX).to_owned())
        .collect();
    (policy.upstream_tls.map(|p| (*p).clone()), invalid)
}

fn opaque(namespace: &str, name: &str, data: &[(&str, &str)]) -> BTreeMap<ObjectKey, OpaqueSecret> {
    let secret = OpaqueSecret {
        meta: ObjectMeta::new(namespace, name, None),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Arc::from(v.as_bytes())))
            .collect(),
    };
    BTreeMap::from([(secret.meta.key(), secret)])
}

#[test]
fn without_any_key_there_is_no_policy() {
    assert_eq!(parse(&[("ssl-redirect", "false")]), (None, vec![]));
}

#[test]
fn a_secret_alone_takes_ingress_nginx_defaults() {
    let (policy, invalid) = parse(&[("proxy-ssl-secret", "shop/ca")]);
    assert!(invalid.is_empty());
    let policy = policy.expect("policy");
    assert_eq!(policy.secret_name.as_deref(), Some("shop/ca"));
    assert!(!policy.verify, "proxy-ssl-verify defaults to off");
    assert_eq!(policy.verify_depth, 1);
    assert_eq!(policy.name, None);
    assert!(!policy.server_name, "proxy-ssl-server-name defaults to off");
    assert_eq!(
        policy.protocols,
        TlsProtocols {
            tls12: true,
            tls13: true
        }
    );
    assert_eq!(policy.ciphers, None);
}

#[test]
fn every_value_is_read() {
    let (policy, invalid) = parse(&[
        ("proxy-ssl-secret", "shop/ca"),
        ("proxy-ssl-verify", "on"),
        ("proxy-ssl-verify-depth", "3"),
        ("proxy-ssl-name", "api.shop.svc.cluster.local"),
        ("proxy-ssl-server-name", "on"),
        ("proxy-ssl-protocols", "TLSv1 TLSv1.1 TLSv1.2"),
        (
            "proxy-ssl-ciphers",
            "ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA",
        ),
    ]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let policy = policy.expect("policy");
    assert!(policy.verify && policy.server_name);
    assert_eq!(policy.verify_depth, 3);
    assert_eq!(policy.name.as_deref(), Some("api.shop.svc.cluster.local"));
    assert_eq!(
        policy.protocols,
        TlsProtocols {
            tls12: true,
            tls13: false
        },
        "TLSv1 and TLSv1.1 are dropped: rustls does not implement them"
    );
    assert_eq!(
        policy.ciphers.as_deref(),
        Some("ECDHE-RSA-AES128-GCM-SHA256:AES128-SHA")
    );
}

#[test]
fn depth_zero_and_default_ciphers_mean_the_defaults() {
    let (policy, invalid) = parse(&[
        ("proxy-ssl-verify-depth", "0"),
        ("proxy-ssl-ciphers", "DEFAULT"),
        ("proxy-ssl-verify", "off"),
    ]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let policy = policy.expect("policy");
    assert_eq!(policy.verify_depth, 1);
    assert_eq!(policy.ciphers, None);
}

#[test]
fn invalid_values_deny_and_name_the_annotation() {
    for (pairs, expected) in [
        (&[("proxy-ssl-verify", "yes")][..], "proxy-ssl-verify"),
        (
            &[("proxy-ssl-verify-depth", "-1")],
            "proxy-ssl-verify-depth",
        ),
        (&[("proxy-ssl-name", "a name")], "proxy-ssl-name"),
        (
            &[("proxy-ssl-server-name", "true")],
            "proxy-ssl-server-name",
        ),
        (
            &[("proxy-ssl-protocols", "TLSv1 TLSv1.1")],
            "proxy-ssl-protocols",
        ),
        (&[("proxy-ssl-protocols", "TLSv1.4")], "proxy-ssl-protocols"),
        (&[("proxy-ssl-ciphers", "RC4-MD5")], "proxy-ssl-ciphers"),
        (&[("proxy-ssl-secret", "Shop/CA")], "proxy-ssl-secret"),
        (&[("proxy-ssl-secret", "a/b/c")], "proxy-ssl-secret"),
        (&[("proxy-ssl-verify", "on")], "proxy-ssl-secret"),
    ] {
        let (_, invalid) = parse(pairs);
        assert_eq!(invalid, [expected], "{pairs:?}");
    }
}

fn resolve(
    policy_pairs: &[(&str, &str)],
    tls: &BTreeMap<ObjectKey, TlsSecret>,
    opaque: &BTreeMap<ObjectKey, OpaqueSecret>,
) -> Result<UpstreamTlsPolicy, String> {
    let (policy, invalid) = parse(policy_pairs);
    assert!(invalid.is_empty(), "{invalid:?}");
    let mut policy = policy.expect("policy");
    policy
        .resolve("shop", tls, opaque)
        .map(|()| policy)
        .map_err(|invalid| {
            assert_eq!(invalid.annotation, format!("{PREFIX}proxy-ssl-secret"));
            invalid.reason
        })
}

#[test]
fn an_opaque_secret_gives_its_ca_and_client_certificate() {
    let secrets = opaque(
        "shop",
        "ca",
        &[("ca.crt", CA), ("tls.crt", CA), ("tls.key", KEY)],
    );
    let policy = resolve(
        &[("proxy-ssl-secret", "shop/ca"), ("proxy-ssl-verify", "on")],
        &BTreeMap::new(),
        &secrets,
    )
    .expect("usable");
    let secret = policy.secret.expect("resolved");
    assert_eq!(secret.ca_pem.as_deref(), Some(CA.as_bytes()));
    assert!(secret.certificate.is_some());
}

#[test]
fn a_tls_secret_with_ca_crt_is_accepted() {
    let secret = TlsSecret {
        meta: ObjectMeta::new("shop", "ca", None),
        certificate_chain_pem: Arc::from(CA.as_bytes()),
        private_key_pem: Arc::from(KEY.as_bytes()),
        ca_certificate_pem: Some(Arc::from(CA.as_bytes())),
    };
    let tls = BTreeMap::from([(secret.meta.key(), secret)]);
    let policy = resolve(
        &[("proxy-ssl-secret", "shop/ca"), ("proxy-ssl-verify", "on")],
        &tls,
        &BTreeMap::new(),
    )
    .expect("usable");
    assert!(policy.secret.expect("resolved").certificate.is_some());
}

#[test]
fn unusable_secrets_are_refused_with_the_reason() {
    let on = [("proxy-ssl-secret", "shop/ca"), ("proxy-ssl-verify", "on")];
    let empty = BTreeMap::new();
    for (pairs, secrets, expected) in [
        (
            &on[..],
            opaque("shop", "other", &[("ca.crt", CA)]),
            "does not exist",
        ),
        (
            &on[..],
            opaque("shop", "ca", &[("tls.crt", CA), ("tls.key", KEY)]),
            "has no key \"ca.crt\"",
        ),
        (
            &on[..],
            opaque("shop", "ca", &[("ca.crt", "not pem")]),
            "\"ca.crt\"",
        ),
        (
            &on[..],
            opaque("shop", "ca", &[("ca.crt", CA), ("tls.crt", CA)]),
            "\"tls.key\"",
        ),
        (
            &on[..],
            opaque(
                "shop",
                "ca",
                &[("ca.crt", CA), ("tls.crt", CA), ("tls.key", "x")],
            ),
            "\"tls.key\"",
        ),
        (
            &[("proxy-ssl-secret", "other/ca")][..],
            opaque("other", "ca", &[("ca.crt", CA)]),
            "namespace",
        ),
    ] {
        let error = resolve(pairs, &empty, &secrets).expect_err("unusable");
        assert!(
            error.contains(expected),
            "{error} should contain {expected}"
        );
    }
}

#[test]
fn without_verification_the_ca_may_be_absent() {
    let secrets = opaque("shop", "ca", &[("tls.crt", CA), ("tls.key", KEY)]);
    let policy = resolve(&[("proxy-ssl-secret", "ca")], &BTreeMap::new(), &secrets)
        .expect("a client certificate alone is usable");
    assert!(policy.secret.expect("resolved").ca_pem.is_none());
}

#[test]
fn a_missing_secret_denies_the_whole_policy() {
    let annotations = BTreeMap::from([(
        format!("{PREFIX}proxy-ssl-secret"),
        "shop/missing".to_owned(),
    )]);
    let (mut policy, invalid) = RoutePolicy::parse(&annotations);
    assert!(invalid.is_empty());
    let invalid = policy.resolve_certificate_secrets(
        &ObjectKey::new("shop", "ingress"),
        &BTreeMap::new(),
        &BTreeMap::new(),
    );
    assert_eq!(invalid.len(), 1);
    let denied = policy.denied.expect("denied");
    assert!(
        denied.contains("proxy-ssl-secret") && denied.contains("shop/missing"),
        "{denied}"
    );
}
