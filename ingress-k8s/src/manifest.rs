//! The manifest-directory source: the same YAML/JSON users `kubectl apply`, read from a
//! directory instead of an API server.
//!
//! [`parse_manifest`] turns one file into typed `k8s-openapi` objects; [`ManifestDirectory`]
//! keeps the last good content of every file and assembles a `ClusterState`; with the `watch`
//! feature, [`ManifestSource`] re-reads the directory on change and publishes through the
//! table's writer.

mod check;
mod directory;
mod explain;
mod parse;
#[cfg(feature = "watch")]
mod watch;

pub use check::{
    CheckInput, CheckReport, NotOurs, Origin, check, check_with_configmap, read_inputs,
};
pub use directory::{ManifestDirectory, Reload};
pub use explain::{ExplainReport, explain};
pub use parse::{ManifestError, ManifestObject, ParsedObject, is_manifest_file, parse_manifest};
#[cfg(feature = "watch")]
pub use watch::{ManifestSource, ReloadStatus};
