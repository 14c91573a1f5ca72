//! `networking.k8s.io/v1` `Ingress` and `IngressClass`, as plain data.

use super::meta::ObjectMeta;

/// A `networking.k8s.io/v1` `Ingress`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Ingress {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec`.
    pub spec: IngressSpec,
}

/// `Ingress.spec`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IngressSpec {
    /// `spec.ingressClassName`.
    pub ingress_class_name: Option<String>,
    /// `spec.defaultBackend`.
    pub default_backend: Option<IngressBackend>,
    /// `spec.rules`.
    pub rules: Vec<IngressRule>,
    /// `spec.tls`.
    pub tls: Vec<IngressTls>,
}

/// One entry of `spec.rules`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IngressRule {
    /// `host`; `None` (or empty) makes a host-less rule that applies when no host matches.
    pub host: Option<String>,
    /// `http.paths` (an absent `http` is an empty list).
    pub paths: Vec<HttpIngressPath>,
}

/// One entry of `rules[].http.paths`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct HttpIngressPath {
    /// `path`; may be absent only for `ImplementationSpecific`.
    pub path: Option<String>,
    /// `pathType` as written: `Exact`, `Prefix` or `ImplementationSpecific`.
    pub path_type: String,
    /// `backend`.
    pub backend: IngressBackend,
}

/// `IngressBackend`: exactly one of `service` or `resource` must be set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IngressBackend {
    /// `service`.
    pub service: Option<ServiceBackend>,
    /// `resource` (a `TypedLocalObjectReference`).
    pub resource: Option<ResourceBackend>,
}

/// `IngressServiceBackend`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ServiceBackend {
    /// `name` of a Service in the Ingress's namespace.
    pub name: String,
    /// `port`: exactly one of `name` or `number`.
    pub port: ServiceBackendPort,
}

/// `ServiceBackendPort`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ServiceBackendPort {
    /// `name` of a ServicePort.
    pub name: Option<String>,
    /// `number` of a ServicePort (1–65535).
    pub number: Option<i32>,
}

/// `TypedLocalObjectReference` used as a `resource` backend.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ResourceBackend {
    /// `apiGroup`.
    pub api_group: Option<String>,
    /// `kind`.
    pub kind: String,
    /// `name`.
    pub name: String,
}

/// One entry of `spec.tls`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IngressTls {
    /// `hosts` covered by the certificate.
    pub hosts: Vec<String>,
    /// `secretName` of a `kubernetes.io/tls` Secret in the Ingress's namespace.
    pub secret_name: Option<String>,
}

/// A `networking.k8s.io/v1` `IngressClass` (cluster-scoped: empty namespace).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct IngressClass {
    /// `metadata` (the annotation `ingressclass.kubernetes.io/is-default-class` is read here).
    pub meta: ObjectMeta,
    /// `spec.controller`.
    pub controller: String,
}

impl IngressClass {
    /// The annotation that marks the cluster's default IngressClass.
    pub const DEFAULT_CLASS_ANNOTATION: &'static str =
        "ingressclass.kubernetes.io/is-default-class";

    /// Whether this class carries `ingressclass.kubernetes.io/is-default-class: "true"`.
    pub fn is_default(&self) -> bool {
        self.meta
            .annotations
            .get(Self::DEFAULT_CLASS_ANNOTATION)
            .is_some_and(|v| v == "true")
    }
}

impl Ingress {
    /// The legacy class annotation, honoured when `spec.ingressClassName` is absent.
    pub const LEGACY_CLASS_ANNOTATION: &'static str = "kubernetes.io/ingress.class";
}
