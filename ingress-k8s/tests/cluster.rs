//! The cluster source end to end against an in-process fake API server, through a real
//! `kube::Client`: the table follows the cluster, status and Events reach the server, and two
//! controllers elect one leader that fails over when its Lease expires.

#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod support {
    pub(crate) mod fake_api;
}
#[path = "cluster_tests/events.rs"]
mod events;
#[path = "cluster_tests/leader.rs"]
mod leader;
#[path = "cluster_tests/status.rs"]
mod status;
#[path = "cluster_tests/webhook.rs"]
mod webhook;

use std::sync::Arc;
use std::time::{Duration, Instant};

use ingress_core::{
    ClassSelection, Diagnostic, Endpoints, ObjectKey, TableConfig, TableReader, Target, table,
};
use ingress_k8s::{ClusterConfig, ClusterSource, LeaseConfig, PublishStatus};
use serde_json::json;
use support::fake_api::FakeApi;

const CONTROLLER: &str = "ingress-engine.dev/controller";

fn config(identity: &str) -> ClusterConfig {
    ClusterConfig {
        publish: PublishStatus::Addresses(vec!["127.0.0.2".into()]),
        lease: LeaseConfig {
            name: "ingress-engine-leader".into(),
            namespace: "ingress-engine".into(),
            identity: identity.into(),
            duration: Duration::from_secs(1),
            renew_deadline: Duration::from_millis(500),
            retry_period: Duration::from_millis(150),
        },
        debounce: Duration::from_millis(20),
        debounce_ceiling: Duration::from_secs(1),
        watch_namespace: None,
        own_pod: None,
        update_status_on_shutdown: false,
        reporter: CONTROLLER.into(),
        configmap: None,
    }
}

fn table_config() -> TableConfig {
    TableConfig {
        classes: ClassSelection {
            controller_name: CONTROLLER.into(),
            class_names: vec![],
            watch_without_class: false,
        },
        ..TableConfig::default()
    }
}

/// Polls `check` every 10 ms until it holds or `within` passes.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if check() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    check()
}

fn ingress(name: &str, host: &str, service: &str) -> serde_json::Value {
    json!({"metadata": {"name": name}, "spec": {"ingressClassName": "ours", "rules": [{"host": host, "http": {"paths": [
        {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": service, "port": {"name": "http"}}}}]}}]}})
}

fn slice(service: &str, ips: &[&str]) -> serde_json::Value {
    let endpoints: Vec<_> = ips
        .iter()
        .map(|ip| json!({"addresses": [ip], "conditions": {"ready": true}}))
        .collect();
    json!({"metadata": {"name": format!("{service}-abc"), "labels": {"kubernetes.io/service-name": service}},
           "addressType": "IPv4", "ports": [{"name": "http", "port": 8080}], "endpoints": endpoints})
}

fn seed(fake: &FakeApi) {
    fake.apply(
        "ingressclasses",
        json!({"metadata": {"name": "ours"}, "spec": {"controller": CONTROLLER}}),
    );
    fake.apply(
        "services",
        json!({"metadata": {"name": "tomcat"}, "spec": {"ports": [
        {"name": "http", "port": 8080}, {"name": "ajp", "port": 8009}]}}),
    );
    fake.apply("endpointslices", slice("tomcat", &["10.244.104.19"]));
    fake.apply(
        "ingresses",
        ingress("ingress-myapp", "tomcat.lucky.com", "tomcat"),
    );
    fake.apply(
        "secrets",
        json!({"metadata": {"name": "opaque"}, "type": "Opaque", "stringData": {"a": "b"}}),
    );
}

fn endpoints_of(reader: &TableReader, host: &str) -> Option<Vec<String>> {
    let table = reader.load_full();
    let route = table.route(Some(host), "/");
    let Target::Service(backend) = route.target else {
        return None;
    };
    match &*backend.endpoints() {
        Endpoints::Ready(addresses) => Some(addresses.iter().map(|a| a.to_string()).collect()),
        _ => Some(vec![]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_status_and_events_follow_the_cluster() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config("controller-a"));
    let mut leading = source.leading();
    let task = tokio::spawn(source.run(writer, std::future::pending()));

    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready after every initial list");
    assert_eq!(
        endpoints_of(&reader, "tomcat.lucky.com"),
        Some(vec!["10.244.104.19:8080".to_owned()])
    );
    assert!(
        reader
            .load()
            .certificate(Some("tomcat.lucky.com"))
            .is_none()
    );

    // Endpoint-only change.
    let generation = reader.load().generation();
    fake.apply(
        "endpointslices",
        slice("tomcat", &["10.244.104.19", "10.244.166.157"]),
    );
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "tomcat.lucky.com"
        )
        .is_some_and(|e| e.len() == 2))
        .await
    );
    assert_eq!(
        reader.load().generation(),
        generation,
        "endpoint updates do not rebuild the table"
    );

    // Ingress create / update / delete; Secret create / delete; Service update.
    fake.apply("ingresses", ingress("second", "test.lucky.com", "tomcat"));
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "test.lucky.com"
        )
        .is_some())
        .await
    );
    let mut tls = ingress("second", "test.lucky.com", "tomcat");
    tls["spec"]["tls"] =
        json!([{"hosts": ["test.lucky.com"], "secretName": "tomcat-ingress-secret"}]);
    fake.apply("ingresses", tls);
    fake.apply(
        "secrets",
        json!({"metadata": {"name": "tomcat-ingress-secret"}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": "CERT", "tls.key": "KEY"}}),
    );
    let has_cert = |reader: &TableReader| {
        reader
            .load()
            .certificate(Some("test.lucky.com"))
            .is_some_and(|b| b.data.is_some())
    };
    assert!(eventually(Duration::from_secs(5), || has_cert(&reader)).await);
    fake.delete("secrets", "default", "tomcat-ingress-secret");
    assert!(eventually(Duration::from_secs(5), || !has_cert(&reader)).await);
    fake.apply(
        "services",
        json!({"metadata": {"name": "tomcat"}, "spec": {"ports": [{"name": "ajp", "port": 8009}]}}),
    );
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "tomcat.lucky.com"
        ) == Some(vec![]))
        .await,
        "service port removed: 503"
    );
    fake.apply("services", json!({"metadata": {"name": "tomcat"}, "spec": {"ports": [{"name": "http", "port": 8080}]}}));
    fake.delete("ingresses", "default", "second");
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "test.lucky.com"
        )
        .is_none())
        .await
    );

    // A relist forced by 410 Gone picks up a deletion that happened while watches were down.
    fake.apply("ingresses", ingress("third", "third.lucky.com", "tomcat"));
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "third.lucky.com"
        )
        .is_some())
        .await
    );
    let lists_before = fake
        .store
        .lock()
        .unwrap()
        .lists
        .get("ingresses")
        .copied()
        .unwrap_or(0);
    fake.delete_during_outage("ingresses", "default", "third");
    assert!(
        eventually(Duration::from_secs(10), || endpoints_of(
            &reader,
            "third.lucky.com"
        )
        .is_none())
        .await
    );
    let lists_after = fake
        .store
        .lock()
        .unwrap()
        .lists
        .get("ingresses")
        .copied()
        .unwrap_or(0);
    assert!(
        lists_after > lists_before,
        "410 Gone forced a relist ({lists_before} -> {lists_after})"
    );
    assert_eq!(
        endpoints_of(&reader, "tomcat.lucky.com").map(|e| e.len()),
        Some(2),
        "state survives the relist"
    );

    // Status and Events, written by the leader.
    tokio::time::timeout(Duration::from_secs(5), leading.wait_for(|l| *l))
        .await
        .expect("sole controller leads")
        .unwrap();
    let status_written = eventually(Duration::from_secs(5), || {
        fake.store
            .lock()
            .unwrap()
            .status_patches
            .iter()
            .any(|(ns, name, patch)| {
                ns == "default"
                    && name == "ingress-myapp"
                    && patch["status"]["loadBalancer"]["ingress"][0]["ip"] == "127.0.0.2"
            })
    })
    .await;
    assert!(status_written, "Ingress status reaches the server");
    let sync_events = |fake: &FakeApi| {
        fake.store
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| {
                e["reason"] == "Sync"
                    && e["regarding"]["name"] == "ingress-myapp"
                    && e["type"] == "Normal"
            })
            .count()
    };
    assert!(
        eventually(Duration::from_secs(5), || sync_events(&fake) == 1).await,
        "a Normal Sync event"
    );
    fake.apply("ingresses", ingress("bad", "Bad_Host", "tomcat"));
    let warned = eventually(Duration::from_secs(5), || {
        fake.store.lock().unwrap().events.iter().any(|e| {
            e["type"] == "Warning" && e["regarding"]["name"] == "bad" && e["reason"] == "Rejected"
        })
    })
    .await;
    assert!(warned, "a Warning event for the rejected Ingress");
    // More commits do not repeat identical events.
    fake.apply("endpointslices", slice("tomcat", &["10.244.104.19"]));
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "tomcat.lucky.com"
        )
        .is_some_and(|e| e.len() == 1))
        .await
    );
    fake.apply("ingresses", ingress("fourth", "fourth.lucky.com", "tomcat"));
    assert!(
        eventually(Duration::from_secs(5), || {
            fake.store
                .lock()
                .unwrap()
                .events
                .iter()
                .any(|e| e["regarding"]["name"] == "fourth")
        })
        .await
    );
    assert_eq!(
        sync_events(&fake),
        1,
        "no repeated Sync event for an unchanged Ingress"
    );
    let patches_for_myapp = fake
        .store
        .lock()
        .unwrap()
        .status_patches
        .iter()
        .filter(|(_, n, _)| n == "ingress-myapp")
        .count();
    assert_eq!(
        patches_for_myapp, 1,
        "status is written once, not on every commit"
    );

    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_configmap_named_by_flag_is_watched_and_a_bad_edit_keeps_previous_values() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let cfg = |data: serde_json::Value| json!({"metadata": {"name": "ingress-config", "namespace": "ingress-engine"}, "data": data});
    fake.apply("configmaps", cfg(json!({"hsts-max-age": "100"})));
    fake.apply(
        "configmaps",
        json!({"metadata": {"name": "unrelated", "namespace": "ingress-engine"}, "data": {"hsts": "false"}}),
    );
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(
        fake.client(),
        ClusterConfig {
            configmap: Some(ObjectKey::new("ingress-engine", "ingress-config")),
            ..config("controller-a")
        },
    );
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready after every initial list, the ConfigMap's included");
    let global = || reader.load().global_config().clone();
    assert_eq!((global().hsts_max_age, global().hsts), (100, true));

    fake.apply(
        "configmaps",
        cfg(json!({"hsts-max-age": "soon", "hsts-preload": "true", "no-such-key": "1"})),
    );
    assert!(
        eventually(Duration::from_secs(5), || global().hsts_preload).await,
        "the edit is applied"
    );
    assert_eq!(
        global().hsts_max_age,
        100,
        "the invalid value keeps the previous one"
    );
    let reasons: Vec<&str> = reader
        .load()
        .diagnostics()
        .iter()
        .filter(|d| {
            matches!(
                d,
                Diagnostic::ConfigValueInvalid { .. } | Diagnostic::ConfigKeyIgnored { .. }
            )
        })
        .map(Diagnostic::reason)
        .collect();
    assert_eq!(reasons, ["ConfigKeyIgnored", "ConfigValueInvalid"]);

    fake.delete("configmaps", "ingress-engine", "ingress-config");
    assert!(
        eventually(Duration::from_secs(5), || global().configmap.is_none()).await,
        "deleted: every key back to its default"
    );
    assert_eq!(global().hsts_max_age, 31_536_000);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_opaque_auth_secret_is_watched_and_its_rotation_applies() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let mut private = ingress("private", "private.lucky.com", "tomcat");
    private["metadata"]["annotations"] = json!({
        "nginx.ingress.kubernetes.io/auth-type": "basic",
        "nginx.ingress.kubernetes.io/auth-secret": "basic-auth",
    });
    fake.apply("ingresses", private);
    // `htpasswd -nbs foo password`.
    let secret = |hash: &str| {
        json!({"metadata": {"name": "basic-auth"}, "type": "Opaque",
            "stringData": {"auth": format!("foo:{hash}\n")}})
    };
    fake.apply("secrets", secret("{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g="));
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config("controller-a"));
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready after every initial list, the Opaque Secrets' included");
    let policy = || {
        reader
            .load()
            .routes()
            .iter()
            .find(|route| route.rule.host.as_deref() == Some("private.lucky.com"))
            .map(|route| route.rule.policy.clone())
    };
    let verifies = |password: &[u8]| {
        policy()
            .and_then(|policy| policy.basic_auth.clone())
            .and_then(|auth| auth.credentials.clone())
            .is_some_and(|users| users.verify("foo", password))
    };
    assert!(eventually(Duration::from_secs(5), || verifies(b"password")).await);

    // Rotation (`htpasswd -nbs foo qux`): the next table checks the new password only.
    fake.apply("secrets", secret("{SHA}tUun9WISQNQD8GgV9yRgBu+MfUM="));
    assert!(
        eventually(Duration::from_secs(5), || verifies(b"qux")
            && !verifies(b"password"))
        .await
    );
    // Deleted: the paths deny (503), they never open up.
    fake.delete("secrets", "default", "basic-auth");
    assert!(
        eventually(Duration::from_secs(5), || policy()
            .is_some_and(|p| p.denied.is_some()))
        .await
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_namespace_limits_the_watches_to_one_namespace() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let mut other = ingress("ingress-other", "other.lucky.com", "tomcat");
    other["metadata"]["namespace"] = json!("team-b");
    fake.apply("ingresses", other);
    let mut other_service = json!({"metadata": {"name": "tomcat", "namespace": "team-b"},
        "spec": {"ports": [{"name": "http", "port": 8080}]}});
    fake.apply("services", other_service.clone());
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(
        fake.client(),
        ClusterConfig {
            watch_namespace: Some("default".into()),
            ..config("controller-a")
        },
    );
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    assert!(endpoints_of(&reader, "tomcat.lucky.com").is_some());
    assert_eq!(endpoints_of(&reader, "other.lucky.com"), None);

    // A change in another namespace is not seen; one in the watched namespace is.
    other_service["spec"]["ports"][0]["port"] = json!(9090);
    fake.apply("services", other_service);
    let mut second = ingress("ingress-second", "second.lucky.com", "tomcat");
    second["metadata"]["namespace"] = json!("team-b");
    fake.apply("ingresses", second);
    fake.apply(
        "ingresses",
        ingress("ingress-third", "third.lucky.com", "tomcat"),
    );
    assert!(
        eventually(Duration::from_secs(5), || endpoints_of(
            &reader,
            "third.lucky.com"
        )
        .is_some())
        .await
    );
    assert_eq!(endpoints_of(&reader, "second.lucky.com"), None);
    assert_eq!(endpoints_of(&reader, "other.lucky.com"), None);
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_write_names_the_controller_as_user_agent_and_field_manager() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.identified_client(), config("controller-a"));
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    // The leader writes its Lease and the Ingress's status.
    let wrote = eventually(Duration::from_secs(10), || {
        let store = fake.store.lock().unwrap();
        let collections: Vec<&str> = store.writes.iter().map(|w| w.1.as_str()).collect();
        collections.contains(&"leases") && collections.contains(&"ingresses")
    })
    .await;
    assert!(wrote, "writes: {:?}", fake.store.lock().unwrap().writes);
    let store = fake.store.lock().unwrap();
    let agent = ingress_k8s::cluster::USER_AGENT;
    assert!(agent.starts_with("ingress-proxy/"));
    assert_eq!(
        store.user_agents.iter().collect::<Vec<_>>(),
        [agent],
        "every request, reads included"
    );
    for (method, collection, user_agent, field_manager) in &store.writes {
        assert_eq!(user_agent.as_deref(), Some(agent), "{method} {collection}");
        if collection != "events" {
            assert_eq!(
                field_manager.as_deref(),
                Some(ingress_k8s::cluster::FIELD_MANAGER),
                "{method} {collection}"
            );
        }
    }
    drop(store);
    task.abort();
}

/// Starts a controller with `config`; returns its task, whether it leads, and a switch that
/// shuts it down gracefully.
fn start_controller(
    fake: &FakeApi,
    config: ClusterConfig,
) -> (
    tokio::task::JoinHandle<()>,
    tokio::sync::watch::Receiver<bool>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (writer, _reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config);
    let leading = source.leading();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(source.run(writer, async move {
        let _ = stopped.await;
    }));
    (task, leading, stop)
}
