//! The running configuration: one immutable snapshot of listeners and upstream groups,
//! replaced whole on reload (`ArcSwap`).
//!
//! Each group's balancer (smooth weighted round-robin, least-connections or consistent hash,
//! with passive health) is `ingress_core::balance::Balancer` behind a mutex held only for the
//! few instructions of a pick or a report, never across an `.await`. Connections keep the
//! `Arc<Group>` they started with, so a reload never disturbs an established connection and
//! their `end` calls land on the balancer that counted their `begin`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use ingress_core::balance::{Algorithm, Balancer, BuildError, PeerOptions};

use crate::config::{AlgorithmConfig, Config, HealthCheckConfig};

/// One published configuration.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Increases by one on every successful reload; 1 for the first configuration.
    pub(crate) generation: u64,
    pub(crate) config: Config,
    pub(crate) groups: HashMap<String, Arc<Group>>,
}

/// An upstream group and its balancing state.
#[derive(Debug)]
pub(crate) struct Group {
    pub(crate) name: String,
    pub(crate) health_check: Option<HealthCheckConfig>,
    balancer: Mutex<Balancer<SocketAddr>>,
}

impl Snapshot {
    /// Builds the groups of `config`. The config was checked when parsed, so a weight of 0 can
    /// only come from a hand-built `Config`; it is reported rather than assumed away.
    pub(crate) fn build(config: Config, generation: u64) -> Result<Self, String> {
        let mut groups = HashMap::new();
        for (name, upstream) in &config.upstreams {
            let algorithm = match upstream.algorithm {
                AlgorithmConfig::RoundRobin => Algorithm::RoundRobin,
                AlgorithmConfig::LeastConn => Algorithm::LeastConn,
                AlgorithmConfig::Hash => Algorithm::ConsistentHash,
            };
            let peers = upstream.servers.iter().map(|server| {
                let options = PeerOptions {
                    weight: *server.weight.get_ref(),
                    max_fails: server.max_fails,
                    fail_timeout: server.fail_timeout.0,
                    backup: server.backup,
                    down: server.down,
                };
                (server.address, options)
            });
            let balancer = Balancer::new(algorithm, peers).map_err(|error| match error {
                BuildError::ZeroWeight { index } => {
                    format!("upstreams.{name}.servers[{index}].weight: must be at least 1")
                }
                other => format!("upstreams.{name}: {other}"),
            })?;
            let group = Group {
                name: name.clone(),
                health_check: upstream.health_check,
                balancer: Mutex::new(balancer),
            };
            groups.insert(name.clone(), Arc::new(group));
        }
        Ok(Self {
            generation,
            config,
            groups,
        })
    }
}

impl Group {
    /// The balancer; a poisoned lock is recovered because every critical section leaves the
    /// balancer consistent (they are single calls into it).
    pub(crate) fn balancer(&self) -> MutexGuard<'_, Balancer<SocketAddr>> {
        self.balancer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
