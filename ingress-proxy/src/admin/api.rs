//! The admin listener's JSON API: what the controller decided, for scripts and the dashboard.
//! Read-only; nothing here ever shows key material or Secret contents.
//!
//! - `GET /api/routes`: every path rule in force (host, path, type, Ingress, rule, Service,
//!   HTTPS redirect, the policies that apply), best first per host, and the table generation;
//! - `GET /api/diagnostics`: every rejected object and conflict (object, reason, message,
//!   when this proxy first served it), newest first;
//! - `GET /api/backends`: every Service port in use, its endpoints and their passive health
//!   (eligible, failures in the current window, requests in flight, and while ejected how
//!   many seconds until it may be tried again);
//! - `GET /api/certificates`: every host a `tls` entry serves (and `_`, the configured
//!   default), its Ingress and Secret, and the leaf certificate's public fields (subject,
//!   issuer, serial, DNS names, validity, days left, expired) or why they cannot be read
//!   ([`crate::tls::inventory()`]);
//! - `GET /api/traffic?since=T`: per Ingress and per Service, one sample a second for the
//!   last five minutes: requests, `5xx` errors, p50 and p99 latency (`metrics::traffic`);
//! - `GET /api/explain?host=H&path=P&header=Name:Value&cookie=name=value&scheme=https`: which
//!   rule the request takes and why the others lost (`explain`).

use std::sync::Arc;

use serde_json::{Value, json};

use ingress_core::{Backend, Endpoints, RouteTable, Target};

use crate::handler::Shared;

/// `/api/routes`.
pub(crate) fn routes(table: &RouteTable) -> Value {
    let routes: Vec<Value> = table
        .routes()
        .iter()
        .map(|route| {
            let rule = route.rule;
            json!({
                "host": rule.host.as_deref(),
                "path": &*rule.path,
                "path_type": rule.path_type.as_str(),
                "ingress": rule.ingress.to_string(),
                "rule": [rule.rule_index, rule.path_index],
                "backend": target(route.target),
                "https_redirect": route.https_redirect,
                "policies": super::policies::labels(rule),
            })
        })
        .collect();
    json!({ "generation": table.generation(), "routes": routes })
}

/// `/api/diagnostics`: newest first (by when this proxy first served a table with it).
pub(crate) fn diagnostics(shared: &Shared, table: &RouteTable) -> Value {
    let first_seen = shared.diagnostic_ages.observe(table, unix_now());
    let mut diagnostics: Vec<(u64, usize, Value)> = table
        .diagnostics()
        .iter()
        .zip(first_seen)
        .enumerate()
        .map(|(index, (diagnostic, first_seen))| {
            let value = json!({
                "object": diagnostic.object().to_string(),
                "reason": diagnostic.reason(),
                "message": diagnostic.to_string(),
                "first_seen": first_seen,
            });
            (first_seen, index, value)
        })
        .collect();
    diagnostics.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    let diagnostics: Vec<Value> = diagnostics.into_iter().map(|(_, _, value)| value).collect();
    json!({ "generation": table.generation(), "diagnostics": diagnostics })
}

/// Seconds since the Unix epoch (0 if the clock is before it).
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// `/api/certificates`.
pub(crate) fn certificates(table: &RouteTable) -> Value {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| {
            i64::try_from(elapsed.as_secs()).unwrap_or(i64::MAX)
        });
    crate::tls::inventory::to_json(&crate::tls::inventory(table), now)
}

/// `/api/backends`.
pub(crate) fn backends(shared: &Shared, table: &RouteTable) -> Value {
    let mut backends: Vec<(String, Value)> = table
        .backends()
        .map(|backend| {
            let service = backend.service().to_string();
            let endpoints = endpoints(shared, backend);
            (
                service.clone(),
                json!({ "service": service, "endpoints": endpoints }),
            )
        })
        .collect();
    backends.sort_by(|a, b| a.0.cmp(&b.0));
    backends.dedup_by(|a, b| a.0 == b.0);
    let backends: Vec<Value> = backends.into_iter().map(|(_, value)| value).collect();
    json!({ "generation": table.generation(), "backends": backends })
}

/// One backend's endpoints with their passive health (as `/api/backends` lists them).
pub(crate) fn endpoints(shared: &Shared, backend: &Arc<Backend>) -> Value {
    match &*backend.endpoints() {
        Endpoints::Ready(addresses) => {
            let health = shared.endpoint_health(backend);
            let endpoints: Vec<Value> = addresses
                .iter()
                .map(|address| {
                    let seen = health
                        .as_ref()
                        .and_then(|h| h.iter().find(|e| e.address == *address));
                    json!({
                        "address": address.to_string(),
                        "eligible": seen.is_none_or(|e| e.eligible),
                        "failures": seen.map_or(0, |e| e.failures),
                        "in_flight": seen.map_or(0, |e| e.in_flight),
                        "ejected_for_seconds": seen
                            .and_then(|e| e.ejected_for)
                            .map(|d| d.as_secs_f64()),
                    })
                })
                .collect();
            json!(endpoints)
        }
        Endpoints::External { host, port } => {
            json!([{ "address": format!("{host}:{port}"), "external_name": true }])
        }
        Endpoints::Unavailable(why) => json!({ "unavailable": format!("{why:?}") }),
    }
}

/// `/api/traffic?since=T`: requests, errors and p50/p99 per Ingress and per Service, one
/// sample a second (see `metrics::traffic`), newer than `since` (Unix seconds).
pub(crate) fn traffic(shared: &Shared, since: u64) -> Value {
    shared.metrics.traffic.to_json(since)
}

fn target(target: &Target) -> Value {
    match target {
        Target::Service(backend) => json!({ "service": backend.service().to_string() }),
        Target::Resource(resource) => {
            json!({ "resource": format!("{}/{}", resource.kind, resource.name) })
        }
        Target::NotFound => json!("not-found"),
    }
}
