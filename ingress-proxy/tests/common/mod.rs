//! Shared test fixtures: cluster objects in one line, a running proxy, clients.
// Each test binary uses a different subset of the fixtures, and `pub` is how they share them.
#![allow(dead_code, unreachable_pub)]

pub mod backend;
pub mod differential;
pub mod framing;
pub mod raw;
pub mod recorder;
pub mod tls;

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use ingress_core::{
    Change, ClassSelection, Endpoint, EndpointPort, EndpointSlice, HttpIngressPath, Ingress,
    IngressBackend, IngressRule, IngressSpec, IngressTls, ObjectMeta, Service, ServiceBackend,
    ServiceBackendPort, ServicePort, TableConfig, TableReader, TableWriter, TlsSecret,
};
use ingress_proxy::{Limits, Listeners, ProxyConfig, ProxyError};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const NS: &str = "default";

/// A table whose class selection takes Ingresses without a class.
/// Applies a ConfigMap of the global configuration with `pairs` as its data, and commits.
pub fn configmap(writer: &mut TableWriter, pairs: &[(&str, &str)]) {
    writer.apply(ingress_core::Change::UpsertGlobalConfig {
        source: ingress_core::ObjectKey::new("ingress-nginx", "ingress-nginx-controller"),
        data: pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    });
    writer.commit();
}

pub fn table() -> (TableWriter, TableReader) {
    table_with(None)
}

pub fn table_with(default_certificate: Option<&str>) -> (TableWriter, TableReader) {
    ingress_core::table(TableConfig {
        classes: ClassSelection {
            controller_name: "k8s.io/ingress-nginx".into(),
            class_names: vec!["nginx".into()],
            watch_without_class: true,
        },
        default_backend: None,
        default_certificate: default_certificate.map(|name| ingress_core::ObjectKey::new(NS, name)),
        ssl_passthrough: false,
    })
}

pub fn backend_ref(service: &str, port: i32) -> IngressBackend {
    IngressBackend {
        service: Some(ServiceBackend {
            name: service.to_owned(),
            port: ServiceBackendPort {
                name: None,
                number: Some(port),
            },
        }),
        resource: None,
    }
}

pub fn backend_ref_named(service: &str, port: &str) -> IngressBackend {
    IngressBackend {
        service: Some(ServiceBackend {
            name: service.to_owned(),
            port: ServiceBackendPort {
                name: Some(port.to_owned()),
                number: None,
            },
        }),
        resource: None,
    }
}

/// An Ingress with one rule per `(host, path, service)`, Prefix paths, port 80.
pub fn ingress(name: &str, age: i64, rules: &[(Option<&str>, &str, &str)]) -> Ingress {
    let rules = rules
        .iter()
        .map(|(host, path, service)| IngressRule {
            host: host.map(str::to_owned),
            paths: vec![HttpIngressPath {
                path: Some((*path).to_owned()),
                path_type: "Prefix".to_owned(),
                backend: backend_ref(service, 80),
            }],
        })
        .collect();
    Ingress {
        meta: ObjectMeta::new(NS, name, Some(age)),
        spec: IngressSpec {
            ingress_class_name: None,
            default_backend: None,
            rules,
            tls: Vec::new(),
        },
    }
}

pub fn with_tls(mut ingress: Ingress, hosts: &[&str], secret: &str) -> Ingress {
    ingress.spec.tls.push(IngressTls {
        hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
        secret_name: Some(secret.to_owned()),
    });
    ingress
}

/// A ClusterIP Service with port 80 (unnamed) or a named port.
pub fn service(name: &str, port_name: Option<&str>) -> Service {
    Service {
        meta: ObjectMeta::new(NS, name, Some(1)),
        service_type: Default::default(),
        cluster_ip: None,
        ports: vec![ServicePort {
            name: port_name.map(str::to_owned),
            port: 80,
            app_protocol: None,
        }],
    }
}

/// One EndpointSlice per address (each may listen on its own port), all ready.
pub fn slices(
    service: &str,
    port_name: Option<&str>,
    addresses: &[SocketAddr],
) -> Vec<EndpointSlice> {
    addresses
        .iter()
        .enumerate()
        .map(|(i, address)| EndpointSlice {
            meta: ObjectMeta::new(NS, &format!("{service}-{i}"), Some(1)),
            service_name: service.to_owned(),
            ports: vec![EndpointPort {
                name: port_name.map(str::to_owned),
                port: Some(i32::from(address.port())),
            }],
            endpoints: vec![Endpoint {
                addresses: vec![address.ip().to_string()],
                ready: Some(true),
            }],
        })
        .collect()
}

/// Upserts a Service and its endpoints.
pub fn add_service(writer: &mut TableWriter, name: &str, addresses: &[SocketAddr]) {
    writer.apply(ingress_core::Change::UpsertService(service(name, None)));
    for slice in slices(name, None, addresses) {
        writer.apply(ingress_core::Change::UpsertEndpointSlice(slice));
    }
}

/// A committed table with one Ingress routing `a.example/` to Service `web` at `addresses`.
pub fn web_table(addresses: &[SocketAddr]) -> (TableWriter, TableReader) {
    let (mut writer, reader) = table();
    add_service(&mut writer, "web", addresses);
    writer.apply(Change::UpsertIngress(ingress(
        "a",
        1,
        &[(Some("a.example"), "/", "web")],
    )));
    writer.commit();
    (writer, reader)
}

pub fn tls_secret(name: &str, chain_pem: &str, key_pem: &str) -> TlsSecret {
    TlsSecret {
        meta: ObjectMeta::new(NS, name, Some(1)),
        certificate_chain_pem: chain_pem.as_bytes().into(),
        private_key_pem: key_pem.as_bytes().into(),
        ca_certificate_pem: None,
    }
}

/// The default configuration with at most `max_connections` client connections.
pub fn config_with_max_connections(max_connections: usize) -> ProxyConfig {
    ProxyConfig {
        limits: Limits {
            max_connections,
            ..Limits::default()
        },
        ..ProxyConfig::default()
    }
}

/// A proxy serving on fresh loopback ports.
pub struct Proxy {
    pub http: SocketAddr,
    pub https: SocketAddr,
    pub admin: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ProxyError>>>,
}

impl Proxy {
    /// Starts the proxy. With `INGRESS_PROXY_TEST_INLINE_HTTP1=0` in the environment the
    /// inline HTTP/1.1 fast paths are off (`.ci/run` runs the suites both ways).
    pub async fn start(reader: TableReader, mut config: ProxyConfig) -> Proxy {
        if std::env::var_os("INGRESS_PROXY_TEST_INLINE_HTTP1").is_some_and(|v| v == "0") {
            config.inline_http1 = false;
        }
        Proxy::start_exact(reader, config).await
    }

    /// Starts the proxy with `config` as given, whatever the environment says (the
    /// differential tests set `inline_http1` themselves, both ways).
    pub async fn start_exact(reader: TableReader, config: ProxyConfig) -> Proxy {
        let http = TcpListener::bind("127.0.0.1:0").await.expect("bind http");
        let https = TcpListener::bind("127.0.0.1:0").await.expect("bind https");
        let admin = TcpListener::bind("127.0.0.1:0").await.expect("bind admin");
        let addresses = (
            http.local_addr().expect("http address"),
            https.local_addr().expect("https address"),
            admin.local_addr().expect("admin address"),
        );
        let (tx, rx) = oneshot::channel::<()>();
        let listeners = Listeners {
            http: Some(http),
            https: Some(https),
            admin: Some(admin),
        };
        let task = tokio::spawn(ingress_proxy::run(listeners, reader, config, async move {
            let _ = rx.await;
        }));
        Proxy {
            http: addresses.0,
            https: addresses.1,
            admin: addresses.2,
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Signals shutdown and returns the task to await.
    pub fn begin_shutdown(&mut self) -> JoinHandle<Result<(), ProxyError>> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.take().expect("shutdown begun once")
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

pub type HttpClient = Client<HttpConnector, Full<Bytes>>;

pub fn http1_client() -> HttpClient {
    Client::builder(TokioExecutor::new()).build_http()
}

pub fn h2c_client() -> HttpClient {
    Client::builder(TokioExecutor::new())
        .http2_only(true)
        .build_http()
}

/// A response read whole.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// `GET http://{address}{path}` with `Host: host`, with a 10 s bound.
pub async fn get(client: &HttpClient, address: SocketAddr, host: &str, path: &str) -> Answer {
    let request = Request::get(format!("http://{address}{path}"))
        .header("host", host)
        .body(Full::new(Bytes::new()))
        .expect("request");
    send(client, request).await
}

/// `GET http://ADDRESS{path}` with `Host: host` and extra `headers`, over a fresh HTTP/1.1 client.
pub async fn get_with_headers(
    address: SocketAddr,
    host: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> Answer {
    let mut builder = Request::get(format!("http://{address}{path}")).header("host", host);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    send(
        &http1_client(),
        builder.body(Full::new(Bytes::new())).expect("request"),
    )
    .await
}

pub async fn send(client: &HttpClient, request: Request<Full<Bytes>>) -> Answer {
    let response = tokio::time::timeout(Duration::from_secs(10), client.request(request))
        .await
        .expect("response within 10 s")
        .expect("response");
    let (parts, body) = response.into_parts();
    let body = body.collect().await.expect("body").to_bytes();
    Answer {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

/// Polls `condition` every 5 ms for up to 5 s.
pub async fn eventually<F, Fut>(mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while tokio::time::Instant::now() < deadline {
        if condition().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}
