//! Optional active TCP health checks: every `interval` each server of a group gets a TCP
//! connect; `fall` consecutive failures mark it unreachable (skipped like `down`), `rise`
//! consecutive successes mark it reachable again. Servers start reachable.
//!
//! A checker belongs to one snapshot's group and stops when a reload replaces that snapshot.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ingress_core::balance::PeerId;
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

use crate::config::HealthCheckConfig;
use crate::metrics::Metrics;
use crate::state::Group;

/// Consecutive results of one server.
#[derive(Debug, Clone, Copy, Default)]
struct Streak {
    reachable: bool,
    successes: u32,
    failures: u32,
}

/// Runs the checks of `group` while the live generation is `generation`.
pub(crate) async fn run(
    group: Arc<Group>,
    check: HealthCheckConfig,
    generation: u64,
    live_generation: Arc<AtomicU64>,
    metrics: Arc<Metrics>,
    cancel: CancellationToken,
) {
    let servers: Vec<(PeerId, SocketAddr)> = group
        .balancer()
        .peers()
        .map(|(id, address)| (id, *address))
        .collect();
    let mut streaks = vec![
        Streak {
            reachable: true,
            ..Streak::default()
        };
        servers.len()
    ];
    let mut interval = tokio::time::interval(check.interval.0);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            _ = interval.tick() => {}
        }
        if live_generation.load(Ordering::Acquire) != generation {
            return;
        }
        let probes = servers.iter().map(|(_, address)| async move {
            matches!(
                tokio::time::timeout(check.timeout.0, TcpStream::connect(address)).await,
                Ok(Ok(_))
            )
        });
        let results = futures::future::join_all(probes).await;
        for ((id, address), (streak, ok)) in servers.iter().zip(streaks.iter_mut().zip(results)) {
            if ok {
                streak.successes = streak.successes.saturating_add(1);
                streak.failures = 0;
            } else {
                streak.failures = streak.failures.saturating_add(1);
                streak.successes = 0;
            }
            let flip = if streak.reachable {
                streak.failures >= check.fall
            } else {
                streak.successes >= check.rise
            };
            if flip {
                streak.reachable = !streak.reachable;
                group.balancer().set_reachable(*id, streak.reachable);
                let state = if streak.reachable { "up" } else { "down" };
                tracing::warn!(group = %group.name, server = %address, state, "active health check");
                metrics
                    .health_transitions
                    .get_or_create(&vec![
                        ("group", group.name.clone()),
                        ("server", address.to_string()),
                        ("state", state.to_string()),
                    ])
                    .inc();
            }
        }
    }
}
