//! The cluster source end to end against an in-process fake API server, through a real
//! `kube::Client`: the table follows the cluster, status and Events reach the server, and two
//! controllers elect one leader that fails over when its Lease expires.

#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

mod support {
    pub(crate) mod fake_api;
}

use std::sync::Arc;
use std::time::{Duration, Instant};

use ingress_core::{ClassSelection, Endpoints, TableConfig, TableReader, Target, table};
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
            renew_interval: Duration::from_millis(150),
        },
        debounce: Duration::from_millis(20),
        reporter: CONTROLLER.into(),
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
async fn two_controllers_elect_one_leader_and_fail_over_when_its_lease_expires() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let start = |identity: &str| {
        let (writer, _reader) = table(table_config());
        let source = ClusterSource::new(fake.client(), config(identity));
        let leading = source.leading();
        (
            tokio::spawn(source.run(writer, std::future::pending())),
            leading,
        )
    };
    let (task_a, leading_a) = start("controller-a");
    let (task_b, leading_b) = start("controller-b");
    let one_leads = || *leading_a.borrow() || *leading_b.borrow();
    assert!(
        eventually(Duration::from_secs(5), one_leads).await,
        "someone leads"
    );
    // Watch several renewal rounds: never both.
    let deadline = Instant::now() + Duration::from_millis(600);
    while Instant::now() < deadline {
        assert!(
            !(*leading_a.borrow() && *leading_b.borrow()),
            "two leaders at once"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let (leader, follower, follower_leading) = if *leading_a.borrow() {
        (task_a, task_b, leading_b)
    } else {
        (task_b, task_a, leading_a)
    };
    // The leader dies without handing the Lease back: the follower takes over once it expires.
    let died = Instant::now();
    leader.abort();
    let follower_leading = Arc::new(follower_leading);
    let took_over = eventually(Duration::from_secs(5), || *follower_leading.borrow()).await;
    assert!(took_over, "the follower takes over");
    assert!(
        died.elapsed() >= Duration::from_millis(900),
        "not before the Lease expired: {:?}",
        died.elapsed()
    );
    follower.abort();
}
