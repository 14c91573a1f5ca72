//! The `ingress-proxy` binary's command line and wiring: flags → table config → a source (manifest
//! directory or cluster) feeding the table → the data plane serving from it.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};
use ingress_core::{ClassSelection, ObjectKey, ServiceRef, TableConfig};
use ingress_proxy::{AccessLog, AccessLogDestination, AccessLogFormat};
use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::cluster::{ClusterConfig, ClusterSource, LeaseConfig, PublishStatus};

mod certgen;
mod offline;
mod parse;

use crate::manifest::ManifestSource;
pub use certgen::CertgenCommand;
pub use offline::{ExplainArgs, check, explain};
pub use parse::{
    parse_access_log, parse_duration, parse_listen_address, parse_object_key, parse_service_ref,
};

/// The controller name this binary claims IngressClasses for (`spec.controller`); deploy/ uses it.
pub const DEFAULT_CONTROLLER_NAME: &str = "ingress-engine.dev/controller";

/// Command-line flags of `ingress-proxy`.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "ingress-proxy",
    version,
    about = "Kubernetes Ingress proxy and controller"
)]
pub struct Args {
    /// Serve from this directory of manifests (YAML/JSON) instead of a cluster.
    #[arg(long, value_name = "DIR")]
    pub manifests: Option<PathBuf>,
    /// Kubeconfig for the cluster (default: in-cluster config or ~/.kube/config).
    #[arg(long, value_name = "PATH", conflicts_with = "manifests")]
    pub kubeconfig: Option<PathBuf>,
    /// Plain HTTP listener [default: 127.0.0.1:8080 with --manifests, else 0.0.0.0:80].
    #[arg(long, value_name = "ADDR")]
    pub http_addr: Option<SocketAddr>,
    /// HTTPS listener [default: 127.0.0.1:8443 with --manifests, else 0.0.0.0:443].
    #[arg(long, value_name = "ADDR")]
    pub https_addr: Option<SocketAddr>,
    /// Admin listener: /healthz, /readyz, /metrics, /api/…, /dashboard [default:
    /// 127.0.0.1:10254 with --manifests, else 0.0.0.0:10254].
    #[arg(long, value_name = "ADDR")]
    pub admin_addr: Option<SocketAddr>,
    /// What to do instead of serving (`check`).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// An ingress class name that is ours (repeatable).
    #[arg(long = "ingress-class", value_name = "NAME", global = true)]
    pub ingress_classes: Vec<String>,
    /// IngressClasses whose spec.controller equals this are ours.
    #[arg(long, value_name = "NAME", default_value = DEFAULT_CONTROLLER_NAME, global = true)]
    pub controller_name: String,
    /// Also serve Ingresses without any class.
    #[arg(long, global = true)]
    pub watch_ingress_without_class: bool,
    /// TLS Secret served when no Ingress's tls entry matches the SNI name.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_object_key, global = true)]
    pub default_ssl_certificate: Option<ObjectKey>,
    /// The ConfigMap holding the global configuration (ingress-nginx's keys): watched in
    /// cluster mode; with --manifests, the `kind: ConfigMap` document of that namespace and
    /// name (other ConfigMaps are ignored).
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_object_key, global = true)]
    pub configmap: Option<ObjectKey>,
    /// Service that answers requests no rule matches (default: a built-in 404).
    #[arg(long, value_name = "NAMESPACE/NAME:PORT", value_parser = parse_service_ref, global = true)]
    pub default_backend_service: Option<ServiceRef>,
    /// Addresses written to Ingress status (comma-separated IPs or host names).
    #[arg(
        long,
        value_name = "ADDR[,ADDR]",
        value_delimiter = ',',
        conflicts_with = "publish_service"
    )]
    pub publish_status_address: Vec<String>,
    /// Service whose addresses are written to Ingress status.
    #[arg(long, value_name = "NAMESPACE/NAME", value_parser = parse_object_key)]
    pub publish_service: Option<ObjectKey>,
    /// Serve the validating admission webhook on this address (`:8443`, ingress-nginx's
    /// flag); needs --validating-webhook-certificate and --validating-webhook-key.
    #[arg(long, value_name = "ADDR", value_parser = parse_listen_address, requires_all = ["validating_webhook_certificate", "validating_webhook_key"])]
    pub validating_webhook: Option<SocketAddr>,
    /// The webhook's serving certificate chain (PEM).
    #[arg(long, value_name = "PATH")]
    pub validating_webhook_certificate: Option<PathBuf>,
    /// The webhook's private key (PEM).
    #[arg(long, value_name = "PATH")]
    pub validating_webhook_key: Option<PathBuf>,
    /// With neither publish flag: publish the nodes' InternalIP before their ExternalIP
    /// (ingress-nginx's flag).
    #[arg(long)]
    pub report_node_internal_ip_address: bool,
    /// When the leader shuts down and no other controller pod is ready, remove the published
    /// addresses from the Ingresses (ingress-nginx's flag, on by default).
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub update_status_on_shutdown: bool,
    /// Watch Ingresses, Services, EndpointSlices and Secrets of this namespace only
    /// (ingress-nginx's flag; default: every namespace). Cluster mode only.
    #[arg(long, value_name = "NAMESPACE", conflicts_with = "manifests")]
    pub watch_namespace: Option<String>,
    /// Log format of the diagnostic log.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// Where the access log goes: `off`, `stdout` (as ingress-nginx), or a file path
    /// (appended to).
    #[arg(long, value_name = "off|stdout|PATH", default_value = "stdout", value_parser = parse_access_log)]
    pub access_log: AccessLogDestination,
    /// Access-log line format: `text` is ingress-nginx's default `upstreaminfo`; `json` one
    /// object per line with the same fields.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub access_log_format: LogFormat,
    /// Name of the leader-election Lease.
    #[arg(long, value_name = "NAME", default_value = "ingress-engine-leader")]
    pub election_id: String,
    /// Namespace of the Lease (the controller's own).
    #[arg(
        long,
        value_name = "NAMESPACE",
        env = "POD_NAMESPACE",
        default_value = "ingress-engine"
    )]
    pub election_namespace: String,
    /// How long a leader's Lease lasts without renewal (ingress-nginx's `--election-ttl`); the
    /// leader steps down when renewals fail for half of it, standbys retry every 2 s.
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = parse_duration)]
    pub election_ttl: Duration,
    /// Every HTTP and HTTPS connection begins with a PROXY protocol header (v1 or v2) naming
    /// the client, as ingress-lb or another balancer with `proxy_protocol` sends it (the
    /// ConfigMap's `use-proxy-protocol` decides when one is in force).
    #[arg(long)]
    pub use_proxy_protocol: bool,
    /// Pass TLS connections whose server name (SNI) is a host with the `ssl-passthrough`
    /// annotation to the Service of that host's `/` rule, untouched (ingress-nginx's flag).
    #[arg(long)]
    pub enable_ssl_passthrough: bool,
    /// Turn off the inline HTTP/1.1 fast paths: every request goes through hyper's server and
    /// client (same answers, more CPU per request; to compare, or to rule them out).
    #[arg(long)]
    pub disable_inline_http1: bool,
    /// Serve the read-only dashboard at /dashboard on the admin listener [default: on with
    /// --manifests (a local listener), off in cluster mode]; `--enable-dashboard=false` turns
    /// it off.
    #[arg(long, value_name = "BOOL", num_args = 0..=1, default_missing_value = "true")]
    pub enable_dashboard: Option<bool>,
}

/// The subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Check manifests without serving them (as `nginx -t` does): print every problem with
    /// file, document, object and field, and exit non-zero if any object would be rejected.
    /// The class flags (`--ingress-class`, `--controller-name`,
    /// `--watch-ingress-without-class`) say which Ingresses are ours, as when serving.
    Check {
        /// Manifest files, directories (their `*.yaml`, `*.yml`, `*.json`), or `-` for
        /// standard input.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
    /// The validating webhook's certificates, as the tutorial's admission-create and
    /// admission-patch Jobs do (no other image needed).
    Certgen {
        /// The step.
        #[command(subcommand)]
        step: CertgenCommand,
    },
    /// Explain where a request would go in a set of manifests: the winning rule, every other
    /// candidate and why it lost, and the eligible endpoints.
    Explain {
        /// The request's host (`Host` header); absent: a request without one.
        #[arg(long)]
        host: Option<String>,
        /// The request's path (and query).
        #[arg(long, default_value = "/")]
        path: String,
        /// The scheme the request arrives with (plain HTTP to a TLS host is redirected).
        #[arg(long, value_enum, default_value_t = Scheme::Http)]
        scheme: Scheme,
        /// A request header, `Name:Value` (repeatable; canary rules read them).
        #[arg(long = "header", value_name = "NAME:VALUE")]
        headers: Vec<String>,
        /// A request cookie, `name=value` (repeatable; canary rules read them).
        #[arg(long = "cookie", value_name = "NAME=VALUE")]
        cookies: Vec<String>,
        /// Manifest files, directories, or `-` for standard input.
        #[arg(value_name = "PATH", required = true)]
        paths: Vec<PathBuf>,
    },
}

/// `explain --scheme`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scheme {
    /// Plain HTTP.
    Http,
    /// HTTPS.
    Https,
}

/// `--log-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Why the binary could not start.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A listener could not be bound.
    #[error("cannot listen on {addr} ({which}): {source}")]
    Bind {
        /// `--http-addr`, `--https-addr` or `--admin-addr`.
        which: &'static str,
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// No usable cluster configuration.
    #[error("cannot connect to the cluster: {0}")]
    Cluster(String),
    /// The manifest directory could not be watched.
    #[error("cannot watch the manifest directory: {0}")]
    Watch(#[from] notify::Error),
    /// The validating webhook could not start.
    #[error("{0}")]
    Webhook(#[from] crate::webhook::WebhookError),
    /// The data plane failed to start.
    #[error("proxy: {0}")]
    Proxy(#[from] ingress_proxy::ProxyError),
}

/// The webhook's listener, when `--validating-webhook` is given (clap requires the other two).
fn webhook_config(args: &Args) -> Option<crate::webhook::WebhookConfig> {
    Some(crate::webhook::WebhookConfig {
        addr: args.validating_webhook?,
        certificate: args.validating_webhook_certificate.clone()?,
        key: args.validating_webhook_key.clone()?,
    })
}

/// `ingress-proxy certgen …`: returns whether the step succeeded.
pub async fn certgen(args: &Args, step: &CertgenCommand) -> bool {
    match cluster_client(args.kubeconfig.as_ref()).await {
        Ok(client) => certgen::run(step, client).await,
        Err(error) => {
            eprintln!("ingress-proxy certgen: {error}");
            false
        }
    }
}

impl Args {
    /// The route table's configuration from the flags.
    pub fn table_config(&self) -> TableConfig {
        TableConfig {
            classes: ClassSelection {
                controller_name: self.controller_name.clone(),
                class_names: self.ingress_classes.clone(),
                watch_without_class: self.watch_ingress_without_class,
            },
            default_backend: self.default_backend_service.clone(),
            default_certificate: self.default_ssl_certificate.clone(),
            ssl_passthrough: self.enable_ssl_passthrough,
        }
    }

    /// The three listen addresses, defaulted for the mode.
    pub fn addresses(&self) -> [SocketAddr; 3] {
        let local = self.manifests.is_some();
        let pick = |given: Option<SocketAddr>, local_default: &str, cluster_default: &str| {
            given.unwrap_or_else(|| {
                let text = if local {
                    local_default
                } else {
                    cluster_default
                };
                // Both defaults are literal, valid socket addresses.
                text.parse()
                    .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)))
            })
        };
        [
            pick(self.http_addr, "127.0.0.1:8080", "0.0.0.0:80"),
            pick(self.https_addr, "127.0.0.1:8443", "0.0.0.0:443"),
            pick(self.admin_addr, "127.0.0.1:10254", "0.0.0.0:10254"),
        ]
    }

    /// `own_pod`: this controller's pod, when it runs in one.
    fn publish_status(&self, own_pod: Option<&ObjectKey>) -> PublishStatus {
        if let Some(service) = &self.publish_service {
            PublishStatus::Service(service.clone())
        } else if !self.publish_status_address.is_empty() {
            PublishStatus::Addresses(self.publish_status_address.clone())
        } else if let Some(pod) = own_pod {
            PublishStatus::ControllerPods {
                pod: pod.clone(),
                internal_first: self.report_node_internal_ip_address,
            }
        } else {
            PublishStatus::None
        }
    }
}

/// Installs the `tracing` subscriber (`RUST_LOG` filters; default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    // Colour codes only for a person at a terminal, never into files or log collectors.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stdout().is_terminal());
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}

/// Runs the binary until SIGINT/SIGTERM.
pub async fn run(args: Args) -> Result<(), CliError> {
    let (stop, stopped) = watch::channel(false);
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        stop.send_replace(true);
    });
    run_until(args, stopped).await
}

/// Runs the binary until `stop` turns true (what [`run`] does on a signal; tests drive it).
pub async fn run_until(args: Args, stop: watch::Receiver<bool>) -> Result<(), CliError> {
    let [http, https, admin] = args.addresses();
    let bind = |which: &'static str, addr: SocketAddr| async move {
        TcpListener::bind(addr)
            .await
            .map_err(|source| CliError::Bind {
                which,
                addr,
                source,
            })
    };
    let listeners = ingress_proxy::Listeners {
        http: Some(bind("--http-addr", http).await?),
        https: Some(bind("--https-addr", https).await?),
        admin: Some(bind("--admin-addr", admin).await?),
    };
    if let [Some(http), Some(https), Some(admin)] =
        [&listeners.http, &listeners.https, &listeners.admin]
            .map(|l| l.as_ref().and_then(|l| l.local_addr().ok()))
    {
        tracing::info!(%http, %https, %admin, "listening");
    }
    let (writer, reader) = ingress_core::table(args.table_config());
    let until = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let source = match &args.manifests {
        Some(dir) => {
            tracing::info!(dir = %dir.display(), "serving from a manifest directory");
            let source = ManifestSource::new(dir).with_global_configmap(args.configmap.clone());
            let stop = stop.clone();
            tokio::spawn(async move {
                source
                    .run(writer, until(stop))
                    .await
                    .map_err(CliError::from)
            })
        }
        None => {
            let client = cluster_client(args.kubeconfig.as_ref()).await?;
            let identity = std::env::var("POD_NAME")
                .or_else(|_| std::env::var("HOSTNAME"))
                .unwrap_or_else(|_| format!("ingress-proxy-{}", std::process::id()));
            let (renew_deadline, retry_period) = LeaseConfig::timings(args.election_ttl);
            // In a pod (the Downward API's POD_NAME, and POD_NAMESPACE or --election-namespace).
            let own_pod = std::env::var("POD_NAME")
                .ok()
                .filter(|name| !name.is_empty())
                .map(|name| ObjectKey::new(&args.election_namespace, &name));
            let config = ClusterConfig {
                publish: args.publish_status(own_pod.as_ref()),
                own_pod,
                update_status_on_shutdown: args.update_status_on_shutdown,
                lease: LeaseConfig {
                    name: args.election_id.clone(),
                    namespace: args.election_namespace.clone(),
                    identity,
                    duration: args.election_ttl,
                    renew_deadline,
                    retry_period,
                },
                debounce: Duration::from_millis(100),
                debounce_ceiling: Duration::from_secs(1),
                watch_namespace: args.watch_namespace.clone(),
                reporter: args.controller_name.clone(),
                configmap: args.configmap.clone(),
            };
            let source = ClusterSource::new(client, config);
            let webhook = match webhook_config(&args) {
                Some(config) => Some(crate::webhook::bind(&config, source.admission()).await?.1),
                None => None,
            };
            let stop = stop.clone();
            tokio::spawn(async move {
                let serving = async {
                    match webhook {
                        Some(webhook) => webhook.await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    () = source.run(writer, until(stop)) => {}
                    () = serving => {}
                }
                Ok(())
            })
        }
    };
    let served =
        ingress_proxy::run(listeners, reader, proxy_config(&args), until(stop.clone())).await;
    let sourced = match source.await {
        Ok(result) => result,
        Err(join) => {
            tracing::error!(%join, "config source task failed");
            Ok(())
        }
    };
    served?;
    sourced
}

/// The data plane's configuration: its defaults, with what the flags change.
fn proxy_config(args: &Args) -> ingress_proxy::ProxyConfig {
    ingress_proxy::ProxyConfig {
        inline_http1: !args.disable_inline_http1,
        dashboard: args.enable_dashboard.unwrap_or(args.manifests.is_some()),
        use_proxy_protocol: args.use_proxy_protocol,
        // ingress-nginx's constant metric labels: the pod's own (Downward API) and the class.
        controller: ingress_proxy::ControllerLabels {
            namespace: std::env::var("POD_NAMESPACE").unwrap_or_default(),
            class: args.controller_name.clone(),
            pod: std::env::var("POD_NAME").unwrap_or_default(),
        },
        access_log: AccessLog {
            destination: args.access_log.clone(),
            format: match args.access_log_format {
                LogFormat::Text => AccessLogFormat::Text,
                LogFormat::Json => AccessLogFormat::Json,
            },
        },
        ..ingress_proxy::ProxyConfig::default()
    }
}

async fn cluster_client(kubeconfig: Option<&PathBuf>) -> Result<kube::Client, CliError> {
    let error = |e: &dyn std::fmt::Display| CliError::Cluster(e.to_string());
    let client = match kubeconfig {
        Some(path) => {
            let file = kube::config::Kubeconfig::read_from(path).map_err(|e| error(&e))?;
            let options = kube::config::KubeConfigOptions::default();
            let config = kube::Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| error(&e))?;
            kube::Client::try_from(crate::cluster::identified(config)).map_err(|e| error(&e))?
        }
        None => {
            let config = kube::Config::infer().await.map_err(|e| error(&e))?;
            kube::Client::try_from(crate::cluster::identified(config)).map_err(|e| error(&e))?
        }
    };
    Ok(client)
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access_log(flags: &[&str]) -> AccessLog {
        let args = Args::try_parse_from(["ingress-proxy"].iter().chain(flags))
            .unwrap_or_else(|error| panic!("{flags:?}: {error}"));
        proxy_config(&args).access_log
    }

    #[test]
    fn access_log_defaults_to_stdout_text_as_ingress_nginx() {
        assert_eq!(
            access_log(&[]),
            AccessLog {
                destination: AccessLogDestination::Stdout,
                format: AccessLogFormat::Text,
            }
        );
    }

    #[test]
    fn access_log_flags_choose_destination_and_format() {
        assert_eq!(
            access_log(&["--access-log", "off"]).destination,
            AccessLogDestination::Off
        );
        assert_eq!(
            access_log(&[
                "--access-log",
                "/var/log/access.log",
                "--access-log-format",
                "json"
            ]),
            AccessLog {
                destination: AccessLogDestination::File(PathBuf::from("/var/log/access.log")),
                format: AccessLogFormat::Json,
            }
        );
        assert!(Args::try_parse_from(["ingress-proxy", "--access-log", ""]).is_err());
        assert!(Args::try_parse_from(["ingress-proxy", "--access-log-format", "xml"]).is_err());
    }
}
