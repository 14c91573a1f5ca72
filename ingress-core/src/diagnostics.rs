//! Diagnostics: every rejected object and every conflict loser, for logs and Kubernetes Events.

use std::fmt;
use std::sync::Arc;

use crate::model::ObjectKey;
use crate::validate::{InvalidIngress, PathType};

/// Something the caller should report about one object. Nothing is dropped silently: an
/// Ingress that is ours is either applied whole, applied with some rules losing conflicts
/// (one diagnostic per lost rule), or rejected (one diagnostic per invalid field).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Diagnostic {
    /// The Ingress failed validation and serves nothing.
    Rejected(InvalidIngressKey),
    /// A path entry lost to an older Ingress's entry for the same host, path and type.
    RuleConflict {
        /// The Ingress whose entry is ignored.
        loser: ObjectKey,
        /// The Ingress whose entry serves.
        winner: ObjectKey,
        /// The host (`None` for host-less rules), as written.
        host: Option<Arc<str>>,
        /// The path, as written.
        path: Arc<str>,
        /// Its path type.
        path_type: PathType,
    },
    /// A `defaultBackend` that is shadowed by an older Ingress's for the same scope.
    DefaultBackendConflict {
        /// The Ingress whose default backend is ignored.
        loser: ObjectKey,
        /// The Ingress whose default backend serves.
        winner: ObjectKey,
        /// The host whose per-host default it would have been; `None` for the global default.
        host: Option<Arc<str>>,
    },
    /// A `tls.hosts` entry whose certificate is taken from an older Ingress instead.
    TlsConflict {
        /// The Ingress whose TLS entry is ignored for this host.
        loser: ObjectKey,
        /// The Ingress whose Secret serves this host.
        winner: ObjectKey,
        /// The host, as written.
        host: Arc<str>,
    },
    /// An `nginx.ingress.kubernetes.io/*` annotation that has no effect (see
    /// [`annotations`](crate::annotations)). A warning: the Ingress is applied without it.
    AnnotationIgnored {
        /// The Ingress carrying it.
        ingress: ObjectKey,
        /// The annotation key.
        annotation: Arc<str>,
        /// Why it has no effect.
        reason: crate::annotations::Ignored,
    },
    /// A supported annotation with an invalid value: the Ingress's paths answer `503`.
    AnnotationInvalid {
        /// The Ingress carrying it.
        ingress: ObjectKey,
        /// The annotation key.
        annotation: Arc<str>,
        /// The value.
        value: Arc<str>,
        /// Why it is invalid.
        reason: Arc<str>,
    },
    /// `use-regex` or `rewrite-target` on Ingress `by` makes this Ingress's
    /// `ImplementationSpecific` paths on `host` regular expressions: ingress-nginx enforces the
    /// regex location modifier host-wide, and this engine does the same for those paths (never
    /// for `Exact` or `Prefix` ones). A warning.
    RegexEnforced {
        /// The Ingress whose paths are affected.
        ingress: ObjectKey,
        /// The host, as written (`None` for host-less rules).
        host: Option<Arc<str>>,
        /// The Ingress carrying the annotation.
        by: ObjectKey,
    },
    /// A path that a regex-enabled host does not treat as a regular expression, and why: an
    /// `Exact` or `Prefix` path with regex characters (matched literally), or another
    /// Ingress's `ImplementationSpecific` path that does not compile (matched as a prefix).
    /// A warning.
    RegexNotApplied {
        /// The Ingress carrying the path.
        ingress: ObjectKey,
        /// The path, as written.
        path: Arc<str>,
        /// Why.
        reason: Arc<str>,
    },
    /// A canary Ingress's path that is not used: no main Ingress path to attach it to, or one
    /// that already has a canary. A warning.
    CanaryNotApplied {
        /// The canary Ingress.
        ingress: ObjectKey,
        /// The host, as written (`None` for host-less rules).
        host: Option<Arc<str>>,
        /// The path, as written.
        path: Arc<str>,
        /// Why.
        reason: Arc<str>,
    },
    /// A `server-alias` name that is not used: the host of a rule already, or not a valid
    /// host name. A warning.
    ServerAliasNotApplied {
        /// The Ingress carrying the annotation.
        ingress: ObjectKey,
        /// The alias, as written.
        alias: Arc<str>,
        /// Why.
        reason: Arc<str>,
    },
    /// A TLS Secret that does not exist: its hosts get the default certificate.
    TlsSecretMissing {
        /// The Ingress naming it.
        ingress: ObjectKey,
        /// The Secret.
        secret: ObjectKey,
    },
    /// A key of the global configuration's ConfigMap that has no effect: documented by
    /// ingress-nginx but not implemented here, or not documented at all. A warning.
    ConfigKeyIgnored {
        /// The ConfigMap.
        configmap: ObjectKey,
        /// The key.
        key: Arc<str>,
        /// Why it has no effect.
        reason: Arc<str>,
    },
    /// A ConfigMap key with an invalid value: the key keeps its previous value.
    ConfigValueInvalid {
        /// The ConfigMap.
        configmap: ObjectKey,
        /// The key.
        key: Arc<str>,
        /// The value.
        value: Arc<str>,
        /// Why it is invalid.
        reason: Arc<str>,
    },
    /// A ConfigMap value applied only in part (a TLS protocol or cipher rustls does not
    /// implement, `allow-snippet-annotations: "true"`). A warning.
    ConfigValueAdjusted {
        /// The ConfigMap.
        configmap: ObjectKey,
        /// The key.
        key: Arc<str>,
        /// The value.
        value: Arc<str>,
        /// What is not applied.
        reason: Arc<str>,
    },
}

/// An [`InvalidIngress`] ordered by object, then field (for deterministic diagnostic lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidIngressKey(pub InvalidIngress);

impl Diagnostic {
    /// The object the diagnostic is about (the one a Kubernetes Event would be attached to).
    pub fn object(&self) -> &ObjectKey {
        match self {
            Diagnostic::Rejected(e) => &e.0.ingress,
            Diagnostic::RuleConflict { loser, .. }
            | Diagnostic::DefaultBackendConflict { loser, .. }
            | Diagnostic::TlsConflict { loser, .. } => loser,
            Diagnostic::TlsSecretMissing { ingress, .. }
            | Diagnostic::RegexEnforced { ingress, .. }
            | Diagnostic::CanaryNotApplied { ingress, .. }
            | Diagnostic::ServerAliasNotApplied { ingress, .. }
            | Diagnostic::RegexNotApplied { ingress, .. }
            | Diagnostic::AnnotationIgnored { ingress, .. }
            | Diagnostic::AnnotationInvalid { ingress, .. } => ingress,
            Diagnostic::ConfigKeyIgnored { configmap, .. }
            | Diagnostic::ConfigValueInvalid { configmap, .. }
            | Diagnostic::ConfigValueAdjusted { configmap, .. } => configmap,
        }
    }

    /// A CamelCase reason, as Kubernetes Events use.
    pub fn reason(&self) -> &'static str {
        match self {
            Diagnostic::Rejected(_) => "Rejected",
            Diagnostic::RuleConflict { .. } => "RuleConflict",
            Diagnostic::DefaultBackendConflict { .. } => "DefaultBackendConflict",
            Diagnostic::TlsConflict { .. } => "TLSConflict",
            Diagnostic::TlsSecretMissing { .. } => "TLSSecretMissing",
            Diagnostic::AnnotationIgnored { .. } => "AnnotationIgnored",
            Diagnostic::AnnotationInvalid { .. } => "AnnotationInvalid",
            Diagnostic::RegexEnforced { .. } => "RegexEnforced",
            Diagnostic::RegexNotApplied { .. } => "RegexNotApplied",
            Diagnostic::CanaryNotApplied { .. } => "CanaryNotApplied",
            Diagnostic::ServerAliasNotApplied { .. } => "ServerAliasNotApplied",
            Diagnostic::ConfigKeyIgnored { .. } => "ConfigKeyIgnored",
            Diagnostic::ConfigValueInvalid { .. } => "ConfigValueInvalid",
            Diagnostic::ConfigValueAdjusted { .. } => "ConfigValueAdjusted",
        }
    }
}

impl PartialOrd for InvalidIngressKey {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for InvalidIngressKey {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (&self.0.ingress, &self.0.field, self.0.to_string()).cmp(&(
            &other.0.ingress,
            &other.0.field,
            other.0.to_string(),
        ))
    }
}

fn host_or_any(host: &Option<Arc<str>>) -> &str {
    host.as_deref().unwrap_or("*")
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Diagnostic::Rejected(e) => write!(f, "{}", e.0),
            Diagnostic::RuleConflict {
                loser,
                winner,
                host,
                path,
                path_type,
            } => write!(
                f,
                "Ingress {loser}: rule host {} path {path} ({path_type}) is ignored: Ingress {winner} is older and routes it",
                host_or_any(host)
            ),
            Diagnostic::DefaultBackendConflict {
                loser,
                winner,
                host,
            } => match host {
                Some(h) => write!(
                    f,
                    "Ingress {loser}: spec.defaultBackend is ignored for host {h}: Ingress {winner} is older and sets one"
                ),
                None => write!(
                    f,
                    "Ingress {loser}: spec.defaultBackend is not the global default: Ingress {winner} is older and sets one"
                ),
            },
            Diagnostic::TlsConflict {
                loser,
                winner,
                host,
            } => write!(
                f,
                "Ingress {loser}: spec.tls host {host} is ignored: Ingress {winner} is older and provides its certificate"
            ),
            Diagnostic::AnnotationIgnored {
                ingress,
                annotation,
                reason,
            } => write!(
                f,
                "Ingress {ingress}: annotation {annotation} is ignored: {reason}"
            ),
            Diagnostic::AnnotationInvalid {
                ingress,
                annotation,
                value,
                reason,
            } => write!(
                f,
                "Ingress {ingress}: annotation {annotation} has an invalid value {value:?} ({reason}): the Ingress's paths answer 503"
            ),
            Diagnostic::RegexEnforced { ingress, host, by } => write!(
                f,
                "Ingress {ingress}: its ImplementationSpecific paths on host {} are case-insensitive regular expressions because Ingress {by} sets use-regex or rewrite-target (as ingress-nginx does host-wide)",
                host_or_any(host)
            ),
            Diagnostic::RegexNotApplied {
                ingress,
                path,
                reason,
            } => write!(
                f,
                "Ingress {ingress}: path {path:?} is not a regular expression here: {reason}"
            ),
            Diagnostic::CanaryNotApplied {
                ingress,
                host,
                path,
                reason,
            } => write!(
                f,
                "Ingress {ingress}: canary path {path} on host {} is not used: {reason}",
                host_or_any(host)
            ),
            Diagnostic::ServerAliasNotApplied {
                ingress,
                alias,
                reason,
            } => write!(
                f,
                "Ingress {ingress}: server-alias {alias:?} is not used: {reason}"
            ),
            Diagnostic::TlsSecretMissing { ingress, secret } => write!(
                f,
                "Ingress {ingress}: spec.tls secretName {} not found: its hosts get the default certificate",
                secret.name
            ),
            Diagnostic::ConfigKeyIgnored {
                configmap,
                key,
                reason,
            } => write!(f, "ConfigMap {configmap}: key {key} is ignored: {reason}"),
            Diagnostic::ConfigValueInvalid {
                configmap,
                key,
                value,
                reason,
            } => write!(
                f,
                "ConfigMap {configmap}: key {key} has an invalid value {value:?} ({reason}): the key keeps its previous value"
            ),
            Diagnostic::ConfigValueAdjusted {
                configmap,
                key,
                value,
                reason,
            } => write!(
                f,
                "ConfigMap {configmap}: key {key} value {value:?} is applied in part: {reason}"
            ),
        }
    }
}
