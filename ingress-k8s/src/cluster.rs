//! The cluster source: kube-runtime reflectors feed the route table; the elected leader writes
//! Ingress status and Events.
//!
//! ```text
//!  Ingress ─┐
//!  IngressClass ─┤ reflectors (managedFields stripped, relist on 410, backoff)
//!  Service ─┤   └─ merged stream ─ debounce ─ TableWriter::apply/replace ─ commit ─┐
//!  EndpointSlice ─┤                                                            published table
//!  Secret (tls) ─┘                                                                     │
//!  Lease ── election ── leading? ──────────────── status writer + event recorder ◄──────┘
//! ```

mod events;
mod leader;
mod status;
mod sync;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::{RouteTable, TableWriter};
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::watch;

pub use leader::LeaseConfig;
pub use status::PublishStatus;

use self::events::Events;
use self::sync::{Stores, Sync};

/// How the cluster source behaves.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// Where Ingress status addresses come from.
    pub publish: PublishStatus,
    /// Leader election (only the leader writes status and Events).
    pub lease: LeaseConfig,
    /// Quiet time after a watch event before publishing (about 100 ms: coalesces the bursts a
    /// rollout causes while keeping changes visible quickly).
    pub debounce: Duration,
    /// `reportingController` of Events (the controller name).
    pub reporter: String,
}

/// Watches a cluster and keeps the route table in step with it.
pub struct ClusterSource {
    client: Client,
    config: ClusterConfig,
    /// Whether this replica leads (for readiness reporting and tests).
    leading: watch::Sender<bool>,
    /// The latest published table.
    published: watch::Sender<Option<Arc<RouteTable>>>,
}

impl std::fmt::Debug for ClusterSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSource")
            .field("config", &self.config)
            .field("leading", &*self.leading.borrow())
            .finish_non_exhaustive()
    }
}

impl ClusterSource {
    /// A source over `client`; nothing happens until [`run`](Self::run).
    pub fn new(client: Client, config: ClusterConfig) -> Self {
        ClusterSource {
            client,
            config,
            leading: watch::Sender::new(false),
            published: watch::Sender::new(None),
        }
    }

    /// Follows whether this replica is the leader.
    pub fn leading(&self) -> watch::Receiver<bool> {
        self.leading.subscribe()
    }

    /// Follows every table this source publishes.
    pub fn published(&self) -> watch::Receiver<Option<Arc<RouteTable>>> {
        self.published.subscribe()
    }

    /// Watches until `shutdown` completes; the table opens once every kind has been listed.
    /// On shutdown a leader hands its Lease back.
    pub async fn run(self, writer: TableWriter, shutdown: impl Future<Output = ()>) {
        let ClusterSource {
            client,
            config,
            leading,
            published,
        } = self;
        let (stores_tx, mut stores_rx) = watch::channel::<Option<Stores>>(None);
        let sync = Sync {
            writer,
            debounce: config.debounce,
            published: published.clone(),
            diagnostics: crate::DiagnosticLog::new(),
        };
        let sync_task = AbortOnDrop(tokio::spawn(sync.run(client.clone(), stores_tx)));

        let (stop_tx, stop_rx) = watch::channel(false);
        let mut election = AbortOnDrop(tokio::spawn(leader::run_election(
            client.clone(),
            config.lease.clone(),
            leading.clone(),
            stop_rx,
        )));

        let reporter = Reporter {
            controller: config.reporter.clone(),
            instance: Some(config.lease.identity.clone()),
        };
        let mut events = Events::new(Recorder::new(client.clone(), reporter));
        let mut written = std::collections::BTreeMap::new();
        let mut table_rx = published.subscribe();
        let mut leading_rx = leading.subscribe();
        tokio::pin!(shutdown);
        let stores = tokio::select! {
            () = &mut shutdown => None,
            changed = stores_rx.wait_for(Option::is_some) => changed.ok().and_then(|s| s.clone()),
        };
        if let Some(stores) = stores {
            loop {
                let table = table_rx.borrow_and_update().clone();
                let is_leader = *leading_rx.borrow_and_update();
                if let (Some(table), true) = (table, is_leader) {
                    if let Some(desired) =
                        status::desired_addresses(&config.publish, &stores.services)
                    {
                        status::write_statuses(
                            &client,
                            &table,
                            &stores.ingresses,
                            &desired,
                            &mut written,
                        )
                        .await;
                    }
                    events.publish(&table, &stores.ingresses).await;
                } else if !is_leader {
                    // A new leader starts from what the cluster shows.
                    written.clear();
                }
                tokio::select! {
                    () = &mut shutdown => break,
                    changed = table_rx.changed() => if changed.is_err() { break },
                    changed = leading_rx.changed() => if changed.is_err() { break },
                }
            }
        }
        drop(sync_task);
        stop_tx.send_replace(true);
        if (&mut election.0).await.is_err() {
            tracing::warn!("leader election task failed");
        }
    }
}

/// Aborts a spawned task when dropped, so dropping [`ClusterSource::run`]'s future (a crash, a
/// cancelled test) stops its watches and its Lease renewals with it.
struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}
