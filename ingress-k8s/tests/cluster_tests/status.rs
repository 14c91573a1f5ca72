//! Ingress status reconciled with the cluster: restored when overwritten, written again for a
//! recreated Ingress, retried after failures, cleared when the Ingress leaves; the node
//! addresses of ready controller pods; clearing on the last leader's shutdown.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_and_events_are_reconciled_with_what_the_cluster_shows() {
    let fake = FakeApi::start().await;
    seed(&fake);
    // The first status write fails: it is retried with backoff, with nothing else changing.
    fake.store.lock().unwrap().failing_status_patches = 1;
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config("controller-a"));
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    let address = |fake: &FakeApi| {
        fake.status_of("ingresses", "default", "ingress-myapp")["loadBalancer"]["ingress"][0]["ip"]
            .clone()
    };
    assert!(
        eventually(Duration::from_secs(10), || address(&fake) == "127.0.0.2").await,
        "a failed status write is retried: {}",
        address(&fake)
    );
    assert_eq!(fake.store.lock().unwrap().failing_status_patches, 0);

    // Someone else overwrites the address: the leader puts it back.
    fake.set_status(
        "ingresses",
        "default",
        "ingress-myapp",
        json!({"loadBalancer": {"ingress": [{"ip": "10.9.9.9"}]}}),
    );
    assert!(
        eventually(Duration::from_secs(5), || address(&fake) == "127.0.0.2").await,
        "an overwritten address is restored: {}",
        address(&fake)
    );

    // `kubectl replace --force`: deleted and created again under the same name (a new uid,
    // no status): its address is written again and it gets its own Sync event.
    let sync_events = |fake: &FakeApi| {
        fake.store
            .lock()
            .unwrap()
            .events
            .iter()
            .filter(|e| e["reason"] == "Sync" && e["regarding"]["name"] == "ingress-myapp")
            .count()
    };
    assert!(eventually(Duration::from_secs(5), || sync_events(&fake) == 1).await);
    fake.delete("ingresses", "default", "ingress-myapp");
    fake.apply(
        "ingresses",
        ingress("ingress-myapp", "tomcat.lucky.com", "tomcat"),
    );
    assert!(
        eventually(Duration::from_secs(5), || address(&fake) == "127.0.0.2").await,
        "the recreated Ingress gets its address: {}",
        fake.status_of("ingresses", "default", "ingress-myapp")
    );
    assert!(
        eventually(Duration::from_secs(5), || sync_events(&fake) == 2).await,
        "the recreated Ingress gets a Sync event"
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_address_is_cleared_when_an_ingress_stops_being_ours() {
    let fake = FakeApi::start().await;
    seed(&fake);
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), config("controller-a"));
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    let addresses = |fake: &FakeApi| {
        fake.status_of("ingresses", "default", "ingress-myapp")["loadBalancer"]["ingress"].clone()
    };
    assert!(
        eventually(Duration::from_secs(5), || addresses(&fake)[0]["ip"]
            == "127.0.0.2")
        .await
    );
    // Moved to another controller's class.
    let mut theirs = ingress("ingress-myapp", "tomcat.lucky.com", "tomcat");
    theirs["spec"]["ingressClassName"] = json!("someone-else");
    fake.apply("ingresses", theirs);
    assert!(
        eventually(Duration::from_secs(5), || addresses(&fake)
            .as_array()
            .is_some_and(Vec::is_empty))
        .await,
        "cleared: {}",
        addresses(&fake)
    );
    task.abort();
}

fn controller_pod(name: &str, node: &str, phase: &str, ready: bool) -> serde_json::Value {
    json!({"metadata": {"name": name, "namespace": "ingress-engine",
            "labels": {"app.kubernetes.io/name": "ingress-engine", "app.kubernetes.io/component": "controller"}},
           "spec": {"nodeName": node},
           "status": {"phase": phase, "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]}})
}

fn node(name: &str, addresses: &[(&str, &str)]) -> serde_json::Value {
    let addresses: Vec<_> = addresses
        .iter()
        .map(|(kind, address)| json!({"type": kind, "address": address}))
        .collect();
    json!({"metadata": {"name": name}, "status": {"addresses": addresses}})
}

/// The tutorial's layout: controller pods on two nodes (hostNetwork), one more not ready, and
/// an unrelated pod.
fn seed_controller_pods(fake: &FakeApi) {
    fake.apply(
        "nodes",
        node(
            "k8s-node1",
            &[("InternalIP", "10.0.0.1"), ("ExternalIP", "203.0.113.1")],
        ),
    );
    fake.apply("nodes", node("k8s-node2", &[("InternalIP", "10.0.0.2")]));
    fake.apply("nodes", node("k8s-node3", &[("InternalIP", "10.0.0.3")]));
    fake.apply(
        "pods",
        controller_pod("ctrl-a", "k8s-node1", "Running", true),
    );
    fake.apply(
        "pods",
        controller_pod("ctrl-b", "k8s-node2", "Running", true),
    );
    fake.apply(
        "pods",
        controller_pod("ctrl-c", "k8s-node3", "Pending", false),
    );
    let mut other = controller_pod("web-0", "k8s-node3", "Running", true);
    other["metadata"]["labels"] = json!({"app": "web"});
    fake.apply("pods", other);
}

fn pods_config(update_status_on_shutdown: bool) -> ClusterConfig {
    let pod = ObjectKey::new("ingress-engine", "ctrl-a");
    ClusterConfig {
        publish: PublishStatus::ControllerPods {
            pod: pod.clone(),
            internal_first: false,
        },
        own_pod: Some(pod),
        update_status_on_shutdown,
        ..config("ctrl-a")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_publish_flag_the_nodes_of_ready_controller_pods_are_published() {
    let fake = FakeApi::start().await;
    seed(&fake);
    seed_controller_pods(&fake);
    let (writer, reader) = table(table_config());
    let source = ClusterSource::new(fake.client(), pods_config(false));
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(10), reader.wait_until_ready())
        .await
        .expect("ready");
    let addresses = |fake: &FakeApi| {
        fake.status_of("ingresses", "default", "ingress-myapp")["loadBalancer"]["ingress"].clone()
    };
    // node1's ExternalIP, node2's InternalIP (it has no external one); not the pending pod's
    // node nor the unrelated pod's.
    let expected = json!([{"ip": "10.0.0.2"}, {"ip": "203.0.113.1"}]);
    assert!(
        eventually(Duration::from_secs(5), || addresses(&fake) == expected).await,
        "{}",
        addresses(&fake)
    );
    task.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_last_leader_shutting_down_clears_the_addresses_others_leave_them() {
    let fake = FakeApi::start().await;
    seed(&fake);
    seed_controller_pods(&fake);
    let addresses = |fake: &FakeApi| {
        fake.status_of("ingresses", "default", "ingress-myapp")["loadBalancer"]["ingress"].clone()
    };
    // Runs ctrl-a until it leads and has published `published`, then shuts it down.
    let run_and_stop = |fake: &Arc<FakeApi>, published: serde_json::Value| {
        let fake = fake.clone();
        async move {
            let (task, leading, stop) = start_controller(&fake, pods_config(true));
            assert!(eventually(Duration::from_secs(5), || *leading.borrow()).await);
            assert!(
                eventually(Duration::from_secs(5), || addresses(&fake) == published).await,
                "{}",
                addresses(&fake)
            );
            stop.send(()).unwrap();
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("stops")
                .unwrap();
        }
    };
    // ctrl-b is still ready: the addresses stay for it to keep.
    let both = json!([{"ip": "10.0.0.2"}, {"ip": "203.0.113.1"}]);
    run_and_stop(&fake, both.clone()).await;
    assert_eq!(addresses(&fake), both);
    // The last controller pod: its shutdown removes them.
    fake.apply(
        "pods",
        controller_pod("ctrl-b", "k8s-node2", "Running", false),
    );
    run_and_stop(&fake, json!([{"ip": "203.0.113.1"}])).await;
    assert_eq!(addresses(&fake), json!([]));
}
