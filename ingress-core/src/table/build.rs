//! Building a snapshot: class selection, validation, merging by host, conflicts by age.

use crate::{FastMap, FastSet};
use std::sync::Arc;

use super::inline_str::HostKey;
use super::paths::{PathRoute, PathRouter, SCAN_LIMIT};
use super::{HostRoutes, MatchSource, MatchedRule, RouteTable};
use crate::backend::{Backend, Target};
use crate::config::{ServiceRef, TableConfig};
use crate::diagnostics::Diagnostic;
use crate::model::{EndpointSlice, ObjectKey};
use crate::state::ClusterState;
use crate::tls::TlsSelection;
use crate::validate::{BackendRef, HostPattern, ValidIngress};

/// Interns one [`Backend`] per referenced Service port.
struct Backends<'a> {
    state: &'a ClusterState,
    /// `(namespace, service name)` → slices, borrowed from the state (no allocation).
    slices_by_service: FastMap<(&'a str, &'a str), Vec<&'a EndpointSlice>>,
    interned: FastMap<ServiceRef, Arc<Backend>>,
}

impl<'a> Backends<'a> {
    fn new(state: &'a ClusterState) -> Self {
        let mut slices_by_service: FastMap<(&str, &str), Vec<&EndpointSlice>> = FastMap::default();
        slices_by_service.reserve(state.endpoint_slices.len());
        for slice in state.endpoint_slices.values() {
            slices_by_service
                .entry((slice.meta.namespace.as_str(), slice.service_name.as_str()))
                .or_default()
                .push(slice);
        }
        let mut interned = FastMap::default();
        interned.reserve(state.services.len());
        Backends {
            state,
            slices_by_service,
            interned,
        }
    }

    fn target(&mut self, backend: &BackendRef) -> Target {
        match backend {
            BackendRef::Resource(resource) => Target::Resource(resource.clone()),
            BackendRef::Service(service) => Target::Service(self.service(service)),
        }
    }

    fn service(&mut self, service: &ServiceRef) -> Arc<Backend> {
        if let Some(found) = self.interned.get(service) {
            return found.clone();
        }
        let key = service.service_key();
        let slices = self
            .slices_by_service
            .get(&(&*service.namespace, &*service.name))
            .into_iter()
            .flatten()
            .copied();
        let backend = Arc::new(Backend::resolve(
            service.clone(),
            self.state.services.get(&key),
            slices,
        ));
        self.interned.insert(service.clone(), backend.clone());
        backend
    }

    fn by_service(self) -> FastMap<ObjectKey, Vec<Arc<Backend>>> {
        let mut out: FastMap<ObjectKey, Vec<Arc<Backend>>> = FastMap::default();
        for (service, backend) in self.interned {
            out.entry(service.service_key()).or_default().push(backend);
        }
        out
    }
}

/// A host entry while Ingresses are merged into it, oldest first.
#[derive(Default)]
struct HostBuilder {
    routes: Vec<PathRoute>,
    default_backend: Option<(Target, ObjectKey)>,
    /// Ingresses with `ssl-passthrough` that have rules for this host.
    passthrough: Vec<ObjectKey>,
}

impl RouteTable {
    /// Builds a snapshot from the whole desired state (SEMANTICS §2–6). Never fails: invalid
    /// Ingresses and conflict losers become [`RouteTable::diagnostics`], and everything else
    /// serves.
    pub fn build(state: &ClusterState, config: &TableConfig) -> RouteTable {
        let (valid, mut diagnostics) = ValidIngress::ours_oldest_first(state, config);

        let mut backends = Backends::new(state);
        let mut hosts: FastMap<Option<HostPattern>, HostBuilder> = FastMap::default();
        hosts.reserve(valid.len());
        let mut global_default: Option<(Target, ObjectKey)> = None;
        for ingress in &valid {
            let default_target = ingress.default_backend.as_ref().map(|b| backends.target(b));
            let mut hosts_seen = FastSet::default();
            for (rule_index, rule) in ingress.rules.iter().enumerate() {
                let entry = hosts.entry(rule.host.clone()).or_default();
                if ingress.policy.ssl_passthrough && !entry.passthrough.contains(&ingress.key) {
                    entry.passthrough.push(ingress.key.clone());
                }
                let host_name: Option<Arc<str>> =
                    rule.host.as_ref().map(|h| h.as_written().clone());
                if hosts_seen.insert(rule.host.clone())
                    && rule.host.is_some()
                    && let Some(target) = &default_target
                {
                    match &entry.default_backend {
                        None => entry.default_backend = Some((target.clone(), ingress.key.clone())),
                        Some((_, winner)) => diagnostics.push(Diagnostic::DefaultBackendConflict {
                            loser: ingress.key.clone(),
                            winner: winner.clone(),
                            host: host_name.clone(),
                        }),
                    }
                }
                for (path_index, path) in rule.paths.iter().enumerate() {
                    if let Some(canary) = &path.canary {
                        // Interned, so its endpoints are kept up to date like any target's.
                        let _ = backends.target(&canary.backend);
                    }
                    entry.routes.push(PathRoute {
                        path: path.path.clone(),
                        target: backends.target(&path.backend),
                        rule: Arc::new(MatchedRule {
                            ingress: ingress.key.clone(),
                            rule_index,
                            path_index,
                            host: host_name.clone(),
                            path: path.path.raw().clone(),
                            path_type: path.path.path_type(),
                            policy: ingress.policy.clone(),
                            rewrite: crate::validate::rewrite_of(&path.path, &ingress.policy),
                            canary: path.canary.clone().map(Arc::new),
                        }),
                    });
                }
            }
            if let Some(target) = default_target {
                match &global_default {
                    None => global_default = Some((target, ingress.key.clone())),
                    // Only an Ingress with no host rules means its default as a catch-all;
                    // others use theirs per host, reported above when they lose there.
                    Some((_, winner)) if !ingress.rules.iter().any(|r| r.host.is_some()) => {
                        diagnostics.push(Diagnostic::DefaultBackendConflict {
                            loser: ingress.key.clone(),
                            winner: winner.clone(),
                            host: None,
                        });
                    }
                    Some(_) => {}
                }
            }
        }

        let controller_default = config
            .default_backend
            .as_ref()
            .map(|service| Target::Service(backends.service(service)));
        for ingress in &valid {
            if let Some(service) = &ingress.policy.default_backend_service {
                // Interned, so its endpoints are kept up to date like any target's.
                let _ = backends.service(service);
            }
        }
        let global_default = match global_default {
            Some((target, _)) => (target, MatchSource::GlobalDefaultBackend),
            None => (
                match &config.default_backend {
                    Some(service) => Target::Service(backends.service(service)),
                    None => Target::NotFound,
                },
                MatchSource::ControllerDefault,
            ),
        };
        let tls = TlsSelection::build(&valid, state, config, &mut diagnostics);

        let exact_count = hosts
            .keys()
            .filter(|h| matches!(h, Some(HostPattern::Exact(_))))
            .count();
        let mut exact_hosts = FastMap::default();
        exact_hosts.reserve(exact_count);
        let mut wildcard_hosts = FastMap::default();
        wildcard_hosts.reserve(hosts.len() - exact_count);
        let mut table = RouteTable {
            exact_hosts,
            wildcard_hosts,
            hostless: None,
            global_default,
            controller_default,
            host_redirects: FastMap::default(),
            client_tls: super::ClientTlsHosts::build(&valid),
            tls,
            backends_by_service: FastMap::default(),
            diagnostics: Vec::new(),
            accepted: valid.iter().map(|v| v.key.clone()).collect(),
            generation: 0,
            global_config: state.global_config.config().clone(),
            passthrough_hosts: false,
        };
        diagnostics.extend_from_slice(state.global_config.diagnostics());
        for (host, builder) in hosts {
            let (paths, losers) = PathRouter::build(builder.routes, SCAN_LIMIT);
            diagnostics.extend(losers.into_iter().map(|(loser, winner)| {
                Diagnostic::RuleConflict {
                    loser: loser.rule.ingress.clone(),
                    winner: winner.ingress.clone(),
                    host: loser.rule.host.clone(),
                    path: loser.rule.path.clone(),
                    path_type: loser.rule.path_type,
                }
            }));
            let https_redirect = match &host {
                Some(HostPattern::Exact(name)) => table.tls.covers(name),
                Some(pattern @ HostPattern::Wildcard(_)) => {
                    table.tls.has_wildcard(pattern.suffix())
                }
                None => false,
            };
            let passthrough =
                passthrough_of(&host, &paths, config, builder.passthrough, &mut diagnostics);
            let routes = HostRoutes {
                paths,
                https_redirect,
                default_backend: builder.default_backend.map(|(t, _)| t),
                passthrough,
            };
            table.passthrough_hosts |= routes.passthrough.is_some();
            match host {
                Some(HostPattern::Exact(name)) => {
                    table.exact_hosts.insert(HostKey::new(&name), routes);
                }
                Some(pattern @ HostPattern::Wildcard(_)) => {
                    table
                        .wildcard_hosts
                        .insert(HostKey::new(pattern.suffix()), routes);
                }
                None => table.hostless = Some(routes),
            }
        }
        for (from, to) in crate::validate::www_redirects(&valid).0 {
            table.host_redirects.insert(HostKey::new(&from), to);
        }
        table.backends_by_service = backends.by_service();
        diagnostics.sort();
        diagnostics.dedup();
        table.diagnostics = diagnostics;
        table.accepted.sort();
        table
    }

    pub(crate) fn with_generation(mut self, generation: u64) -> Self {
        self.generation = generation;
        self
    }
}

/// `ssl-passthrough` for one host entry, as ingress-nginx decides it: any Ingress with rules
/// for the host asking is enough (with `--enable-ssl-passthrough`), and the connections go to
/// the Service of the host's `/` rule; a wildcard or host-less entry, or a host without such a
/// rule, is not passed through. Each Ingress whose annotation has no effect gets a Warning.
fn passthrough_of(
    host: &Option<HostPattern>,
    paths: &PathRouter,
    config: &TableConfig,
    asking: Vec<ObjectKey>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Option<Arc<Backend>> {
    if asking.is_empty() {
        return None;
    }
    let root = match (config.ssl_passthrough, host) {
        (false, _) => Err(crate::annotations::Ignored::NeedsFlag),
        (true, Some(HostPattern::Exact(_))) => paths
            .best("/")
            .and_then(|(target, rule)| match target {
                Target::Service(backend) if &*rule.path == "/" => Some(backend.clone()),
                _ => None,
            })
            .ok_or(crate::annotations::Ignored::NotApplicable),
        (true, _) => Err(crate::annotations::Ignored::NotApplicable),
    };
    match root {
        Ok(backend) => Some(backend),
        Err(reason) => {
            diagnostics.extend(
                asking
                    .into_iter()
                    .map(|ingress| Diagnostic::AnnotationIgnored {
                        ingress,
                        annotation: format!("{}ssl-passthrough", crate::annotations::PREFIX).into(),
                        reason,
                    }),
            );
            None
        }
    }
}
