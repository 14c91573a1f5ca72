//! Canary Ingresses attached to the main Ingress paths they shadow (ingress-nginx's
//! "alternative backends").
//!
//! An Ingress with `canary: "true"` serves no route of its own: each of its paths is attached
//! to the oldest main (non-canary) Ingress path with the same host, path and path type, as an
//! alternative backend with the canary's rules ([`CanaryPolicy`]). At most one canary per
//! main path, as in ingress-nginx: a second one, or a canary path with no main path, gets a
//! [`Diagnostic::CanaryNotApplied`] warning. A canary Ingress's `tls` and `defaultBackend`
//! are not used (the main Ingress's apply).

use std::sync::Arc;

use super::{BackendRef, ValidIngress};
use crate::annotations::CanaryPolicy;
use crate::diagnostics::Diagnostic;
use crate::model::ObjectKey;

/// A canary's backend, attached to a main path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryBackend {
    /// The canary Ingress.
    pub ingress: ObjectKey,
    /// Its backend for this path.
    pub backend: BackendRef,
    /// When a request goes to it.
    pub policy: Arc<CanaryPolicy>,
}

/// Splits the canary Ingresses off `valid` (oldest first) and attaches their paths to the
/// main paths; returns the main Ingresses.
pub(crate) fn attach(
    valid: Vec<ValidIngress>,
    diagnostics: &mut Vec<Diagnostic>,
) -> Vec<ValidIngress> {
    let (canaries, mut mains): (Vec<_>, Vec<_>) =
        valid.into_iter().partition(|i| i.policy.canary.is_some());
    for canary in canaries {
        let Some(policy) = canary.policy.canary.clone() else {
            continue;
        };
        for rule in &canary.rules {
            for entry in &rule.paths {
                let main = mains.iter_mut().find_map(|main| {
                    main.rules
                        .iter_mut()
                        .filter(|r| r.host == rule.host)
                        .flat_map(|r| r.paths.iter_mut())
                        .find(|p| {
                            p.path.raw() == entry.path.raw()
                                && p.path.path_type() == entry.path.path_type()
                        })
                        .map(|p| (main.key.clone(), p))
                });
                let reason = match main {
                    Some((_, path)) if path.canary.is_none() => {
                        path.canary = Some(CanaryBackend {
                            ingress: canary.key.clone(),
                            backend: entry.backend.clone(),
                            policy: policy.clone(),
                        });
                        continue;
                    }
                    Some((main, path)) => format!(
                        "Ingress {main}'s path already has the canary {} (one canary per path)",
                        path.canary
                            .as_ref()
                            .map_or_else(String::new, |c| c.ingress.to_string())
                    ),
                    None => "no main Ingress has this host, path and path type".to_owned(),
                };
                diagnostics.push(Diagnostic::CanaryNotApplied {
                    ingress: canary.key.clone(),
                    host: rule.host.as_ref().map(|h| h.as_written().clone()),
                    path: entry.path.raw().clone(),
                    reason: reason.into(),
                });
            }
        }
    }
    mains
}
