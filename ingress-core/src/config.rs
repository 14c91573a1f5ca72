//! What the embedder configures: which Ingresses are ours, and the controller's own defaults.

use std::fmt;
use std::sync::Arc;

use crate::model::ObjectKey;

/// Route-table configuration. `Default` takes Ingresses of class `ingress-engine`, whose
/// controller is [`ClassSelection::DEFAULT_CONTROLLER`], with the built-in `404` default backend.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TableConfig {
    /// Which Ingresses this controller serves.
    pub classes: ClassSelection,
    /// The controller's own default backend (`--default-backend-service`); `None` is the
    /// built-in `404`.
    pub default_backend: Option<ServiceRef>,
    /// The Secret served when no `tls.hosts` entry matches the SNI name
    /// (`--default-ssl-certificate`); `None` leaves the choice to the data plane (self-signed).
    pub default_certificate: Option<ObjectKey>,
    /// `--enable-ssl-passthrough`: the `ssl-passthrough` annotation takes effect (without it,
    /// the annotation is reported as ignored).
    pub ssl_passthrough: bool,
}

/// Which Ingresses are ours (SEMANTICS §4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassSelection {
    /// `IngressClass.spec.controller` values that are ours.
    pub controller_name: String,
    /// Class names that are ours even without an IngressClass object (`--ingress-class`).
    pub class_names: Vec<String>,
    /// Also serve Ingresses that name no class at all (`--watch-ingress-without-class`).
    pub watch_without_class: bool,
}

/// A reference to a port of a Service: what an Ingress backend names.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceRef {
    /// The Service's namespace (the Ingress's own).
    pub namespace: Arc<str>,
    /// The Service's name.
    pub name: Arc<str>,
    /// The ServicePort, by number or name.
    pub port: PortRef,
}

/// `service.port`: a ServicePort by number or by name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PortRef {
    /// `port.number`.
    Number(u16),
    /// `port.name`.
    Name(Arc<str>),
}

impl ClassSelection {
    /// The controller name used when none is configured.
    pub const DEFAULT_CONTROLLER: &'static str = "ingress-engine.dev/controller";
    /// The class name used when none is configured.
    pub const DEFAULT_CLASS: &'static str = "ingress-engine";
}

impl Default for ClassSelection {
    fn default() -> Self {
        ClassSelection {
            controller_name: Self::DEFAULT_CONTROLLER.to_owned(),
            class_names: vec![Self::DEFAULT_CLASS.to_owned()],
            watch_without_class: false,
        }
    }
}

impl ServiceRef {
    /// The Service's `namespace/name` key.
    pub fn service_key(&self) -> ObjectKey {
        ObjectKey {
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

impl fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}:{}", self.namespace, self.name, self.port)
    }
}

impl fmt::Display for PortRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PortRef::Number(n) => write!(f, "{n}"),
            PortRef::Name(n) => f.write_str(n),
        }
    }
}
