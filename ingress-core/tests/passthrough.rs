//! `ssl-passthrough`: which TLS server names are passed through, to which Service, and the
//! Warning for every annotation that has no effect.

mod common;

use common::{ing, svc};
use ingress_core::annotations::Ignored;
use ingress_core::{ClusterState, Diagnostic, Ingress, PathType, RouteTable, TableConfig};

fn passthrough(ingress: Ingress) -> Ingress {
    let mut ingress = ingress;
    ingress.meta.annotations.insert(
        "nginx.ingress.kubernetes.io/ssl-passthrough".to_owned(),
        "true".to_owned(),
    );
    ingress
}

fn build(ingresses: Vec<Ingress>, enabled: bool) -> RouteTable {
    let mut state = ClusterState::default();
    for ingress in ingresses {
        state.ingresses.insert(ingress.meta.key(), ingress);
    }
    let config = TableConfig {
        ssl_passthrough: enabled,
        ..TableConfig::default()
    };
    RouteTable::build(&state, &config)
}

fn passed_to(table: &RouteTable, name: &str) -> Option<String> {
    table
        .passthrough(name)
        .map(|backend| backend.service().name.to_string())
}

fn ignored(table: &RouteTable) -> Vec<(String, Ignored)> {
    table
        .diagnostics()
        .iter()
        .filter_map(|diagnostic| match diagnostic {
            Diagnostic::AnnotationIgnored {
                ingress, reason, ..
            } => Some((ingress.name.to_string(), *reason)),
            _ => None,
        })
        .collect()
}

#[test]
fn a_host_is_passed_to_its_root_rule_when_any_of_its_ingresses_asks() {
    let table = build(
        vec![
            // The annotation on an Ingress with another path of the host is enough.
            passthrough(ing("asks", 1).with_path(
                Some("tls.example"),
                PathType::Prefix,
                "/api",
                svc("api"),
            )),
            ing("root", 2).with_path(Some("tls.example"), PathType::Prefix, "/", svc("secure")),
            ing("plain", 3).with_path(Some("plain.example"), PathType::Prefix, "/", svc("web")),
        ],
        true,
    );
    assert!(table.has_passthrough());
    assert_eq!(passed_to(&table, "tls.example").as_deref(), Some("secure"));
    assert_eq!(passed_to(&table, "TLS.Example.").as_deref(), Some("secure"));
    assert_eq!(passed_to(&table, "plain.example"), None);
    assert_eq!(passed_to(&table, "other.example"), None);
    assert_eq!(ignored(&table), []);
}

#[test]
fn without_the_flag_or_a_root_rule_nothing_is_passed_and_each_annotation_is_reported() {
    let ingresses = || {
        vec![
            passthrough(ing("root", 1).with_path(
                Some("tls.example"),
                PathType::Prefix,
                "/",
                svc("secure"),
            )),
            passthrough(ing("no-root", 2).with_path(
                Some("api.example"),
                PathType::Prefix,
                "/api",
                svc("api"),
            )),
            passthrough(ing("wildcard", 3).with_path(
                Some("*.example.org"),
                PathType::Prefix,
                "/",
                svc("wild"),
            )),
        ]
    };
    let off = build(ingresses(), false);
    assert!(!off.has_passthrough());
    assert_eq!(passed_to(&off, "tls.example"), None);
    let mut reported = ignored(&off);
    reported.sort();
    assert_eq!(
        reported,
        [
            ("no-root".to_owned(), Ignored::NeedsFlag),
            ("root".to_owned(), Ignored::NeedsFlag),
            ("wildcard".to_owned(), Ignored::NeedsFlag),
        ]
    );

    let on = build(ingresses(), true);
    assert_eq!(passed_to(&on, "tls.example").as_deref(), Some("secure"));
    assert_eq!(passed_to(&on, "api.example"), None);
    assert_eq!(passed_to(&on, "a.example.org"), None);
    let mut reported = ignored(&on);
    reported.sort();
    assert_eq!(
        reported,
        [
            ("no-root".to_owned(), Ignored::NotApplicable),
            ("wildcard".to_owned(), Ignored::NotApplicable),
        ]
    );
}
