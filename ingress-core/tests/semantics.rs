//! One test per line of SEMANTICS.md: each names the behaviour it pins and which rule won.

mod common;

use common::{CLASS, build, ing, service_of, svc, winner};
use ingress_core::{
    ClassSelection, ClusterState, Diagnostic, Ingress, MatchSource, ObjectMeta, PathType, PortRef,
    RouteTable, ServiceRef, TableConfig, Target,
};

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

#[test]
fn routes_lists_every_rule_in_force_best_first_per_host() {
    use PathType::{Exact, Prefix};
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("foo.com"), Prefix, "/", svc("web"))
            .with_path(Some("foo.com"), Exact, "/api", svc("api"))
            .with_path(None, Prefix, "/", svc("any")),
        // Loses its conflict with `a`: not in force, not listed.
        ing("b", 2).with_path(Some("foo.com"), Prefix, "/", svc("other")),
        ing("c", 3).with_path(Some("*.bar.com"), Prefix, "/x", svc("wild")),
    ]);
    let listed: Vec<(Option<String>, String, String)> = table
        .routes()
        .iter()
        .map(|r| {
            (
                r.rule.host.as_deref().map(str::to_owned),
                r.rule.path.to_string(),
                r.rule.ingress.name.to_string(),
            )
        })
        .collect();
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(
        listed,
        [
            (some("foo.com"), "/api".to_owned(), "a".to_owned()),
            (some("foo.com"), "/".to_owned(), "a".to_owned()),
            (some("*.bar.com"), "/x".to_owned(), "c".to_owned()),
            (None, "/".to_owned(), "a".to_owned()),
        ]
    );
    assert_eq!(listed.len(), table.size().1);
}
