//! TLS selection data: which Secret serves which SNI name (SEMANTICS §6).

use crate::{FastMap, FastSet};
use std::sync::Arc;

use crate::config::TableConfig;
use crate::diagnostics::Diagnostic;
use crate::model::{ObjectKey, TlsSecret};
use crate::state::ClusterState;
use crate::validate::{HostPattern, ValidIngress, wildcard_suffix};

/// The certificate chosen for a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsBinding {
    /// The Ingress whose `tls` entry won this host (empty key for the configured default).
    pub ingress: ObjectKey,
    /// The Secret named by `secretName` (`None` when the entry names none).
    pub secret: Option<ObjectKey>,
    /// The Secret's data; `None` when it is missing: serve the default certificate.
    pub data: Option<Arc<TlsSecret>>,
}

/// SNI name → certificate, exact names first, then single-label wildcards.
#[derive(Debug, Default)]
pub(crate) struct TlsSelection {
    exact: FastMap<Arc<str>, TlsBinding>,
    /// Keyed by the suffix after `*.`.
    wildcard: FastMap<Arc<str>, TlsBinding>,
    default: Option<TlsBinding>,
}

impl TlsSelection {
    /// Oldest Ingress wins per host; losers and missing Secrets are reported.
    pub(crate) fn build(
        valid: &[ValidIngress],
        state: &ClusterState,
        config: &TableConfig,
        diagnostics: &mut Vec<Diagnostic>,
    ) -> TlsSelection {
        let mut selection = TlsSelection::default();
        let mut missing_reported = FastSet::default();
        for ingress in valid {
            for entry in &ingress.tls {
                let data = entry
                    .secret
                    .as_ref()
                    .and_then(|s| state.tls_secrets.get(s))
                    .map(|s| Arc::new(s.clone()));
                if let Some(secret) = &entry.secret
                    && data.is_none()
                    && missing_reported.insert((ingress.key.clone(), secret.clone()))
                {
                    diagnostics.push(Diagnostic::TlsSecretMissing {
                        ingress: ingress.key.clone(),
                        secret: secret.clone(),
                    });
                }
                for host in &entry.hosts {
                    let map = match host {
                        HostPattern::Exact(name) => selection.exact.entry(name.clone()),
                        HostPattern::Wildcard(_) => selection.wildcard.entry(host.suffix().into()),
                    };
                    match map {
                        std::collections::hash_map::Entry::Vacant(v) => {
                            v.insert(TlsBinding {
                                ingress: ingress.key.clone(),
                                secret: entry.secret.clone(),
                                data: data.clone(),
                            });
                        }
                        std::collections::hash_map::Entry::Occupied(o) => {
                            let winner = o.get();
                            if winner.ingress != ingress.key && winner.secret != entry.secret {
                                diagnostics.push(Diagnostic::TlsConflict {
                                    loser: ingress.key.clone(),
                                    winner: winner.ingress.clone(),
                                    host: host.to_string().into(),
                                });
                            }
                        }
                    }
                }
            }
        }
        selection.default = config.default_certificate.as_ref().and_then(|key| {
            state.tls_secrets.get(key).map(|s| TlsBinding {
                ingress: ObjectKey::new("", ""),
                secret: Some(key.clone()),
                data: Some(Arc::new(s.clone())),
            })
        });
        selection
    }

    /// Exact name, then single-label wildcard.
    pub(crate) fn certificate(&self, name: &str) -> Option<&TlsBinding> {
        self.exact
            .get(name)
            .or_else(|| wildcard_suffix(name).and_then(|s| self.wildcard.get(s)))
    }

    /// Whether an exact `tls.hosts` entry names this host.
    pub(crate) fn has_exact(&self, name: &str) -> bool {
        !self.exact.is_empty() && self.exact.contains_key(name)
    }

    /// Whether a wildcard `tls.hosts` entry has this suffix.
    pub(crate) fn has_wildcard(&self, suffix: &str) -> bool {
        self.wildcard.contains_key(suffix)
    }

    /// Whether a host has a `tls` entry (and so redirects plain HTTP).
    pub(crate) fn covers(&self, name: &str) -> bool {
        self.certificate(name).is_some()
    }

    pub(crate) fn default_certificate(&self) -> Option<&TlsBinding> {
        self.default.as_ref()
    }

    /// Every `tls.hosts` entry in force with its binding (`*.suffix` for wildcards), sorted
    /// by host name.
    pub(crate) fn bindings(&self) -> Vec<(Arc<str>, &TlsBinding)> {
        let mut all: Vec<(Arc<str>, &TlsBinding)> = self
            .exact
            .iter()
            .map(|(host, binding)| (host.clone(), binding))
            .chain(
                self.wildcard
                    .iter()
                    .map(|(suffix, binding)| (Arc::from(format!("*.{suffix}")), binding)),
            )
            .collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }
}
