//! v1 `Service`, discovery.k8s.io/v1 `EndpointSlice`, legacy v1 `Endpoints` and
//! `kubernetes.io/tls` and `Opaque` Secrets.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use ingress_core::{
    Endpoint, EndpointPort, EndpointSlice, OpaqueSecret, Service, ServicePort, ServiceType,
    TlsSecret,
};
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;

use super::{ConvertError, ConvertProblem, ErrorContext, K8s, convert_meta};

/// The label that ties an EndpointSlice to its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";
/// The Secret type the data plane can serve.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";

/// The `type` of the Secrets `auth-secret` reads (`kubectl create secret generic`).
pub const OPAQUE_SECRET_TYPE: &str = "Opaque";

impl TryFrom<K8s<'_, core::Service>> for Service {
    type Error = ConvertError;

    fn try_from(K8s(service): K8s<'_, core::Service>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("Service", &service.metadata, true)?;
        let spec = service.spec.as_ref();
        let service_type = match spec.and_then(|spec| spec.type_.as_deref()) {
            None | Some("ClusterIP" | "NodePort" | "LoadBalancer") => ServiceType::ClusterIp,
            Some("ExternalName") => {
                let name = spec
                    .and_then(|spec| spec.external_name.clone())
                    .filter(|name| !name.is_empty())
                    .ok_or_else(|| cx.missing("spec.externalName"))?;
                ServiceType::ExternalName(name)
            }
            Some(other) => {
                return Err(cx.error(
                    "spec.type",
                    ConvertProblem::Invalid {
                        value: other.to_owned(),
                        expected: "ClusterIP, NodePort, LoadBalancer or ExternalName",
                    },
                ));
            }
        };
        let mut ports = Vec::new();
        for (index, port) in spec
            .and_then(|s| s.ports.as_ref())
            .into_iter()
            .flatten()
            .enumerate()
        {
            ports.push(ServicePort {
                name: port.name.clone().filter(|name| !name.is_empty()),
                port: cx.port(format!("spec.ports[{index}].port"), port.port)?,
                app_protocol: port.app_protocol.clone().filter(|p| !p.is_empty()),
            });
        }
        Ok(Service {
            meta,
            service_type,
            // "None" (headless) and unset parse as no address.
            cluster_ip: spec
                .and_then(|spec| spec.cluster_ip.as_deref())
                .and_then(|ip| ip.parse().ok()),
            ports,
        })
    }
}

impl TryFrom<K8s<'_, discovery::EndpointSlice>> for EndpointSlice {
    type Error = ConvertError;

    fn try_from(K8s(slice): K8s<'_, discovery::EndpointSlice>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("EndpointSlice", &slice.metadata, true)?;
        let service_name = slice
            .metadata
            .labels
            .as_ref()
            .and_then(|labels| labels.get(SERVICE_NAME_LABEL))
            .filter(|name| !name.is_empty())
            .cloned()
            .ok_or_else(|| cx.missing(format!("metadata.labels[{SERVICE_NAME_LABEL:?}]")))?;
        match slice.address_type.as_str() {
            "IPv4" | "IPv6" => {}
            other => {
                return Err(cx.error(
                    "addressType",
                    ConvertProblem::Invalid {
                        value: other.to_owned(),
                        expected: "IPv4 or IPv6",
                    },
                ));
            }
        }
        let mut ports = Vec::new();
        for (index, port) in slice.ports.iter().flatten().enumerate() {
            ports.push(EndpointPort {
                name: port.name.clone().filter(|name| !name.is_empty()),
                port: port
                    .port
                    .map(|number| cx.port(format!("ports[{index}].port"), number))
                    .transpose()?,
            });
        }
        let mut endpoints = Vec::new();
        for (index, endpoint) in slice.endpoints.iter().flatten().enumerate() {
            for (address_index, address) in endpoint.addresses.iter().enumerate() {
                check_ip(
                    &cx,
                    &format!("endpoints[{index}].addresses[{address_index}]"),
                    address,
                )?;
            }
            endpoints.push(Endpoint {
                addresses: endpoint.addresses.clone(),
                ready: endpoint.conditions.as_ref().and_then(|c| c.ready),
            });
        }
        Ok(EndpointSlice {
            meta,
            service_name,
            ports,
            endpoints,
        })
    }
}

/// A legacy v1 `Endpoints` becomes one EndpointSlice per subset (named `NAME-subset-N`), with
/// `notReadyAddresses` as endpoints whose `ready` is false.
impl TryFrom<K8s<'_, core::Endpoints>> for Vec<EndpointSlice> {
    type Error = ConvertError;

    fn try_from(K8s(endpoints): K8s<'_, core::Endpoints>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("Endpoints", &endpoints.metadata, true)?;
        let mut slices = Vec::new();
        for (index, subset) in endpoints.subsets.iter().flatten().enumerate() {
            let field = format!("subsets[{index}]");
            let mut ports = Vec::new();
            for (port_index, port) in subset.ports.iter().flatten().enumerate() {
                ports.push(EndpointPort {
                    name: port.name.clone().filter(|name| !name.is_empty()),
                    port: Some(cx.port(format!("{field}.ports[{port_index}].port"), port.port)?),
                });
            }
            let mut members = Vec::new();
            let groups = [
                ("addresses", subset.addresses.as_ref(), true),
                (
                    "notReadyAddresses",
                    subset.not_ready_addresses.as_ref(),
                    false,
                ),
            ];
            for (list, addresses, ready) in groups {
                for (address_index, address) in addresses.into_iter().flatten().enumerate() {
                    check_ip(
                        &cx,
                        &format!("{field}.{list}[{address_index}].ip"),
                        &address.ip,
                    )?;
                    members.push(Endpoint {
                        addresses: vec![address.ip.clone()],
                        ready: Some(ready),
                    });
                }
            }
            let mut slice_meta = meta.clone();
            slice_meta.name = format!("{}-subset-{index}", meta.name);
            slices.push(EndpointSlice {
                meta: slice_meta,
                service_name: meta.name.clone(),
                ports,
                endpoints: members,
            });
        }
        Ok(slices)
    }
}

impl TryFrom<K8s<'_, core::Secret>> for TlsSecret {
    type Error = ConvertError;

    fn try_from(K8s(secret): K8s<'_, core::Secret>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("Secret", &secret.metadata, true)?;
        let secret_type = secret.type_.as_deref().unwrap_or("Opaque");
        if secret_type != TLS_SECRET_TYPE {
            return Err(cx.error(
                "type",
                ConvertProblem::Invalid {
                    value: secret_type.to_owned(),
                    expected: TLS_SECRET_TYPE,
                },
            ));
        }
        // `stringData` wins over `data`, as the API server merges them.
        let value = |key: &str| -> Result<Arc<[u8]>, ConvertError> {
            if let Some(text) = secret.string_data.as_ref().and_then(|d| d.get(key)) {
                return Ok(Arc::from(text.as_bytes()));
            }
            secret
                .data
                .as_ref()
                .and_then(|data| data.get(key))
                .map(|bytes| Arc::from(bytes.0.as_slice()))
                .ok_or_else(|| cx.missing(format!("data[{key:?}]")))
        };
        Ok(TlsSecret {
            certificate_chain_pem: value("tls.crt")?,
            private_key_pem: value("tls.key")?,
            // Optional: cert-manager writes the issuing CA here; `proxy-ssl-secret` and
            // `auth-tls-secret` read it.
            ca_certificate_pem: value("ca.crt").ok(),
            meta,
        })
    }
}

impl TryFrom<K8s<'_, core::Secret>> for OpaqueSecret {
    type Error = ConvertError;

    fn try_from(K8s(secret): K8s<'_, core::Secret>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("Secret", &secret.metadata, true)?;
        let secret_type = secret.type_.as_deref().unwrap_or(OPAQUE_SECRET_TYPE);
        if secret_type != OPAQUE_SECRET_TYPE {
            return Err(cx.error(
                "type",
                ConvertProblem::Invalid {
                    value: secret_type.to_owned(),
                    expected: OPAQUE_SECRET_TYPE,
                },
            ));
        }
        let mut data: BTreeMap<String, Arc<[u8]>> = secret
            .data
            .iter()
            .flatten()
            .map(|(key, bytes)| (key.clone(), Arc::from(bytes.0.as_slice())))
            .collect();
        // `stringData` wins over `data`, as the API server merges them.
        for (key, text) in secret.string_data.iter().flatten() {
            data.insert(key.clone(), Arc::from(text.as_bytes()));
        }
        Ok(OpaqueSecret { meta, data })
    }
}

fn check_ip(cx: &ErrorContext, field: &str, address: &str) -> Result<(), ConvertError> {
    match address.parse::<IpAddr>() {
        Ok(_) => Ok(()),
        Err(_) => Err(cx.error(
            field,
            ConvertProblem::Invalid {
                value: address.to_owned(),
                expected: "an IP address",
            },
        )),
    }
}
