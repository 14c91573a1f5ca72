//! SEMANTICS §5 (backends and endpoints) and §6 (TLS selection), table-driven.

mod common;

use common::{build, ing, svc};
use ingress_core::{
    ClusterState, Endpoint, EndpointPort, EndpointSlice, Endpoints, ObjectMeta, PathType,
    RouteTable, Service, ServiceBackend, ServicePort, ServiceType, TableConfig, Target, TlsSecret,
    Unavailable,
};

fn service(name: &str, ports: &[(&str, i32)]) -> Service {
    Service {
        meta: ObjectMeta::new("default", name, Some(1)),
        service_type: ServiceType::ClusterIp,
        cluster_ip: None,
        ports: ports
            .iter()
            .map(|(n, p)| ServicePort {
                name: Some((*n).into()),
                port: *p,
                app_protocol: None,
            })
            .collect(),
    }
}

fn slice(
    name: &str,
    service: &str,
    port: (&str, i32),
    endpoints: &[(&str, Option<bool>)],
) -> EndpointSlice {
    EndpointSlice {
        meta: ObjectMeta::new("default", name, Some(1)),
        service_name: service.into(),
        ports: vec![EndpointPort {
            name: Some(port.0.into()),
            port: Some(port.1),
        }],
        endpoints: endpoints
            .iter()
            .map(|(a, ready)| Endpoint {
                addresses: vec![(*a).into()],
                ready: *ready,
            })
            .collect(),
    }
}

fn endpoints_of(table: &RouteTable, host: &str) -> Endpoints {
    match table.route(Some(host), "/").target {
        Target::Service(b) => (*b.endpoints()).clone(),
        other => panic!("not a service: {other:?}"),
    }
}

#[test]
fn backends_resolve_named_ports_and_merge_ready_endpoints_of_all_slices() {
    let mut state = ClusterState::default();
    let i = ing("tomcat", 1)
        .with_path(
            Some("tomcat.lucky.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::number("tomcat", 8080),
        )
        .with_path(
            Some("ajp.lucky.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::named("tomcat", "ajp"),
        )
        .with_path(
            Some("missing-port.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::number("tomcat", 9),
        )
        .with_path(Some("missing-svc.com"), PathType::Prefix, "/", svc("ghost"));
    state.ingresses.insert(i.meta.key(), i);
    let s = service("tomcat", &[("http", 8080), ("ajp", 8009)]);
    state.services.insert(s.meta.key(), s);
    for sl in [
        slice(
            "tomcat-1",
            "tomcat",
            ("http", 8080),
            &[
                ("10.0.0.1", Some(true)),
                ("10.0.0.2", None),
                ("10.0.0.3", Some(false)),
            ],
        ),
        slice(
            "tomcat-2",
            "tomcat",
            ("http", 9090),
            &[("10.0.0.4", Some(true)), ("10.0.0.1", Some(true))],
        ),
        slice(
            "tomcat-3",
            "tomcat",
            ("ajp", 8009),
            &[("10.0.0.1", Some(true))],
        ),
    ] {
        state.endpoint_slices.insert(sl.meta.key(), sl);
    }
    let table = RouteTable::build(&state, &TableConfig::default());
    let expected: Vec<std::net::SocketAddr> = [
        "10.0.0.1:8080",
        "10.0.0.1:9090",
        "10.0.0.2:8080",
        "10.0.0.4:9090",
    ]
    .iter()
    .map(|a| a.parse().unwrap())
    .collect();
    assert_eq!(
        endpoints_of(&table, "tomcat.lucky.com"),
        Endpoints::Ready(expected.into())
    );
    assert_eq!(
        endpoints_of(&table, "ajp.lucky.com"),
        Endpoints::Ready(vec!["10.0.0.1:8009".parse().unwrap()].into())
    );
    assert_eq!(
        endpoints_of(&table, "missing-port.com"),
        Endpoints::Unavailable(Unavailable::ServicePortMissing)
    );
    assert_eq!(
        endpoints_of(&table, "missing-svc.com"),
        Endpoints::Unavailable(Unavailable::ServiceMissing)
    );
}

#[test]
fn external_name_and_all_unready_endpoints() {
    let mut state = ClusterState::default();
    let i = ing("a", 1)
        .with_path(Some("ext.com"), PathType::Prefix, "/", svc("ext"))
        .with_path(
            Some("down.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::named("down", "http"),
        );
    state.ingresses.insert(i.meta.key(), i);
    let mut ext = service("ext", &[("http", 80)]);
    ext.service_type = ServiceType::ExternalName("api.example.org".into());
    state.services.insert(ext.meta.key(), ext);
    let down = service("down", &[("http", 80)]);
    state.services.insert(down.meta.key(), down);
    let sl = slice("down-1", "down", ("http", 80), &[("10.0.0.9", Some(false))]);
    state.endpoint_slices.insert(sl.meta.key(), sl);
    let table = RouteTable::build(&state, &TableConfig::default());
    assert_eq!(
        endpoints_of(&table, "ext.com"),
        Endpoints::External {
            host: "api.example.org".into(),
            port: 80
        }
    );
    assert_eq!(
        endpoints_of(&table, "down.com"),
        Endpoints::Unavailable(Unavailable::NoReadyEndpoints)
    );
}

fn secret(name: &str) -> TlsSecret {
    TlsSecret {
        meta: ObjectMeta::new("default", name, Some(1)),
        certificate_chain_pem: format!("cert of {name}").into_bytes().into(),
        private_key_pem: b"key".to_vec().into(),
        ca_certificate_pem: None,
    }
}

#[test]
fn tls_selection_exact_then_wildcard_then_default_oldest_wins() {
    let mut state = ClusterState::default();
    for i in [
        ing("wild", 1)
            .with_path(Some("*.foo.com"), PathType::Prefix, "/", svc("w"))
            .with_tls(&["*.foo.com"], "wild-cert"),
        ing("exact", 2)
            .with_path(Some("a.foo.com"), PathType::Prefix, "/", svc("e"))
            .with_tls(&["a.foo.com"], "exact-cert"),
        ing("late", 3)
            .with_path(Some("a.foo.com"), PathType::Prefix, "/late", svc("l"))
            .with_tls(&["a.foo.com"], "late-cert"),
        ing("ghost", 4)
            .with_path(Some("g.com"), PathType::Prefix, "/", svc("g"))
            .with_tls(&["g.com"], "missing"),
    ] {
        state.ingresses.insert(i.meta.key(), i);
    }
    for s in ["wild-cert", "exact-cert", "late-cert", "default-cert"] {
        let s = secret(s);
        state.tls_secrets.insert(s.meta.key(), s);
    }
    let config = TableConfig {
        default_certificate: Some(ingress_core::ObjectKey::new("default", "default-cert")),
        ..TableConfig::default()
    };
    let table = RouteTable::build(&state, &config);
    let name = |sni: &str| {
        table
            .certificate(Some(sni))
            .and_then(|b| b.secret.clone())
            .map(|s| s.name.to_string())
    };
    assert_eq!(name("a.foo.com").as_deref(), Some("exact-cert"));
    assert_eq!(name("A.FOO.COM").as_deref(), Some("exact-cert"));
    assert_eq!(name("b.foo.com").as_deref(), Some("wild-cert"));
    assert_eq!(name("x.b.foo.com"), None);
    assert_eq!(name("other.com"), None);
    assert!(
        table
            .certificate(Some("g.com"))
            .is_some_and(|b| b.data.is_none())
    );
    assert_eq!(
        table
            .default_certificate()
            .and_then(|b| b.secret.clone())
            .map(|s| s.name.to_string())
            .as_deref(),
        Some("default-cert")
    );
    let reasons: Vec<(&str, String)> = table
        .diagnostics()
        .iter()
        .map(|d| (d.reason(), d.object().name.to_string()))
        .collect();
    assert_eq!(
        reasons,
        [
            ("TLSConflict", "late".to_owned()),
            ("TLSSecretMissing", "ghost".to_owned())
        ]
    );
}

#[test]
fn tls_hosts_redirect_plain_http_and_route_by_host_header() {
    let table = build(vec![
        ing("a", 1)
            .with_path(Some("secure.com"), PathType::Prefix, "/", svc("s"))
            .with_tls(&["secure.com"], "c"),
        ing("b", 2).with_path(Some("plain.com"), PathType::Prefix, "/", svc("p")),
    ]);
    assert!(table.route(Some("secure.com"), "/").https_redirect);
    assert!(table.route(Some("SECURE.com:80"), "/x").https_redirect);
    assert!(!table.route(Some("plain.com"), "/").https_redirect);
    assert!(!table.route(None, "/").https_redirect);
}
