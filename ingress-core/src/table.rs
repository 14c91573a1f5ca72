//! The route table: one immutable snapshot of every route, answering lookups lock-free.

mod build;
mod client_tls;
mod inline_str;
mod paths;

use crate::FastMap;
use std::sync::Arc;

use crate::backend::{Backend, Target};
use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;
use crate::normalize;
use crate::tls::{TlsBinding, TlsSelection};
use crate::validate::{PathType, wildcard_suffix};

use client_tls::ClientTlsHosts;
use inline_str::HostKey;
use paths::PathRouter;

/// An immutable routing snapshot built from a whole [`ClusterState`](crate::ClusterState).
///
/// Build one with [`RouteTable::build`], or let a [`TableWriter`](crate::TableWriter) build and
/// publish them. Lookups never allocate for normalised requests and never lock.
#[derive(Debug)]
pub struct RouteTable {
    exact_hosts: FastMap<HostKey, HostRoutes>,
    /// Keyed by the suffix after `*.`.
    wildcard_hosts: FastMap<HostKey, HostRoutes>,
    hostless: Option<HostRoutes>,
    global_default: (Target, MatchSource),
    /// The controller's default backend, whether or not an Ingress's overrides it globally.
    controller_default: Option<Target>,
    /// `from-to-www-redirect`: host → the host it redirects to.
    host_redirects: FastMap<HostKey, Arc<str>>,
    /// `auth-tls-*`: host → its client-certificate settings.
    client_tls: ClientTlsHosts,
    tls: TlsSelection,
    backends_by_service: FastMap<ObjectKey, Vec<Arc<Backend>>>,
    diagnostics: Vec<Diagnostic>,
    accepted: Vec<ObjectKey>,
    generation: u64,
    /// The global configuration this snapshot was built with (one swap publishes both).
    global_config: Arc<crate::GlobalConfig>,
    /// Some exact host entry has a [`HostRoutes::passthrough`] backend.
    passthrough_hosts: bool,
}

/// Every path of one host entry (merged across Ingresses) and its fallback.
#[derive(Debug)]
struct HostRoutes {
    paths: PathRouter,
    /// The oldest `spec.defaultBackend` among the Ingresses with rules for this host.
    default_backend: Option<Target>,
    /// Exact entries: the host has a `tls` entry (exact or wildcard). Wildcard entries: a
    /// wildcard `tls` entry covers the suffix (a request may still have an exact one).
    https_redirect: bool,
    /// `ssl-passthrough`: where this host's TLS connections go, undecrypted.
    passthrough: Option<Arc<Backend>>,
}

/// The rule a request matched, for logs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatchedRule {
    /// The Ingress the rule belongs to.
    pub ingress: ObjectKey,
    /// Index in `spec.rules`.
    pub rule_index: usize,
    /// Index in `spec.rules[rule_index].http.paths`.
    pub path_index: usize,
    /// The rule's host as written (`*.bar.com` for wildcards); `None` for host-less rules.
    pub host: Option<Arc<str>>,
    /// The rule's path as written.
    pub path: Arc<str>,
    /// The rule's path type.
    pub path_type: PathType,
    /// What the Ingress's annotations ask of this path.
    pub policy: Arc<crate::annotations::RoutePolicy>,
    /// The path the upstream receives instead of the request's (`rewrite-target`).
    pub rewrite: Option<crate::annotations::Rewrite>,
    /// A canary Ingress's alternative backend for this path; resolve its Service with
    /// [`RouteTable::backend`].
    pub canary: Option<Arc<crate::validate::CanaryBackend>>,
}

/// One path rule in force, as [`RouteTable::routes`] lists it.
#[derive(Debug, Clone, Copy)]
pub struct RouteListing<'a> {
    /// The rule (its host as written names the host entry).
    pub rule: &'a Arc<MatchedRule>,
    /// Where it sends requests.
    pub target: &'a Target,
    /// Plain HTTP to its host is redirected to HTTPS.
    pub https_redirect: bool,
}

/// Why a request went where it went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchSource {
    /// A path rule matched ([`Route::rule`] says which).
    Path,
    /// The host matched but no path did: the host's default backend (SEMANTICS §3).
    HostDefaultBackend,
    /// The oldest Ingress's `spec.defaultBackend`.
    GlobalDefaultBackend,
    /// The controller's own default backend (configured, or the built-in `404`).
    ControllerDefault,
}

/// The answer to one lookup. Borrowed from the table: clone what must outlive the guard.
#[derive(Debug, Clone, Copy)]
pub struct Route<'a> {
    /// Where the request goes.
    pub target: &'a Target,
    /// The rule that matched, for [`MatchSource::Path`].
    pub rule: Option<&'a Arc<MatchedRule>>,
    /// Why.
    pub source: MatchSource,
    /// The host has a `tls` entry: plain HTTP is redirected to HTTPS (SEMANTICS §6).
    pub https_redirect: bool,
}

impl RouteTable {
    /// The interned backend of a Service port a route of this table names (a path's target
    /// or a canary's backend), with its live endpoints.
    pub fn backend(&self, service: &crate::config::ServiceRef) -> Option<&Arc<Backend>> {
        self.backends_by_service
            .get(&service.service_key())?
            .iter()
            .find(|backend| backend.service() == service)
    }

    /// The controller's own default backend (`--default-backend-service`), when it is a
    /// Service: it serves `custom-http-errors` for routes without a `default-backend`
    /// annotation, as in ingress-nginx.
    pub fn controller_default_backend(&self) -> Option<&Arc<Backend>> {
        match &self.controller_default {
            Some(Target::Service(backend)) => Some(backend),
            _ => None,
        }
    }

    /// The host a request for `host` is redirected to (`from-to-www-redirect`), if any.
    pub fn host_redirect(&self, host: &str) -> Option<&Arc<str>> {
        if self.host_redirects.is_empty() {
            return None;
        }
        let host = normalize::host(host)?;
        self.host_redirects.get(host.as_bytes())
    }

    /// The client-certificate settings (`auth-tls-*`) of a host: a request's `Host` or a TLS
    /// ClientHello's server name. The oldest Ingress with `auth-tls-secret` among those with
    /// rules for the host decides, for every path of the host (an nginx `server`'s setting in
    /// ingress-nginx); an exact host's rules hide a wildcard's settings, and a host no rule
    /// names gets the host-less rules' (nginx's default server).
    pub fn client_tls(&self, host: &str) -> Option<&Arc<crate::annotations::ClientTlsPolicy>> {
        if self.client_tls.is_empty() {
            return None;
        }
        let host = normalize::host(host)?;
        let exact_entry = self.exact_hosts.contains_key(host.as_bytes());
        let wildcard_entry = !exact_entry
            && wildcard_suffix(&host)
                .is_some_and(|s| self.wildcard_hosts.contains_key(s.as_bytes()));
        self.client_tls.get(&host, (exact_entry, wildcard_entry))
    }

    /// Routes a request (SEMANTICS §1–3). `host` is the raw authority (`Host`, `:authority` or
    /// the absolute-form target's), `path` the raw path, with or without a query string.
    pub fn route(&self, host: Option<&str>, path: &str) -> Route<'_> {
        let host = host.and_then(normalize::host);
        let path = normalize::path(path);
        let host = host.as_deref();
        // One probe for exact hosts; a second for wildcards; TLS flags are precomputed.
        let (entry, https_redirect) = match host {
            None => (self.hostless.as_ref(), false),
            Some(h) => match self.exact_hosts.get(h.as_bytes()) {
                Some(entry) => (Some(entry), entry.https_redirect),
                None => {
                    match wildcard_suffix(h).and_then(|s| self.wildcard_hosts.get(s.as_bytes())) {
                        Some(entry) => (Some(entry), entry.https_redirect || self.tls.has_exact(h)),
                        None => (self.hostless.as_ref(), self.tls.covers(h)),
                    }
                }
            },
        };
        let global = || Route {
            target: &self.global_default.0,
            rule: None,
            source: self.global_default.1,
            https_redirect,
        };
        let Some(entry) = entry else {
            return global();
        };
        if let Some((target, rule)) = entry.paths.best(&path) {
            return Route {
                target,
                rule: Some(rule),
                source: MatchSource::Path,
                https_redirect,
            };
        }
        match &entry.default_backend {
            Some(target) => Route {
                target,
                rule: None,
                source: MatchSource::HostDefaultBackend,
                https_redirect,
            },
            None => global(),
        }
    }

    /// Where a TLS connection whose ClientHello names `server_name` is passed undecrypted
    /// (`ssl-passthrough` with `--enable-ssl-passthrough`): the Service of that host's `/`
    /// rule. `None`: terminate TLS as usual. Exact host names only, as ingress-nginx.
    pub fn passthrough(&self, server_name: &str) -> Option<&Arc<Backend>> {
        if !self.passthrough_hosts {
            return None;
        }
        let name = normalize::host(server_name)?;
        self.exact_hosts.get(name.as_bytes())?.passthrough.as_ref()
    }

    /// Whether any host is passed through: without, TLS connections need not be looked at
    /// before the handshake.
    pub fn has_passthrough(&self) -> bool {
        self.passthrough_hosts
    }

    /// The certificate for a TLS ClientHello's server name: an exact `tls.hosts` entry, then a
    /// single-label wildcard entry; `None` means the default certificate (SEMANTICS §6).
    pub fn certificate(&self, server_name: Option<&str>) -> Option<&TlsBinding> {
        let name = server_name.and_then(normalize::host)?;
        self.tls.certificate(&name)
    }

    /// The configured default certificate, if its Secret exists.
    pub fn default_certificate(&self) -> Option<&TlsBinding> {
        self.tls.default_certificate()
    }

    /// Every host a `tls` entry serves (`*.example.com` for a wildcard entry) with the
    /// binding that won it, sorted by host: what the admin API and the certificate-expiry
    /// metric list.
    pub fn certificates(&self) -> Vec<(Arc<str>, &TlsBinding)> {
        self.tls.bindings()
    }

    /// Every rejected object and conflict loser of this build, sorted.
    pub fn diagnostics(&self) -> &[Diagnostic] {
        &self.diagnostics
    }

    /// The Ingresses that are ours and valid (each may still have lost some conflicts), sorted.
    pub fn accepted_ingresses(&self) -> &[ObjectKey] {
        &self.accepted
    }

    /// The global configuration (ingress-nginx's ConfigMap) in force with these routes.
    pub fn global_config(&self) -> &Arc<crate::GlobalConfig> {
        &self.global_config
    }

    /// The writer's build counter (0 for a table built directly).
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Every backend referenced by some route.
    pub fn backends(&self) -> impl Iterator<Item = &Arc<Backend>> {
        self.backends_by_service.values().flatten()
    }

    /// Backends of one Service (for endpoint updates).
    pub(crate) fn backends_of(&self, service: &ObjectKey) -> &[Arc<Backend>] {
        self.backends_by_service
            .get(service)
            .map_or(&[], Vec::as_slice)
    }

    /// Every path rule in force, by host entry: exact hosts, then wildcards, then the
    /// host-less rules, each sorted by host; within a host, best first (the order precedence
    /// tries them). For listings (the admin API), not for routing.
    pub fn routes(&self) -> Vec<RouteListing<'_>> {
        fn sorted(map: &FastMap<HostKey, HostRoutes>) -> Vec<&HostRoutes> {
            let mut entries: Vec<(&HostKey, &HostRoutes)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            entries.into_iter().map(|(_, routes)| routes).collect()
        }
        let mut hosts = sorted(&self.exact_hosts);
        hosts.extend(sorted(&self.wildcard_hosts));
        hosts.extend(self.hostless.as_ref());
        let mut out = Vec::new();
        for entry in hosts {
            for (rule, target) in entry.paths.entries() {
                out.push(RouteListing {
                    rule,
                    target,
                    https_redirect: entry.https_redirect,
                });
            }
        }
        out
    }

    /// The host entry a request for `host` routes in (SEMANTICS §1), as [`route`](Self::route)
    /// looks it up: `Some(Some(pattern))` for an exact or wildcard host entry, `Some(None)` for
    /// the host-less rules, `None` when neither exists. For explanations, not for routing.
    pub fn host_entry(&self, host: Option<&str>) -> Option<Option<String>> {
        let host = host.and_then(normalize::host);
        if let Some(h) = host.as_deref() {
            if self.exact_hosts.contains_key(h.as_bytes()) {
                return Some(Some(h.to_owned()));
            }
            if let Some(suffix) = wildcard_suffix(h)
                && self.wildcard_hosts.contains_key(suffix.as_bytes())
            {
                return Some(Some(format!("*.{suffix}")));
            }
        }
        self.hostless.as_ref().map(|_| None)
    }

    /// Number of host entries (exact, wildcard, and the host-less one) and of path entries.
    pub fn size(&self) -> (usize, usize) {
        let entries = self
            .exact_hosts
            .values()
            .chain(self.wildcard_hosts.values())
            .chain(self.hostless.as_ref());
        let mut hosts = 0;
        let mut paths = 0;
        for entry in entries {
            hosts += 1;
            paths += entry.paths.len();
        }
        (hosts, paths)
    }
}
