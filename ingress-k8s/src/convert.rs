//! Conversions from `k8s-openapi` objects to the `ingress-core` model.
//!
//! Both sources (the manifest directory and the cluster watches) go through these, so a manifest
//! means the same thing in a file as in a cluster. They need neither kube's client nor tokio:
//! another proxy can turn its own `k8s-openapi` objects into the core model with
//! `default-features = false`.
//!
//! The conversions are `TryFrom<K8s<&T>>` impls. Both the source type (`k8s-openapi`) and the
//! target (`ingress-core`) are foreign to this crate, so Rust's orphan rule forbids a plain
//! `TryFrom<&k8s_openapi::…::Ingress> for ingress_core::Ingress`; the [`K8s`] wrapper is the
//! local type that makes the impl legal.
//!
//! What is checked here is only what the core model cannot represent (a missing name, a Secret
//! that is not `kubernetes.io/tls`, an out-of-range port number, an unparsable endpoint address).
//! Routing rules (hosts, paths, "exactly one of" backends) are validated by the core when it
//! builds the table, so one bad rule rejects one Ingress, not a whole file.

mod ingress;
mod service;

pub use service::{OPAQUE_SECRET_TYPE, SERVICE_NAME_LABEL, TLS_SECRET_TYPE};

use std::fmt;

use ingress_core::{ObjectMeta, Timestamp};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta as K8sObjectMeta;

/// The namespace an object without `metadata.namespace` lives in (what kubectl assumes).
pub const DEFAULT_NAMESPACE: &str = "default";

/// A borrowed `k8s-openapi` object on its way into the core model: `Ingress::try_from(K8s(&obj))`.
#[derive(Debug, Clone, Copy)]
pub struct K8s<'a, T>(pub &'a T);

/// A Kubernetes object that cannot be represented in the core model.
///
/// Its `Display` names the kind, the object and the field at fault, e.g.
/// `Service default/tomcat: spec.ports[1].port: 70000 is out of range 1..=65535`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {object}: {field}: {problem}")]
pub struct ConvertError {
    /// The object's kind (`Ingress`, `Service`, …).
    pub kind: &'static str,
    /// `namespace/name` (or just `name` when the name is what is missing).
    pub object: String,
    /// The field at fault, as a JSON path (`spec.rules[0].http.paths[1].backend.service.port`).
    pub field: String,
    /// What is wrong with it.
    pub problem: ConvertProblem,
}

/// What is wrong with a field.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConvertProblem {
    /// A required field is absent or empty.
    Missing,
    /// A number outside its allowed range.
    OutOfRange {
        /// The value found.
        value: i64,
        /// Smallest allowed value.
        min: i64,
        /// Largest allowed value.
        max: i64,
    },
    /// A value the field does not allow.
    Invalid {
        /// The value found.
        value: String,
        /// What the field allows.
        expected: &'static str,
    },
}

impl fmt::Display for ConvertProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConvertProblem::Missing => f.write_str("is required"),
            ConvertProblem::OutOfRange { value, min, max } => {
                write!(f, "{value} is out of range {min}..={max}")
            }
            ConvertProblem::Invalid { value, expected } => {
                write!(f, "{value:?} is invalid: expected {expected}")
            }
        }
    }
}

/// Builds errors for one object: knows its kind and `namespace/name`.
pub(crate) struct ErrorContext {
    kind: &'static str,
    object: String,
}

impl ErrorContext {
    fn error(&self, field: impl Into<String>, problem: ConvertProblem) -> ConvertError {
        ConvertError {
            kind: self.kind,
            object: self.object.clone(),
            field: field.into(),
            problem,
        }
    }

    fn missing(&self, field: impl Into<String>) -> ConvertError {
        self.error(field, ConvertProblem::Missing)
    }

    /// A port number (1–65535).
    fn port(&self, field: impl Into<String>, value: i32) -> Result<i32, ConvertError> {
        if (1..=65535).contains(&value) {
            Ok(value)
        } else {
            Err(self.error(
                field,
                ConvertProblem::OutOfRange {
                    value: value.into(),
                    min: 1,
                    max: 65535,
                },
            ))
        }
    }
}

/// Converts `metadata` (name required; namespace defaulted for namespaced kinds) and returns the
/// error context for the rest of the object.
fn convert_meta(
    kind: &'static str,
    meta: &K8sObjectMeta,
    namespaced: bool,
) -> Result<(ObjectMeta, ErrorContext), ConvertError> {
    let namespace = if namespaced {
        match meta.namespace.as_deref() {
            Some(ns) if !ns.is_empty() => ns.to_owned(),
            _ => DEFAULT_NAMESPACE.to_owned(),
        }
    } else {
        String::new()
    };
    let name = match meta.name.as_deref() {
        Some(name) if !name.is_empty() => name.to_owned(),
        _ => {
            let object = match meta.generate_name.as_deref() {
                Some(prefix) => format!("{namespace}/{prefix}* (generateName)"),
                None => format!("{namespace}/<unnamed>"),
            };
            return Err(ErrorContext { kind, object }.missing("metadata.name"));
        }
    };
    let object = if namespace.is_empty() {
        name.clone()
    } else {
        format!("{namespace}/{name}")
    };
    let converted = ObjectMeta {
        namespace,
        name,
        creation_timestamp: meta
            .creation_timestamp
            .as_ref()
            .map(|time| Timestamp(time.0.as_second())),
        annotations: meta.annotations.clone().unwrap_or_default(),
    };
    Ok((converted, ErrorContext { kind, object }))
}
