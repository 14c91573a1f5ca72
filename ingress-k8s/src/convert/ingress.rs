//! `networking.k8s.io/v1` `Ingress` and `IngressClass`.

use ingress_core::{
    HttpIngressPath, Ingress, IngressBackend, IngressClass, IngressRule, IngressSpec, IngressTls,
    ResourceBackend, ServiceBackend, ServiceBackendPort,
};
use k8s_openapi::api::networking::v1 as net;

use super::{ConvertError, ErrorContext, K8s, convert_meta};

impl TryFrom<K8s<'_, net::Ingress>> for Ingress {
    type Error = ConvertError;

    fn try_from(K8s(ingress): K8s<'_, net::Ingress>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("Ingress", &ingress.metadata, true)?;
        let Some(spec) = ingress.spec.as_ref() else {
            // An Ingress without a spec is valid for the API server; it routes nothing.
            return Ok(Ingress {
                meta,
                spec: IngressSpec::default(),
            });
        };
        let default_backend = spec
            .default_backend
            .as_ref()
            .map(|backend| convert_backend(&cx, "spec.defaultBackend", backend))
            .transpose()?;
        let mut rules = Vec::new();
        for (rule_index, rule) in spec.rules.iter().flatten().enumerate() {
            let mut paths = Vec::new();
            let http_paths = rule.http.as_ref().map(|http| http.paths.as_slice());
            for (path_index, path) in http_paths.unwrap_or_default().iter().enumerate() {
                let field = format!("spec.rules[{rule_index}].http.paths[{path_index}]");
                paths.push(HttpIngressPath {
                    path: path.path.clone(),
                    path_type: path.path_type.clone(),
                    backend: convert_backend(&cx, &format!("{field}.backend"), &path.backend)?,
                });
            }
            rules.push(IngressRule {
                host: rule.host.clone().filter(|host| !host.is_empty()),
                paths,
            });
        }
        let tls = spec
            .tls
            .iter()
            .flatten()
            .map(|tls| IngressTls {
                hosts: tls.hosts.clone().unwrap_or_default(),
                secret_name: tls.secret_name.clone().filter(|name| !name.is_empty()),
            })
            .collect();
        Ok(Ingress {
            meta,
            spec: IngressSpec {
                ingress_class_name: spec.ingress_class_name.clone(),
                default_backend,
                rules,
                tls,
            },
        })
    }
}

/// An `IngressBackend`. "Exactly one of service or resource" and the port's "exactly one of name
/// or number" are the core's to judge (they reject one Ingress); a service without any `port`
/// cannot be represented at all.
fn convert_backend(
    cx: &ErrorContext,
    field: &str,
    backend: &net::IngressBackend,
) -> Result<IngressBackend, ConvertError> {
    let service = match &backend.service {
        None => None,
        Some(service) => {
            if service.name.is_empty() {
                return Err(cx.missing(format!("{field}.service.name")));
            }
            let Some(port) = &service.port else {
                return Err(cx.missing(format!("{field}.service.port")));
            };
            Some(ServiceBackend {
                name: service.name.clone(),
                port: ServiceBackendPort {
                    name: port.name.clone().filter(|name| !name.is_empty()),
                    number: port.number,
                },
            })
        }
    };
    let resource = match &backend.resource {
        None => None,
        Some(resource) => {
            if resource.kind.is_empty() {
                return Err(cx.missing(format!("{field}.resource.kind")));
            }
            if resource.name.is_empty() {
                return Err(cx.missing(format!("{field}.resource.name")));
            }
            Some(ResourceBackend {
                api_group: resource.api_group.clone(),
                kind: resource.kind.clone(),
                name: resource.name.clone(),
            })
        }
    };
    Ok(IngressBackend { service, resource })
}

impl TryFrom<K8s<'_, net::IngressClass>> for IngressClass {
    type Error = ConvertError;

    fn try_from(K8s(class): K8s<'_, net::IngressClass>) -> Result<Self, ConvertError> {
        let (meta, cx) = convert_meta("IngressClass", &class.metadata, false)?;
        let controller = class
            .spec
            .as_ref()
            .and_then(|spec| spec.controller.clone())
            .filter(|controller| !controller.is_empty())
            .ok_or_else(|| cx.missing("spec.controller"))?;
        Ok(IngressClass { meta, controller })
    }
}
