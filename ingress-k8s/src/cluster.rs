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

mod addresses;
mod events;
mod leader;
mod reconcile;
mod status;
mod sync;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::{ObjectKey, RouteTable, TableWriter};
use kube::Client;
use kube::runtime::events::{Recorder, Reporter};
use tokio::sync::{mpsc, oneshot, watch};

pub use leader::LeaseConfig;

/// The field manager named on every write (status, Lease), so `kubectl get -o yaml
/// --show-managed-fields` attributes them to this controller.
pub const FIELD_MANAGER: &str = "ingress-proxy";

/// The `User-Agent` of every request to the API server (`ingress-proxy/VERSION`), so audit
/// logs and API priority rules can tell this controller's requests apart.
pub const USER_AGENT: &str = concat!("ingress-proxy/", env!("CARGO_PKG_VERSION"));

/// `config` with this controller's `User-Agent` on every request; use it for the client
/// given to [`ClusterSource::new`].
pub fn identified(mut config: kube::Config) -> kube::Config {
    config
        .headers
        .retain(|(name, _)| name != http::header::USER_AGENT);
    config.headers.push((
        http::header::USER_AGENT,
        http::HeaderValue::from_static(USER_AGENT),
    ));
    config
}
pub use status::PublishStatus;

use self::events::Events;
use self::reconcile::Reconciler;
use self::sync::{AdmissionQuery, Stores, Sync};

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
    /// The longest a commit waits while events keep arriving (each event restarts the
    /// `debounce` quiet time, never past this since the first uncommitted one), so a steady
    /// stream of events cannot hold back a commit or the first readiness.
    pub debounce_ceiling: Duration,
    /// `--watch-namespace`: watch Ingresses, Services, EndpointSlices and Secrets of this
    /// namespace only (IngressClasses are cluster-scoped); `None` watches every namespace.
    pub watch_namespace: Option<String>,
    /// This controller's own pod (`POD_NAMESPACE`/`POD_NAME`), when it runs in one.
    pub own_pod: Option<ObjectKey>,
    /// `--update-status-on-shutdown` (default on, as ingress-nginx): a leader shutting down
    /// with no other ready controller pod removes the published addresses.
    pub update_status_on_shutdown: bool,
    /// `reportingController` of Events (the controller name).
    pub reporter: String,
    /// The ConfigMap that is the global configuration (`--configmap`): watched by name in
    /// its namespace; `None` keeps ingress-nginx's defaults.
    pub configmap: Option<ObjectKey>,
}

/// Watches a cluster and keeps the route table in step with it.
pub struct ClusterSource {
    client: Client,
    config: ClusterConfig,
    /// Whether this replica leads (for readiness reporting and tests).
    leading: watch::Sender<bool>,
    /// The latest published table.
    published: watch::Sender<Option<Arc<RouteTable>>>,
    /// Admission reviews, answered by the watch task against its current state.
    admission: (mpsc::Sender<AdmissionQuery>, mpsc::Receiver<AdmissionQuery>),
}

/// Asks a running [`ClusterSource`] for admission verdicts on its current state (the
/// validating webhook's side; see [`crate::admission`]).
#[derive(Debug, Clone)]
pub struct AdmissionHandle {
    queries: mpsc::Sender<AdmissionQuery>,
}

impl AdmissionHandle {
    /// The `AdmissionReview` answer to `document`; `None` when the source has stopped.
    pub async fn review(&self, document: serde_json::Value) -> Option<serde_json::Value> {
        let (reply, answer) = oneshot::channel();
        self.queries
            .send(AdmissionQuery { document, reply })
            .await
            .ok()?;
        answer.await.ok()
    }
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
            admission: mpsc::channel(64),
        }
    }

    /// A handle for the admission webhook, answered while [`run`](Self::run) runs.
    pub fn admission(&self) -> AdmissionHandle {
        AdmissionHandle {
            queries: self.admission.0.clone(),
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
            admission: (_, admission),
        } = self;
        let (stores_tx, mut stores_rx) = watch::channel::<Option<Stores>>(None);
        // Bumped on every Ingress and Service event: what the reconciler compares with.
        let objects_changed = watch::Sender::new(());
        let mut objects_rx = objects_changed.subscribe();
        let sync = Sync {
            writer,
            configmap: config.configmap.clone(),
            debounce: config.debounce,
            debounce_ceiling: config.debounce_ceiling,
            watch_namespace: config.watch_namespace.clone(),
            published: published.clone(),
            diagnostics: crate::DiagnosticLog::new(),
            objects_changed: objects_changed.clone(),
            admission,
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
        let events = Events::new(Recorder::new(client.clone(), reporter));
        let mut reconciler = Reconciler::new(client.clone(), config.publish.clone(), events);
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
                objects_rx.borrow_and_update();
                let mut retry: Option<tokio::time::Instant> = None;
                if let (Some(table), true) = (table, is_leader) {
                    retry = reconciler
                        .pass(&table, &stores)
                        .await
                        .map(|delay| tokio::time::Instant::now() + delay);
                } else if !is_leader {
                    reconciler.forget();
                }
                let retry_due = async {
                    match retry {
                        Some(at) => tokio::time::sleep_until(at).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = &mut shutdown => break,
                    changed = table_rx.changed() => if changed.is_err() { break },
                    changed = leading_rx.changed() => if changed.is_err() { break },
                    changed = objects_rx.changed() => if changed.is_err() { break },
                    () = retry_due => {}
                }
            }
            let table = published.borrow().clone();
            let was_leading = *leading.borrow();
            if let (true, true, Some(pod), Some(table)) = (
                config.update_status_on_shutdown,
                was_leading,
                &config.own_pod,
                table,
            ) {
                reconciler.clear_on_shutdown(&table, &stores, pod).await;
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
