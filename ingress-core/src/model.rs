//! The raw desired state, mirroring the Kubernetes objects the routing engine reads.
//!
//! These types are plain data: every field is public and nothing is checked yet. Sources (a
//! manifest directory, a cluster watch, an embedder's own config) fill them in; validation turns
//! them into routes (see [`crate::validate`]). They deliberately do not use Kubernetes client
//! types: the conversions from `k8s-openapi` live in `ingress-k8s`, so there is exactly one
//! conversion path for every source and embedders need no Kubernetes dependency at all.

mod build;
mod ingress;
mod meta;
mod service;

pub use ingress::{
    HttpIngressPath, Ingress, IngressBackend, IngressClass, IngressRule, IngressSpec, IngressTls,
    ResourceBackend, ServiceBackend, ServiceBackendPort,
};
pub use meta::{ObjectKey, ObjectMeta, Timestamp};
pub use service::{
    Endpoint, EndpointPort, EndpointSlice, OpaqueSecret, Service, ServicePort, ServiceType,
    TlsSecret,
};
