//! Against a real cluster (kind or k3d): `cargo test -p ingress-k8s --test real_cluster -- --ignored`.
//! Uses the current kubeconfig context; creates and deletes the namespace `ingress-engine-e2e`.

#![cfg(feature = "cluster")]
#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::time::{Duration, Instant};

use ingress_core::{ClassSelection, TableConfig, Target, table};
use ingress_k8s::{ClusterConfig, ClusterSource, LeaseConfig, PublishStatus};
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::networking::v1::Ingress;
use kube::api::{DeleteParams, PostParams};
use kube::{Api, Client};

const NS: &str = "ingress-engine-e2e";

#[tokio::test]
#[ignore = "needs a cluster (kind or k3d); see README"]
async fn a_real_cluster_feeds_the_table_and_gets_status() {
    let client = Client::try_default().await.unwrap();
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace = serde_json::from_value(serde_json::json!({"metadata": {"name": NS}})).unwrap();
    let _ = namespaces.create(&PostParams::default(), &namespace).await;
    let services: Api<Service> = Api::namespaced(client.clone(), NS);
    let service = serde_json::from_value(serde_json::json!({"metadata": {"name": "tomcat"},
        "spec": {"selector": {"app": "tomcat"}, "ports": [{"name": "http", "port": 8080}]}}))
    .unwrap();
    services
        .create(&PostParams::default(), &service)
        .await
        .unwrap();
    let ingresses: Api<Ingress> = Api::namespaced(client.clone(), NS);
    let ingress = serde_json::from_value(serde_json::json!({"metadata": {"name": "ingress-myapp"},
        "spec": {"ingressClassName": "e2e", "rules": [{"host": "tomcat.lucky.com", "http": {"paths": [
            {"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "tomcat", "port": {"number": 8080}}}}]}}]}})).unwrap();
    ingresses
        .create(&PostParams::default(), &ingress)
        .await
        .unwrap();

    let (writer, reader) = table(TableConfig {
        classes: ClassSelection {
            controller_name: "ingress-engine.dev/controller".into(),
            class_names: vec!["e2e".into()],
            watch_without_class: false,
        },
        ..TableConfig::default()
    });
    let source = ClusterSource::new(
        client.clone(),
        ClusterConfig {
            publish: PublishStatus::Addresses(vec!["127.0.0.2".into()]),
            lease: LeaseConfig {
                name: "ingress-engine-e2e".into(),
                namespace: NS.into(),
                identity: "e2e".into(),
                duration: Duration::from_secs(5),
                renew_deadline: Duration::from_millis(2500),
                retry_period: Duration::from_secs(1),
            },
            debounce: Duration::from_millis(100),
            debounce_ceiling: Duration::from_secs(1),
            watch_namespace: None,
            own_pod: None,
            update_status_on_shutdown: false,
            reporter: "ingress-engine.dev/controller".into(),
            configmap: None,
        },
    );
    let task = tokio::spawn(source.run(writer, std::future::pending()));
    tokio::time::timeout(Duration::from_secs(30), reader.wait_until_ready())
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut routed = false;
    let mut status = false;
    while Instant::now() < deadline && !(routed && status) {
        routed = matches!(
            reader.load().route(Some("tomcat.lucky.com"), "/").target,
            Target::Service(_)
        );
        status = ingresses
            .get("ingress-myapp")
            .await
            .unwrap()
            .status
            .and_then(|s| s.load_balancer)
            .and_then(|lb| lb.ingress)
            .is_some_and(|i| !i.is_empty());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    task.abort();
    let _ = namespaces.delete(NS, &DeleteParams::default()).await;
    assert!(routed, "the Ingress is routed");
    assert!(status, "the Ingress status shows the published address");
}
