//! Typed validation errors.

use std::fmt;

use crate::model::ObjectKey;

/// One field of one Ingress that failed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidIngress {
    /// The rejected Ingress.
    pub ingress: ObjectKey,
    /// The field at fault, as a JSON path into the object (`spec.rules[0].http.paths[1].path`).
    pub field: String,
    /// What is wrong with it.
    pub reason: InvalidField,
}

/// Why a field is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InvalidField {
    /// A host that is not a lower-case DNS-1123 subdomain (with an optional leading `*.`).
    HostNotDns1123(String),
    /// A host that is an IP address.
    HostIsIpAddress(String),
    /// A path that does not start with `/`.
    PathNotAbsolute(String),
    /// An `Exact`/`Prefix` path containing a forbidden sequence (`//`, `/./`, `%2F`, …).
    PathHasInvalidSequence {
        /// The path as written.
        path: String,
        /// The offending sequence.
        sequence: &'static str,
    },
    /// An `Exact` or `Prefix` path entry without `path`.
    PathMissing,
    /// A `pathType` other than `Exact`, `Prefix` or `ImplementationSpecific`.
    UnknownPathType(String),
    /// A backend with neither `service` nor `resource`.
    BackendMissing,
    /// A backend with both `service` and `resource`.
    BackendAmbiguous,
    /// A service name that is not a DNS-1035 label.
    ServiceNameInvalid(String),
    /// A service port with neither `name` nor `number`.
    ServicePortMissing,
    /// A service port with both `name` and `number`.
    ServicePortAmbiguous,
    /// A service port number outside 1–65535.
    ServicePortOutOfRange(i32),
    /// A service port name that is not an IANA service name.
    ServicePortNameInvalid(String),
    /// A `resource` backend without `kind` or `name`.
    ResourceIncomplete,
    /// A spec with neither `defaultBackend` nor `rules`.
    NoRulesOrDefaultBackend,
    /// A TLS `secretName` that is not a DNS-1123 subdomain.
    SecretNameInvalid(String),
}

impl fmt::Display for InvalidIngress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Ingress {}: {}: {}",
            self.ingress, self.field, self.reason
        )
    }
}

impl std::error::Error for InvalidIngress {}

impl fmt::Display for InvalidField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvalidField::HostNotDns1123(h) => {
                write!(f, "{h:?} is not a lower-case DNS-1123 subdomain")
            }
            InvalidField::HostIsIpAddress(h) => {
                write!(f, "{h:?} is an IP address; hosts must be DNS names")
            }
            InvalidField::PathNotAbsolute(p) => write!(f, "{p:?} must start with '/'"),
            InvalidField::PathHasInvalidSequence { path, sequence } => {
                write!(f, "{path:?} must not contain {sequence:?}")
            }
            InvalidField::PathMissing => f.write_str("required for pathType Exact and Prefix"),
            InvalidField::UnknownPathType(t) => write!(
                f,
                "{t:?} is not one of \"Exact\", \"Prefix\", \"ImplementationSpecific\""
            ),
            InvalidField::BackendMissing => {
                f.write_str("exactly one of service or resource is required, found neither")
            }
            InvalidField::BackendAmbiguous => {
                f.write_str("exactly one of service or resource is required, found both")
            }
            InvalidField::ServiceNameInvalid(n) => {
                write!(f, "{n:?} is not a valid Service name (DNS-1035 label)")
            }
            InvalidField::ServicePortMissing => {
                f.write_str("exactly one of name or number is required, found neither")
            }
            InvalidField::ServicePortAmbiguous => {
                f.write_str("exactly one of name or number is required, found both")
            }
            InvalidField::ServicePortOutOfRange(n) => {
                write!(f, "{n} is not between 1 and 65535")
            }
            InvalidField::ServicePortNameInvalid(n) => {
                write!(f, "{n:?} is not a valid port name")
            }
            InvalidField::ResourceIncomplete => f.write_str("kind and name are required"),
            InvalidField::NoRulesOrDefaultBackend => {
                f.write_str("either defaultBackend or rules must be specified")
            }
            InvalidField::SecretNameInvalid(n) => {
                write!(f, "{n:?} is not a valid Secret name")
            }
        }
    }
}
