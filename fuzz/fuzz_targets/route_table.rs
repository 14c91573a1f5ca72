//! Structure-aware: arbitrary Ingress sets and requests → validate → build → lookups. Never
//! panics, and the fast table agrees with the naive reference on every lookup and diagnostic.
#![no_main]

use arbitrary::Arbitrary;
use ingress_core::reference::{Decision, ReferenceRouter};
use ingress_core::{ClusterState, Ingress, RouteTable, TableConfig, TlsSecret};
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    ingresses: Vec<Ingress>,
    secrets: Vec<TlsSecret>,
    watch_without_class: bool,
    requests: Vec<(Option<String>, String)>,
}

fuzz_target!(|input: Input| {
    let mut state = ClusterState::default();
    for mut ingress in input.ingresses.into_iter().take(16) {
        // Most arbitrary strings are not our class: take everything so routing is exercised.
        ingress.spec.ingress_class_name = None;
        state.ingresses.insert(ingress.meta.key(), ingress);
    }
    for secret in input.secrets.into_iter().take(4) {
        state.tls_secrets.insert(secret.meta.key(), secret);
    }
    let mut config = TableConfig::default();
    config.classes.watch_without_class = input.watch_without_class;
    let table = RouteTable::build(&state, &config);
    let reference = ReferenceRouter::new(&state, &config);
    assert_eq!(table.diagnostics(), reference.diagnostics());
    for (host, path) in input.requests.iter().take(32) {
        let fast = Decision::from_route(&table.route(host.as_deref(), path));
        let slow = reference.route(host.as_deref(), path);
        assert_eq!(fast, slow, "host {host:?} path {path:?}");
        let _ = table.certificate(host.as_deref());
    }
    // Every accepted rule path must route to itself (or to something at least as specific).
    for ingress in state.ingresses.values() {
        for rule in &ingress.spec.rules {
            for path in &rule.paths {
                if let Some(p) = &path.path {
                    let fast = Decision::from_route(&table.route(rule.host.as_deref(), p));
                    assert_eq!(fast, reference.route(rule.host.as_deref(), p));
                }
            }
        }
    }
});
