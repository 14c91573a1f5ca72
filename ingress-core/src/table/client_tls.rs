//! Client-certificate settings per host (`auth-tls-*`): the host's, as ingress-nginx makes
//! them a property of the nginx `server` — the oldest Ingress with `auth-tls-secret` among
//! those with rules for the host decides for every path of the host.

use std::sync::Arc;

use super::inline_str::HostKey;
use crate::FastMap;
use crate::annotations::ClientTlsPolicy;
use crate::validate::{HostPattern, ValidIngress};

/// `auth-tls-*` settings by exact host and by wildcard suffix.
#[derive(Debug, Default)]
pub(super) struct ClientTlsHosts {
    exact: FastMap<HostKey, Arc<ClientTlsPolicy>>,
    /// Keyed by the suffix after `*.`.
    wildcard: FastMap<HostKey, Arc<ClientTlsPolicy>>,
}

impl ClientTlsHosts {
    /// The settings of every host, from Ingresses sorted oldest first.
    pub(super) fn build(valid: &[ValidIngress]) -> Self {
        let mut hosts = ClientTlsHosts::default();
        for ingress in valid {
            let Some(policy) = &ingress.policy.client_tls else {
                continue;
            };
            for rule in &ingress.rules {
                let map = match &rule.host {
                    Some(HostPattern::Exact(_)) => &mut hosts.exact,
                    Some(HostPattern::Wildcard(_)) => &mut hosts.wildcard,
                    None => continue,
                };
                let suffix = rule.host.as_ref().map_or("", HostPattern::suffix);
                map.entry(HostKey::new(suffix))
                    .or_insert_with(|| policy.clone());
            }
        }
        hosts
    }

    pub(super) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty()
    }

    /// The settings for a normalised host; `has_exact_entry`: the host has exact rules of its
    /// own (then a wildcard's settings do not apply, as nginx picks the exact `server`).
    pub(super) fn get(&self, host: &str, has_exact_entry: bool) -> Option<&Arc<ClientTlsPolicy>> {
        if let Some(policy) = self.exact.get(host.as_bytes()) {
            return Some(policy);
        }
        if has_exact_entry {
            return None;
        }
        let suffix = crate::validate::wildcard_suffix(host)?;
        self.wildcard.get(suffix.as_bytes())
    }
}
