//! One-line builders for the raw model, for embedders' code and tests.
//!
//! ```
//! use ingress_core::{Ingress, PathType, ServiceBackend};
//!
//! let ingress = Ingress::new("default", "ingress-myapp", Some(1))
//!     .with_class("ingress-engine")
//!     .with_path(Some("tomcat.lucky.com"), PathType::Prefix, "/", ServiceBackend::number("tomcat", 8080))
//!     .with_tls(&["tomcat.lucky.com"], "tomcat-ingress-secret");
//! assert_eq!(ingress.spec.rules[0].paths[0].path_type, "Prefix");
//! ```

use super::ingress::{
    HttpIngressPath, Ingress, IngressBackend, IngressRule, IngressTls, ServiceBackend,
    ServiceBackendPort,
};
use super::meta::ObjectMeta;
use super::service::{Endpoint, EndpointPort, EndpointSlice, Service, ServicePort, ServiceType};
use crate::validate::PathType;

impl Ingress {
    /// An Ingress with no rules yet.
    pub fn new(namespace: &str, name: &str, creation_timestamp: Option<i64>) -> Self {
        Ingress {
            meta: ObjectMeta::new(namespace, name, creation_timestamp),
            spec: Default::default(),
        }
    }

    /// Sets `spec.ingressClassName`.
    pub fn with_class(mut self, class: &str) -> Self {
        self.spec.ingress_class_name = Some(class.to_owned());
        self
    }

    /// Appends a rule with one path (`host: None` makes a host-less rule).
    pub fn with_path(
        mut self,
        host: Option<&str>,
        path_type: PathType,
        path: &str,
        backend: ServiceBackend,
    ) -> Self {
        self.spec.rules.push(IngressRule {
            host: host.map(str::to_owned),
            paths: vec![HttpIngressPath {
                path: Some(path.to_owned()),
                path_type: path_type.as_str().to_owned(),
                backend: backend.into(),
            }],
        });
        self
    }

    /// Sets `spec.defaultBackend`.
    pub fn with_default_backend(mut self, backend: ServiceBackend) -> Self {
        self.spec.default_backend = Some(backend.into());
        self
    }

    /// Appends a `spec.tls` entry.
    pub fn with_tls(mut self, hosts: &[&str], secret_name: &str) -> Self {
        self.spec.tls.push(IngressTls {
            hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            secret_name: Some(secret_name.to_owned()),
        });
        self
    }
}

impl ServiceBackend {
    /// A Service backend by port number.
    pub fn number(name: &str, port: i32) -> Self {
        ServiceBackend {
            name: name.to_owned(),
            port: ServiceBackendPort {
                name: None,
                number: Some(port),
            },
        }
    }

    /// A Service backend by port name.
    pub fn named(name: &str, port: &str) -> Self {
        ServiceBackend {
            name: name.to_owned(),
            port: ServiceBackendPort {
                name: Some(port.to_owned()),
                number: None,
            },
        }
    }
}

impl From<ServiceBackend> for IngressBackend {
    fn from(service: ServiceBackend) -> Self {
        IngressBackend {
            service: Some(service),
            resource: None,
        }
    }
}

impl Service {
    /// A ClusterIP Service with `(port name, port)` entries.
    pub fn cluster_ip(namespace: &str, name: &str, ports: &[(Option<&str>, i32)]) -> Self {
        Service {
            meta: ObjectMeta::new(namespace, name, None),
            service_type: ServiceType::ClusterIp,
            cluster_ip: None,
            ports: ports
                .iter()
                .map(|(name, port)| ServicePort {
                    name: name.map(str::to_owned),
                    port: *port,
                    app_protocol: None,
                })
                .collect(),
        }
    }
}

impl EndpointSlice {
    /// A slice of ready endpoints of `service`, all listening on one (optionally named) port.
    pub fn ready(
        namespace: &str,
        name: &str,
        service: &str,
        port: (Option<&str>, u16),
        addresses: &[std::net::IpAddr],
    ) -> Self {
        EndpointSlice {
            meta: ObjectMeta::new(namespace, name, None),
            service_name: service.to_owned(),
            ports: vec![EndpointPort {
                name: port.0.map(str::to_owned),
                port: Some(i32::from(port.1)),
            }],
            endpoints: addresses
                .iter()
                .map(|a| Endpoint {
                    addresses: vec![a.to_string()],
                    ready: Some(true),
                })
                .collect(),
        }
    }
}
