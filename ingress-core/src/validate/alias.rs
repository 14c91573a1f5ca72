//! `server-alias`: more host names for a host's whole set of paths, as ingress-nginx adds
//! them to the host's `server_name`.
//!
//! The aliases of a host come from the oldest Ingress with rules for it that sets
//! `server-alias` (a comma-separated list of host names). Each alias routes exactly as the
//! host does — every Ingress's paths on it — and is served the host's certificate (added to
//! each `tls` entry that names the host). An alias that is a host of some rule already, or
//! not a valid host name, is not used, with a [`Diagnostic::ServerAliasNotApplied`] warning.
//! Both the route table and the reference model run on the result.
//!
//! `from-to-www-redirect` is decided here too ([`www_redirects`]): for each exact host of an
//! Ingress with it, the host with `www.` added (or removed) redirects to it, unless that name
//! is the host of a rule already.

use super::{HostPattern, ValidIngress};
use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;
use std::collections::{BTreeMap, BTreeSet};

/// Adds the rules and TLS hosts of every usable alias to `valid` (oldest first).
pub(crate) fn apply(valid: &mut [ValidIngress], diagnostics: &mut Vec<Diagnostic>) {
    let hosts: BTreeSet<HostPattern> = valid
        .iter()
        .flat_map(|i| i.rules.iter().filter_map(|r| r.host.clone()))
        .collect();
    // host → (Ingress that named the aliases, the aliases).
    let mut aliases: BTreeMap<HostPattern, (ObjectKey, Vec<HostPattern>)> = BTreeMap::new();
    for ingress in valid.iter() {
        if ingress.policy.server_alias.is_empty() {
            continue;
        }
        for host in ingress.rules.iter().filter_map(|r| r.host.as_ref()) {
            if aliases.contains_key(host) {
                continue;
            }
            let mut usable = Vec::new();
            for alias in &ingress.policy.server_alias {
                let reason = match HostPattern::parse(alias) {
                    Ok(pattern) if pattern == *host => continue,
                    Ok(pattern) if hosts.contains(&pattern) => {
                        "it is the host of a rule already".to_owned()
                    }
                    Ok(pattern) => {
                        if !usable.contains(&pattern) {
                            usable.push(pattern);
                        }
                        continue;
                    }
                    Err(error) => error.to_string(),
                };
                diagnostics.push(Diagnostic::ServerAliasNotApplied {
                    ingress: ingress.key.clone(),
                    alias: alias.clone(),
                    reason: reason.into(),
                });
            }
            aliases.insert(host.clone(), (ingress.key.clone(), usable));
        }
    }
    if aliases.values().all(|(_, usable)| usable.is_empty()) {
        return;
    }
    for ingress in valid.iter_mut() {
        let mut added = Vec::new();
        for rule in &ingress.rules {
            let Some(host) = &rule.host else { continue };
            for alias in aliases.get(host).map_or(&[][..], |(_, a)| a) {
                let mut copy = rule.clone();
                copy.host = Some(alias.clone());
                added.push(copy);
            }
        }
        ingress.rules.extend(added);
        for tls in &mut ingress.tls {
            let extra: Vec<HostPattern> = tls
                .hosts
                .iter()
                .filter_map(|h| aliases.get(h))
                .flat_map(|(_, a)| a.iter().cloned())
                .filter(|a| !tls.hosts.contains(a))
                .collect();
            tls.hosts.extend(extra);
        }
    }
}

/// The `from-to-www-redirect` pairs `(from, to)` of `valid` (oldest first; the first pair for
/// a name wins), and a warning for each name that is the host of a rule already.
pub(crate) fn www_redirects(
    valid: &[ValidIngress],
) -> (Vec<(String, std::sync::Arc<str>)>, Vec<Diagnostic>) {
    let hosts: BTreeSet<&str> = valid
        .iter()
        .flat_map(|i| i.rules.iter().filter_map(|r| r.host.as_ref()))
        .filter_map(|h| match h {
            HostPattern::Exact(name) => Some(&**name),
            HostPattern::Wildcard(_) => None,
        })
        .collect();
    let (mut pairs, mut diagnostics) = (Vec::new(), Vec::new());
    let mut seen = BTreeSet::new();
    for ingress in valid.iter().filter(|i| i.policy.from_to_www_redirect) {
        for host in ingress.rules.iter().filter_map(|r| r.host.as_ref()) {
            let HostPattern::Exact(name) = host else {
                continue;
            };
            let from = match name.strip_prefix("www.") {
                Some(bare) => bare.to_owned(),
                None => format!("www.{name}"),
            };
            if hosts.contains(from.as_str()) {
                diagnostics.push(Diagnostic::ServerAliasNotApplied {
                    ingress: ingress.key.clone(),
                    alias: from.into(),
                    reason: "from-to-www-redirect: it is the host of a rule already".into(),
                });
            } else if seen.insert(from.clone()) {
                pairs.push((from, name.clone()));
            }
        }
    }
    (pairs, diagnostics)
}
