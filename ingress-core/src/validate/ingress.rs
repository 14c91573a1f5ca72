//! A whole Ingress, validated.

use std::sync::Arc;

use super::error::{InvalidField, InvalidIngress};
use super::host::{HostPattern, is_dns1035_label, is_dns1123_subdomain};
use super::path::{PathType, RulePath};
use crate::annotations::RoutePolicy;
use crate::config::{PortRef, ServiceRef, TableConfig};
use crate::diagnostics::{Diagnostic, InvalidIngressKey};
use crate::model::{
    Ingress, IngressBackend, ObjectKey, ObjectMeta, ResourceBackend, ServiceBackendPort,
};
use crate::state::ClusterState;

/// An Ingress whose every field passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidIngress {
    /// `namespace/name`.
    pub key: ObjectKey,
    /// Conflict order: older first, then smaller `namespace/name` (SEMANTICS §4).
    pub age: (i64, ObjectKey),
    /// `spec.defaultBackend`.
    pub default_backend: Option<BackendRef>,
    /// `spec.rules`, in order.
    pub rules: Vec<ValidRule>,
    /// `spec.tls`, in order.
    pub tls: Vec<ValidTls>,
    /// What its supported annotations ask of its paths.
    pub policy: Arc<RoutePolicy>,
}

/// A validated `spec.rules[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidRule {
    /// `host`; `None` for a host-less rule.
    pub host: Option<HostPattern>,
    /// `http.paths`, in order.
    pub paths: Vec<ValidPath>,
}

/// A validated `http.paths[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidPath {
    /// `path` with `pathType`.
    pub path: RulePath,
    /// `backend`.
    pub backend: BackendRef,
    /// A canary Ingress's backend for the same host and path, if one is attached.
    pub canary: Option<super::CanaryBackend>,
}

/// A validated `spec.tls[]` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidTls {
    /// `hosts`.
    pub hosts: Vec<HostPattern>,
    /// `secretName`, resolved in the Ingress's namespace.
    pub secret: Option<ObjectKey>,
}

/// A validated backend: exactly one of a Service port or a resource.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BackendRef {
    /// `service`.
    Service(ServiceRef),
    /// `resource`, left for the embedder to resolve.
    Resource(Arc<ResourceBackend>),
}

/// Collects every field error of one Ingress.
struct Checker<'a> {
    ingress: &'a ObjectKey,
    errors: Vec<InvalidIngress>,
}

impl Checker<'_> {
    fn check<T>(
        &mut self,
        field: impl FnOnce() -> String,
        result: Result<T, InvalidField>,
    ) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(reason) => {
                self.errors.push(InvalidIngress {
                    ingress: self.ingress.clone(),
                    field: field(),
                    reason,
                });
                None
            }
        }
    }

    /// `field` names the backend; it is formatted only when there is an error to report.
    fn backend(
        &mut self,
        field: &dyn Fn() -> String,
        namespace: &Arc<str>,
        backend: &IngressBackend,
    ) -> Option<BackendRef> {
        match (&backend.service, &backend.resource) {
            (Some(service), None) => {
                let name = self.check(
                    || format!("{}.service.name", field()),
                    if is_dns1035_label(&service.name) {
                        Ok(service.name.as_str())
                    } else {
                        Err(InvalidField::ServiceNameInvalid(service.name.clone()))
                    },
                );
                let port = self.check(
                    || format!("{}.service.port", field()),
                    port_ref(&service.port),
                );
                Some(BackendRef::Service(ServiceRef {
                    namespace: namespace.clone(),
                    name: name?.into(),
                    port: port?,
                }))
            }
            (None, Some(resource)) => {
                let complete = !resource.kind.is_empty() && !resource.name.is_empty();
                self.check(
                    || format!("{}.resource", field()),
                    if complete {
                        Ok(())
                    } else {
                        Err(InvalidField::ResourceIncomplete)
                    },
                )?;
                Some(BackendRef::Resource(Arc::new(resource.clone())))
            }
            (None, None) => self.check(field, Err(InvalidField::BackendMissing)),
            (Some(_), Some(_)) => self.check(field, Err(InvalidField::BackendAmbiguous)),
        }
    }
}

fn port_ref(port: &ServiceBackendPort) -> Result<PortRef, InvalidField> {
    match (&port.name, port.number) {
        (Some(name), None) => {
            if is_port_name(name) {
                Ok(PortRef::Name(name.as_str().into()))
            } else {
                Err(InvalidField::ServicePortNameInvalid(name.clone()))
            }
        }
        (None, Some(number)) => u16::try_from(number)
            .ok()
            .filter(|n| *n != 0)
            .map(PortRef::Number)
            .ok_or(InvalidField::ServicePortOutOfRange(number)),
        (None, None) => Err(InvalidField::ServicePortMissing),
        (Some(_), Some(_)) => Err(InvalidField::ServicePortAmbiguous),
    }
}

/// IANA service name, as Kubernetes checks port names: 1–15 characters of lower-case
/// alphanumerics and `-`, at least one letter, no leading, trailing or double `-`.
fn is_port_name(name: &str) -> bool {
    let b = name.as_bytes();
    (1..=15).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b.iter().any(u8::is_ascii_lowercase)
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
        && !name.contains("--")
}

impl ValidIngress {
    /// Every Ingress of `state` that is ours ([`ClassSelection::is_ours`]), validated, oldest
    /// first; each invalid one becomes one [`Diagnostic::Rejected`] per field error, and each
    /// annotation without effect one [`Diagnostic::AnnotationIgnored`].
    ///
    /// [`ClassSelection::is_ours`]: crate::ClassSelection::is_ours
    pub fn ours_oldest_first(
        state: &ClusterState,
        config: &TableConfig,
    ) -> (Vec<ValidIngress>, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let mut valid = Vec::new();
        for ingress in state.ingresses.values() {
            if !config
                .classes
                .is_ours(ingress, state.ingress_classes.values())
            {
                continue;
            }
            let key = ingress.meta.key();
            diagnostics.extend(
                crate::annotations::ignored_annotations(&ingress.meta.annotations).map(
                    |(annotation, reason)| Diagnostic::AnnotationIgnored {
                        ingress: key.clone(),
                        annotation: annotation.into(),
                        reason,
                    },
                ),
            );
            match ValidIngress::try_from(ingress) {
                Ok(mut v) => {
                    let (mut policy, invalid) = RoutePolicy::parse(&ingress.meta.annotations);
                    policy.resolve_default_backend(&key.namespace, &state.services);
                    policy.name_limit_zone(&key);
                    let unusable_secret =
                        policy.resolve_basic_auth(&key.namespace, &state.opaque_secrets);
                    let unusable_certificates = policy.resolve_certificate_secrets(
                        &key,
                        &state.tls_secrets,
                        &state.opaque_secrets,
                    );
                    let invalid = invalid
                        .into_iter()
                        .chain(unusable_secret)
                        .chain(unusable_certificates);
                    diagnostics.extend(invalid.map(|invalid| Diagnostic::AnnotationInvalid {
                        ingress: key.clone(),
                        annotation: invalid.annotation.into(),
                        value: invalid.value.into(),
                        reason: invalid.reason.into(),
                    }));
                    v.policy = Arc::new(policy);
                    valid.push(v);
                }
                Err(errors) => diagnostics.extend(
                    errors
                        .into_iter()
                        .map(|e| Diagnostic::Rejected(InvalidIngressKey(e))),
                ),
            }
        }
        valid.sort_by(|a, b| a.age.cmp(&b.age));
        let mut valid = super::canary::attach(valid, &mut diagnostics);
        super::alias::apply(&mut valid, &mut diagnostics);
        super::regex::enforce(&mut valid, &mut diagnostics);
        diagnostics.extend(super::alias::www_redirects(&valid).1);
        (valid, diagnostics)
    }

    /// The conflict-order key of an Ingress's metadata.
    pub fn age_of(meta: &ObjectMeta) -> (i64, ObjectKey) {
        (
            meta.creation_timestamp.map_or(i64::MAX, |t| t.0),
            meta.key(),
        )
    }
}

impl TryFrom<&Ingress> for ValidIngress {
    type Error = Vec<InvalidIngress>;

    /// Validates every field; on failure returns every field error, in field order.
    fn try_from(ingress: &Ingress) -> Result<Self, Self::Error> {
        let key = ingress.meta.key();
        let namespace: Arc<str> = ingress.meta.namespace.as_str().into();
        let mut checker = Checker {
            ingress: &key,
            errors: Vec::new(),
        };
        let spec = &ingress.spec;
        if spec.default_backend.is_none() && spec.rules.is_empty() {
            checker.check(
                || "spec".to_owned(),
                Err::<(), _>(InvalidField::NoRulesOrDefaultBackend),
            );
        }
        let default_backend = spec
            .default_backend
            .as_ref()
            .map(|b| checker.backend(&|| "spec.defaultBackend".to_owned(), &namespace, b));
        let mut rules = Vec::with_capacity(spec.rules.len());
        for (r, rule) in spec.rules.iter().enumerate() {
            let host = match rule.host.as_deref() {
                None | Some("") => Some(None),
                Some(h) => checker
                    .check(|| format!("spec.rules[{r}].host"), HostPattern::parse(h))
                    .map(Some),
            };
            let mut paths = Vec::with_capacity(rule.paths.len());
            for (p, entry) in rule.paths.iter().enumerate() {
                let field = || format!("spec.rules[{r}].http.paths[{p}]");
                let path = checker
                    .check(
                        || format!("{}.pathType", field()),
                        PathType::parse(&entry.path_type),
                    )
                    .and_then(|t| {
                        checker.check(
                            || format!("{}.path", field()),
                            RulePath::parse(entry.path.as_deref(), t),
                        )
                    });
                let backend = checker.backend(
                    &|| format!("{}.backend", field()),
                    &namespace,
                    &entry.backend,
                );
                if let (Some(path), Some(backend)) = (path, backend) {
                    paths.push(ValidPath {
                        path,
                        backend,
                        canary: None,
                    });
                }
            }
            if let Some(host) = host {
                rules.push(ValidRule { host, paths });
            }
        }
        let mut tls = Vec::with_capacity(spec.tls.len());
        for (t, entry) in spec.tls.iter().enumerate() {
            let hosts = entry
                .hosts
                .iter()
                .enumerate()
                .filter_map(|(h, host)| {
                    checker.check(
                        || format!("spec.tls[{t}].hosts[{h}]"),
                        HostPattern::parse(host),
                    )
                })
                .collect();
            let secret = entry.secret_name.as_deref().and_then(|name| {
                checker
                    .check(
                        || format!("spec.tls[{t}].secretName"),
                        if is_dns1123_subdomain(name) {
                            Ok(name)
                        } else {
                            Err(InvalidField::SecretNameInvalid(name.to_owned()))
                        },
                    )
                    .map(|name| ObjectKey::new(&namespace, name))
            });
            tls.push(ValidTls { hosts, secret });
        }
        if !checker.errors.is_empty() {
            return Err(checker.errors);
        }
        Ok(ValidIngress {
            age: ValidIngress::age_of(&ingress.meta),
            key,
            // Every `None` from the checker was recorded as an error, so here all are `Some`.
            default_backend: default_backend.flatten(),
            rules,
            tls,
            policy: Arc::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{HttpIngressPath, ServiceBackend};

    fn fields(ingress: &Ingress) -> Vec<(String, InvalidField)> {
        ValidIngress::try_from(ingress)
            .unwrap_err()
            .into_iter()
            .map(|e| (e.field, e.reason))
            .collect()
    }

    #[test]
    fn empty_spec_is_rejected() {
        let ingress = Ingress::new("ns", "empty", None);
        assert_eq!(
            fields(&ingress),
            vec![("spec".into(), InvalidField::NoRulesOrDefaultBackend)]
        );
    }

    #[test]
    fn every_error_names_its_field() {
        let mut ingress = Ingress::new("ns", "bad", None)
            .with_path(
                Some("A.com"),
                PathType::Prefix,
                "/",
                ServiceBackend::number("svc", 80),
            )
            .with_path(
                None,
                PathType::Exact,
                "/a//b",
                ServiceBackend::number("svc", 0),
            )
            .with_path(
                None,
                PathType::Prefix,
                "/",
                ServiceBackend::named("Svc", "http"),
            );
        ingress.spec.rules[1].paths.push(HttpIngressPath {
            path: Some("/x".into()),
            path_type: "Regex".into(),
            backend: IngressBackend::default(),
        });
        ingress.spec.default_backend = Some(IngressBackend {
            service: Some(ServiceBackend {
                name: "svc".into(),
                port: ServiceBackendPort {
                    name: Some("http".into()),
                    number: Some(80),
                },
            }),
            resource: None,
        });
        let got: Vec<String> = fields(&ingress).into_iter().map(|(f, _)| f).collect();
        assert_eq!(
            got,
            [
                "spec.defaultBackend.service.port",
                "spec.rules[0].host",
                "spec.rules[1].http.paths[0].path",
                "spec.rules[1].http.paths[0].backend.service.port",
                "spec.rules[1].http.paths[1].pathType",
                "spec.rules[1].http.paths[1].backend",
                "spec.rules[2].http.paths[0].backend.service.name",
            ]
        );
    }

    #[test]
    fn port_names_follow_iana_rules() {
        for good in ["http", "h2c", "grpc-web"] {
            assert!(is_port_name(good), "{good}");
        }
        for bad in [
            "",
            "80",
            "-http",
            "http-",
            "a--b",
            "Http",
            "a-very-long-port-name",
        ] {
            assert!(!is_port_name(bad), "{bad}");
        }
    }
}
