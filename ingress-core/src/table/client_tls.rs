//! Client-certificate settings per host (`auth-tls-*`): the host's, as ingress-nginx makes
//! them a property of the nginx `server` — the oldest Ingress with `auth-tls-secret` among
//! those with rules for the host decides for every path of the host. Host-less rules are
//! nginx's default server: their settings apply to names no rule names.

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
    /// From host-less rules.
    hostless: Option<Arc<ClientTlsPolicy>>,
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
                    None => {
                        hosts.hostless.get_or_insert_with(|| policy.clone());
                        continue;
                    }
                };
                let suffix = rule.host.as_ref().map_or("", HostPattern::suffix);
                map.entry(HostKey::new(suffix))
                    .or_insert_with(|| policy.clone());
            }
        }
        hosts
    }

    pub(super) fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.wildcard.is_empty() && self.hostless.is_none()
    }

    /// The settings for a normalised host, chosen as nginx chooses the `server`: the exact
    /// host's entry, else the wildcard's, else the host-less rules'. `entries`: whether the
    /// table has exact and wildcard rules for the host (their settings, or their lack of
    /// any, hide the next ones).
    pub(super) fn get(
        &self,
        host: &str,
        (exact_entry, wildcard_entry): (bool, bool),
    ) -> Option<&Arc<ClientTlsPolicy>> {
        if exact_entry {
            return self.exact.get(host.as_bytes());
        }
        if wildcard_entry {
            let suffix = crate::validate::wildcard_suffix(host)?;
            return self.wildcard.get(suffix.as_bytes());
        }
        self.hostless.as_ref()
    }
}
