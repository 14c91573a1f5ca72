//! Reflectors for the five watched kinds (six with `--configmap`: that one ConfigMap, watched
//! by name in its namespace), merged into one stream that feeds the table's writer.

use std::collections::BTreeSet;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt};
use ingress_core::{
    Change, ClusterState, EndpointSlice, Ingress, IngressClass, ObjectKey, OpaqueSecret,
    RouteTable, Service, TableWriter, TlsSecret,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client, Resource, ResourceExt};
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot, watch};

use crate::convert::{ConvertError, K8s, OPAQUE_SECRET_TYPE, SERVICE_NAME_LABEL, TLS_SECRET_TYPE};

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
    ConfigMap(watcher::Event<core::ConfigMap>),
    OpaqueSecret(watcher::Event<core::Secret>),
}

type BoxedEvents = Pin<Box<dyn Stream<Item = Result<KindEvent, watcher::Error>> + Send>>;

/// Number of watched kinds; the table opens once each has completed its initial list.
const KINDS: usize = 7;
/// The index of the global configuration's ConfigMap among them.
const CONFIGMAP: usize = 5;
/// The index of the `Opaque` Secrets (`auth-secret`, `proxy-ssl-secret`, `auth-tls-secret`)
/// among them.
const OPAQUE_SECRETS: usize = 6;

/// Starts the watches. The returned stream must be polled for the stores to fill.
fn watch_all(
    client: &Client,
    namespace: Option<&str>,
    configmap: Option<&ObjectKey>,
) -> (Stores, BoxedEvents) {
    let (ingresses, ingress_writer) = reflector::store();
    let (services, service_writer) = reflector::store();
    let config = watcher::Config::default();
    let ingress_events = reflector::reflector(
        ingress_writer,
        watcher(scoped::<net::Ingress>(client, namespace), config.clone())
            .default_backoff()
            .modify(strip),
    )
    .map(|e| e.map(KindEvent::Ingress));
    let service_events = reflector::reflector(
        service_writer,
        watcher(scoped::<core::Service>(client, namespace), config.clone())
            .default_backoff()
            .modify(strip),
    )
    .map(|e| e.map(KindEvent::Service));
    let class_events = plain(
        Api::<net::IngressClass>::all(client.clone()),
        config.clone(),
    )
    .map(|e| e.map(KindEvent::IngressClass));
    let slice_events = plain(
        scoped::<discovery::EndpointSlice>(client, namespace),
        config.clone().labels(SERVICE_NAME_LABEL),
    )
    .map(|e| e.map(KindEvent::EndpointSlice));
    let secret_events = plain(
        scoped::<core::Secret>(client, namespace),
        config.clone().fields(&format!("type={TLS_SECRET_TYPE}")),
    )
    .map(|e| e.map(KindEvent::Secret));
    // Opaque Secrets, for `auth-secret`, `proxy-ssl-secret` and `auth-tls-secret` (other types
    // are never read: service account tokens, registry credentials and Helm releases stay out
    // of the controller's memory).
    let opaque_events = plain(
        scoped::<core::Secret>(client, namespace),
        config.clone().fields(&format!("type={OPAQUE_SECRET_TYPE}")),
    )
    .map(|e| e.map(KindEvent::OpaqueSecret));
    let mut merged = futures::stream::select_all([
        ingress_events.boxed(),
        service_events.boxed(),
        class_events.boxed(),
        slice_events.boxed(),
        secret_events.boxed(),
        opaque_events.boxed(),
    ]);
    if let Some(key) = configmap {
        // One object: watched by name in its namespace, so the RBAC needed is a Role there.
        let api = Api::<core::ConfigMap>::namespaced(client.clone(), &key.namespace);
        let events = watcher(api, config.fields(&format!("metadata.name={}", key.name)))
            .default_backoff()
            .modify(strip)
            .map(|e| e.map(KindEvent::ConfigMap));
        merged.push(events.boxed());
    }
    (
        Stores {
            ingresses,
            services,
        },
        merged.boxed(),
    )
}

fn plain<K>(
    api: Api<K>,
    config: watcher::Config,
) -> impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send + use<K>
where
    K: Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug + Send + 'static,
{
    watcher(api, config).default_backoff().modify(strip)
}

/// A namespaced kind's API: of `namespace` with `--watch-namespace`, else of every namespace.
fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    match namespace {
        Some(namespace) => Api::namespaced(client.clone(), namespace),
        None => Api::all(client.clone()),
    }
}

/// When a commit is due: `debounce` after the last event, but no later than `ceiling` after
/// the first uncommitted one (`since`).
fn commit_due(
    since: Instant,
    last_event: Instant,
    debounce: Duration,
    ceiling: Duration,
) -> Instant {
    (last_event + debounce).min(since + ceiling)
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
    /// The global configuration's ConfigMap (`--configmap`), watched when set.
    pub(crate) configmap: Option<ObjectKey>,
    pub(crate) debounce: Duration,
    /// The longest a commit waits since the first uncommitted event.
    pub(crate) debounce_ceiling: Duration,
    /// `--watch-namespace`.
    pub(crate) watch_namespace: Option<String>,
    pub(crate) published: watch::Sender<Option<Arc<RouteTable>>>,
    /// Logs each rejected object and conflict once, when it appears (Events are sent by the
    /// leader only; every replica logs).
    pub(crate) diagnostics: crate::DiagnosticLog,
    /// Signalled on every Ingress and Service event (after the stores saw it), so the leader
    /// reconciles status with what the cluster now shows.
    pub(crate) objects_changed: watch::Sender<()>,
    /// Admission reviews to answer against the current state.
    pub(crate) admission: mpsc::Receiver<AdmissionQuery>,
}

/// One admission review asked of the current state (see [`crate::admission`]).
#[derive(Debug)]
pub(crate) struct AdmissionQuery {
    pub(crate) document: serde_json::Value,
    pub(crate) reply: oneshot::Sender<serde_json::Value>,
}

impl AdmissionQuery {
    /// Answers with the state `writer` holds. Before every kind has been listed the state is
    /// partial: the Ingress is allowed with a warning rather than judged against half a
    /// cluster (a webhook with `failurePolicy: Fail` must not block every apply at start-up).
    fn answer(self, writer: &TableWriter, all_listed: bool) {
        let answer = if all_listed {
            crate::admission::review(&self.document, writer.state(), writer.config())
        } else {
            crate::admission::not_synced_yet(&self.document)
        };
        // The asker may have given up (its timeout): nothing to do then.
        let _ = self.reply.send(answer);
    }
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
        let (stores, mut events) = watch_all(
            &client,
            self.watch_namespace.as_deref(),
            self.configmap.as_ref(),
        );
        stores_out.send_replace(Some(stores));
        let mut listed = [false; KINDS];
        // Without `--configmap` there is nothing to wait for.
        listed[CONFIGMAP] = self.configmap.is_none();
        let mut relists: [Option<Relist>; KINDS] = Default::default();
        // When the first uncommitted change arrived: the commit is due `debounce` after the
        // last event, and never later than `debounce_ceiling` after this one.
        let mut dirty_since: Option<Instant> = None;
        let mut last_event = Instant::now();
        let mut admission_open = true;
        loop {
            let all_listed = listed.iter().all(|l| *l);
            let due = dirty_since
                .filter(|_| all_listed)
                .map(|since| commit_due(since, last_event, self.debounce, self.debounce_ceiling));
            let next_event = async {
                match due {
                    Some(due) => tokio::time::timeout_at(due.into(), events.next()).await,
                    None => Ok(events.next().await),
                }
            };
            // Admission reviews are answered between events, on the state as it stands.
            let next = tokio::select! {
                query = self.admission.recv(), if admission_open => {
                    match query {
                        Some(query) => query.answer(&self.writer, all_listed),
                        // No webhook (every handle dropped): stop asking.
                        None => admission_open = false,
                    }
                    continue;
                }
                next = next_event => match next {
                    Ok(next) => next,
                    Err(_due) => {
                        self.commit();
                        dirty_since = None;
                        continue;
                    }
                },
            };
            let Some(event) = next else { return };
            last_event = Instant::now();
            match event {
                Ok(event) => {
                    if self.handle(event, &mut listed, &mut relists) {
                        dirty_since.get_or_insert(last_event);
                    }
                }
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
        if matches!(event, KindEvent::Ingress(_) | KindEvent::Service(_)) {
            self.objects_changed.send_replace(());
        }
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
            KindEvent::OpaqueSecret(e) => self.kind(
                Kind {
                    index: OPAQUE_SECRETS,
                    listed,
                    relists,
                },
                e,
                |o| OpaqueSecret::try_from(K8s(o)).map(Change::UpsertOpaqueSecret),
                Change::DeleteOpaqueSecret,
                |s| s.opaque_secrets.keys().cloned().collect(),
            ),
            KindEvent::ConfigMap(e) => self.kind(
                Kind {
                    index: CONFIGMAP,
                    listed,
                    relists,
                },
                e,
                |o| {
                    Ok(Change::UpsertGlobalConfig {
                        source: key_of(o),
                        data: o.data.clone().unwrap_or_default(),
                    })
                },
                |_| Change::DeleteGlobalConfig,
                |s| {
                    s.global_config
                        .source()
                        .map(|(key, _)| key.clone())
                        .into_iter()
                        .collect()
                },
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_is_due_after_the_quiet_time_but_never_past_the_ceiling() {
        let start = Instant::now();
        let (debounce, ceiling) = (Duration::from_millis(100), Duration::from_secs(1));
        let at = |ms| start + Duration::from_millis(ms);
        // One event: due after the quiet time.
        assert_eq!(commit_due(start, start, debounce, ceiling), at(100));
        // Events keep coming: each moves the quiet time on...
        assert_eq!(commit_due(start, at(500), debounce, ceiling), at(600));
        // ...but not past the ceiling counted from the first uncommitted event.
        assert_eq!(commit_due(start, at(950), debounce, ceiling), at(1000));
        assert_eq!(commit_due(start, at(5000), debounce, ceiling), at(1000));
    }
}
