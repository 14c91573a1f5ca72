//! The manifest-directory source: the same YAML/JSON users `kubectl apply`, read from a
//! directory instead of an API server.

mod parse;

pub use parse::{ManifestError, ManifestObject, ParsedObject, is_manifest_file, parse_manifest};
