//! Reflectors for the five watched kinds, merged into one stream that feeds the table's writer.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt};
use ingress_core::{
    Change, ClusterState, EndpointSlice, Ingress, IngressClass, ObjectKey, RouteTable, Service,
    TableWriter, TlsSecret,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::convert::{ConvertError, K8s, SERVICE_NAME_LABEL, TLS_SECRET_TYPE};

/// The cluster objects as last listed/watched, for the status writer and event recorder (which
/// need what the core model leaves out: uids, resource versions, current status).
#[derive(Debug, Clone)]
pub(crate) struct Stores {
    /// Ingresses, for their current `status` and for Event references.
    pub(crate) ingresses: Store<net::Ingress>,
    /// Services, for `--publish-service`.
    pub(crate) services: Store<core::Service>,
}

/// One event of one watched kind, typed for the merge.
#[allow(clippy::large_enum_variant)] // moved once from the stream into `handle`; boxing buys nothing
enum KindEvent {
    Ingress(watcher::Event<net::Ingress>),
    IngressClass(watcher::Event<net::IngressClass>),
    Service(watcher::Event<core::Service>),
    EndpointSlice(watcher::Event<discovery::EndpointSlice>),
    Secret(watcher::Event<core::Secret>),
}

type BoxedEvents = Pin<Box<dyn Stream<Item = Result<KindEvent, watcher::Error>> + Send>>;

/// Number of watched kinds; the table opens once each has completed its initial list.
const KINDS: usize = 5;

/// Starts the watches. The returned stream must be polled for the stores to fill.
fn watch_all(client: &Client) -> (Stores, BoxedEvents) {
    let (ingresses, ingress_writer) = reflector::store();
    let (services, service_writer) = reflector::store();
    let config = watcher::Config::default();
    let ingress_events = reflector::reflector(
        ingress_writer,
        watcher(Api::<net::Ingress>::all(client.clone()), config.clone())
            .default_backoff()
            .modify(strip),
    )
    .map(|e| e.map(KindEvent::Ingress));
    let service_events = reflector::reflector(
        service_writer,
        watcher(Api::<core::Service>::all(client.clone()), config.clone())
            .default_backoff()
            .modify(strip),
    )
    .map(|e| e.map(KindEvent::Service));
    let class_events =
        plain::<net::IngressClass>(client, config.clone()).map(|e| e.map(KindEvent::IngressClass));
    let slice_events =
        plain::<discovery::EndpointSlice>(client, config.clone().labels(SERVICE_NAME_LABEL))
            .map(|e| e.map(KindEvent::EndpointSlice));
    let secret_events =
        plain::<core::Secret>(client, config.fields(&format!("type={TLS_SECRET_TYPE}")))
            .map(|e| e.map(KindEvent::Secret));
    let merged = futures::stream::select_all([
        ingress_events.boxed(),
        service_events.boxed(),
        class_events.boxed(),
        slice_events.boxed(),
        secret_events.boxed(),
    ]);
    (
        Stores {
            ingresses,
            services,
        },
        merged.boxed(),
    )
}

fn plain<K>(
    client: &Client,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(Api::<K>::all(client.clone()), config)
        .default_backoff()
        .modify(strip)
}

/// Managed fields are large and never read: drop them before they are stored.
fn strip<K: ResourceExt>(object: &mut K) {
    object.managed_fields_mut().clear();
}

/// Feeds watch events to the table: buffers each kind's (re)list until `InitDone`, then swaps
/// that kind whole; applies single changes otherwise; commits after `debounce` of quiet once every
/// kind has been listed. Each commit's table is sent on `published`.
pub(crate) struct Sync {
    pub(crate) writer: TableWriter,
    pub(crate) debounce: Duration,
    pub(crate) published: watch::Sender<Option<Arc<RouteTable>>>,
    /// Logs each rejected object and conflict once, when it appears (Events are sent by the
    /// leader only; every replica logs).
    pub(crate) diagnostics: crate::DiagnosticLog,
}

/// A relist in progress for one kind.
#[derive(Default)]
struct Relist {
    changes: Vec<Change>,
    keys: BTreeSet<ObjectKey>,
}

impl Sync {
    /// Runs until the watch streams end (they do not, short of the client being dropped).
    pub(crate) async fn run(mut self, client: Client, stores_out: watch::Sender<Option<Stores>>) {
        let (stores, mut events) = watch_all(&client);
        stores_out.send_replace(Some(stores));
        let mut listed = [false; KINDS];
        let mut relists: [Option<Relist>; KINDS] = Default::default();
        let mut dirty = false;
        loop {
            let next = if dirty && listed.iter().all(|l| *l) {
                match tokio::time::timeout(self.debounce, events.next()).await {
                    Ok(next) => next,
                    Err(_quiet) => {
                        self.commit();
                        dirty = false;
                        continue;
                    }
                }
            } else {
                events.next().await
            };
            let Some(event) = next else { return };
            match event {
                Ok(event) => dirty |= self.handle(event, &mut listed, &mut relists),
                // The watcher retries with backoff by itself; this only reports.
                Err(error) => tracing::warn!(%error, "watch error; retrying with backoff"),
            }
        }
    }

    fn commit(&mut self) {
        let commit = self.writer.commit();
        tracing::debug!(
            generation = commit.generation,
            rebuilt = commit.rebuilt,
            endpoint_updates = commit.endpoint_updates,
            "cluster state published"
        );
        self.diagnostics.report(&commit.table);
        self.published.send_replace(Some(commit.table));
    }

    /// Returns whether anything was buffered for the next commit.
    fn handle(
        &mut self,
        event: KindEvent,
        listed: &mut [bool; KINDS],
        relists: &mut [Option<Relist>; KINDS],
    ) -> bool {
        match event {
            KindEvent::Ingress(e) => self.kind(
                Kind {
                    index: 0,
                    listed,
                    relists,
                },
                e,
                |o| Ingress::try_from(K8s(o)).map(Change::UpsertIngress),
                Change::DeleteIngress,
                |s| s.ingresses.keys().cloned().collect(),
            ),
            KindEvent::IngressClass(e) => self.kind(
                Kind {
                    index: 1,
                    listed,
                    relists,
                },
                e,
                |o| IngressClass::try_from(K8s(o)).map(Change::UpsertIngressClass),
                Change::DeleteIngressClass,
                |s| s.ingress_classes.keys().cloned().collect(),
            ),
            KindEvent::Service(e) => self.kind(
                Kind {
                    index: 2,
                    listed,
                    relists,
                },
                e,
                |o| Service::try_from(K8s(o)).map(Change::UpsertService),
                Change::DeleteService,
                |s| s.services.keys().cloned().collect(),
            ),
            KindEvent::EndpointSlice(e) => self.kind(
                Kind {
                    index: 3,
                    listed,
                    relists,
                },
                e,
                |o| EndpointSlice::try_from(K8s(o)).map(Change::UpsertEndpointSlice),
                Change::DeleteEndpointSlice,
                |s| s.endpoint_slices.keys().cloned().collect(),
            ),
            KindEvent::Secret(e) => self.kind(
                Kind {
                    index: 4,
                    listed,
                    relists,
                },
                e,
                |o| TlsSecret::try_from(K8s(o)).map(Change::UpsertTlsSecret),
                Change::DeleteTlsSecret,
                |s| s.tls_secrets.keys().cloned().collect(),
            ),
        }
    }

    fn kind<K: Resource<DynamicType = ()>>(
        &mut self,
        kind: Kind<'_>,
        event: watcher::Event<K>,
        upsert: impl Fn(&K) -> Result<Change, ConvertError>,
        delete: impl Fn(ObjectKey) -> Change,
        current: impl Fn(&ClusterState) -> Vec<ObjectKey>,
    ) -> bool {
        let Kind {
            index,
            listed,
            relists,
        } = kind;
        match event {
            watcher::Event::Init => {
                relists[index] = Some(Relist::default());
                false
            }
            watcher::Event::InitApply(object) => {
                if let Some(relist) = relists[index].as_mut() {
                    match upsert(&object) {
                        Ok(change) => {
                            relist.keys.insert(key_of(&object));
                            relist.changes.push(change);
                        }
                        Err(error) => tracing::warn!(%error, "object ignored"),
                    }
                }
                false
            }
            watcher::Event::InitDone => {
                let relist = relists[index].take().unwrap_or_default();
                for key in current(self.writer.state()) {
                    if !relist.keys.contains(&key) {
                        self.writer.apply(delete(key));
                    }
                }
                for change in relist.changes {
                    self.writer.apply(change);
                }
                listed[index] = true;
                true
            }
            watcher::Event::Apply(object) => {
                match upsert(&object) {
                    Ok(change) => self.writer.apply(change),
                    Err(error) => {
                        // What cannot be represented is not served (rather than its old version).
                        tracing::warn!(%error, "object ignored");
                        self.writer.apply(delete(key_of(&object)));
                    }
                }
                true
            }
            watcher::Event::Delete(object) => {
                self.writer.apply(delete(key_of(&object)));
                true
            }
        }
    }
}

/// The per-kind bookkeeping `kind` updates.
struct Kind<'a> {
    index: usize,
    listed: &'a mut [bool; KINDS],
    relists: &'a mut [Option<Relist>; KINDS],
}

/// The core key of a cluster object (cluster-scoped objects have an empty namespace).
fn key_of<K: Resource>(object: &K) -> ObjectKey {
    let meta = object.meta();
    ObjectKey::new(
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    )
}
