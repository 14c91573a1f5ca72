//! Canary Ingresses: attached to the main path with the same host, path and type; never
//! routes of their own; one per path; reported when unused.

mod common;

use common::{build, ing, svc, winner};
use ingress_core::{Diagnostic, Ingress, PathType};

fn canary(mut ingress: Ingress, weight: &str) -> Ingress {
    for (k, v) in [("canary", "true"), ("canary-weight", weight)] {
        ingress
            .meta
            .annotations
            .insert(format!("nginx.ingress.kubernetes.io/{k}"), v.into());
    }
    ingress
}

const HOST: Option<&str> = Some("shop.com");

#[test]
fn a_canary_attaches_to_the_main_path_and_routes_nothing_itself() {
    let table = build(vec![
        ing("main", 1).with_path(HOST, PathType::Prefix, "/", svc("stable")),
        canary(
            ing("next", 2)
                .with_path(HOST, PathType::Prefix, "/", svc("next"))
                .with_path(HOST, PathType::Prefix, "/only-canary", svc("next")),
            "20",
        ),
        canary(
            ing("second", 3).with_path(HOST, PathType::Prefix, "/", svc("other")),
            "5",
        ),
    ]);
    // The main route wins every request and carries the canary.
    assert_eq!(
        winner(&table, HOST, "/only-canary"),
        Some(("stable".into(), "/".into()))
    );
    let rule = table.route(HOST, "/x").rule.expect("main");
    let attached = rule.canary.as_ref().expect("canary attached");
    assert_eq!(&*attached.ingress.name, "next");
    assert_eq!(attached.policy.weight, 20);
    // Its Service is interned with live endpoints.
    let ingress_core::validate::BackendRef::Service(service) = &attached.backend else {
        panic!("a service backend");
    };
    assert!(table.backend(service).is_some());
    let unused: Vec<_> = table
        .diagnostics()
        .iter()
        .filter_map(|d| match d {
            Diagnostic::CanaryNotApplied { ingress, path, .. } => {
                Some((ingress.name.to_string(), path.to_string()))
            }
            _ => None,
        })
        .collect();
    assert_eq!(
        unused,
        [
            ("next".to_owned(), "/only-canary".to_owned()),
            ("second".to_owned(), "/".to_owned())
        ]
    );
    // Canary paths are no conflict losers.
    assert!(
        !table
            .diagnostics()
            .iter()
            .any(|d| matches!(d, Diagnostic::RuleConflict { .. }))
    );
}
