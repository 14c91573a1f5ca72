//! Conversions from real manifests (the tutorial's and the Kubernetes documentation's) to the
//! core model, and every conversion error path.

#![allow(clippy::unwrap_used)] // Tests: a panic is the failure report.

use std::net::SocketAddr;
use std::path::Path;

use ingress_core::{
    ClassSelection, Endpoints, Ingress, IngressBackend, IngressClass, MatchSource, ObjectKey,
    PathType, ResourceBackend, RouteTable, Service, ServiceBackend, ServicePort, ServiceType,
    TableConfig, Target, Timestamp, TlsSecret,
};
use ingress_k8s::{ConvertError, ConvertProblem, K8s, ManifestDirectory};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;

fn fixtures(name: &str) -> ManifestDirectory {
    ManifestDirectory::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name),
    )
}

fn config(classes: &[&str], without_class: bool) -> TableConfig {
    TableConfig {
        classes: ClassSelection {
            controller_name: "ingress-engine.dev/controller".into(),
            class_names: classes.iter().map(|c| (*c).to_owned()).collect(),
            watch_without_class: without_class,
        },
        ..TableConfig::default()
    }
}

fn from_yaml<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    serde_saphyr::from_str(yaml).expect("test YAML parses")
}

#[test]
fn tutorial_manifests_convert_and_route_like_the_tutorial() {
    let mut dir = fixtures("tutorial");
    let reload = dir.reload();
    assert!(reload.errors.is_empty(), "{:?}", reload.errors);
    assert_eq!(reload.files, 5);
    let state = dir.state();

    let myapp = &state.ingresses[&ObjectKey::new("default", "ingress-myapp")];
    let mut expected = Ingress::new("default", "ingress-myapp", None)
        .with_class("nginx")
        .with_path(
            Some("tomcat.lucky.com"),
            PathType::Prefix,
            "/",
            ServiceBackend::number("tomcat", 8080),
        );
    expected.meta.creation_timestamp = myapp.meta.creation_timestamp;
    assert_eq!(myapp, &expected);

    let tomcat = &state.services[&ObjectKey::new("default", "tomcat")];
    assert_eq!(tomcat.service_type, ServiceType::ClusterIp);
    assert_eq!(
        tomcat.ports,
        vec![
            ServicePort {
                name: Some("http".into()),
                port: 8080,
                app_protocol: None,
            },
            ServicePort {
                name: Some("ajp".into()),
                port: 8009,
                app_protocol: None,
            },
        ]
    );
    let secret = &state.tls_secrets[&ObjectKey::new("default", "tomcat-ingress-secret")];
    assert!(
        secret
            .certificate_chain_pem
            .starts_with(b"-----BEGIN CERTIFICATE-----")
    );
    assert!(
        secret
            .private_key_pem
            .starts_with(b"-----BEGIN PRIVATE KEY-----")
    );
    // The Deployment next to the Service is not the route table's business.
    assert_eq!(state.services.len(), 1);
    assert_eq!(state.ingress_classes.len(), 1);

    let table = RouteTable::build(&state, &config(&["nginx"], false));
    assert!(table.diagnostics().is_empty(), "{:?}", table.diagnostics());
    assert_eq!(table.accepted_ingresses().len(), 2);

    let route = table.route(Some("tomcat.lucky.com"), "/index.jsp");
    assert_eq!(route.source, MatchSource::Path);
    assert!(!route.https_redirect);
    let Target::Service(backend) = route.target else {
        panic!("expected a Service target, got {:?}", route.target);
    };
    assert_eq!(&*backend.service().name, "tomcat");
    let expected: Vec<SocketAddr> = vec![
        "10.244.104.19:8080".parse().unwrap(),
        "10.244.166.157:8080".parse().unwrap(),
    ];
    match &*backend.endpoints() {
        Endpoints::Ready(addresses) => assert_eq!(&addresses[..], &expected[..]),
        other => panic!("expected ready endpoints, got {other:?}"),
    }

    let tls_route = table.route(Some("test.lucky.com"), "/");
    assert!(tls_route.https_redirect);
    let binding = table
        .certificate(Some("test.lucky.com"))
        .expect("certificate for test.lucky.com");
    assert_eq!(
        binding.secret,
        Some(ObjectKey::new("default", "tomcat-ingress-secret"))
    );
    assert!(binding.data.is_some());
    assert!(table.certificate(Some("tomcat.lucky.com")).is_none());
}

#[test]
fn manifests_without_timestamps_age_in_directory_order() {
    let mut dir = fixtures("tutorial");
    dir.reload();
    let state = dir.state();
    // Files sort as ingress-demo, ingress-nginx, ingress-tomcat-tls, ingressclass-nginx, tomcat-…
    let age = |key: &ObjectKey| {
        state.ingresses[key]
            .meta
            .creation_timestamp
            .expect("synthetic age")
    };
    let myapp = age(&ObjectKey::new("default", "ingress-myapp"));
    let tls = age(&ObjectKey::new("default", "ingress-tomcat-tls"));
    let service = state.services[&ObjectKey::new("default", "tomcat")]
        .meta
        .creation_timestamp;
    assert!(service.expect("synthetic age") < myapp);
    assert!(myapp < tls);
}

#[test]
fn kubernetes_documentation_examples_convert() {
    let mut dir = fixtures("k8s-docs");
    let reload = dir.reload();
    assert!(reload.errors.is_empty(), "{:?}", reload.errors);
    let state = dir.state();

    // Objects without a namespace land in `default`; IngressClasses are cluster-scoped.
    let minimal = &state.ingresses[&ObjectKey::new("default", "minimal-ingress")];
    assert_eq!(
        minimal.spec.ingress_class_name.as_deref(),
        Some("nginx-example")
    );
    assert_eq!(
        minimal.meta.annotations["nginx.ingress.kubernetes.io/rewrite-target"],
        "/"
    );
    assert_eq!(minimal.spec.rules[0].host, None);

    let resource = &state.ingresses[&ObjectKey::new("default", "ingress-resource-backend")];
    let bucket = |name: &str| IngressBackend {
        service: None,
        resource: Some(ResourceBackend {
            api_group: Some("k8s.example.com".into()),
            kind: "StorageBucket".into(),
            name: name.into(),
        }),
    };
    assert_eq!(resource.spec.default_backend, Some(bucket("static-assets")));
    assert_eq!(
        resource.spec.rules[0].paths[0].backend,
        bucket("icon-assets")
    );
    assert_eq!(
        resource.spec.rules[0].paths[0].path_type,
        "ImplementationSpecific"
    );

    let wildcard = &state.ingresses[&ObjectKey::new("default", "ingress-wildcard-host")];
    assert_eq!(wildcard.spec.rules[1].host.as_deref(), Some("*.foo.com"));

    let classes: Vec<&IngressClass> = state.ingress_classes.values().collect();
    assert_eq!(classes.len(), 2);
    let default_class = &state.ingress_classes[&ObjectKey::new("", "nginx-example")];
    assert!(default_class.is_default());
    assert_eq!(default_class.controller, "k8s.io/ingress-nginx");

    let database = &state.services[&ObjectKey::new("prod", "my-database")];
    assert_eq!(
        database.service_type,
        ServiceType::ExternalName("my.database.example.com".into())
    );
    // The legacy Endpoints became one slice per subset; notReadyAddresses are not ready.
    let slice = &state.endpoint_slices[&ObjectKey::new("default", "service1-subset-0")];
    assert_eq!(slice.service_name, "service1");
    let readiness: Vec<(&str, Option<bool>)> = slice
        .endpoints
        .iter()
        .map(|e| (e.addresses[0].as_str(), e.ready))
        .collect();
    assert_eq!(
        readiness,
        vec![("192.0.2.42", Some(true)), ("192.0.2.43", Some(false))]
    );

    // Routing through the documentation's examples, all in the default class.
    let table = RouteTable::build(&state, &config(&["nginx-example"], true));
    let route = table.route(Some("anything.example"), "/");
    let Target::Service(backend) = route.target else {
        panic!("{:?}", route.target)
    };
    assert_eq!(
        &*backend.service().name,
        "service3",
        "host-less rule of the no-third-host example"
    );
    let fanout = table.route(Some("foo.bar.com"), "/bar/baz");
    let Target::Service(backend) = fanout.target else {
        panic!("{:?}", fanout.target)
    };
    // foo.bar.com: simple-fanout /bar (service2) and wildcard-host /bar (service1) conflict;
    // the older Ingress (earlier file) wins.
    assert_eq!(&*backend.service().name, "service1");
    assert!(table.certificate(Some("https-example.foo.com")).is_some());
    let through_endpoints = table.route(Some("x.example"), "/testpath");
    let Target::Service(backend) = through_endpoints.target else {
        panic!()
    };
    assert_eq!(&*backend.service().name, "test");
}

fn error(kind: &'static str, object: &str, field: &str, problem: ConvertProblem) -> ConvertError {
    ConvertError {
        kind,
        object: object.into(),
        field: field.into(),
        problem,
    }
}

#[test]
fn ingress_conversion_errors_name_object_and_field() {
    let cases: Vec<(&str, ConvertError)> = vec![
        (
            "metadata: {namespace: web}\nspec: {}",
            error(
                "Ingress",
                "web/<unnamed>",
                "metadata.name",
                ConvertProblem::Missing,
            ),
        ),
        (
            "metadata: {generateName: app-}\nspec: {}",
            error(
                "Ingress",
                "default/app-* (generateName)",
                "metadata.name",
                ConvertProblem::Missing,
            ),
        ),
        (
            "metadata: {name: a}\nspec:\n  rules:\n  - http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: s}}}",
            error(
                "Ingress",
                "default/a",
                "spec.rules[0].http.paths[0].backend.service.port",
                ConvertProblem::Missing,
            ),
        ),
        (
            "metadata: {name: a}\nspec:\n  defaultBackend: {service: {name: '', port: {number: 80}}}",
            error(
                "Ingress",
                "default/a",
                "spec.defaultBackend.service.name",
                ConvertProblem::Missing,
            ),
        ),
        (
            "metadata: {name: a}\nspec:\n  rules:\n  - {}\n  - http:\n      paths:\n      - {path: /, pathType: Prefix, backend: {service: {name: s, port: {number: 1}}}}\n      - {path: /x, pathType: Prefix, backend: {resource: {kind: '', name: b}}}",
            error(
                "Ingress",
                "default/a",
                "spec.rules[1].http.paths[1].backend.resource.kind",
                ConvertProblem::Missing,
            ),
        ),
        (
            "metadata: {name: a}\nspec:\n  defaultBackend: {resource: {kind: Bucket, name: ''}}",
            error(
                "Ingress",
                "default/a",
                "spec.defaultBackend.resource.name",
                ConvertProblem::Missing,
            ),
        ),
    ];
    for (yaml, expected) in cases {
        let ingress: net::Ingress = from_yaml(yaml);
        assert_eq!(
            Ingress::try_from(K8s(&ingress)),
            Err(expected.clone()),
            "{yaml}"
        );
        assert!(expected.to_string().contains(&expected.field));
    }
    let message = error(
        "Ingress",
        "default/a",
        "spec.defaultBackend.service.port",
        ConvertProblem::Missing,
    );
    assert_eq!(
        message.to_string(),
        "Ingress default/a: spec.defaultBackend.service.port: is required"
    );

    let class: net::IngressClass = from_yaml("metadata: {name: c}\nspec: {}");
    assert_eq!(
        IngressClass::try_from(K8s(&class)),
        Err(error(
            "IngressClass",
            "c",
            "spec.controller",
            ConvertProblem::Missing
        ))
    );
}

#[test]
fn service_endpoint_and_secret_conversion_errors_name_object_and_field() {
    let service = |yaml: &str| Service::try_from(K8s(&from_yaml::<core::Service>(yaml)));
    assert_eq!(
        service("metadata: {name: s}\nspec: {type: ExternalName}"),
        Err(error(
            "Service",
            "default/s",
            "spec.externalName",
            ConvertProblem::Missing
        ))
    );
    assert_eq!(
        service("metadata: {name: s}\nspec: {type: Headless}"),
        Err(error(
            "Service",
            "default/s",
            "spec.type",
            ConvertProblem::Invalid {
                value: "Headless".into(),
                expected: "ClusterIP, NodePort, LoadBalancer or ExternalName"
            }
        ))
    );
    assert_eq!(
        service("metadata: {name: s, namespace: n}\nspec: {ports: [{port: 80}, {port: 70000}]}"),
        Err(error(
            "Service",
            "n/s",
            "spec.ports[1].port",
            ConvertProblem::OutOfRange {
                value: 70000,
                min: 1,
                max: 65535
            }
        ))
    );

    let slice = |yaml: &str| {
        ingress_core::EndpointSlice::try_from(K8s(&from_yaml::<discovery::EndpointSlice>(yaml)))
    };
    let labels = "labels: {kubernetes.io/service-name: svc}";
    assert_eq!(
        slice("metadata: {name: e}\naddressType: IPv4\nendpoints: []"),
        Err(error(
            "EndpointSlice",
            "default/e",
            "metadata.labels[\"kubernetes.io/service-name\"]",
            ConvertProblem::Missing
        ))
    );
    assert_eq!(
        slice(&format!(
            "metadata: {{name: e, {labels}}}\naddressType: FQDN\nendpoints: []"
        )),
        Err(error(
            "EndpointSlice",
            "default/e",
            "addressType",
            ConvertProblem::Invalid {
                value: "FQDN".into(),
                expected: "IPv4 or IPv6"
            }
        ))
    );
    assert_eq!(
        slice(&format!(
            "metadata: {{name: e, {labels}}}\naddressType: IPv4\nendpoints: [{{addresses: [10.0.0.1]}}, {{addresses: [pod.local]}}]"
        )),
        Err(error(
            "EndpointSlice",
            "default/e",
            "endpoints[1].addresses[0]",
            ConvertProblem::Invalid {
                value: "pod.local".into(),
                expected: "an IP address"
            }
        ))
    );
    assert_eq!(
        slice(&format!(
            "metadata: {{name: e, {labels}}}\naddressType: IPv6\nendpoints: []\nports: [{{port: 0}}]"
        )),
        Err(error(
            "EndpointSlice",
            "default/e",
            "ports[0].port",
            ConvertProblem::OutOfRange {
                value: 0,
                min: 1,
                max: 65535
            }
        ))
    );

    let endpoints = |yaml: &str| {
        Vec::<ingress_core::EndpointSlice>::try_from(K8s(&from_yaml::<core::Endpoints>(yaml)))
    };
    assert_eq!(
        endpoints("metadata: {name: e}\nsubsets: [{notReadyAddresses: [{ip: nope}]}]"),
        Err(error(
            "Endpoints",
            "default/e",
            "subsets[0].notReadyAddresses[0].ip",
            ConvertProblem::Invalid {
                value: "nope".into(),
                expected: "an IP address"
            }
        ))
    );
    assert_eq!(
        endpoints("metadata: {name: e}\nsubsets: [{}, {ports: [{port: 65536}]}]"),
        Err(error(
            "Endpoints",
            "default/e",
            "subsets[1].ports[0].port",
            ConvertProblem::OutOfRange {
                value: 65536,
                min: 1,
                max: 65535
            }
        ))
    );

    let secret = |yaml: &str| TlsSecret::try_from(K8s(&from_yaml::<core::Secret>(yaml)));
    assert_eq!(
        secret("metadata: {name: s}\ntype: Opaque\nstringData: {tls.crt: a, tls.key: b}"),
        Err(error(
            "Secret",
            "default/s",
            "type",
            ConvertProblem::Invalid {
                value: "Opaque".into(),
                expected: "kubernetes.io/tls"
            }
        ))
    );
    assert_eq!(
        secret("metadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: YQ==}"),
        Err(error(
            "Secret",
            "default/s",
            "data[\"tls.key\"]",
            ConvertProblem::Missing
        ))
    );
    // stringData is accepted, and wins over data (as the API server merges them).
    let converted = secret(
        "metadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: YQ==, tls.key: YQ==}\nstringData: {tls.key: plain}",
    )
    .expect("valid TLS secret");
    assert_eq!(&*converted.certificate_chain_pem, b"a");
    assert_eq!(&*converted.private_key_pem, b"plain");
    assert_eq!(converted.ca_certificate_pem, None);
    // `ca.crt`, when present (cert-manager writes it), is kept for `proxy-ssl-secret` and
    // `auth-tls-secret`.
    let converted = secret(
        "metadata: {name: s}\ntype: kubernetes.io/tls\ndata: {tls.crt: YQ==, tls.key: YQ==, ca.crt: Yw==}",
    )
    .expect("valid TLS secret");
    assert_eq!(converted.ca_certificate_pem.as_deref(), Some(&b"c"[..]));
}

#[test]
fn cluster_timestamps_are_kept() {
    let ingress: net::Ingress =
        from_yaml("metadata: {name: a, creationTimestamp: '2024-05-01T10:00:00Z'}\nspec: {}");
    let converted = Ingress::try_from(K8s(&ingress)).expect("valid");
    assert_eq!(
        converted.meta.creation_timestamp,
        Some(Timestamp(1_714_557_600))
    );
}
