//! `use-regex` and `rewrite-target` through the route table: which paths become regular
//! expressions, how they rank, what is reported, and the rewrite each route carries.

mod common;

use common::{build, ing, svc, winner};
use ingress_core::{Diagnostic, Ingress, PathType};

const REGEX: (&str, &str) = ("nginx.ingress.kubernetes.io/use-regex", "true");

fn annotated(mut ingress: Ingress, pairs: &[(&str, &str)]) -> Ingress {
    for (k, v) in pairs {
        ingress.meta.annotations.insert((*k).into(), (*v).into());
    }
    ingress
}

fn host() -> Option<&'static str> {
    Some("rewrite.bar.com")
}

/// ingress-nginx's rewrite example: the path is a regex, the rewrite uses its captures.
#[test]
fn the_rewrite_example_routes_and_rewrites() {
    let table = build(vec![annotated(
        ing("rewrite", 1).with_path(
            host(),
            PathType::ImplementationSpecific,
            "/something(/|$)(.*)",
            svc("http-svc"),
        ),
        &[("nginx.ingress.kubernetes.io/rewrite-target", "/$2")],
    )]);
    for (request, upstream) in [
        ("/something", "/"),
        ("/something/", "/"),
        ("/something/new", "/new"),
        ("/SOMETHING/new", "/new"),
    ] {
        let route = table.route(host(), request);
        let rule = route.rule.expect("matched");
        let rewrite = rule.rewrite.as_ref().expect("rewrite");
        assert_eq!(
            rewrite.apply(request).as_deref(),
            Some(upstream),
            "{request}"
        );
    }
    // `(/|$)` makes the element boundary: `/somethingelse` does not match.
    assert!(table.route(host(), "/somethingelse/x").rule.is_none());
    assert!(table.route(host(), "/other").rule.is_none());
    assert!(table.diagnostics().is_empty(), "{:?}", table.diagnostics());
}

/// Host-wide, as ingress-nginx: another Ingress's ImplementationSpecific paths on the host
/// become regexes (with a warning naming both), its Prefix paths keep their meaning.
#[test]
fn regex_applies_host_wide_to_implementation_specific_paths_only() {
    let table = build(vec![
        annotated(
            ing("regex", 1).with_path(
                host(),
                PathType::ImplementationSpecific,
                "/foo/bar/[A-Z0-9]{3}",
                svc("three"),
            ),
            &[REGEX],
        ),
        ing("plain", 2)
            .with_path(host(), PathType::ImplementationSpecific, "/x.y", svc("dot"))
            .with_path(host(), PathType::Prefix, "/a.b", svc("prefix")),
        ing("elsewhere", 3).with_path(
            Some("other.com"),
            PathType::ImplementationSpecific,
            "/x.y",
            svc("other"),
        ),
    ]);
    // `.` is any character on the regex host: `/x.y` matches `/xzy` and, case-insensitively, `/XAY`.
    assert_eq!(
        winner(&table, host(), "/xzy"),
        Some(("dot".into(), "/x.y".into()))
    );
    assert_eq!(
        winner(&table, host(), "/XAY/more"),
        Some(("dot".into(), "/x.y".into()))
    );
    // A Prefix path stays a literal, case-sensitive prefix.
    assert_eq!(
        winner(&table, host(), "/a.b/c"),
        Some(("prefix".into(), "/a.b".into()))
    );
    assert_eq!(winner(&table, host(), "/aXb"), None);
    // Another host is untouched.
    assert_eq!(winner(&table, Some("other.com"), "/xzy"), None);
    // The longer pattern wins, as ingress-nginx orders regex locations: `/foo/bar/bar` goes
    // to the three-character class, not to a shorter path.
    assert_eq!(
        winner(&table, host(), "/foo/bar/BAR").map(|w| w.0),
        Some("three".into())
    );
    let diagnostics = table.diagnostics();
    assert!(
        diagnostics.iter().any(
            |d| matches!(d, Diagnostic::RegexEnforced { ingress, by, .. }
            if &*ingress.name == "plain" && &*by.name == "regex")
        ),
        "{diagnostics:?}"
    );
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
}

#[test]
fn an_invalid_regex_denies_its_own_ingress_and_is_a_prefix_for_others() {
    let table = build(vec![
        annotated(
            ing("broken", 1).with_path(
                host(),
                PathType::ImplementationSpecific,
                "/a(",
                svc("broken"),
            ),
            &[REGEX],
        ),
        ing("neighbour", 2).with_path(
            host(),
            PathType::ImplementationSpecific,
            "/b(",
            svc("neighbour"),
        ),
    ]);
    let denied = table
        .route(host(), "/a(")
        .rule
        .expect("still routed")
        .policy
        .denied
        .clone();
    assert!(denied.is_some_and(|d| d.contains("use-regex") && d.contains("/a(")));
    // The neighbour keeps serving, as a prefix, with a warning.
    let neighbour = table.route(host(), "/b(/x").rule.expect("prefix match");
    assert!(neighbour.policy.denied.is_none());
    let diagnostics = table.diagnostics();
    assert!(diagnostics.iter().any(
        |d| matches!(d, Diagnostic::AnnotationInvalid { ingress, .. } if &*ingress.name == "broken")
    ));
    assert!(diagnostics.iter().any(
        |d| matches!(d, Diagnostic::RegexNotApplied { ingress, .. } if &*ingress.name == "neighbour")
    ));
}

#[test]
fn a_prefix_path_with_regex_characters_is_literal_and_reported() {
    let table = build(vec![annotated(
        ing("old-style", 1).with_path(host(), PathType::Prefix, "/testando(/|$)(.*)", svc("web")),
        &[REGEX, ("nginx.ingress.kubernetes.io/rewrite-target", "/$2")],
    )]);
    assert_eq!(winner(&table, host(), "/testando/x"), None);
    let diagnostics = table.diagnostics();
    assert!(
        diagnostics
            .iter()
            .any(|d| matches!(d, Diagnostic::RegexNotApplied { reason, .. }
            if reason.contains("ImplementationSpecific"))),
        "{diagnostics:?}"
    );
}

/// A literal path with a rewrite target replaces the whole path; a target equal to the path
/// is no rewrite at all (as ingress-nginx).
#[test]
fn literal_paths_rewrite_whole_and_equal_targets_do_nothing() {
    let table = build(vec![
        annotated(
            ing("app", 1).with_path(host(), PathType::Prefix, "/app", svc("web")),
            &[("nginx.ingress.kubernetes.io/rewrite-target", "/")],
        ),
        annotated(
            ing("same", 2).with_path(Some("same.com"), PathType::Prefix, "/same", svc("web")),
            &[("nginx.ingress.kubernetes.io/rewrite-target", "/same")],
        ),
    ]);
    let rule = table.route(host(), "/app/deep").rule.expect("matched");
    assert_eq!(
        rule.rewrite
            .as_ref()
            .and_then(|r| r.apply("/app/deep"))
            .as_deref(),
        Some("/")
    );
    let rule = table
        .route(Some("same.com"), "/same/x")
        .rule
        .expect("matched");
    assert!(rule.rewrite.is_none());
}

/// `server-alias` (here for want of a host-annotation test file): the alias routes the whole
/// host, every Ingress's paths on it, and a host that exists already is not taken over.
#[test]
fn server_alias_routes_the_whole_host_unless_the_name_is_taken() {
    let table = build(vec![
        annotated(
            ing("main", 1).with_path(host(), PathType::Prefix, "/a", svc("a")),
            &[(
                "nginx.ingress.kubernetes.io/server-alias",
                "alias.bar.com, taken.com",
            )],
        ),
        ing("other", 2).with_path(host(), PathType::Prefix, "/b", svc("b")),
        ing("owner", 3).with_path(Some("taken.com"), PathType::Prefix, "/", svc("owner")),
    ]);
    assert_eq!(
        winner(&table, Some("alias.bar.com"), "/a/x").map(|w| w.0),
        Some("a".into())
    );
    assert_eq!(
        winner(&table, Some("alias.bar.com"), "/b").map(|w| w.0),
        Some("b".into())
    );
    assert_eq!(
        winner(&table, Some("taken.com"), "/a").map(|w| w.0),
        Some("owner".into())
    );
    assert!(table.diagnostics().iter().any(|d| matches!(d,
        Diagnostic::ServerAliasNotApplied { alias, .. } if &**alias == "taken.com")));
}
