//! The single writer: snapshots, readiness, and endpoint updates that do not rebuild routes.

use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};

use ingress_core::{
    Change, ClassSelection, Endpoint, EndpointPort, EndpointSlice, Endpoints, Ingress, ObjectKey,
    ObjectMeta, PathType, Service, ServiceBackend, ServicePort, ServiceType, TableConfig, Target,
    Unavailable, table,
};

fn ingress() -> Ingress {
    Ingress::new("default", "web", Some(1))
        .with_class(ClassSelection::DEFAULT_CLASS)
        .with_path(
            Some("web.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::named("web", "http"),
        )
}

fn service() -> Service {
    Service {
        meta: ObjectMeta::new("default", "web", Some(1)),
        service_type: ServiceType::ClusterIp,
        cluster_ip: None,
        ports: vec![ServicePort {
            name: Some("http".into()),
            port: 80,
            app_protocol: None,
        }],
    }
}

fn slice(name: &str, addresses: &[&str]) -> EndpointSlice {
    EndpointSlice {
        meta: ObjectMeta::new("default", name, Some(1)),
        service_name: "web".into(),
        ports: vec![EndpointPort {
            name: Some("http".into()),
            port: Some(8080),
        }],
        endpoints: addresses
            .iter()
            .map(|a| Endpoint {
                addresses: vec![(*a).into()],
                ready: Some(true),
            })
            .collect(),
    }
}

fn endpoints(reader: &ingress_core::TableReader) -> Endpoints {
    let table = reader.load();
    match table.route(Some("web.com"), "/").target {
        Target::Service(b) => (*b.endpoints()).clone(),
        other => panic!("expected a service, got {other:?}"),
    }
}

#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn readiness_opens_on_first_commit_and_wakes_waiters() {
    let (mut writer, reader) = table(TableConfig::default());
    assert!(!reader.is_ready());
    let counter = Arc::new(CountingWaker::default());
    let waker = Waker::from(counter.clone());
    let mut cx = Context::from_waker(&waker);
    let mut ready = pin!(reader.wait_until_ready());
    assert_eq!(ready.as_mut().poll(&mut cx), Poll::Pending);
    writer.apply(Change::UpsertIngress(ingress()));
    writer.commit();
    assert!(reader.is_ready());
    assert_eq!(counter.0.load(Ordering::SeqCst), 1);
    assert_eq!(ready.as_mut().poll(&mut cx), Poll::Ready(()));
}

#[test]
fn endpoint_only_changes_update_in_place_without_rebuilding() {
    let (mut writer, reader) = table(TableConfig::default());
    writer.apply(Change::UpsertIngress(ingress()));
    writer.apply(Change::UpsertService(service()));
    let first = writer.commit();
    assert!(first.rebuilt);
    assert_eq!(
        endpoints(&reader),
        Endpoints::Unavailable(Unavailable::NoReadyEndpoints)
    );
    let before = reader.load_full();

    writer.apply(Change::UpsertEndpointSlice(slice("web-a", &["10.0.0.1"])));
    let commit = writer.commit();
    assert!(!commit.rebuilt);
    assert_eq!(commit.endpoint_updates, 1);
    assert!(
        Arc::ptr_eq(&before, &reader.load_full()),
        "same snapshot, endpoints swapped inside"
    );
    assert_eq!(
        endpoints(&reader),
        Endpoints::Ready(vec!["10.0.0.1:8080".parse().unwrap()].into())
    );

    writer.apply(Change::UpsertEndpointSlice(slice("web-b", &["10.0.0.2"])));
    writer.commit();
    assert_eq!(
        endpoints(&reader),
        Endpoints::Ready(
            vec![
                "10.0.0.1:8080".parse().unwrap(),
                "10.0.0.2:8080".parse().unwrap()
            ]
            .into()
        )
    );
    writer.apply(Change::DeleteEndpointSlice(ObjectKey::new(
        "default", "web-a",
    )));
    writer.apply(Change::DeleteEndpointSlice(ObjectKey::new(
        "default", "web-b",
    )));
    let commit = writer.commit();
    assert!(!commit.rebuilt);
    assert_eq!(
        endpoints(&reader),
        Endpoints::Unavailable(Unavailable::NoReadyEndpoints)
    );

    // An unchanged re-apply touches nothing.
    writer.apply(Change::UpsertService(service()));
    let commit = writer.commit();
    assert!(!commit.rebuilt);
    assert_eq!(commit.endpoint_updates, 0);
}

#[test]
fn route_changes_publish_a_new_snapshot_and_old_readers_keep_theirs() {
    let (mut writer, reader) = table(TableConfig::default());
    writer.apply(Change::UpsertIngress(ingress()));
    writer.commit();
    let old = reader.load_full();
    writer.apply(Change::DeleteIngress(ObjectKey::new("default", "web")));
    let commit = writer.commit();
    assert!(commit.rebuilt);
    assert_eq!(commit.generation, old.generation() + 1);
    assert!(matches!(
        old.route(Some("web.com"), "/").target,
        Target::Service(_)
    ));
    assert!(matches!(
        reader.load().route(Some("web.com"), "/").target,
        Target::NotFound
    ));
}

#[test]
fn replace_swaps_the_whole_state() {
    let (mut writer, reader) = table(TableConfig::default());
    writer.apply(Change::UpsertIngress(ingress()));
    writer.commit();
    let mut state = ingress_core::ClusterState::default();
    let other = Ingress::new("default", "other", Some(1))
        .with_class(ClassSelection::DEFAULT_CLASS)
        .with_path(
            Some("other.com"),
            PathType::Exact,
            "/",
            ServiceBackend::number("o", 80),
        );
    state.ingresses.insert(other.meta.key(), other);
    state.endpoint_slices.insert(
        ObjectKey::new("default", "web-a"),
        slice("web-a", &["10.0.0.1"]),
    );
    writer.replace(state);
    writer.commit();
    let table = reader.load();
    assert!(matches!(
        table.route(Some("web.com"), "/").target,
        Target::NotFound
    ));
    assert!(matches!(
        table.route(Some("other.com"), "/").target,
        Target::Service(_)
    ));
    // The index of slices was rebuilt: an update to a replaced slice is found.
    writer.apply(Change::UpsertEndpointSlice(slice("web-a", &["10.0.0.3"])));
    assert!(!writer.commit().rebuilt);
}
