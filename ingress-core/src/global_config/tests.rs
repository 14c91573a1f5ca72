use std::collections::BTreeMap;
use std::time::Duration;

use super::*;
use crate::{Change, ClusterState, RouteTable, TableConfig};

fn configmap() -> ObjectKey {
    ObjectKey::new("ingress-nginx", "ingress-nginx-controller")
}

fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn parsed(pairs: &[(&str, &str)]) -> (GlobalConfig, Vec<Diagnostic>) {
    GlobalConfig::default().updated_from(&configmap(), &data(pairs))
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

type Check = fn(&GlobalConfig) -> bool;

/// Every supported key: a valid value and what it must set, and an invalid value.
#[rustfmt::skip] // one row per key reads as the table it is
const VALID_AND_INVALID: &[(&str, &str, Check, &str)] = &[
    ("allow-snippet-annotations", "false", |c| !c.allow_snippet_annotations, "maybe"),
    ("client-body-timeout", "30", |c| c.client_body_timeout == secs(30), "30s"),
    ("client-header-timeout", "7", |c| c.client_header_timeout == secs(7), "-1"),
    ("compute-full-forwarded-for", "true", |c| c.compute_full_forwarded_for, "yes"),
    ("custom-http-errors", "503, 404,404", |c| *c.custom_http_errors == [404, 503], "404,abc"),
    ("denylist-source-range", "10.0.0.0/8", |c| c.denylist_source_range.contains("10.9.9.9".parse().unwrap()), "10.0.0.0/40"),
    ("enable-underscores-in-headers", "1", |c| c.enable_underscores_in_headers, "on"),
    ("force-ssl-redirect", "T", |c| c.force_ssl_redirect, "TrUe"),
    ("forwarded-for-header", "X-Real-Client", |c| &*c.forwarded_for_header == "X-Real-Client", "X Client"),
    ("hsts", "false", |c| !c.hsts, "no"),
    ("hsts-include-subdomains", "f", |c| !c.hsts_include_subdomains, "off"),
    ("hsts-max-age", "100", |c| c.hsts_max_age == 100, "1y"),
    ("hsts-preload", "true", |c| c.hsts_preload, "1.0"),
    ("keep-alive", "0", |c| c.keep_alive == Duration::ZERO, "75s"),
    ("keep-alive-requests", "50", |c| c.keep_alive_requests == 50, "99999999999"),
    ("limit-conn-status-code", "429", |c| c.limit_conn_status_code == 429, "200"),
    ("limit-req-status-code", "429", |c| c.limit_req_status_code == 429, "4xx"),
    ("log-format-upstream", "$remote_addr $status", |c| &*c.log_format_upstream == "$remote_addr $status", "a\nb"),
    ("no-auth-locations", "/healthz, /.well-known", |c| c.skips_auth("/healthz/x") && c.skips_auth("/.well-known/acme-challenge") && !c.skips_auth("/app"), "healthz"),
    ("proxy-body-size", "8k", |c| c.proxy_body_size == 8192, "8x"),
    ("proxy-connect-timeout", "3", |c| c.proxy_connect_timeout == secs(3), "3.5"),
    ("proxy-next-upstream", "error  http_502", |c| c.proxy_next_upstream.error && c.proxy_next_upstream.retries_status(502) && !c.proxy_next_upstream.timeout, "error bogus"),
    ("proxy-next-upstream-timeout", "10", |c| c.proxy_next_upstream_timeout == secs(10), "ten"),
    ("proxy-next-upstream-tries", "0", |c| c.proxy_next_upstream_tries == 0, ""),
    ("proxy-read-timeout", "120", |c| c.proxy_read_timeout == secs(120), "2m"),
    ("proxy-real-ip-cidr", "10.0.0.0/8, 2001:db8::/32", |c| c.proxy_real_ip_cidr.contains("2001:db8::9".parse().unwrap()) && !c.proxy_real_ip_cidr.contains("11.0.0.1".parse().unwrap()), "10.0.0.0/8,bogus"),
    ("proxy-send-timeout", "90", |c| c.proxy_send_timeout == secs(90), "+90"),
    ("ssl-ciphers", "ECDHE-RSA-AES128-GCM-SHA256", |c| &*c.ssl_ciphers == "ECDHE-RSA-AES128-GCM-SHA256", "DHE-RSA-AES128-GCM-SHA256"),
    ("ssl-protocols", "TLSv1.3", |c| !c.ssl_protocols.tls12 && c.ssl_protocols.tls13, "TLSv1.1"),
    ("ssl-redirect", "false", |c| !c.ssl_redirect, "nope"),
    ("strict-validate-path-type", "false", |c| !c.strict_validate_path_type, "sometimes"),
    ("upstream-keepalive-connections", "16", |c| c.upstream_keepalive_connections == 16, "many"),
    ("upstream-keepalive-requests", "5", |c| c.upstream_keepalive_requests == 5, "-5"),
    ("upstream-keepalive-time", "1h30m", |c| c.upstream_keepalive_time == secs(5400), "1x"),
    ("upstream-keepalive-timeout", "15", |c| c.upstream_keepalive_timeout == secs(15), "15m"),
    ("use-forwarded-headers", "true", |c| c.use_forwarded_headers, "truthy"),
    ("use-proxy-protocol", "true", |c| c.use_proxy_protocol, "proxy"),
    ("whitelist-source-range", "192.168.0.0/16, ::1", |c| c.whitelist_source_range.contains("::1".parse().unwrap()), "bogus"),
];

#[test]
fn the_table_covers_every_supported_key_once() {
    let tested: Vec<&str> = VALID_AND_INVALID.iter().map(|(key, ..)| *key).collect();
    let supported: Vec<&str> = keys::KEYS.iter().map(|spec| spec.key).collect();
    assert!(supported.windows(2).all(|w| w[0] < w[1]), "KEYS sorted");
    // The `global-auth-*` keys are read together (see `global_auth_keys_are_one_policy`).
    let alone: Vec<&str> = supported
        .into_iter()
        .filter(|key| !key.starts_with("global-auth-"))
        .collect();
    assert_eq!(tested, alone);
}

#[test]
fn global_auth_keys_are_one_policy() {
    let (config, diagnostics) = parsed(&[
        ("global-auth-url", "http://auth.auth.svc/check"),
        ("global-auth-method", "POST"),
        ("global-auth-signin", "https://login.example/start"),
        ("global-auth-response-headers", "X-User"),
        ("global-auth-cache-key", "$remote_user"),
        ("global-auth-cache-duration", "200 1m"),
        ("global-auth-always-set-cookie", "true"),
    ]);
    assert_eq!(diagnostics, []);
    let Some(GlobalAuth::Policy(policy)) = &config.global_auth else {
        panic!("{:?}", config.global_auth);
    };
    assert_eq!(policy.method.as_deref(), Some("POST"));
    assert_eq!(policy.response_headers.len(), 1);
    assert!(policy.always_set_cookie);
    assert_eq!(
        policy.cache.as_ref().and_then(|cache| cache.ttl_for(200)),
        Some(secs(60))
    );
    // Companions without the URL: no global authentication.
    let (without_url, diagnostics) = parsed(&[("global-auth-method", "POST")]);
    assert_eq!((without_url.global_auth, diagnostics), (None, vec![]));

    // An invalid key: reported under its own name; the earlier valid set stays...
    let (kept, diagnostics) = config.updated_from(
        &configmap(),
        &data(&[
            ("global-auth-url", "http://auth.auth.svc/check"),
            ("global-auth-method", "get"),
        ]),
    );
    assert_eq!(kept.global_auth, config.global_auth);
    assert!(
        matches!(&diagnostics[..], [Diagnostic::ConfigValueInvalid { key, .. }] if &**key == "global-auth-method"),
        "{diagnostics:?}"
    );
    // ...and without one, eligible paths are denied rather than left unauthenticated.
    let (denied, diagnostics) = parsed(&[("global-auth-url", "ftp://auth/")]);
    assert_eq!(denied.global_auth, Some(GlobalAuth::Invalid));
    assert_eq!(diagnostics.len(), 1);
    // Removing the URL removes global authentication.
    let (removed, _) = config.updated_from(&configmap(), &data(&[]));
    assert_eq!(removed.global_auth, None);
}

#[test]
fn every_valid_value_sets_its_field_and_reports_nothing() {
    for (key, value, check, _) in VALID_AND_INVALID {
        let (config, diagnostics) = parsed(&[(key, value)]);
        assert!(check(&config), "{key}: {value:?} not applied");
        // `allow-snippet-annotations` is false whatever the value: its test value is the default.
        if *key != "allow-snippet-annotations" {
            assert!(
                !check(&GlobalConfig::default()),
                "{key}: the test value is the default"
            );
        }
        assert_eq!(diagnostics, [], "{key}: {value:?}");
    }
}

#[test]
fn every_invalid_value_keeps_the_previous_value_and_is_reported() {
    for (key, valid, check, invalid) in VALID_AND_INVALID {
        let (previous, _) = parsed(&[(key, valid)]);
        let (config, diagnostics) = previous.updated_from(&configmap(), &data(&[(key, invalid)]));
        assert!(
            check(&config),
            "{key}: {invalid:?} lost the previous value {valid:?}"
        );
        assert_eq!(config, previous, "{key}: nothing else changed");
        assert!(
            matches!(&diagnostics[..], [Diagnostic::ConfigValueInvalid { configmap: c, key: k, value: v, .. }]
                if *c == configmap() && &**k == *key && &**v == *invalid),
            "{key}: {diagnostics:?}"
        );
        let shown = diagnostics[0].to_string();
        assert!(shown.contains("ingress-nginx/ingress-nginx-controller") && shown.contains(key));
    }
}

#[test]
fn defaults_are_ingress_nginx_defaults_and_parse_to_default() {
    let (empty, diagnostics) = parsed(&[]);
    assert_eq!(empty.configmap, Some(configmap()));
    assert_eq!(
        GlobalConfig {
            configmap: None,
            ..empty
        },
        GlobalConfig::default()
    );
    assert_eq!(diagnostics, []);
    for spec in keys::KEYS {
        let mut config = GlobalConfig::default();
        assert!(
            (spec.set)(&mut config, spec.default).is_ok(),
            "{}",
            spec.key
        );
        assert_eq!(config, GlobalConfig::default(), "{}: default", spec.key);
    }
    let d = GlobalConfig::default();
    assert_eq!((d.hsts_max_age, d.proxy_body_size), (31_536_000, 1 << 20));
    assert_eq!(d.upstream_keepalive_time, secs(3600));
}

#[test]
fn an_absent_key_returns_to_its_default() {
    let (previous, _) = parsed(&[("hsts-max-age", "100"), ("ssl-redirect", "false")]);
    let (config, _) = previous.updated_from(&configmap(), &data(&[("ssl-redirect", "false")]));
    assert_eq!(config.hsts_max_age, 31_536_000);
    assert!(!config.ssl_redirect);
}

#[test]
fn unknown_and_unimplemented_keys_are_warnings_and_the_rest_applies() {
    let (config, diagnostics) = parsed(&[
        ("hsts-max-age", "5"),
        ("gzip-level", "9"),
        ("hsts-maxage", "5"),
    ]);
    assert_eq!(config.hsts_max_age, 5);
    let reasons: Vec<(String, String)> = diagnostics
        .iter()
        .map(|d| match d {
            Diagnostic::ConfigKeyIgnored { key, reason, .. } => {
                (key.to_string(), reason.to_string())
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        reasons,
        [
            (
                "gzip-level".to_owned(),
                "documented by ingress-nginx, not implemented by this engine".to_owned()
            ),
            (
                "hsts-maxage".to_owned(),
                "not a key ingress-nginx documents".to_owned()
            ),
        ]
    );
    assert_eq!(diagnostics[0].reason(), "ConfigKeyIgnored");
}

#[test]
fn snippets_are_never_allowed() {
    let (config, diagnostics) = parsed(&[("allow-snippet-annotations", "true")]);
    assert!(!config.allow_snippet_annotations);
    assert!(
        matches!(&diagnostics[..], [Diagnostic::ConfigValueAdjusted { key, .. }] if &**key == "allow-snippet-annotations")
    );
}

#[test]
fn tls_values_rustls_cannot_offer_are_dropped_with_a_warning() {
    let (config, diagnostics) = parsed(&[
        ("ssl-protocols", "TLSv1 TLSv1.2"),
        ("ssl-ciphers", DEFAULT_SSL_CIPHERS),
    ]);
    assert_eq!(
        config.ssl_protocols,
        TlsProtocols {
            tls12: true,
            tls13: false
        }
    );
    assert_eq!(diagnostics.len(), 2);
    let shown: Vec<String> = diagnostics.iter().map(ToString::to_string).collect();
    assert!(shown[0].contains("DHE-RSA-AES256-GCM-SHA384"), "{shown:?}");
    assert!(
        shown[1].contains("TLSv1:") || shown[1].contains("TLSv1 "),
        "{shown:?}"
    );
}

#[test]
fn catalogue_is_sorted_and_disjoint_from_supported_keys() {
    assert!(catalogue::DOCUMENTED.windows(2).all(|w| w[0] < w[1]));
    assert!(keys::KEYS.iter().all(|s| !catalogue::is_documented(s.key)));
}

#[test]
fn nginx_times_and_sizes_use_checked_arithmetic() {
    assert_eq!(values::nginx_time("90"), Ok(secs(90)));
    assert_eq!(values::nginx_time("500ms"), Ok(Duration::from_millis(500)));
    assert!(values::nginx_time("99999999999999y").is_err());
    assert!(values::nginx_time("h").is_err());
    assert_eq!(values::size("0"), Ok(0));
    assert_eq!(values::size("1G"), Ok(1 << 30));
    assert!(values::size("99999999999999999g").is_err());
    assert!(values::size("k").is_err());
}

#[test]
fn a_bad_edit_keeps_previous_values_through_the_writer_and_a_replace() {
    let (mut writer, reader) = crate::table(TableConfig::default());
    let upsert = |pairs: &[(&str, &str)]| Change::UpsertGlobalConfig {
        source: configmap(),
        data: data(pairs),
    };
    writer.apply(upsert(&[("hsts-max-age", "100")]));
    writer.commit();
    assert_eq!(reader.load().global_config().hsts_max_age, 100);

    writer.apply(upsert(&[("hsts-max-age", "soon")]));
    writer.commit();
    let table = reader.load();
    assert_eq!(table.global_config().hsts_max_age, 100);
    assert!(matches!(
        table.diagnostics(),
        [Diagnostic::ConfigValueInvalid { .. }]
    ));

    // A whole-state replacement (a re-read manifest directory) parses its own copy from the
    // defaults; the writer re-parses it on top of what is in force.
    let mut state = ClusterState::default();
    state.apply(upsert(&[("hsts-max-age", "later")]));
    assert_eq!(state.global_config.config().hsts_max_age, 31_536_000);
    writer.replace(state);
    writer.commit();
    assert_eq!(reader.load().global_config().hsts_max_age, 100);

    writer.apply(Change::DeleteGlobalConfig);
    writer.commit();
    assert_eq!(**reader.load().global_config(), GlobalConfig::default());
    assert_eq!(reader.load().diagnostics(), []);
}

#[test]
fn an_unchanged_configmap_does_not_rebuild() {
    let mut state = ClusterState::default();
    let change = Change::UpsertGlobalConfig {
        source: configmap(),
        data: data(&[("hsts", "false")]),
    };
    state.apply(change.clone());
    let before = state.global_config.clone();
    let mut touched = crate::state::Touched::default();
    state.apply_tracking(change, &mut touched);
    assert!(!touched.routes);
    assert_eq!(state.global_config, before);
    let table = RouteTable::build(&state, &TableConfig::default());
    assert!(!table.global_config().hsts);
}

#[test]
fn global_ssl_redirect_keys_are_the_policy_defaults() {
    let policy = crate::annotations::RoutePolicy::default();
    let (off, _) = parsed(&[("ssl-redirect", "false")]);
    let (forced, _) = parsed(&[("force-ssl-redirect", "true")]);
    assert!(policy.redirects_to_https(true, &GlobalConfig::default()));
    assert!(!policy.redirects_to_https(true, &off));
    assert!(policy.redirects_to_https(false, &forced));
    let annotated = crate::annotations::RoutePolicy {
        ssl_redirect: Some(true),
        ..Default::default()
    };
    assert!(
        annotated.redirects_to_https(true, &off),
        "the annotation wins"
    );
}

mod properties {
    use proptest::prelude::*;

    use super::*;

    /// Keys drawn from the supported ones, a documented one and a typo; values from valid
    /// and invalid shapes, and arbitrary text.
    fn entry() -> impl Strategy<Value = (String, String)> {
        let key = prop_oneof![
            proptest::sample::select(keys::KEYS.iter().map(|s| s.key).collect::<Vec<_>>())
                .prop_map(str::to_owned),
            Just("gzip-level".to_owned()),
            "[a-z-]{1,20}",
        ];
        let value = prop_oneof![
            proptest::sample::select(
                VALID_AND_INVALID
                    .iter()
                    .flat_map(|row| [row.1, row.3])
                    .collect::<Vec<_>>()
            )
            .prop_map(str::to_owned),
            ".{0,40}",
        ];
        (key, value)
    }

    proptest! {
        /// Any ConfigMap: no panic, one diagnostic at most per key, the same answer when
        /// applied again, and every key the diagnostics call invalid keeps the previous
        /// configuration's value.
        #[test]
        fn any_configmap_parses_and_invalid_keys_keep_previous_values(
            first in proptest::collection::btree_map("[a-z-]{1,30}", ".{0,20}", 0..4),
            second in proptest::collection::vec(entry(), 0..12),
        ) {
            let (previous, _) = GlobalConfig::default().updated_from(&configmap(), &first);
            let second: BTreeMap<String, String> = second.into_iter().collect();
            let (next, diagnostics) = previous.updated_from(&configmap(), &second);
            prop_assert!(diagnostics.len() <= second.len());
            // Applying the same ConfigMap again (a relist) changes nothing.
            prop_assert_eq!(next.updated_from(&configmap(), &second), (next.clone(), diagnostics.clone()));
            for diagnostic in &diagnostics {
                if let Diagnostic::ConfigValueInvalid { key, .. } = diagnostic {
                    let row = VALID_AND_INVALID.iter().find(|row| row.0 == &**key);
                    if let Some((_, _, check, _)) = row {
                        prop_assert_eq!(check(&next), check(&previous), "{}", key);
                    }
                }
            }
        }
    }
}
