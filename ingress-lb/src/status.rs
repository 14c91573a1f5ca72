//! `GET /api/status` on the admin listener: what the balancer is doing, as JSON for scripts
//! and the dashboard — every upstream group with its servers (weight, state, active
//! connections, failures), every listener (upstream, open connections), and the VRRP
//! instance's state (MASTER/BACKUP, priority, virtual addresses, last transition).
//!
//! A server's `state`: `down` (configured so), `unavailable` (ejected by `max_fails` within
//! `fail_timeout`, or failing its active health check), `backup` (used only when every
//! primary server is unavailable), else `up`. An ejected server also says how many seconds
//! until it may be tried again (`ejected_for_seconds`).

use std::time::Instant;

use serde_json::{Value, json};

use crate::config::AlgorithmConfig;
use crate::server::Server;

/// The whole status document.
pub(crate) fn status(server: &Server) -> Value {
    let (snapshot, active, vrrp) = server.status_sources();
    let now = Instant::now();
    let mut groups: Vec<Value> = snapshot
        .groups
        .values()
        .map(|group| {
            let balancer = group.balancer();
            let servers: Vec<Value> = balancer
                .peers()
                .map(|(peer, address)| {
                    let options = balancer.options(peer);
                    let state = if options.down {
                        "down"
                    } else if !balancer.is_available(peer, now) {
                        "unavailable"
                    } else if options.backup {
                        "backup"
                    } else {
                        "up"
                    };
                    json!({
                        "address": address.to_string(),
                        "weight": options.weight,
                        "state": state,
                        "active_connections": balancer.outstanding(peer),
                        "failures": balancer.fails(peer),
                        "ejected_for_seconds": balancer
                            .ejected_for(peer, now)
                            .map(|d| d.as_secs_f64()),
                        "max_fails": options.max_fails,
                        "backup": options.backup,
                    })
                })
                .collect();
            let algorithm =
                snapshot
                    .config
                    .upstreams
                    .get(&group.name)
                    .map_or("round_robin", |upstream| match upstream.algorithm {
                        AlgorithmConfig::RoundRobin => "round_robin",
                        AlgorithmConfig::LeastConn => "least_conn",
                        AlgorithmConfig::Hash => "hash",
                    });
            json!({
                "name": group.name,
                "algorithm": algorithm,
                "active_health_check": group.health_check.is_some(),
                "servers": servers,
            })
        })
        .collect();
    groups.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let listeners: Vec<Value> = snapshot
        .config
        .listeners
        .iter()
        .enumerate()
        .map(|(index, listener)| {
            json!({
                "address": listener.address.to_string(),
                "upstream": listener.upstream.get_ref(),
                "server_names": listener
                    .server_names
                    .iter()
                    .map(|(name, group)| (name.clone(), json!(group.get_ref())))
                    .collect::<serde_json::Map<String, Value>>(),
                "active_connections": active.get(index).copied().unwrap_or(0),
                "max_connections": listener.max_connections,
                "proxy_protocol": listener.proxy_protocol.map(|v| format!("{v:?}").to_lowercase()),
                "ssl_preread": listener.ssl_preread,
            })
        })
        .collect();
    let vrrp = vrrp.map(|status| {
        json!({
            "state": status.state,
            "priority": status.priority,
            "effective_priority": status.effective_priority,
            "interface": status.interface,
            "virtual_router_id": status.virtual_router_id,
            "virtual_addresses": status.virtual_addresses,
            "last_transition": status.last_transition.map(|(from, to, at)| json!({
                "from": from, "to": to, "time": at,
            })),
            "error": status.error,
        })
    });
    json!({
        "generation": snapshot.generation,
        "groups": groups,
        "listeners": listeners,
        "vrrp": vrrp,
    })
}
