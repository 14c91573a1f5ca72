use super::*;
use crate::annotations::{LoadBalance, PREFIX};

fn parse(pairs: &[(&str, &str)]) -> (RoutePolicy, Vec<InvalidAnnotation>) {
    let annotations = pairs
        .iter()
        .map(|(k, v)| (format!("{PREFIX}{k}"), (*v).to_owned()))
        .collect();
    RoutePolicy::parse(&annotations)
}

fn valid(pairs: &[(&str, &str)]) -> RoutePolicy {
    let (policy, invalid) = parse(pairs);
    assert!(invalid.is_empty(), "{pairs:?}: {invalid:?}");
    assert_eq!(policy.denied, None);
    policy
}

/// (annotations, host has tls, redirected)
type RedirectCase<'a> = (&'a [(&'a str, &'a str)], bool, bool);

#[test]
fn ssl_redirect_table() {
    let table: &[RedirectCase<'_>] = &[
        (&[], true, true),
        (&[], false, false),
        (&[("ssl-redirect", "false")], true, false),
        (&[("ssl-redirect", "False")], true, false),
        (&[("ssl-redirect", "true")], false, false),
        (&[("force-ssl-redirect", "true")], false, true),
        (
            &[("force-ssl-redirect", "true"), ("ssl-redirect", "false")],
            true,
            true,
        ),
    ];
    for (pairs, tls, expected) in table {
        assert_eq!(
            valid(pairs).redirects_to_https(*tls, &crate::GlobalConfig::default()),
            *expected,
            "{pairs:?} tls={tls}"
        );
    }
}

/// An Ingress's `force-ssl-redirect: "false"` turns a global `"true"` off for its paths;
/// without the annotation the global key applies.
#[test]
fn force_ssl_redirect_false_overrides_a_global_true() {
    let global = crate::GlobalConfig {
        force_ssl_redirect: true,
        ..crate::GlobalConfig::default()
    };
    assert!(valid(&[]).redirects_to_https(false, &global));
    assert!(!valid(&[("force-ssl-redirect", "false")]).redirects_to_https(false, &global));
}

#[test]
fn an_invalid_value_denies_with_the_annotation_named() {
    let (policy, invalid) = parse(&[("ssl-redirect", "yes")]);
    assert_eq!(invalid.len(), 1);
    assert_eq!(invalid[0].annotation, format!("{PREFIX}ssl-redirect"));
    let denied = policy.denied.expect("denied");
    assert!(
        denied.contains("ssl-redirect") && denied.contains("\"yes\""),
        "{denied}"
    );
}

/// Every supported annotation: a valid value and what it becomes, and an invalid one that
/// denies the Ingress's paths with the annotation named.
#[test]
fn every_supported_annotation_parses_its_syntax_and_refuses_anything_else() {
    type Check = fn(&RoutePolicy) -> bool;
    let table: &[(&str, &str, Check, &str)] = &[
        (
            "use-regex",
            "true",
            |p| p.use_regex && p.enforces_regex(),
            "on",
        ),
        (
            "rewrite-target",
            "/$2",
            |p| p.rewrite_target.as_deref() == Some("/$2") && p.enforces_regex(),
            "/a b",
        ),
        (
            "app-root",
            "/app1",
            |p| p.app_root.as_deref() == Some("/app1"),
            "/a?b",
        ),
        (
            "x-forwarded-prefix",
            "/api",
            |p| p.x_forwarded_prefix.as_deref() == Some("/api"),
            "/a\"b",
        ),
        (
            "proxy-body-size",
            "8m",
            |p| p.proxy_body_size == Some(8 << 20),
            "8 MB",
        ),
        (
            "proxy-body-size",
            "0",
            |p| p.proxy_body_size == Some(0),
            "-1",
        ),
        (
            "proxy-connect-timeout",
            "15",
            |p| p.connect_timeout == Some(Duration::from_secs(15)),
            "15s",
        ),
        (
            "proxy-read-timeout",
            "3600",
            |p| p.read_timeout == Some(Duration::from_secs(3600)),
            "1h",
        ),
        (
            "allowlist-source-range",
            "10.0.0.0/8, 192.168.1.1",
            |p| {
                p.allow_source_range
                    .as_ref()
                    .is_some_and(|l| l.contains("192.168.1.1".parse().unwrap()))
            },
            "10.0.0.0/8,nope",
        ),
        (
            "whitelist-source-range",
            "2001:db8::/32",
            |p| {
                p.allow_source_range
                    .as_ref()
                    .is_some_and(|l| l.contains("2001:db8::5".parse().unwrap()))
            },
            "2001:db8::/129",
        ),
        (
            "denylist-source-range",
            "203.0.113.0/24",
            |p| {
                p.deny_source_range
                    .as_ref()
                    .is_some_and(|l| l.contains("203.0.113.9".parse().unwrap()))
            },
            "203.0.113.0/24;10.0.0.0/8",
        ),
        (
            "proxy-send-timeout",
            "120",
            |p| p.send_timeout == Some(Duration::from_secs(120)),
            "2m",
        ),
        (
            "upstream-vhost",
            "internal.example:8080",
            |p| p.upstream_vhost.as_deref() == Some("internal.example:8080"),
            "a b",
        ),
        (
            "backend-protocol",
            "GRPC",
            |p| p.backend_protocol == Some(BackendProtocol::Grpc),
            "FCGI",
        ),
        (
            "backend-protocol",
            "https",
            |p| p.backend_protocol == Some(BackendProtocol::Https),
            "h3",
        ),
        (
            "backend-protocol",
            "AUTO_HTTP",
            |p| p.backend_protocol == Some(BackendProtocol::AutoHttp),
            "",
        ),
        (
            "permanent-redirect",
            "https://www.google.com",
            |p| {
                p.redirect
                    == Some(Redirect {
                        location: "https://www.google.com".into(),
                        code: 301,
                    })
            },
            "ftp://x",
        ),
        (
            "temporal-redirect",
            "http://a.example/b?c=d",
            |p| {
                p.redirect
                    == Some(Redirect {
                        location: "http://a.example/b?c=d".into(),
                        code: 302,
                    })
            },
            "https://a b",
        ),
        (
            "preserve-trailing-slash",
            "true",
            |p| p.denied.is_none(),
            "maybe",
        ),
        (
            "force-ssl-redirect",
            "1",
            |p| p.force_ssl_redirect == Some(true),
            "2",
        ),
        (
            "affinity",
            "cookie",
            |p| {
                p.balance
                    .affinity
                    .as_ref()
                    .is_some_and(|a| &*a.name == "INGRESSCOOKIE")
            },
            "ip",
        ),
        (
            "affinity-mode",
            "persistent",
            |p| p.balance.affinity.is_none(),
            "sticky",
        ),
        (
            "session-cookie-samesite",
            "Strict",
            |p| p.denied.is_none(),
            "Sometimes",
        ),
        (
            "session-cookie-max-age",
            "172800",
            |p| p.denied.is_none(),
            "2d",
        ),
        (
            "session-cookie-name",
            "route",
            |p| p.denied.is_none(),
            "a b",
        ),
        (
            "upstream-hash-by",
            "$request_uri",
            |p| p.balance.hash_by.is_some(),
            "$nope",
        ),
        (
            "load-balance",
            "ewma",
            |p| p.balance.load_balance == Some(LoadBalance::Ewma),
            "random",
        ),
    ];
    for (name, good, check, bad) in table {
        let policy = valid(&[(name, good)]);
        assert!(check(&policy), "{name}: {good} gave {policy:?}");
        let (policy, invalid) = parse(&[(name, bad)]);
        assert_eq!(invalid.len(), 1, "{name}: {bad}");
        assert_eq!(invalid[0].annotation, format!("{PREFIX}{name}"));
        assert!(policy.denied.is_some_and(|d| d.contains(name)), "{name}");
    }
    let mut supported = SUPPORTED.to_vec();
    supported.sort_unstable();
    assert_eq!(supported, SUPPORTED, "sorted");
}

#[test]
fn redirect_codes_and_precedence_follow_ingress_nginx() {
    type Case<'a> = (&'a [(&'a str, &'a str)], Option<u16>);
    let cases: &[Case<'_>] = &[
        (&[("permanent-redirect", "https://a.example")], Some(301)),
        (
            &[
                ("permanent-redirect", "https://a.example"),
                ("permanent-redirect-code", "308"),
            ],
            Some(308),
        ),
        // Out of range: the default, as ingress-nginx does.
        (
            &[
                ("permanent-redirect", "https://a.example"),
                ("permanent-redirect-code", "200"),
            ],
            Some(301),
        ),
        (
            &[
                ("temporal-redirect", "https://a.example"),
                ("temporal-redirect-code", "307"),
            ],
            Some(307),
        ),
        (
            &[
                ("temporal-redirect", "https://a.example"),
                ("temporal-redirect-code", "308"),
            ],
            Some(302),
        ),
        // Temporal wins.
        (
            &[
                ("temporal-redirect", "https://t.example"),
                ("permanent-redirect", "https://p.example"),
            ],
            Some(302),
        ),
        (&[("permanent-redirect-code", "308")], None),
    ];
    for (pairs, code) in cases {
        assert_eq!(valid(pairs).redirect.map(|r| r.code), *code, "{pairs:?}");
    }
    let (_, invalid) = parse(&[
        ("permanent-redirect", "https://a.example"),
        ("permanent-redirect-code", "x"),
    ]);
    assert_eq!(invalid.len(), 1);
}

#[test]
fn limit_annotations_parse_with_ingress_nginx_defaults() {
    assert_eq!(valid(&[]).limits, None);
    assert_eq!(
        valid(&[("limit-rps", "0"), ("limit-connections", "-3")]).limits,
        None,
        "0 and negative values limit nothing"
    );
    let policy = valid(&[("limit-rps", "10"), ("limit-whitelist", "10.0.0.0/8, ::1")]);
    let limits = policy.limits.expect("limits");
    let rps = limits.rps.expect("limit-rps");
    assert_eq!(
        (rps.limit(), rps.burst()),
        (10, 50),
        "multiplier 5 by default"
    );
    assert_eq!((limits.rpm, limits.connections), (None, None));
    assert!(!limits.applies_to("10.1.1.1".parse().expect("ip")));
    assert!(limits.applies_to("192.0.2.1".parse().expect("ip")));

    let limits = valid(&[
        ("limit-rpm", "30"),
        ("limit-burst-multiplier", "2"),
        ("limit-connections", "4"),
        ("limit-allowlist", "192.0.2.0/24"),
    ])
    .limits
    .expect("limits");
    assert_eq!(limits.rpm.map(|r| r.burst()), Some(60));
    assert_eq!(limits.connections, Some(4));
    assert!(!limits.applies_to("192.0.2.9".parse().expect("ip")));

    for (key, value) in [
        ("limit-rps", "ten"),
        ("limit-burst-multiplier", "1.5"),
        ("limit-whitelist", "10.0.0.0/33"),
    ] {
        let (policy, invalid) = parse(&[("limit-rpm", "1"), (key, value)]);
        assert_eq!(invalid.len(), 1, "{key}: {invalid:?}");
        assert!(invalid[0].annotation.ends_with(key));
        assert!(
            policy.denied.is_some(),
            "{key}: the Ingress's paths answer 503"
        );
    }
}
