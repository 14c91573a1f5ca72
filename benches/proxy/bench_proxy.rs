//! Side-by-side harness: runs the `ingress-proxy` library from a route table built in code —
//! 10 hosts (`host0.bench.local` … `host9.bench.local`) × 5 Prefix paths (`/p0` … `/p4`), each
//! path index its own Service whose one endpoint is the bench backend — so nginx and HAProxy
//! can be configured with the same routes. Optionally swaps the table every N ms.
//!
//! Usage:
//! `bench-proxy --http ADDR --https ADDR --backend ADDR --cert-dir DIR [--threads N] [--swap-ms N]`
//!
//! `--cert-dir` must hold `tls.crt` / `tls.key` (written by `bench-proxy --write-cert DIR`),
//! served as the default certificate, as nginx and HAProxy serve the same files.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::{
    Change, ClassSelection, Endpoint, EndpointPort, EndpointSlice, HttpIngressPath, Ingress,
    IngressBackend, IngressRule, IngressSpec, ObjectKey, ObjectMeta, Service, ServiceBackend,
    ServiceBackendPort, ServicePort, TableConfig, TlsSecret,
};
use ingress_proxy::{Listeners, ProxyConfig};
use tokio::net::TcpListener;

/// The allocator the shipped `ingress-proxy` binary uses, so the harness measures what ships.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const HOSTS: usize = 10;
const PATHS: usize = 5;

#[derive(Debug, Default)]
struct Options {
    http: Option<SocketAddr>,
    https: Option<SocketAddr>,
    backend: Option<SocketAddr>,
    cert_dir: Option<PathBuf>,
    threads: usize,
    swap_ms: Option<u64>,
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let mut options = Options {
        threads: 1,
        ..Options::default()
    };
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--write-cert" => return write_certificate(&PathBuf::from(value()?)),
            "--http" => options.http = Some(value()?.parse()?),
            "--https" => options.https = Some(value()?.parse()?),
            "--backend" => options.backend = Some(value()?.parse()?),
            "--cert-dir" => options.cert_dir = Some(PathBuf::from(value()?)),
            "--threads" => options.threads = value()?.parse()?,
            "--swap-ms" => options.swap_ms = Some(value()?.parse()?),
            other => return Err(format!("unknown flag {other}").into()),
        }
    }
    // One thread: a current-thread runtime, the equivalent of one nginx worker's event loop.
    let runtime = if options.threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(options.threads)
            .enable_all()
            .build()?
    };
    runtime.block_on(serve(options))
}

fn write_certificate(dir: &PathBuf) -> Result<(), Box<dyn std::error::Error>> {
    let names: Vec<String> = std::iter::once("*.bench.local".to_owned()).collect();
    let generated = rcgen::generate_simple_self_signed(names)?;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("tls.crt"), generated.cert.pem())?;
    std::fs::write(dir.join("tls.key"), generated.signing_key.serialize_pem())?;
    Ok(())
}

fn service_name(path: usize) -> String {
    format!("svc-p{path}")
}

fn ingress(host: usize, age: i64) -> Ingress {
    let paths = (0..PATHS)
        .map(|path| HttpIngressPath {
            path: Some(format!("/p{path}")),
            path_type: "Prefix".to_owned(),
            backend: IngressBackend {
                service: Some(ServiceBackend {
                    name: service_name(path),
                    port: ServiceBackendPort {
                        name: None,
                        number: Some(80),
                    },
                }),
                resource: None,
            },
        })
        .collect();
    Ingress {
        meta: ObjectMeta::new("bench", &format!("host{host}"), Some(age)),
        spec: IngressSpec {
            ingress_class_name: None,
            default_backend: None,
            rules: vec![IngressRule {
                host: Some(format!("host{host}.bench.local")),
                paths,
            }],
            tls: Vec::new(),
        },
    }
}

async fn serve(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let backend = options.backend.ok_or("--backend is required")?;
    let cert_dir = options.cert_dir.ok_or("--cert-dir is required")?;
    let (mut writer, reader) = ingress_core::table(TableConfig {
        classes: ClassSelection {
            controller_name: "bench".into(),
            class_names: Vec::new(),
            watch_without_class: true,
        },
        default_backend: None,
        default_certificate: Some(ObjectKey::new("bench", "default-cert")),
        ssl_passthrough: false,
    });
    writer.apply(Change::UpsertTlsSecret(TlsSecret {
        meta: ObjectMeta::new("bench", "default-cert", Some(0)),
        certificate_chain_pem: Arc::from(std::fs::read(cert_dir.join("tls.crt"))?),
        private_key_pem: Arc::from(std::fs::read(cert_dir.join("tls.key"))?),
        ca_certificate_pem: None,
    }));
    for path in 0..PATHS {
        writer.apply(Change::UpsertService(Service {
            meta: ObjectMeta::new("bench", &service_name(path), Some(0)),
            service_type: Default::default(),
            cluster_ip: None,
            ports: vec![ServicePort {
                name: None,
                port: 80,
                app_protocol: None,
            }],
        }));
        writer.apply(Change::UpsertEndpointSlice(EndpointSlice {
            meta: ObjectMeta::new("bench", &service_name(path), Some(0)),
            service_name: service_name(path),
            ports: vec![EndpointPort {
                name: None,
                port: Some(i32::from(backend.port())),
            }],
            endpoints: vec![Endpoint {
                addresses: vec![backend.ip().to_string()],
                ready: Some(true),
            }],
        }));
    }
    for host in 0..HOSTS {
        writer.apply(Change::UpsertIngress(ingress(host, host as i64 + 1)));
    }
    writer.commit();

    let listeners = Listeners {
        http: match options.http {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        },
        https: match options.https {
            Some(address) => Some(TcpListener::bind(address).await?),
            None => None,
        },
        admin: None,
    };
    if let Some(period) = options.swap_ms {
        // Each tick publishes a fully rebuilt table: an extra Ingress comes and goes.
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(Duration::from_millis(period));
            let mut present = false;
            let (mut swaps, mut busy) = (0u32, Duration::ZERO);
            loop {
                interval.tick().await;
                let started = std::time::Instant::now();
                if present {
                    writer.apply(Change::DeleteIngress(ObjectKey::new("bench", "host99")));
                } else {
                    writer.apply(Change::UpsertIngress(ingress(99, 100)));
                }
                present = !present;
                writer.commit();
                busy += started.elapsed();
                swaps += 1;
                if swaps % 1000 == 0 {
                    eprintln!("bench-proxy: {swaps} swaps, mean commit {:?}", busy / swaps);
                }
            }
        });
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    ingress_proxy::run(listeners, reader, ProxyConfig::default(), shutdown).await?;
    Ok(())
}
