//! Backends: a Service port and its endpoints, updated in place without rebuilding routes.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwap;

use crate::config::{PortRef, ServiceRef};
use crate::model::{EndpointSlice, ResourceBackend, Service, ServicePort, ServiceType};

/// Where a matched request goes.
#[derive(Debug, Clone)]
pub enum Target {
    /// A Service port; its endpoints may still be unavailable (`503`).
    Service(Arc<Backend>),
    /// A `resource` backend: the embedder resolves it (the bundled proxy answers `503`).
    Resource(Arc<ResourceBackend>),
    /// The built-in default backend: `404`.
    NotFound,
}

/// A Service port referenced by at least one route. Shared by every route that names it, and
/// by every snapshot until the Service itself changes; its endpoints are swapped in place.
#[derive(Debug)]
pub struct Backend {
    service: ServiceRef,
    /// The ServicePort it resolved to at build time (`None` when the Service or port is
    /// missing): endpoint updates need its name to pick slice ports.
    port: Option<ResolvedPort>,
    /// The ServicePort's `appProtocol`.
    app_protocol: Option<Arc<str>>,
    /// The Service's cluster IP and the ServicePort's port (`service-upstream`).
    cluster_address: Option<SocketAddr>,
    endpoints: ArcSwap<Endpoints>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ResolvedPort {
    /// A ClusterIP (or NodePort/LoadBalancer) Service port, matched to slice ports by name.
    Endpoints { name: Arc<str> },
    /// An ExternalName Service.
    External { host: Arc<str>, port: u16 },
}

/// The current endpoints of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoints {
    /// Ready endpoints, sorted and without duplicates; never empty.
    Ready(Arc<[SocketAddr]>),
    /// An `ExternalName` Service: its DNS name and the ServicePort's port.
    External {
        /// `spec.externalName`.
        host: Arc<str>,
        /// The ServicePort's `port`.
        port: u16,
    },
    /// Nothing to send to: the request gets `503`.
    Unavailable(Unavailable),
}

/// Why a backend has no endpoints (SEMANTICS §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unavailable {
    /// The Service does not exist.
    ServiceMissing,
    /// The Service has no port with that number or name.
    ServicePortMissing,
    /// No endpoint is ready.
    NoReadyEndpoints,
}

impl Backend {
    /// Resolves a Service reference against the Service (if any) and its slices.
    pub(crate) fn resolve<'a>(
        service: ServiceRef,
        found: Option<&Service>,
        slices: impl IntoIterator<Item = &'a EndpointSlice>,
    ) -> Backend {
        let port = found.map(|s| resolve_port(s, &service.port));
        let cluster_address = found.and_then(|s| {
            let ip = s.cluster_ip?;
            let port = u16::try_from(find_port(s, &service.port)?.port).ok()?;
            Some(SocketAddr::new(ip, port))
        });
        let app_protocol = found
            .and_then(|s| find_port(s, &service.port))
            .and_then(|p| p.app_protocol.as_deref())
            .map(Arc::from);
        let endpoints = match &port {
            None => Endpoints::Unavailable(Unavailable::ServiceMissing),
            Some(None) => Endpoints::Unavailable(Unavailable::ServicePortMissing),
            Some(Some(port)) => port.endpoints(slices),
        };
        Backend {
            service,
            port: port.flatten(),
            app_protocol,
            cluster_address,
            endpoints: ArcSwap::from_pointee(endpoints),
        }
    }

    /// The Service port this backend stands for, as the Ingress referenced it.
    pub fn service(&self) -> &ServiceRef {
        &self.service
    }

    /// The Service port's `appProtocol`, whichever way the Ingress named the port.
    pub fn app_protocol(&self) -> Option<&str> {
        self.app_protocol.as_deref()
    }

    /// The Service's cluster IP with the ServicePort's port, when it has one: where
    /// `service-upstream` sends traffic (kube-proxy balances from there).
    pub fn cluster_address(&self) -> Option<SocketAddr> {
        self.cluster_address
    }

    /// The current endpoints: one lock-free load.
    pub fn endpoints(&self) -> Arc<Endpoints> {
        self.endpoints.load_full()
    }

    /// Recomputes the endpoints from the Service's current slices; returns whether they
    /// changed. Cost: proportional to those slices.
    pub(crate) fn refresh<'a>(&self, slices: impl IntoIterator<Item = &'a EndpointSlice>) -> bool {
        let Some(port) = &self.port else { return false };
        let fresh = port.endpoints(slices);
        if **self.endpoints.load() == fresh {
            return false;
        }
        self.endpoints.store(Arc::new(fresh));
        true
    }
}

fn find_port<'a>(service: &'a Service, wanted: &PortRef) -> Option<&'a ServicePort> {
    service.ports.iter().find(|p| match wanted {
        PortRef::Number(n) => p.port == i32::from(*n),
        PortRef::Name(name) => p.name.as_deref() == Some(&**name),
    })
}

fn resolve_port(service: &Service, wanted: &PortRef) -> Option<ResolvedPort> {
    let port = find_port(service, wanted)?;
    Some(match &service.service_type {
        ServiceType::ClusterIp => ResolvedPort::Endpoints {
            name: port.name.as_deref().unwrap_or("").into(),
        },
        ServiceType::ExternalName(host) => ResolvedPort::External {
            host: host.as_str().into(),
            port: u16::try_from(port.port).ok()?,
        },
    })
}

impl ResolvedPort {
    /// SEMANTICS §5: the slice port whose name equals the ServicePort's name; endpoints whose
    /// `ready` is not false; all slices merged; identified by address and port.
    fn endpoints<'a>(&self, slices: impl IntoIterator<Item = &'a EndpointSlice>) -> Endpoints {
        let name = match self {
            ResolvedPort::External { host, port } => {
                return Endpoints::External {
                    host: host.clone(),
                    port: *port,
                };
            }
            ResolvedPort::Endpoints { name } => name,
        };
        let mut ready = BTreeSet::new();
        for slice in slices {
            let port = slice
                .ports
                .iter()
                .find(|p| p.name.as_deref().unwrap_or("") == &**name)
                .and_then(|p| p.port)
                .and_then(|p| u16::try_from(p).ok());
            let Some(port) = port else { continue };
            for endpoint in slice.endpoints.iter().filter(|e| e.ready != Some(false)) {
                for address in &endpoint.addresses {
                    if let Ok(ip) = address.parse::<IpAddr>() {
                        ready.insert(SocketAddr::new(ip, port));
                    }
                }
            }
        }
        if ready.is_empty() {
            Endpoints::Unavailable(Unavailable::NoReadyEndpoints)
        } else {
            Endpoints::Ready(ready.into_iter().collect())
        }
    }
}

impl fmt::Display for Unavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Unavailable::ServiceMissing => "the Service does not exist",
            Unavailable::ServicePortMissing => "the Service has no such port",
            Unavailable::NoReadyEndpoints => "the Service has no ready endpoints",
        })
    }
}
