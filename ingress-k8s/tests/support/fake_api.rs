//! An in-process fake Kubernetes API server on 127.0.0.1:0: list and watch (resourceVersion,
//! chunked watch events, BOOKMARK, 410 Gone after compaction), create/replace with optimistic
//! concurrency, status merge patches and Events. Enough for a real `kube::Client`.

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::SinkExt;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, watch};

type Body = BoxBody<Bytes, Infallible>;

#[derive(Default)]
pub(crate) struct Store {
    rv: u64,
    /// (collection, namespace, name) → object.
    objects: BTreeMap<(String, String, String), Value>,
    /// (rv, collection, event type, object).
    history: Vec<(u64, String, &'static str, Value)>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    /// Initial lists served, per collection.
    pub(crate) lists: BTreeMap<String, usize>,
    /// Status patches received: (namespace, name, patch).
    pub(crate) status_patches: Vec<(String, String, Value)>,
    /// Events created.
    pub(crate) events: Vec<Value>,
    /// Lease holders that are "partitioned": their writes fail.
    pub(crate) blocked_holders: Vec<String>,
    /// Every write (POST, PUT, PATCH) received: (method, collection, `User-Agent`,
    /// `fieldManager` query parameter).
    pub(crate) writes: Vec<(String, String, Option<String>, Option<String>)>,
    /// `User-Agent`s of every request received.
    pub(crate) user_agents: BTreeSet<String>,
    /// The next this many status patches fail with 500.
    pub(crate) failing_status_patches: usize,
}

pub(crate) struct FakeApi {
    pub(crate) addr: SocketAddr,
    pub(crate) store: Arc<Mutex<Store>>,
    changed: broadcast::Sender<()>,
    /// Bumped to end every open watch (the clients reconnect).
    kill: watch::Sender<u64>,
}

fn kind_of(collection: &str) -> (&'static str, &'static str) {
    match collection {
        "ingresses" => ("networking.k8s.io/v1", "Ingress"),
        "ingressclasses" => ("networking.k8s.io/v1", "IngressClass"),
        "services" => ("v1", "Service"),
        "secrets" => ("v1", "Secret"),
        "configmaps" => ("v1", "ConfigMap"),
        "endpointslices" => ("discovery.k8s.io/v1", "EndpointSlice"),
        "leases" => ("coordination.k8s.io/v1", "Lease"),
        "events" => ("events.k8s.io/v1", "Event"),
        "pods" => ("v1", "Pod"),
        "validatingwebhookconfigurations" => (
            "admissionregistration.k8s.io/v1",
            "ValidatingWebhookConfiguration",
        ),
        "nodes" => ("v1", "Node"),
        _ => ("v1", "Unknown"),
    }
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn respond(code: u16, body: &Value) -> Response<Body> {
    Response::builder()
        .status(StatusCode::from_u16(code).unwrap())
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())).boxed())
        .unwrap()
}

fn matches(object: &Value, label_selector: Option<&str>, field_selector: Option<&str>) -> bool {
    let label_ok = label_selector.is_none_or(|selector| {
        let labels = &object["metadata"]["labels"];
        selector
            .split(',')
            .all(|requirement| match requirement.split_once('=') {
                Some((k, v)) => labels[k] == v,
                None => !labels[requirement].is_null(),
            })
    });
    let field_ok = field_selector.is_none_or(|selector| match selector.split_once('=') {
        Some(("type", v)) => object["type"] == v,
        Some(("metadata.name", v)) => object["metadata"]["name"] == v,
        _ => true,
    });
    label_ok && field_ok
}

impl Store {
    fn record(&mut self, collection: &str, kind: &'static str, mut object: Value) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let (api_version, k) = kind_of(collection);
        object["apiVersion"] = json!(api_version);
        object["kind"] = json!(k);
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let key = (collection.to_owned(), ns, name);
        if kind == "DELETED" {
            self.objects.remove(&key);
        } else {
            self.objects.insert(key, object.clone());
        }
        self.history
            .push((self.rv, collection.to_owned(), kind, object.clone()));
        object
    }
}

impl FakeApi {
    pub(crate) async fn start() -> Arc<FakeApi> {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let (changed, _) = broadcast::channel(1024);
        let fake = Arc::new(FakeApi {
            addr: listener.local_addr().unwrap(),
            store: Arc::default(),
            changed,
            kill: watch::Sender::new(0),
        });
        let server = fake.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let fake = server.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        let fake = fake.clone();
                        async move { Ok::<_, Infallible>(fake.handle(request).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        fake
    }

    /// A client configured as the controller's binary configures its own (its `User-Agent`).
    pub(crate) fn identified_client(&self) -> kube::Client {
        let config = kube::Config::new(format!("http://{}", self.addr).parse().unwrap());
        kube::Client::try_from(ingress_k8s::cluster::identified(config)).unwrap()
    }

    pub(crate) fn client(&self) -> kube::Client {
        let config = kube::Config::new(format!("http://{}", self.addr).parse().unwrap());
        kube::Client::try_from(config).unwrap()
    }

    /// Creates or updates an object (as another client of the API would).
    pub(crate) fn apply(&self, collection: &str, mut object: Value) {
        let mut store = self.store.lock().unwrap();
        let cluster_scoped =
            ["ingressclasses", "nodes", "validatingwebhookconfigurations"].contains(&collection);
        if object["metadata"]["namespace"].is_null() && !cluster_scoped {
            object["metadata"]["namespace"] = json!("default");
        }
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let existing = store
            .objects
            .get(&(collection.to_owned(), ns, name.clone()))
            .cloned();
        let kind = if let Some(existing) = existing {
            // As the API server: identity and status stay, generation counts spec changes.
            for field in ["uid", "creationTimestamp"] {
                object["metadata"][field] = existing["metadata"][field].clone();
            }
            let generation = existing["metadata"]["generation"].as_i64().unwrap_or(1);
            let spec_changed = existing["spec"] != object["spec"];
            object["metadata"]["generation"] = json!(generation + i64::from(spec_changed));
            if object["status"].is_null() && !existing["status"].is_null() {
                object["status"] = existing["status"].clone();
            }
            "MODIFIED"
        } else {
            // A new object is a new uid, even under a name used before.
            object["metadata"]["uid"] = json!(format!("uid-{name}-{}", store.rv + 1));
            object["metadata"]["creationTimestamp"] =
                json!(format!("2024-01-01T00:{:02}:00Z", store.rv % 60));
            object["metadata"]["generation"] = json!(1);
            "ADDED"
        };
        store.record(collection, kind, object);
        drop(store);
        let _ = self.changed.send(());
    }

    /// Another client writes an object's status.
    pub(crate) fn set_status(&self, collection: &str, namespace: &str, name: &str, status: Value) {
        let mut store = self.store.lock().unwrap();
        let key = (collection.to_owned(), namespace.to_owned(), name.to_owned());
        let mut object = store.objects.get(&key).cloned().expect("object exists");
        object["status"] = status;
        store.record(collection, "MODIFIED", object);
        drop(store);
        let _ = self.changed.send(());
    }

    /// An object's current status.
    pub(crate) fn status_of(&self, collection: &str, namespace: &str, name: &str) -> Value {
        let store = self.store.lock().unwrap();
        let key = (collection.to_owned(), namespace.to_owned(), name.to_owned());
        store
            .objects
            .get(&key)
            .map_or(Value::Null, |o| o["status"].clone())
    }

    pub(crate) fn delete(&self, collection: &str, namespace: &str, name: &str) {
        let mut store = self.store.lock().unwrap();
        let key = (collection.to_owned(), namespace.to_owned(), name.to_owned());
        let object = store
            .objects
            .get(&key)
            .cloned()
            .expect("object to delete exists");
        store.record(collection, "DELETED", object);
        drop(store);
        let _ = self.changed.send(());
    }

    /// Simulates an outage: every open watch ends without seeing the deletion of this object,
    /// and history is compacted, so a watch resuming from an old version gets 410 Gone and the
    /// client must relist to learn about the deletion.
    pub(crate) fn delete_during_outage(&self, collection: &str, namespace: &str, name: &str) {
        let mut store = self.store.lock().unwrap();
        // Under the store lock: watch tasks check the kill generation under the same lock.
        self.kill.send_modify(|generation| *generation += 1);
        let key = (collection.to_owned(), namespace.to_owned(), name.to_owned());
        let object = store
            .objects
            .get(&key)
            .cloned()
            .expect("object to delete exists");
        store.record(collection, "DELETED", object);
        store.compacted = store.rv + 1;
        drop(store);
        let _ = self.changed.send(());
    }

    async fn handle(self: Arc<Self>, request: Request<Incoming>) -> Response<Body> {
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let user_agent = request
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let query: BTreeMap<String, String> = request
            .uri()
            .query()
            .unwrap_or("")
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), percent_decode(v)))
            .collect();
        let body = request
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
        // Strip /api/v1 or /apis/GROUP/VERSION.
        let rest = match segments.first() {
            Some(&"api") => &segments[2..],
            Some(&"apis") => &segments[3..],
            _ => return respond(404, &status(404, "NotFound", "unknown path")),
        };
        let (namespace, rest) = match rest {
            ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some((*ns).to_owned()), rest),
            rest => (None, rest),
        };
        // Routed by API group and version, as the real server: a kind asked for under another
        // group or version (`/api/v1/…/events` for events.k8s.io) is not found.
        let group_version = match segments.first() {
            Some(&"api") => segments.get(1).map(|v| (*v).to_owned()),
            _ => segments.get(1..3).map(|gv| gv.join("/")),
        };
        if let Some(collection) = rest.first() {
            let (api_version, kind) = kind_of(collection);
            if kind == "Unknown" || group_version.as_deref() != Some(api_version) {
                return respond(
                    404,
                    &status(404, "NotFound", "no such resource in this group/version"),
                );
            }
        }
        {
            let mut store = self.store.lock().unwrap();
            if let Some(agent) = &user_agent {
                store.user_agents.insert(agent.clone());
            }
            if [Method::POST, Method::PUT, Method::PATCH].contains(&method) {
                let collection = rest.first().copied().unwrap_or_default().to_owned();
                let field_manager = query.get("fieldManager").cloned();
                store
                    .writes
                    .push((method.to_string(), collection, user_agent, field_manager));
            }
        }
        match (method, rest) {
            (Method::GET, [collection])
                if query.get("watch").is_some_and(|w| w == "true" || w == "1") =>
            {
                self.watch(collection, namespace.as_deref(), &query)
            }
            (Method::GET, [collection]) => self.list(collection, namespace.as_deref(), &query),
            (Method::GET, [collection, name]) => {
                let store = self.store.lock().unwrap();
                let key = (
                    (*collection).to_owned(),
                    namespace.unwrap_or_default(),
                    (*name).to_owned(),
                );
                match store.objects.get(&key) {
                    Some(object) => respond(200, object),
                    None => respond(404, &status(404, "NotFound", "not found")),
                }
            }
            (Method::POST, [collection]) => {
                let mut object: Value = serde_json::from_slice(&body).unwrap();
                let ns = namespace.unwrap_or_default();
                object["metadata"]["namespace"] = json!(ns);
                if *collection == "events" {
                    let mut store = self.store.lock().unwrap();
                    store.events.push(object.clone());
                    return respond(201, &object);
                }
                let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
                let mut store = self.store.lock().unwrap();
                if store
                    .objects
                    .contains_key(&((*collection).to_owned(), ns, name))
                {
                    return respond(409, &status(409, "AlreadyExists", "already exists"));
                }
                if *collection == "leases" && self.blocked(&store, &object) {
                    return respond(500, &status(500, "InternalError", "partitioned"));
                }
                let created = store.record(collection, "ADDED", object);
                drop(store);
                let _ = self.changed.send(());
                respond(201, &created)
            }
            (Method::PUT, [collection, name]) => {
                let object: Value = serde_json::from_slice(&body).unwrap();
                let key = (
                    (*collection).to_owned(),
                    namespace.unwrap_or_default(),
                    (*name).to_owned(),
                );
                let mut store = self.store.lock().unwrap();
                let Some(current) = store.objects.get(&key) else {
                    return respond(404, &status(404, "NotFound", "not found"));
                };
                if current["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] {
                    return respond(
                        409,
                        &status(409, "Conflict", "the object has been modified"),
                    );
                }
                if *collection == "leases" && self.blocked(&store, &object) {
                    return respond(500, &status(500, "InternalError", "partitioned"));
                }
                let replaced = store.record(collection, "MODIFIED", object);
                drop(store);
                let _ = self.changed.send(());
                respond(200, &replaced)
            }
            (Method::PATCH, [collection, name, "status"]) => {
                let patch: Value = serde_json::from_slice(&body).unwrap();
                let ns = namespace.unwrap_or_default();
                let key = ((*collection).to_owned(), ns.clone(), (*name).to_owned());
                let mut store = self.store.lock().unwrap();
                if store.failing_status_patches > 0 {
                    store.failing_status_patches -= 1;
                    return respond(500, &status(500, "InternalError", "etcd timeout"));
                }
                let Some(mut object) = store.objects.get(&key).cloned() else {
                    return respond(404, &status(404, "NotFound", "not found"));
                };
                object["status"] = patch["status"].clone();
                store.status_patches.push((ns, (*name).to_owned(), patch));
                let patched = store.record(collection, "MODIFIED", object);
                drop(store);
                let _ = self.changed.send(());
                respond(200, &patched)
            }
            (Method::PATCH, ["events", _name]) => {
                let patch: Value = serde_json::from_slice(&body).unwrap();
                self.store.lock().unwrap().events.push(patch.clone());
                respond(200, &patch)
            }
            _ => respond(
                405,
                &status(405, "MethodNotAllowed", "not supported by the fake"),
            ),
        }
    }

    fn blocked(&self, store: &Store, lease: &Value) -> bool {
        lease["spec"]["holderIdentity"]
            .as_str()
            .is_some_and(|holder| store.blocked_holders.iter().any(|b| b == holder))
    }

    fn list(
        &self,
        collection: &str,
        namespace: Option<&str>,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        let mut store = self.store.lock().unwrap();
        *store.lists.entry(collection.to_owned()).or_default() += 1;
        let items: Vec<&Value> = store
            .objects
            .iter()
            .filter(|((c, ns, _), _)| c == collection && namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o)
            .filter(|o| {
                matches(
                    o,
                    query.get("labelSelector").map(String::as_str),
                    query.get("fieldSelector").map(String::as_str),
                )
            })
            .collect();
        let (api_version, kind) = kind_of(collection);
        respond(
            200,
            &json!({"apiVersion": api_version, "kind": format!("{kind}List"),
            "metadata": {"resourceVersion": store.rv.to_string()}, "items": items}),
        )
    }

    fn watch(
        self: &Arc<Self>,
        collection: &str,
        namespace: Option<&str>,
        query: &BTreeMap<String, String>,
    ) -> Response<Body> {
        let namespace = namespace.map(str::to_owned);
        let from: u64 = query
            .get("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let labels = query.get("labelSelector").cloned();
        let fields = query.get("fieldSelector").cloned();
        let collection = collection.to_owned();
        let (mut tx, rx) = futures::channel::mpsc::channel::<Result<Frame<Bytes>, Infallible>>(64);
        let fake = self.clone();
        let mut changed = self.changed.subscribe();
        let mut kill = self.kill.subscribe();
        let generation = *kill.borrow_and_update();
        tokio::spawn(async move {
            let line = |value: Value| Ok(Frame::data(Bytes::from(format!("{value}\n"))));
            if from < fake.store.lock().unwrap().compacted {
                let gone = status(410, "Expired", "too old resource version");
                let _ = tx
                    .send(line(json!({"type": "ERROR", "object": gone})))
                    .await;
                return;
            }
            let mut sent = from;
            let mut bookmarked = false;
            loop {
                let (events, rv) = {
                    let store = fake.store.lock().unwrap();
                    if *kill.borrow() != generation {
                        return;
                    }
                    let events: Vec<Value> = store
                        .history
                        .iter()
                        .filter(|(rv, c, _, o)| {
                            *rv > sent
                                && *c == collection
                                && namespace
                                    .as_deref()
                                    .is_none_or(|ns| o["metadata"]["namespace"] == ns)
                                && matches(o, labels.as_deref(), fields.as_deref())
                        })
                        .map(|(_, _, t, o)| json!({"type": t, "object": o}))
                        .collect();
                    (events, store.rv)
                };
                for event in events {
                    if tx.send(line(event)).await.is_err() {
                        return;
                    }
                }
                sent = rv;
                if !bookmarked {
                    let (api_version, kind) = kind_of(&collection);
                    let bookmark = json!({"type": "BOOKMARK", "object": {"apiVersion": api_version, "kind": kind,
                        "metadata": {"resourceVersion": rv.to_string()}}});
                    if tx.send(line(bookmark)).await.is_err() {
                        return;
                    }
                    bookmarked = true;
                }
                tokio::select! {
                    result = changed.recv() => if let Err(broadcast::error::RecvError::Closed) = result { return },
                    _ = kill.changed() => return,
                }
            }
        });
        Response::builder()
            .status(200)
            .header("content-type", "application/json")
            .body(BodyExt::boxed(StreamBody::new(rx)))
            .unwrap()
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%' && i + 2 < bytes.len())
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        if let Some(byte) = escaped {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
