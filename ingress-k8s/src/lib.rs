//! Config sources for the `ingress-core` route table: a directory of manifests (the same YAML
//! users `kubectl apply`) and kube-rs watches of a live cluster, both converted to the core
//! model by one set of `TryFrom` conversions and fed to the table's single writer. Also the
//! `ingress-proxy` controller binary.
//!
//! # Example
//!
//! Read the tutorial's manifests and route a request (no cluster, no client):
//!
//! ```
//! use ingress_core::{ClassSelection, RouteTable, TableConfig, Target};
//! use ingress_k8s::ManifestDirectory;
//!
//! let mut dir = ManifestDirectory::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tutorial"));
//! let reload = dir.reload();
//! assert!(reload.errors.is_empty());
//! let config = TableConfig {
//!     classes: ClassSelection { class_names: vec!["nginx".into()], ..ClassSelection::default() },
//!     ..TableConfig::default()
//! };
//! let table = RouteTable::build(&dir.state(), &config);
//! let route = table.route(Some("tomcat.lucky.com"), "/");
//! assert!(matches!(route.target, Target::Service(backend) if &*backend.service().name == "tomcat"));
//! ```
//!
//! Convert a `k8s-openapi` object yourself (works with `default-features = false`):
//!
//! ```
//! use ingress_k8s::K8s;
//! use k8s_openapi::api::core::v1::Service;
//!
//! let service: Service = serde_json::from_value(serde_json::json!({
//!     "metadata": {"name": "tomcat"},
//!     "spec": {"ports": [{"name": "http", "port": 8080}]}
//! })).unwrap();
//! let model = ingress_core::Service::try_from(K8s(&service)).unwrap();
//! assert_eq!(model.meta.namespace, "default");
//! ```
//!
//! # Design
//!
//! - **One conversion path.** [`convert`] turns `k8s-openapi` objects into the core's raw model;
//!   both sources use it, so a manifest means the same in a file as in a cluster. It rejects
//!   only what the model cannot hold (a missing name, a non-TLS Secret, a port out of range);
//!   routing validation (hosts, paths, backends) is the core's, so one bad rule rejects one
//!   Ingress. Errors name the kind, object and field.
//! - **Manifest directory** ([`manifest`]): YAML split into documents as kubectl does, each
//!   parsed straight into its `k8s-openapi` type so errors carry file, document, line, column
//!   and field. A file that fails keeps its previous content; others are unaffected. Objects
//!   without `creationTimestamp` age in directory order. With `watch`, a change is re-read
//!   whole and published with `replace` + `commit` (skipped when nothing changed).
//! - **Cluster** (`cluster` feature): kube-runtime reflectors (managedFields stripped) for
//!   Ingress, IngressClass, Service, EndpointSlice and TLS Secrets, merged into one stream; a
//!   relist is buffered per kind and swapped in whole at `InitDone`; changes are debounced and
//!   committed (endpoint-only batches take the core's in-place endpoint path). The table opens
//!   when every kind has listed. Only the Lease holder writes Ingress status and Events.
//! - **Features**: `default = ["cluster", "binary"]`; `--no-default-features` leaves the
//!   conversions and the manifest parser (no tokio, no kube client); `watch` adds directory
//!   watching; `cluster` adds kube; `binary` adds the CLI and the data plane.

pub mod admission;
#[cfg(feature = "binary")]
pub mod certgen;
#[cfg(feature = "binary")]
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod convert;
mod diagnostic_log;
pub mod manifest;
#[cfg(feature = "binary")]
pub mod webhook;

#[cfg(feature = "cluster")]
pub use cluster::{AdmissionHandle, ClusterConfig, ClusterSource, LeaseConfig, PublishStatus};
pub use convert::{
    ConvertError, ConvertProblem, DEFAULT_NAMESPACE, K8s, SERVICE_NAME_LABEL, TLS_SECRET_TYPE,
};
pub use diagnostic_log::{DiagnosticChanges, DiagnosticLog};
pub use manifest::{
    ManifestDirectory, ManifestError, ManifestObject, ParsedObject, Reload, is_manifest_file,
    parse_manifest,
};
#[cfg(feature = "watch")]
pub use manifest::{ManifestSource, ReloadStatus};
