//! The `auth-tls-*` annotations: defaults, values, refusals, reading the Secret, and the
//! host's setting in the route table.

use super::*;
use crate::annotations::{PREFIX, RoutePolicy};
use crate::model::ObjectMeta;

const CA: &str = "-----BEGIN CERTIFICATE-----\nAAEC\n-----END CERTIFICATE-----\n";

fn parse(pairs: &[(&str, &str)]) -> (Option<ClientTlsPolicy>, Vec<String>) {
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
    (policy.client_tls.map(|p| (*p).clone()), invalid)
}

fn opaque(data: &[(&str, &str)]) -> BTreeMap<ObjectKey, OpaqueSecret> {
    let secret = OpaqueSecret {
        meta: ObjectMeta::new("shop", "client-ca", None),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Arc::from(v.as_bytes())))
            .collect(),
    };
    BTreeMap::from([(secret.meta.key(), secret)])
}

#[test]
fn without_the_secret_there_is_no_policy() {
    assert_eq!(parse(&[("ssl-redirect", "true")]), (None, vec![]));
}

#[test]
fn a_secret_alone_takes_ingress_nginx_defaults() {
    let (policy, invalid) = parse(&[("auth-tls-secret", "shop/client-ca")]);
    assert!(invalid.is_empty());
    let policy = policy.expect("policy");
    assert_eq!(&*policy.secret_name, "shop/client-ca");
    assert_eq!(policy.verify_client, VerifyClient::On);
    assert_eq!(policy.verify_depth, 1);
    assert_eq!(policy.error_page, None);
    assert!(!policy.pass_certificate);
    assert_eq!(policy.match_cn, None);
}

#[test]
fn every_value_is_read() {
    for (written, expected) in [
        ("on", VerifyClient::On),
        ("off", VerifyClient::Off),
        ("optional", VerifyClient::Optional),
        ("optional_no_ca", VerifyClient::OptionalNoCa),
    ] {
        let (policy, invalid) = parse(&[
            ("auth-tls-secret", "shop/client-ca"),
            ("auth-tls-verify-client", written),
            ("auth-tls-verify-depth", "2"),
            (
                "auth-tls-error-page",
                "https://login.example/cert-error.html",
            ),
            ("auth-tls-pass-certificate-to-upstream", "true"),
        ]);
        assert!(invalid.is_empty(), "{invalid:?}");
        let policy = policy.expect("policy");
        assert_eq!(policy.verify_client, expected);
        assert_eq!(policy.verify_depth, 2);
        assert_eq!(
            policy.error_page.as_deref(),
            Some("https://login.example/cert-error.html")
        );
        assert!(policy.pass_certificate);
    }
    let (policy, _) = parse(&[
        ("auth-tls-secret", "shop/client-ca"),
        ("auth-tls-verify-depth", "0"),
        ("auth-tls-error-page", "/error/cert.html"),
        ("auth-tls-match-cn", "CN=(alice|bob)"),
    ]);
    let policy = policy.expect("policy");
    let pattern = policy.match_cn.as_ref().expect("match-cn");
    assert!(pattern.is_match("CN=alice,O=Shop"));
    assert!(!pattern.is_match("CN=mallory"));
    assert!(!pattern.is_match(""));
    assert_eq!(policy.verify_depth, 1, "0 means the default");
    assert_eq!(policy.error_page.as_deref(), Some("/error/cert.html"));
}

#[test]
fn invalid_values_deny_and_name_the_annotation() {
    let secret = ("auth-tls-secret", "shop/client-ca");
    for (pairs, expected) in [
        (
            &[secret, ("auth-tls-verify-client", "required")][..],
            "auth-tls-verify-client",
        ),
        (
            &[secret, ("auth-tls-verify-client", "ON")],
            "auth-tls-verify-client",
        ),
        (
            &[secret, ("auth-tls-verify-depth", "-2")],
            "auth-tls-verify-depth",
        ),
        (
            &[secret, ("auth-tls-error-page", "@named")],
            "auth-tls-error-page",
        ),
        (
            &[secret, ("auth-tls-error-page", "https://a/$x")],
            "auth-tls-error-page",
        ),
        (
            &[secret, ("auth-tls-pass-certificate-to-upstream", "yes")],
            "auth-tls-pass-certificate-to-upstream",
        ),
        (
            &[secret, ("auth-tls-match-cn", "alice")],
            "auth-tls-match-cn",
        ),
        (
            &[secret, ("auth-tls-match-cn", "CN=(")],
            "auth-tls-match-cn",
        ),
        (&[("auth-tls-secret", "Shop/CA")], "auth-tls-secret"),
        (&[("auth-tls-verify-client", "on")], "auth-tls-secret"),
    ] {
        let (_, invalid) = parse(pairs);
        assert_eq!(invalid, [expected], "{pairs:?}");
    }
    // An unusable name still leaves a policy, so the host is refused, not served openly.
    let (policy, _) = parse(&[("auth-tls-secret", "Shop/CA")]);
    assert!(policy.is_some());
}

#[test]
fn the_secret_needs_a_ca() {
    let ingress = ObjectKey::new("shop", "web");
    let resolve = |secrets: &BTreeMap<ObjectKey, OpaqueSecret>| {
        let (policy, _) = parse(&[("auth-tls-secret", "shop/client-ca")]);
        let mut policy = policy.expect("policy");
        policy
            .resolve(&ingress, &BTreeMap::new(), secrets)
            .map(|()| policy)
    };
    let policy = resolve(&opaque(&[("ca.crt", CA)])).expect("usable");
    assert_eq!(policy.ca_pem().map(|pem| &**pem), Some(CA.as_bytes()));
    assert_eq!(policy.ingress.as_ref(), Some(&ingress));
    for (secrets, expected) in [
        (opaque(&[("tls.crt", CA)]), "\"tls.key\""),
        (opaque(&[("other", CA)]), "no key \"ca.crt\""),
        (opaque(&[("ca.crt", "junk")]), "\"ca.crt\""),
        (BTreeMap::new(), "does not exist"),
    ] {
        let error = resolve(&secrets).expect_err("unusable");
        assert_eq!(error.annotation, format!("{PREFIX}auth-tls-secret"));
        assert!(error.reason.contains(expected), "{}", error.reason);
    }
}

mod table {
    use crate::model::{Ingress, ServiceBackend};
    use crate::validate::PathType;
    use crate::{Change, ClassSelection, TableConfig};

    fn ingress(name: &str, age: i64, hosts: &[&str], secret: Option<&str>) -> Ingress {
        let mut ingress = Ingress::new("shop", name, Some(age));
        for host in hosts {
            ingress = ingress.with_path(
                Some(host),
                PathType::Prefix,
                &format!("/{name}"),
                ServiceBackend::number("web", 80),
            );
        }
        if let Some(secret) = secret {
            ingress.meta.annotations.insert(
                format!("{}auth-tls-secret", super::PREFIX),
                secret.to_owned(),
            );
        }
        ingress
    }

    #[test]
    fn the_oldest_ingress_of_a_host_decides_for_all_its_paths() {
        let (mut writer, reader) = crate::table(TableConfig {
            classes: ClassSelection {
                watch_without_class: true,
                ..ClassSelection::default()
            },
            ..TableConfig::default()
        });
        for ingress in [
            ingress("plain", 1, &["a.example", "b.example"], None),
            ingress("newer", 3, &["a.example"], Some("shop/newer-ca")),
            ingress(
                "older",
                2,
                &["a.example", "*.wild.example"],
                Some("shop/older-ca"),
            ),
            ingress("plain-wild", 4, &["*.open.example"], None),
        ] {
            writer.apply(Change::UpsertIngress(ingress));
        }
        writer.commit();
        let table = reader.load();
        let decided = |host: &str| table.client_tls(host).map(|p| p.secret_name.to_string());
        assert_eq!(decided("a.example").as_deref(), Some("shop/older-ca"));
        assert_eq!(decided("A.Example:443").as_deref(), Some("shop/older-ca"));
        assert_eq!(decided("b.example"), None);
        assert_eq!(decided("x.wild.example").as_deref(), Some("shop/older-ca"));
        assert_eq!(decided("wild.example"), None);
        assert_eq!(decided("x.open.example"), None);
        let policy = table.client_tls("a.example").expect("policy");
        assert_eq!(policy.ingress.as_ref().map(|k| &*k.name), Some("older"));
        assert!(
            policy.secret.is_none(),
            "the Secret does not exist: unusable"
        );
    }

    #[test]
    fn host_less_rules_set_the_default_server_s_client_certificates() {
        let (mut writer, reader) = crate::table(TableConfig {
            classes: ClassSelection {
                watch_without_class: true,
                ..ClassSelection::default()
            },
            ..TableConfig::default()
        });
        let mut catch_all = Ingress::new("shop", "catch-all", Some(1)).with_path(
            None,
            PathType::Prefix,
            "/",
            ServiceBackend::number("web", 80),
        );
        catch_all.meta.annotations.insert(
            format!("{}auth-tls-secret", super::PREFIX),
            "shop/default-ca".to_owned(),
        );
        writer.apply(Change::UpsertIngress(catch_all));
        writer.apply(Change::UpsertIngress(ingress(
            "named",
            2,
            &["a.example"],
            None,
        )));
        writer.commit();
        let table = reader.load();
        let decided = |host: &str| table.client_tls(host).map(|p| p.secret_name.to_string());
        assert_eq!(
            decided("anything.example").as_deref(),
            Some("shop/default-ca")
        );
        assert_eq!(decided("a.example"), None, "a named host is its own server");
    }
}
