//! A naive reference router written straight from SEMANTICS.md: linear scans, no matchit, no
//! hash maps, no precomputed conflicts.
//!
//! It exists to be compared with [`RouteTable`](crate::RouteTable) by property tests, fuzz
//! targets and benchmarks. It shares only class selection, validation and normalisation with
//! the real table (those are tested on their own); everything about choosing a route is
//! re-derived here the slow, obvious way.

use std::sync::Arc;

use crate::backend::Target;
use crate::config::{ServiceRef, TableConfig};
use crate::diagnostics::Diagnostic;
use crate::model::{ObjectKey, ResourceBackend};
use crate::normalize;
use crate::state::ClusterState;
use crate::table::{MatchSource, Route};
use crate::validate::{BackendRef, HostPattern, ValidIngress, ValidPath};

/// The reference model of one desired state.
#[derive(Debug)]
pub struct ReferenceRouter {
    /// Our valid Ingresses, oldest first.
    pub(crate) valid: Vec<ValidIngress>,
    controller_default: Option<ServiceRef>,
    diagnostics: Vec<Diagnostic>,
}

/// A routing decision in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Where the request goes.
    pub target: DecisionTarget,
    /// The matched path entry: (Ingress, rule index, path index).
    pub rule: Option<(ObjectKey, usize, usize)>,
    /// Why.
    pub source: MatchSource,
    /// Whether plain HTTP is redirected.
    pub https_redirect: bool,
}

/// A target in comparable form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecisionTarget {
    /// A Service port.
    Service(ServiceRef),
    /// A resource backend.
    Resource(ResourceBackend),
    /// The built-in 404.
    NotFound,
}

impl Decision {
    /// Converts a real table's answer for comparison.
    pub fn from_route(route: &Route<'_>) -> Decision {
        Decision {
            target: match route.target {
                Target::Service(backend) => DecisionTarget::Service(backend.service().clone()),
                Target::Resource(resource) => DecisionTarget::Resource((**resource).clone()),
                Target::NotFound => DecisionTarget::NotFound,
            },
            rule: route
                .rule
                .map(|r| (r.ingress.clone(), r.rule_index, r.path_index)),
            source: route.source,
            https_redirect: route.https_redirect,
        }
    }
}

fn decision_target(backend: &BackendRef) -> DecisionTarget {
    match backend {
        BackendRef::Service(s) => DecisionTarget::Service(s.clone()),
        BackendRef::Resource(r) => DecisionTarget::Resource((**r).clone()),
    }
}

/// Every path entry with its position: (ingress index, rule index, path index, entry).
pub(crate) type Entry<'a> = (usize, usize, usize, Option<&'a HostPattern>, &'a ValidPath);

impl ReferenceRouter {
    /// Builds the reference model.
    pub fn new(state: &ClusterState, config: &TableConfig) -> ReferenceRouter {
        let (valid, diagnostics) = ValidIngress::ours_oldest_first(state, config);
        let mut router = ReferenceRouter {
            valid,
            controller_default: config.default_backend.clone(),
            diagnostics,
        };
        router.diagnostics.extend(router.conflicts(state));
        router.diagnostics.sort();
        router.diagnostics.dedup();
        router
    }

    /// Diagnostics, sorted, as [`RouteTable::diagnostics`](crate::RouteTable::diagnostics).
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    pub(crate) fn entries(&self) -> Vec<Entry<'_>> {
        let mut out = Vec::new();
        for (i, ingress) in self.valid.iter().enumerate() {
            for (r, rule) in ingress.rules.iter().enumerate() {
                for (p, path) in rule.paths.iter().enumerate() {
                    out.push((i, r, p, rule.host.as_ref(), path));
                }
            }
        }
        out
    }

    fn host_name(host: Option<&HostPattern>) -> Option<Arc<str>> {
        host.map(|h| h.to_string().into())
    }

    fn conflicts(&self, state: &ClusterState) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let entries = self.entries();
        // Path entries: a later entry indistinguishable from an earlier one loses to the first.
        for (n, later) in entries.iter().enumerate() {
            let first = entries[..n]
                .iter()
                .find(|e| e.3 == later.3 && e.4.path.shadows(&later.4.path));
            if let Some(first) = first {
                out.push(Diagnostic::RuleConflict {
                    loser: self.valid[later.0].key.clone(),
                    winner: self.valid[first.0].key.clone(),
                    host: Self::host_name(later.3),
                    path: later.4.path.raw().clone(),
                    path_type: later.4.path.path_type(),
                });
            }
        }
        // Per-host default backends.
        let mut hosts: Vec<&HostPattern> = self
            .valid
            .iter()
            .flat_map(|v| v.rules.iter().filter_map(|r| r.host.as_ref()))
            .collect();
        hosts.sort();
        hosts.dedup();
        for host in hosts {
            let with_default: Vec<&ValidIngress> = self
                .valid
                .iter()
                .filter(|v| v.default_backend.is_some())
                .filter(|v| v.rules.iter().any(|r| r.host.as_ref() == Some(host)))
                .collect();
            for loser in with_default.iter().skip(1) {
                out.push(Diagnostic::DefaultBackendConflict {
                    loser: loser.key.clone(),
                    winner: with_default[0].key.clone(),
                    host: Some(host.to_string().into()),
                });
            }
        }
        // The global default: reported only for Ingresses without host rules.
        let with_default: Vec<&ValidIngress> = self
            .valid
            .iter()
            .filter(|v| v.default_backend.is_some())
            .collect();
        for loser in with_default.iter().skip(1) {
            if !loser.rules.iter().any(|r| r.host.is_some()) {
                out.push(Diagnostic::DefaultBackendConflict {
                    loser: loser.key.clone(),
                    winner: with_default[0].key.clone(),
                    host: None,
                });
            }
        }
        // TLS: the first entry for a host wins; a later one from another Ingress naming
        // another Secret loses. Missing Secrets are reported per Ingress and Secret.
        let tls: Vec<(&ValidIngress, &HostPattern, &Option<ObjectKey>)> = self
            .valid
            .iter()
            .flat_map(|v| {
                v.tls
                    .iter()
                    .flat_map(move |t| t.hosts.iter().map(move |h| (v, h, &t.secret)))
            })
            .collect();
        for (n, (ingress, host, secret)) in tls.iter().enumerate() {
            if let Some((winner, _, winner_secret)) = tls[..n].iter().find(|t| t.1 == *host)
                && winner.key != ingress.key
                && winner_secret != secret
            {
                out.push(Diagnostic::TlsConflict {
                    loser: ingress.key.clone(),
                    winner: winner.key.clone(),
                    host: host.to_string().into(),
                });
            }
        }
        for ingress in &self.valid {
            for entry in &ingress.tls {
                if let Some(secret) = &entry.secret
                    && !state.tls_secrets.contains_key(secret)
                {
                    out.push(Diagnostic::TlsSecretMissing {
                        ingress: ingress.key.clone(),
                        secret: secret.clone(),
                    });
                }
            }
        }
        out
    }

    /// SEMANTICS §1: the one host entry a normalised host routes in — an exact host rule,
    /// else a wildcard one, else the host-less rules (`Some(None)`); `None` when there is
    /// none of these.
    pub(crate) fn scope(&self, host: Option<&str>) -> Option<Option<&HostPattern>> {
        let all_rule_hosts = || {
            self.valid
                .iter()
                .flat_map(|v| v.rules.iter().map(|r| r.host.as_ref()))
        };
        match host {
            Some(h) => all_rule_hosts()
                .flatten()
                .find(|p| matches!(p, HostPattern::Exact(_)) && p.matches(h))
                .or_else(|| all_rule_hosts().flatten().find(|p| p.matches(h)))
                .map(Some),
            None => None,
        }
        .or_else(|| all_rule_hosts().any(|h| h.is_none()).then_some(None))
    }

    /// Routes a request by scanning every rule (SEMANTICS §1–3, §6).
    pub fn route(&self, host: Option<&str>, path: &str) -> Decision {
        let host = host.and_then(normalize::host).map(|h| h.into_owned());
        let path = normalize::path(path).into_owned();
        let https_redirect = host.as_deref().is_some_and(|h| {
            let tls_hosts = || {
                self.valid
                    .iter()
                    .flat_map(|v| v.tls.iter().flat_map(|t| t.hosts.iter()))
            };
            tls_hosts().any(|p| p.matches(h))
        });
        let entries = self.entries();
        let scope = self.scope(host.as_deref());
        let global =
            |https_redirect| match self.valid.iter().find_map(|v| v.default_backend.as_ref()) {
                Some(b) => Decision {
                    target: decision_target(b),
                    rule: None,
                    source: MatchSource::GlobalDefaultBackend,
                    https_redirect,
                },
                None => Decision {
                    target: self
                        .controller_default
                        .clone()
                        .map_or(DecisionTarget::NotFound, DecisionTarget::Service),
                    rule: None,
                    source: MatchSource::ControllerDefault,
                    https_redirect,
                },
            };
        let Some(scope) = scope else {
            return global(https_redirect);
        };
        // 2. Among that entry's paths, the best match; ties go to the older Ingress.
        let best = entries
            .iter()
            .filter(|e| e.3 == scope && e.4.path.matches(&path))
            .min_by(|a, b| {
                a.4.path
                    .precedence(&b.4.path)
                    .then_with(|| (a.0, a.1, a.2).cmp(&(b.0, b.1, b.2)))
            });
        if let Some((i, r, p, _, entry)) = best {
            return Decision {
                target: decision_target(&entry.backend),
                rule: Some((self.valid[*i].key.clone(), *r, *p)),
                source: MatchSource::Path,
                https_redirect,
            };
        }
        // 3. No path: the host's default backend, else the global one.
        if scope.is_some() {
            let host_default = self
                .valid
                .iter()
                .filter(|v| v.rules.iter().any(|r| r.host.as_ref() == scope))
                .find_map(|v| v.default_backend.as_ref());
            if let Some(b) = host_default {
                return Decision {
                    target: decision_target(b),
                    rule: None,
                    source: MatchSource::HostDefaultBackend,
                    https_redirect,
                };
            }
        }
        global(https_redirect)
    }
}
