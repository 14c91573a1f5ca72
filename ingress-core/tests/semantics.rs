//! One test per line of SEMANTICS.md: each names the behaviour it pins and which rule won.

use ingress_core::{
    ClassSelection, ClusterState, Diagnostic, Endpoint, EndpointPort, EndpointSlice, Endpoints,
    Ingress, MatchSource, ObjectMeta, PathType, PortRef, RouteTable, Service, ServiceBackend,
    ServicePort, ServiceRef, ServiceType, TableConfig, Target, TlsSecret, Unavailable,
};

const CLASS: &str = ClassSelection::DEFAULT_CLASS;

fn ing(name: &str, age: i64) -> Ingress {
    Ingress::new("default", name, Some(age)).with_class(CLASS)
}

fn svc(name: &str) -> ServiceBackend {
    ServiceBackend::number(name, 80)
}

fn build(ingresses: Vec<Ingress>) -> RouteTable {
    let mut state = ClusterState::default();
    for i in ingresses {
        state.ingresses.insert(i.meta.key(), i);
    }
    RouteTable::build(&state, &TableConfig::default())
}

/// `(service name, rule path)` of the winner, or `None` for no path match.
fn winner(table: &RouteTable, host: Option<&str>, path: &str) -> Option<(String, String)> {
    let route = table.route(host, path);
    let rule = route.rule?;
    let Target::Service(backend) = route.target else {
        return None;
    };
    Some((backend.service().name.to_string(), rule.path.to_string()))
}

fn service_of(table: &RouteTable, host: Option<&str>, path: &str) -> Option<String> {
    match table.route(host, path).target {
        Target::Service(b) => Some(b.service().name.to_string()),
        _ => None,
    }
}

/// The Kubernetes documentation's table (SEMANTICS §2), row by row.
#[test]
fn documentation_path_table() {
    use PathType::{Exact, Prefix};
    type Row = (
        &'static [(PathType, &'static str)],
        &'static [&'static str],
        Option<&'static str>,
    );
    let rows: &[Row] = &[
        (&[(Prefix, "/")], &["/", "/anything", "/a/b/c"], Some("/")),
        (&[(Exact, "/foo")], &["/foo"], Some("/foo")),
        (&[(Exact, "/foo")], &["/bar", "/foo/"], None),
        (&[(Exact, "/foo/")], &["/foo"], None),
        (&[(Prefix, "/foo")], &["/foo", "/foo/"], Some("/foo")),
        (&[(Prefix, "/foo/")], &["/foo", "/foo/"], Some("/foo/")),
        (&[(Prefix, "/aaa/bb")], &["/aaa/bbb"], None),
        (
            &[(Prefix, "/aaa/bbb")],
            &["/aaa/bbb", "/aaa/bbb/", "/aaa/bbb/ccc"],
            Some("/aaa/bbb"),
        ),
        (&[(Prefix, "/aaa/bbb/")], &["/aaa/bbb"], Some("/aaa/bbb/")),
        (&[(Prefix, "/aaa/bbb")], &["/aaa/bbbxyz"], None),
        (
            &[(Prefix, "/"), (Prefix, "/aaa")],
            &["/aaa/ccc"],
            Some("/aaa"),
        ),
        (
            &[(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")],
            &["/aaa/bbb"],
            Some("/aaa/bbb"),
        ),
        (
            &[(Prefix, "/"), (Prefix, "/aaa"), (Prefix, "/aaa/bbb")],
            &["/ccc"],
            Some("/"),
        ),
        (&[(Prefix, "/aaa")], &["/ccc"], None),
    ];
    for (rules, requests, expected) in rules_iter(rows) {
        let mut ingress = ing("table", 1);
        for (t, p) in rules {
            ingress = ingress.with_path(Some("foo.com"), *t, p, svc("web"));
        }
        let table = build(vec![ingress]);
        for request in requests {
            let got = winner(&table, Some("foo.com"), request).map(|(_, p)| p);
            assert_eq!(
                got.as_deref(),
                expected,
                "rules {rules:?} request {request}"
            );
        }
    }
}

fn rules_iter<'a, T: Copy>(rows: &'a [T]) -> impl Iterator<Item = T> + 'a {
    rows.iter().copied()
}

#[test]
fn mixed_exact_beats_prefix_of_same_path() {
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("foo.com"), PathType::Prefix, "/foo", svc("prefix"))
            .with_path(Some("foo.com"), PathType::Exact, "/foo", svc("exact")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/foo").as_deref(),
        Some("exact")
    );
    assert_eq!(
        service_of(&table, Some("foo.com"), "/foo/x").as_deref(),
        Some("prefix")
    );
}

#[test]
fn longer_raw_prefix_beats_shorter_at_equal_length() {
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("foo.com"), PathType::Prefix, "/foo", svc("short"))
            .with_path(Some("foo.com"), PathType::Prefix, "/foo/", svc("long")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/foo").as_deref(),
        Some("long")
    );
}

#[test]
fn longest_path_wins_across_ingresses_regardless_of_age() {
    let table = build(vec![
        ing("old", 1).with_path(Some("foo.com"), PathType::Prefix, "/", svc("root")),
        ing("new", 2).with_path(Some("foo.com"), PathType::Prefix, "/api", svc("api")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/api/v1").as_deref(),
        Some("api")
    );
    assert_eq!(
        service_of(&table, Some("foo.com"), "/web").as_deref(),
        Some("root")
    );
}

#[test]
fn implementation_specific_is_prefix_and_may_omit_path() {
    let mut ingress = ing("a", 1).with_path(
        Some("foo.com"),
        PathType::ImplementationSpecific,
        "/docs",
        svc("docs"),
    );
    ingress = ingress.with_path(
        Some("bar.com"),
        PathType::ImplementationSpecific,
        "/",
        svc("all"),
    );
    ingress.spec.rules[1].paths[0].path = None;
    let table = build(vec![ingress]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/docs/x").as_deref(),
        Some("docs")
    );
    assert_eq!(service_of(&table, Some("foo.com"), "/docsx"), None);
    assert_eq!(
        service_of(&table, Some("bar.com"), "/any/thing").as_deref(),
        Some("all")
    );
}

#[test]
fn host_is_normalised_and_query_ignored() {
    let table = build(vec![ing("a", 1).with_path(
        Some("foo.com"),
        PathType::Exact,
        "/x",
        svc("web"),
    )]);
    for host in [
        "foo.com",
        "FOO.com",
        "foo.com:8080",
        "foo.com.",
        "Foo.Com.:443",
    ] {
        assert_eq!(
            service_of(&table, Some(host), "/x?y=1").as_deref(),
            Some("web"),
            "{host}"
        );
    }
}

#[test]
fn path_is_normalised_for_matching_but_case_sensitive() {
    let table = build(vec![ing("a", 1).with_path(
        Some("foo.com"),
        PathType::Prefix,
        "/api",
        svc("api"),
    )]);
    for path in [
        "/api",
        "//api",
        "/x/../api/v1",
        "/./api",
        "/%61pi",
        "/api/./v1",
    ] {
        assert_eq!(
            service_of(&table, Some("foo.com"), path).as_deref(),
            Some("api"),
            "{path}"
        );
    }
    for path in ["/API", "/api%2Fv1", "/ap%69x"] {
        assert_eq!(service_of(&table, Some("foo.com"), path), None, "{path}");
    }
}

#[test]
fn encoded_slash_never_makes_a_segment_boundary() {
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("foo.com"), PathType::Prefix, "/a", svc("a"))
            .with_path(Some("foo.com"), PathType::Prefix, "/a/b", svc("ab")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/a%2Fb").as_deref(),
        None
    );
    assert_eq!(
        service_of(&table, Some("foo.com"), "/a/b%2Fc").as_deref(),
        Some("a"),
        "not /a/b"
    );
    assert_eq!(
        service_of(&table, Some("foo.com"), "/a/b").as_deref(),
        Some("ab")
    );
}

#[test]
fn exact_host_beats_wildcard_which_beats_hostless() {
    let table = build(vec![
        ing("a", 1).with_path(Some("*.foo.com"), PathType::Prefix, "/", svc("wild")),
        ing("b", 2).with_path(Some("x.foo.com"), PathType::Prefix, "/", svc("exact")),
        ing("c", 3).with_path(None, PathType::Prefix, "/", svc("hostless")),
    ]);
    assert_eq!(
        service_of(&table, Some("x.foo.com"), "/").as_deref(),
        Some("exact")
    );
    assert_eq!(
        service_of(&table, Some("y.foo.com"), "/").as_deref(),
        Some("wild")
    );
    assert_eq!(
        service_of(&table, Some("foo.com"), "/").as_deref(),
        Some("hostless")
    );
    assert_eq!(
        service_of(&table, Some("z.y.foo.com"), "/").as_deref(),
        Some("hostless")
    );
    assert_eq!(
        service_of(&table, Some("10.0.0.1"), "/").as_deref(),
        Some("hostless")
    );
    assert_eq!(service_of(&table, None, "/").as_deref(), Some("hostless"));
}

#[test]
fn matched_host_without_matching_path_does_not_fall_through() {
    let table = build(vec![
        ing("a", 1).with_path(Some("x.foo.com"), PathType::Prefix, "/api", svc("exact")),
        ing("b", 2).with_path(Some("*.foo.com"), PathType::Prefix, "/", svc("wild")),
        ing("c", 3).with_path(None, PathType::Prefix, "/", svc("hostless")),
    ]);
    let route = table.route(Some("x.foo.com"), "/web");
    assert!(matches!(route.target, Target::NotFound));
    assert_eq!(route.source, MatchSource::ControllerDefault);
}

#[test]
fn unmatched_path_uses_oldest_host_default_backend_then_global() {
    let table = build(vec![
        ing("global", 1).with_default_backend(svc("global-default")),
        ing("old", 2)
            .with_path(Some("foo.com"), PathType::Exact, "/a", svc("a"))
            .with_default_backend(svc("old-default")),
        ing("new", 3)
            .with_path(Some("foo.com"), PathType::Exact, "/b", svc("b"))
            .with_default_backend(svc("new-default")),
        ing("other", 4).with_path(Some("bar.com"), PathType::Exact, "/c", svc("c")),
    ]);
    let route = table.route(Some("foo.com"), "/zzz");
    assert_eq!(route.source, MatchSource::HostDefaultBackend);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/zzz").as_deref(),
        Some("old-default")
    );
    let route = table.route(Some("bar.com"), "/zzz");
    assert_eq!(route.source, MatchSource::GlobalDefaultBackend);
    assert_eq!(
        service_of(&table, Some("unknown.com"), "/").as_deref(),
        Some("global-default")
    );
    assert!(table.diagnostics().iter().any(|d| matches!(d,
        Diagnostic::DefaultBackendConflict { loser, host: Some(h), .. } if &*loser.name == "new" && &**h == "foo.com")));
}

#[test]
fn controller_default_backend_when_no_ingress_sets_one() {
    let table = build(vec![ing("a", 1).with_path(
        Some("foo.com"),
        PathType::Exact,
        "/",
        svc("a"),
    )]);
    let route = table.route(Some("nope.com"), "/");
    assert!(matches!(route.target, Target::NotFound));
    assert_eq!(route.source, MatchSource::ControllerDefault);

    let config = TableConfig {
        default_backend: Some(ServiceRef {
            namespace: "kube-system".into(),
            name: "fallback".into(),
            port: PortRef::Number(8080),
        }),
        ..TableConfig::default()
    };
    let table = RouteTable::build(&ClusterState::default(), &config);
    assert_eq!(
        service_of(&table, Some("nope.com"), "/").as_deref(),
        Some("fallback")
    );
}

#[test]
fn same_host_path_and_type_older_ingress_wins_and_loser_is_reported() {
    let table = build(vec![
        ing("newer", 20).with_path(Some("foo.com"), PathType::Prefix, "/", svc("newer")),
        ing("older", 10).with_path(Some("foo.com"), PathType::Prefix, "/", svc("older")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/").as_deref(),
        Some("older")
    );
    assert_eq!(table.diagnostics().len(), 1);
    let d = &table.diagnostics()[0];
    assert_eq!(d.reason(), "RuleConflict");
    assert_eq!(&*d.object().name, "newer");
    assert!(d.to_string().contains("default/older"), "{d}");
}

#[test]
fn equal_age_conflict_goes_to_smaller_namespace_name() {
    let table = build(vec![
        ing("b", 5).with_path(Some("foo.com"), PathType::Exact, "/", svc("b")),
        ing("a", 5).with_path(Some("foo.com"), PathType::Exact, "/", svc("a")),
    ]);
    assert_eq!(
        service_of(&table, Some("foo.com"), "/").as_deref(),
        Some("a")
    );
}

#[test]
fn invalid_ingress_is_rejected_alone_and_the_rest_keep_serving() {
    let table = build(vec![
        ing("good", 1).with_path(Some("good.com"), PathType::Prefix, "/", svc("good")),
        ing("bad", 2)
            .with_path(Some("bad.com"), PathType::Prefix, "/", svc("bad"))
            .with_path(Some("bad.com"), PathType::Exact, "/a//b", svc("bad")),
        ing("also-good", 3).with_path(Some("bad.com"), PathType::Prefix, "/x", svc("fine")),
    ]);
    assert_eq!(
        service_of(&table, Some("good.com"), "/").as_deref(),
        Some("good")
    );
    assert_eq!(
        service_of(&table, Some("bad.com"), "/x").as_deref(),
        Some("fine")
    );
    assert_eq!(
        service_of(&table, Some("bad.com"), "/"),
        None,
        "the invalid Ingress serves nothing"
    );
    assert_eq!(table.diagnostics().len(), 1);
    assert_eq!(
        table.diagnostics()[0].to_string(),
        "Ingress default/bad: spec.rules[1].http.paths[0].path: \"/a//b\" must not contain \"//\""
    );
    assert_eq!(table.accepted_ingresses().len(), 2);
}

#[test]
fn other_classes_are_ignored_and_default_class_takes_classless() {
    let mut state = ClusterState::default();
    for i in [
        Ingress::new("default", "nginx", Some(1))
            .with_class("nginx")
            .with_path(Some("a.com"), PathType::Prefix, "/", svc("nginx")),
        Ingress::new("default", "none", Some(2)).with_path(
            Some("b.com"),
            PathType::Prefix,
            "/",
            svc("none"),
        ),
    ] {
        state.ingresses.insert(i.meta.key(), i);
    }
    let mut legacy = Ingress::new("default", "legacy", Some(3)).with_path(
        Some("c.com"),
        PathType::Prefix,
        "/",
        svc("legacy"),
    );
    legacy
        .meta
        .annotations
        .insert(Ingress::LEGACY_CLASS_ANNOTATION.into(), CLASS.into());
    state.ingresses.insert(legacy.meta.key(), legacy);
    let table = RouteTable::build(&state, &TableConfig::default());
    assert_eq!(service_of(&table, Some("a.com"), "/"), None);
    assert_eq!(service_of(&table, Some("b.com"), "/"), None);
    assert_eq!(
        service_of(&table, Some("c.com"), "/").as_deref(),
        Some("legacy")
    );

    let mut class = ingress_core::IngressClass {
        meta: ObjectMeta::new("", "mine", None),
        controller: ClassSelection::DEFAULT_CONTROLLER.into(),
    };
    class.meta.annotations.insert(
        ingress_core::IngressClass::DEFAULT_CLASS_ANNOTATION.into(),
        "true".into(),
    );
    state.ingress_classes.insert(class.meta.key(), class);
    let table = RouteTable::build(&state, &TableConfig::default());
    assert_eq!(
        service_of(&table, Some("b.com"), "/").as_deref(),
        Some("none")
    );
}

fn service(name: &str, ports: &[(&str, i32)]) -> Service {
    Service {
        meta: ObjectMeta::new("default", name, Some(1)),
        service_type: ServiceType::ClusterIp,
        ports: ports
            .iter()
            .map(|(n, p)| ServicePort {
                name: Some((*n).into()),
                port: *p,
            })
            .collect(),
    }
}

fn slice(
    name: &str,
    service: &str,
    port: (&str, i32),
    endpoints: &[(&str, Option<bool>)],
) -> EndpointSlice {
    EndpointSlice {
        meta: ObjectMeta::new("default", name, Some(1)),
        service_name: service.into(),
        ports: vec![EndpointPort {
            name: Some(port.0.into()),
            port: Some(port.1),
        }],
        endpoints: endpoints
            .iter()
            .map(|(a, ready)| Endpoint {
                addresses: vec![(*a).into()],
                ready: *ready,
            })
            .collect(),
    }
}

fn endpoints_of(table: &RouteTable, host: &str) -> Endpoints {
    match table.route(Some(host), "/").target {
        Target::Service(b) => (*b.endpoints()).clone(),
        other => panic!("not a service: {other:?}"),
    }
}

#[test]
fn backends_resolve_named_ports_and_merge_ready_endpoints_of_all_slices() {
    let mut state = ClusterState::default();
    let i = ing("tomcat", 1)
        .with_path(
            Some("tomcat.lucky.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::number("tomcat", 8080),
        )
        .with_path(
            Some("ajp.lucky.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::named("tomcat", "ajp"),
        )
        .with_path(
            Some("missing-port.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::number("tomcat", 9),
        )
        .with_path(Some("missing-svc.com"), PathType::Prefix, "/", svc("ghost"));
    state.ingresses.insert(i.meta.key(), i);
    let s = service("tomcat", &[("http", 8080), ("ajp", 8009)]);
    state.services.insert(s.meta.key(), s);
    for sl in [
        slice(
            "tomcat-1",
            "tomcat",
            ("http", 8080),
            &[
                ("10.0.0.1", Some(true)),
                ("10.0.0.2", None),
                ("10.0.0.3", Some(false)),
            ],
        ),
        slice(
            "tomcat-2",
            "tomcat",
            ("http", 9090),
            &[("10.0.0.4", Some(true)), ("10.0.0.1", Some(true))],
        ),
        slice(
            "tomcat-3",
            "tomcat",
            ("ajp", 8009),
            &[("10.0.0.1", Some(true))],
        ),
    ] {
        state.endpoint_slices.insert(sl.meta.key(), sl);
    }
    let table = RouteTable::build(&state, &TableConfig::default());
    let expected: Vec<std::net::SocketAddr> = [
        "10.0.0.1:8080",
        "10.0.0.1:9090",
        "10.0.0.2:8080",
        "10.0.0.4:9090",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    assert_eq!(
        endpoints_of(&table, "tomcat.lucky.com"),
        Endpoints::Ready(expected.into())
    );
    assert_eq!(
        endpoints_of(&table, "ajp.lucky.com"),
        Endpoints::Ready(vec!["10.0.0.1:8009".parse().unwrap()].into())
    );
    assert_eq!(
        endpoints_of(&table, "missing-port.com"),
        Endpoints::Unavailable(Unavailable::ServicePortMissing)
    );
    assert_eq!(
        endpoints_of(&table, "missing-svc.com"),
        Endpoints::Unavailable(Unavailable::ServiceMissing)
    );
}

#[test]
fn external_name_and_all_unready_endpoints() {
    let mut state = ClusterState::default();
    let i = ing("a", 1)
        .with_path(Some("ext.com"), PathType::Prefix, "/", svc("ext"))
        .with_path(
            Some("down.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::named("down", "http"),
        );
    state.ingresses.insert(i.meta.key(), i);
    let mut ext = service("ext", &[("http", 80)]);
    ext.service_type = ServiceType::ExternalName("api.example.org".into());
    state.services.insert(ext.meta.key(), ext);
    let down = service("down", &[("http", 80)]);
    state.services.insert(down.meta.key(), down);
    let sl = slice("down-1", "down", ("http", 80), &[("10.0.0.9", Some(false))]);
    state.endpoint_slices.insert(sl.meta.key(), sl);
    let table = RouteTable::build(&state, &TableConfig::default());
    assert_eq!(
        endpoints_of(&table, "ext.com"),
        Endpoints::External {
            host: "api.example.org".into(),
            port: 80
        }
    );
    assert_eq!(
        endpoints_of(&table, "down.com"),
        Endpoints::Unavailable(Unavailable::NoReadyEndpoints)
    );
}

fn secret(name: &str) -> TlsSecret {
    TlsSecret {
        meta: ObjectMeta::new("default", name, Some(1)),
        certificate_chain_pem: format!("cert of {name}").into_bytes().into(),
        private_key_pem: b"key".to_vec().into(),
    }
}

#[test]
fn tls_selection_exact_then_wildcard_then_default_oldest_wins() {
    let mut state = ClusterState::default();
    for i in [
        ing("wild", 1)
            .with_path(Some("*.foo.com"), PathType::Prefix, "/", svc("w"))
            .with_tls(&["*.foo.com"], "wild-cert"),
        ing("exact", 2)
            .with_path(Some("a.foo.com"), PathType::Prefix, "/", svc("e"))
            .with_tls(&["a.foo.com"], "exact-cert"),
        ing("late", 3)
            .with_path(Some("a.foo.com"), PathType::Prefix, "/late", svc("l"))
            .with_tls(&["a.foo.com"], "late-cert"),
        ing("ghost", 4)
            .with_path(Some("g.com"), PathType::Prefix, "/", svc("g"))
            .with_tls(&["g.com"], "missing"),
    ] {
        state.ingresses.insert(i.meta.key(), i);
    }
    for s in ["wild-cert", "exact-cert", "late-cert", "default-cert"] {
        let s = secret(s);
        state.tls_secrets.insert(s.meta.key(), s);
    }
    let config = TableConfig {
        default_certificate: Some(ingress_core::ObjectKey::new("default", "default-cert")),
        ..TableConfig::default()
    };
    let table = RouteTable::build(&state, &config);
    let name = |sni: &str| {
        table
            .certificate(Some(sni))
            .and_then(|b| b.secret.clone())
            .map(|s| s.name.to_string())
    };
    assert_eq!(name("a.foo.com").as_deref(), Some("exact-cert"));
    assert_eq!(name("A.FOO.COM").as_deref(), Some("exact-cert"));
    assert_eq!(name("b.foo.com").as_deref(), Some("wild-cert"));
    assert_eq!(name("x.b.foo.com"), None);
    assert_eq!(name("other.com"), None);
    assert!(
        table
            .certificate(Some("g.com"))
            .is_some_and(|b| b.data.is_none())
    );
    assert_eq!(
        table
            .default_certificate()
            .and_then(|b| b.secret.clone())
            .map(|s| s.name.to_string())
            .as_deref(),
        Some("default-cert")
    );
    let reasons: Vec<(&str, String)> = table
        .diagnostics()
        .iter()
        .map(|d| (d.reason(), d.object().name.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("TLSConflict", "late".to_owned()),
            ("TLSSecretMissing", "ghost".to_owned())
        ]
    );
}

#[test]
fn tls_hosts_redirect_plain_http_and_route_by_host_header() {
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("secure.com"), PathType::Prefix, "/", svc("s"))
            .with_tls(&["secure.com"], "c"),
        ing("b", 2).with_path(Some("plain.com"), PathType::Prefix, "/", svc("p")),
    ]);
    assert!(table.route(Some("secure.com"), "/").https_redirect);
    assert!(table.route(Some("SECURE.com:80"), "/x").https_redirect);
    assert!(!table.route(Some("plain.com"), "/").https_redirect);
    assert!(!table.route(None, "/").https_redirect);
}
