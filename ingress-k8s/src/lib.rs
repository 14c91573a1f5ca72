//! Config sources for the `ingress-core` route table: a directory of manifests (the same YAML
//! users `kubectl apply`) and kube-rs watches of a live cluster, both converted to the core
//! model by one set of `TryFrom` conversions and fed to the table's single writer.

#[cfg(feature = "binary")]
pub mod cli;
#[cfg(feature = "cluster")]
pub mod cluster;
pub mod convert;
pub mod manifest;

#[cfg(feature = "cluster")]
pub use cluster::{ClusterConfig, ClusterSource, LeaseConfig, PublishStatus};
pub use convert::{
    ConvertError, ConvertProblem, DEFAULT_NAMESPACE, K8s, SERVICE_NAME_LABEL, TLS_SECRET_TYPE,
};
pub use manifest::{
    ManifestDirectory, ManifestError, ManifestObject, ParsedObject, Reload, is_manifest_file,
    parse_manifest,
};
#[cfg(feature = "watch")]
pub use manifest::{ManifestSource, ReloadStatus};
