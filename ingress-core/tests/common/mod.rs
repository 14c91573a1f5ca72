//! One-line builders shared by the table tests.
#![allow(dead_code, reason = "each test file uses a different subset")]

use ingress_core::{
    ClassSelection, ClusterState, Ingress, RouteTable, ServiceBackend, TableConfig, Target,
};

pub(crate) const CLASS: &str = ClassSelection::DEFAULT_CLASS;

pub(crate) fn ing(name: &str, age: i64) -> Ingress {
    Ingress::new("default", name, Some(age)).with_class(CLASS)
}

pub(crate) fn svc(name: &str) -> ServiceBackend {
    ServiceBackend::number(name, 80)
}

pub(crate) fn build(ingresses: Vec<Ingress>) -> RouteTable {
    let mut state = ClusterState::default();
    for i in ingresses {
        state.ingresses.insert(i.meta.key(), i);
    }
    RouteTable::build(&state, &TableConfig::default())
}

/// `(service name, rule path)` of the winner, or `None` for no path match.
pub(crate) fn winner(
    table: &RouteTable,
    host: Option<&str>,
    path: &str,
) -> Option<(String, String)> {
    let route = table.route(host, path);
    let rule = route.rule?;
    let Target::Service(backend) = route.target else {
        return None;
    };
    Some((backend.service().name.to_string(), rule.path.to_string()))
}

pub(crate) fn service_of(table: &RouteTable, host: Option<&str>, path: &str) -> Option<String> {
    match table.route(host, path).target {
        Target::Service(b) => Some(b.service().name.to_string()),
        _ => None,
    }
}
