//! v1 `Service`, discovery.k8s.io/v1 `EndpointSlice` and `kubernetes.io/tls` Secrets.

use std::sync::Arc;

use super::meta::ObjectMeta;

/// A v1 `Service`: only what routing needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Service {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `spec.type`, with `spec.externalName` for `ExternalName`.
    pub service_type: ServiceType,
    /// `spec.ports`.
    pub ports: Vec<ServicePort>,
    /// `spec.clusterIP` when it is an address (not `None` for headless Services):
    /// `service-upstream` sends traffic there instead of to the endpoints.
    pub cluster_ip: Option<std::net::IpAddr>,
}

/// `Service.spec.type` as far as routing is concerned.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServiceType {
    /// `ClusterIP`, `NodePort` or `LoadBalancer`: traffic goes to the endpoints.
    #[default]
    ClusterIp,
    /// `ExternalName`: traffic goes to this DNS name on the ServicePort's port.
    ExternalName(String),
}

/// One entry of `Service.spec.ports`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct ServicePort {
    /// `name` (required by the API when a Service has more than one port).
    pub name: Option<String>,
    /// `port`.
    pub port: i32,
    /// `appProtocol` (`http`, `https`, `kubernetes.io/h2c`, `grpc`…): how to speak to the
    /// endpoints, when the Ingress does not say (`backend-protocol`).
    pub app_protocol: Option<String>,
}

/// A discovery.k8s.io/v1 `EndpointSlice`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct EndpointSlice {
    /// `metadata` (namespace and name of the slice itself).
    pub meta: ObjectMeta,
    /// The label `kubernetes.io/service-name`: the Service this slice belongs to.
    pub service_name: String,
    /// `ports`: the ports every endpoint of this slice listens on.
    pub ports: Vec<EndpointPort>,
    /// `endpoints`.
    pub endpoints: Vec<Endpoint>,
}

/// One entry of `EndpointSlice.ports`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct EndpointPort {
    /// `name`: equals the ServicePort's name (empty/absent for an unnamed single port).
    pub name: Option<String>,
    /// `port` the endpoints listen on.
    pub port: Option<i32>,
}

/// One entry of `EndpointSlice.endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Endpoint {
    /// `addresses` (IP addresses; the API allows only one in practice).
    pub addresses: Vec<String>,
    /// `conditions.ready`; only `Some(false)` excludes the endpoint.
    pub ready: Option<bool>,
}

/// A `kubernetes.io/tls` Secret: PEM certificate chain and private key, unparsed.
///
/// The core does not parse certificates: it only decides which Secret serves which SNI name.
/// The data plane parses the PEM (and reports a broken Secret through its own diagnostics).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct TlsSecret {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `data["tls.crt"]`: the PEM certificate chain.
    pub certificate_chain_pem: Arc<[u8]>,
    /// `data["tls.key"]`: the PEM private key.
    pub private_key_pem: Arc<[u8]>,
    /// `data["ca.crt"]`, when present: PEM CA certificates, read by the annotations that take
    /// a CA bundle from a Secret of either type (`proxy-ssl-secret`, `auth-tls-secret`).
    pub ca_certificate_pem: Option<Arc<[u8]>>,
}

/// A Secret of type `Opaque`, kept for the annotations that name one (`auth-secret`, and
/// `proxy-ssl-secret` / `auth-tls-secret` with a `ca.crt` key): its
/// `data`, with `stringData` merged over it as the API server does.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct OpaqueSecret {
    /// `metadata`.
    pub meta: ObjectMeta,
    /// `data`, key by key.
    pub data: std::collections::BTreeMap<String, Arc<[u8]>>,
}
