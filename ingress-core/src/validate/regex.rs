//! Regular-expression paths, host-wide as ingress-nginx enforces them.
//!
//! When any Ingress of a host sets `use-regex` or `rewrite-target`
//! ([`RoutePolicy::enforces_regex`]), ingress-nginx writes every location of that host with
//! the case-insensitive regex modifier, whatever Ingress it comes from. Here:
//!
//! - every `ImplementationSpecific` path on that host becomes a regular expression
//!   ([`RulePath::to_regex`]), the other Ingresses' too — each affected Ingress gets a
//!   [`Diagnostic::RegexEnforced`] warning naming the Ingress that asked;
//! - `Exact` and `Prefix` paths keep their meaning (SEMANTICS §2.3): ingress-nginx ≥ 1.12
//!   refuses regex characters in them (`strict-validate-path-type`), so such a path on an
//!   Ingress that asks for regex gets a [`Diagnostic::RegexNotApplied`] warning saying to use
//!   `ImplementationSpecific`;
//! - a path that does not compile denies its own Ingress's paths (`503`,
//!   [`Diagnostic::AnnotationInvalid`]) when that Ingress asked for regex, and otherwise keeps
//!   matching as a prefix with a [`Diagnostic::RegexNotApplied`] warning.
//!
//! Both the route table and the reference model run on the result, so they agree.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use super::{HostPattern, RulePath, ValidIngress};
use crate::annotations::{PREFIX, PathRegex, Rewrite, RoutePolicy};
use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;

/// Characters with a meaning in a regular expression (ingress-nginx's `regexEnabledChars`).
const REGEX_CHARS: &[char] = &[
    '^', '$', '[', ']', '(', ')', '{', '}', '*', '+', '?', '|', '\\',
];

/// Applies host-wide regex enforcement to `valid` (oldest first), in place.
pub(crate) fn enforce(valid: &mut [ValidIngress], diagnostics: &mut Vec<Diagnostic>) {
    // Each host that enforces regex, with the oldest Ingress asking for it.
    let mut hosts: BTreeMap<Option<HostPattern>, ObjectKey> = BTreeMap::new();
    for ingress in valid.iter().filter(|i| i.policy.enforces_regex()) {
        for rule in &ingress.rules {
            hosts
                .entry(rule.host.clone())
                .or_insert_with(|| ingress.key.clone());
        }
    }
    if hosts.is_empty() {
        return;
    }
    for ingress in valid.iter_mut() {
        let own = ingress.policy.enforces_regex();
        let mut own_invalid: Option<String> = None;
        let mut notified = BTreeSet::new();
        for rule in &mut ingress.rules {
            let Some(by) = hosts.get(&rule.host) else {
                continue;
            };
            for entry in &mut rule.paths {
                let raw = entry.path.raw().clone();
                match entry.path.to_regex() {
                    None if own && raw.contains(REGEX_CHARS) => {
                        diagnostics.push(Diagnostic::RegexNotApplied {
                            ingress: ingress.key.clone(),
                            path: raw,
                            reason: format!(
                                "its pathType {} is matched literally (ingress-nginx 1.12 and later refuse it); write a regular expression with pathType ImplementationSpecific",
                                entry.path.path_type()
                            )
                            .into(),
                        });
                    }
                    None => {}
                    Some(Ok(regex)) => {
                        entry.path = regex;
                        if !own && notified.insert(rule.host.clone()) {
                            diagnostics.push(Diagnostic::RegexEnforced {
                                ingress: ingress.key.clone(),
                                host: rule.host.as_ref().map(|h| h.as_written().clone()),
                                by: by.clone(),
                            });
                        }
                    }
                    Some(Err(reason)) if own => {
                        own_invalid.get_or_insert(format!(
                            "path {raw:?} is not a valid regular expression: {reason}"
                        ));
                    }
                    Some(Err(reason)) => diagnostics.push(Diagnostic::RegexNotApplied {
                        ingress: ingress.key.clone(),
                        path: raw,
                        reason: format!(
                            "Ingress {by} makes this host's paths regular expressions, but this one does not compile ({reason}); it is matched as a prefix"
                        )
                        .into(),
                    }),
                }
            }
        }
        if let Some(reason) = own_invalid {
            deny(ingress, reason, diagnostics);
        }
    }
}

/// Denies `ingress`'s paths for an invalid regex path of its own, naming the annotation that
/// made it one.
fn deny(ingress: &mut ValidIngress, reason: String, diagnostics: &mut Vec<Diagnostic>) {
    let policy = &ingress.policy;
    let (name, value) = match (&policy.rewrite_target, policy.use_regex) {
        (_, true) => ("use-regex", "true".into()),
        (Some(target), false) => ("rewrite-target", target.clone()),
        (None, false) => return,
    };
    let annotation: Arc<str> = format!("{PREFIX}{name}").into();
    diagnostics.push(Diagnostic::AnnotationInvalid {
        ingress: ingress.key.clone(),
        annotation: annotation.clone(),
        value: value.clone(),
        reason: reason.clone().into(),
    });
    if policy.denied.is_none() {
        let denied = format!("annotation {annotation} has an invalid value {value:?}: {reason}");
        ingress.policy = Arc::new(RoutePolicy {
            denied: Some(denied.into()),
            ..(**policy).clone()
        });
    }
}

/// The rewrite of one path entry, when its Ingress sets a `rewrite-target` other than the
/// path itself (ingress-nginx does not rewrite then): the entry's regular expression, or its
/// literal path matched case-insensitively at the start.
pub(crate) fn rewrite_of(path: &RulePath, policy: &RoutePolicy) -> Option<Rewrite> {
    let target = policy.rewrite_target.as_ref()?;
    if **target == **path.raw() {
        return None;
    }
    let source = match path.regex() {
        Some(regex) => regex.clone(),
        // An escaped literal always compiles; a path too large for the size limit is not
        // rewritten (it could not be written by the API server's size limits anyway).
        None => PathRegex::literal(path.raw()).ok()?,
    };
    Some(Rewrite::new(source, target.clone()))
}
