//! The balancer side of health tracking (keepalived's `track_script check_nginx`): the running
//! server's state becomes the [`Health`] the VRRP driver follows.
//!
//! - `listeners_bound`: the driver is started by `Server::run`, which is handed its listeners
//!   already bound and keeps accepting until shutdown, so it is true while the driver runs.
//! - `upstream_reachable`: every listener's default `upstream` group has at least one server
//!   the balancer could pick now (not `down`, not failed by `max_fails`, not marked unreachable
//!   by active checks). A listener whose group is all down cannot serve, so the node should not
//!   hold the virtual address.

use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::config::VrrpConfig;
use super::driver::Health;
use crate::state::Snapshot;

/// How often the balancer's health is sampled: a tenth of keepalived's default `advert_int`,
/// so a hand-over starts well within one advert interval.
const SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// The health of the balancer described by `snapshot` at `now`.
pub(crate) fn balancer_health(snapshot: &Snapshot, now: Instant) -> Health {
    let upstream_reachable = snapshot.config.listeners.iter().all(|listener| {
        snapshot
            .groups
            .get(listener.upstream.get_ref())
            .is_some_and(|group| {
                let balancer = group.balancer();
                balancer
                    .peers()
                    .any(|(id, _)| balancer.is_available(id, now))
            })
    });
    Health {
        listeners_bound: true,
        upstream_reachable,
    }
}

/// Runs the VRRP driver next to the server until `cancel`; `sample` reads the server's health.
/// A driver that cannot start (no interface, no privileges) is logged: the balancer keeps
/// serving its own addresses, as nginx does when keepalived fails.
pub(crate) async fn run_with_server(
    config: VrrpConfig,
    sample: impl Fn() -> Health + Send + 'static,
    cancel: CancellationToken,
    report: std::sync::Arc<super::VrrpReport>,
) {
    let (sender, receiver) = watch::channel(sample());
    let sampler_cancel = cancel.clone();
    let sampler = tokio::spawn(async move {
        let mut ticks = tokio::time::interval(SAMPLE_INTERVAL);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = sampler_cancel.cancelled() => return,
                _ = ticks.tick() => {}
            }
            let health = sample();
            sender.send_if_modified(|current| {
                let changed = *current != health;
                *current = health;
                changed
            });
        }
    });
    let result = super::driver::run_reporting(
        config,
        receiver,
        cancel.cancelled_owned(),
        Some(report.clone()),
    )
    .await;
    if let Err(error) = result {
        report.failed(error.to_string());
        tracing::error!(%error, "VRRP stopped; this node will not hold the virtual address");
    }
    sampler.abort();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn snapshot() -> Snapshot {
        let config = Config::from_toml(
            r#"
            [upstreams.ingress]
            servers = [
              { address = "127.0.0.1:1", max_fails = 1, fail_timeout = "30s" },
              { address = "127.0.0.1:2", max_fails = 1, fail_timeout = "30s" },
            ]
            [upstreams.spare]
            servers = [{ address = "127.0.0.1:3", down = true }]
            [[listeners]]
            address = "127.0.0.1:0"
            upstream = "ingress"
            "#,
        )
        .expect("valid config");
        Snapshot::build(config, 1).expect("builds")
    }

    #[test]
    fn serving_while_one_server_of_each_listener_group_is_available() {
        let snapshot = snapshot();
        let now = Instant::now();
        assert_eq!(
            balancer_health(&snapshot, now),
            Health::SERVING,
            "all-down `spare` is unused"
        );
        let group = &snapshot.groups["ingress"];
        let ids: Vec<_> = group.balancer().peers().map(|(id, _)| id).collect();
        group.balancer().set_reachable(ids[0], false);
        assert!(
            balancer_health(&snapshot, now).is_serving(),
            "one server left"
        );
        group.balancer().report_failure(ids[1], now);
        let health = balancer_health(&snapshot, now);
        assert_eq!(
            health,
            Health {
                listeners_bound: true,
                upstream_reachable: false
            }
        );
        assert!(!health.is_serving());
        assert!(
            balancer_health(&snapshot, now + Duration::from_secs(31)).is_serving(),
            "fail_timeout over: the failed server is tried again"
        );
    }

    #[tokio::test]
    async fn driver_error_is_logged_and_the_task_ends() {
        let config: VrrpConfig = toml::from_str(
            "interface = \"no-such-if0\"\nvirtual_router_id = 1\nvirtual_ipaddress = [\"10.231.0.100\"]\n",
        )
        .expect("valid section");
        let cancel = CancellationToken::new();
        let report = std::sync::Arc::new(super::super::VrrpReport::default());
        // Without the interface (or without privileges) the driver fails at once; the task
        // must end by itself rather than hang the server's shutdown, and the admin listener
        // says why.
        tokio::time::timeout(
            Duration::from_secs(5),
            run_with_server(config, || Health::SERVING, cancel, report.clone()),
        )
        .await
        .expect("ends without cancellation");
        let status = report.read();
        assert!(status.error.is_some_and(|e| !e.is_empty()));
        assert_eq!(status.virtual_addresses, ["10.231.0.100/32"]);
    }
}
