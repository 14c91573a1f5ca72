//! Why a request goes where it goes: every path entry of every Ingress this controller serves,
//! with its verdict for one request.
//!
//! The explanation is derived by the [`reference`](crate::reference) model's linear scan — the
//! specification's own reading — so it names the reason the way SEMANTICS.md states the rule:
//! the host entry chosen (exact, else wildcard, else host-less), then the best matching path
//! (longer path, then `Exact` before `Prefix`, then the longer path as written, then the older
//! Ingress). Property tests hold the reference model and the [`RouteTable`](crate::RouteTable)
//! to the same decisions, so the explanation describes what the data plane does.
//!
//! ```
//! use ingress_core::{ClassSelection, ClusterState, Ingress, PathType, ServiceBackend, TableConfig};
//! use ingress_core::explain::{Verdict, explain};
//!
//! let mut state = ClusterState::default();
//! for (name, age, path, path_type) in [("api", 1, "/api", PathType::Prefix), ("root", 2, "/", PathType::Prefix)] {
//!     let ingress = Ingress::new("default", name, Some(age))
//!         .with_class(ClassSelection::DEFAULT_CLASS)
//!         .with_path(Some("shop.example"), path_type, path, ServiceBackend::number(name, 80));
//!     state.ingresses.insert(ingress.meta.key(), ingress);
//! }
//! let why = explain(&state, &TableConfig::default(), Some("shop.example"), "/api/v1");
//! let verdicts: Vec<_> = why.candidates.iter().map(|c| (c.rule.ingress.name.as_ref(), c.verdict.clone())).collect();
//! assert_eq!(verdicts[0], ("api", Verdict::Chosen));
//! assert!(matches!(&verdicts[1], ("root", Verdict::Outranked { reason, .. }) if reason.contains("longer path")));
//! ```

mod snapshot;

use std::fmt;

use crate::config::TableConfig;
use crate::model::ObjectKey;
use crate::normalize;
use crate::reference::{Decision, DecisionTarget, ReferenceRouter};
use crate::state::ClusterState;
use crate::table::{MatchSource, MatchedRule};
use crate::validate::{BackendRef, HostPattern, RulePath};

pub use snapshot::{
    CanaryAnswer, CanaryOutcome, ExplainRequest, SnapshotExplanation, explain_snapshot,
};

/// The whole answer for one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Explanation {
    /// The host as routed (lower-cased, port and trailing dot removed); `None` when absent or
    /// an IP address.
    pub host: Option<String>,
    /// The path as matched (normalised).
    pub path: String,
    /// The host entry routed in: `Some(Some(pattern))` for a host rule, `Some(None)` for the
    /// host-less rules, `None` when neither exists (the global default answers).
    pub host_entry: Option<Option<String>>,
    /// The decision.
    pub decision: Decision,
    /// Every path entry of every Ingress served, in age order, with its verdict.
    pub candidates: Vec<Candidate>,
}

/// One path entry and what it had to do with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The path entry, as the route table names a matched one.
    pub rule: MatchedRule,
    /// Where it sends requests.
    pub backend: DecisionTarget,
    /// What happened to it.
    pub verdict: Verdict,
}

/// A candidate's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Verdict {
    /// It routes the request.
    Chosen,
    /// Its host does not match the request's.
    HostDoesNotMatch,
    /// Its host matches, but another host entry was chosen (an exact host beats a wildcard;
    /// a matching host rule beats the host-less ones).
    OtherHostChosen {
        /// The host entry chosen (`None`: the host-less rules).
        chosen: Option<String>,
    },
    /// Its host entry was chosen but its path does not match.
    PathDoesNotMatch,
    /// Its path matches, but the chosen entry's ranks higher.
    Outranked {
        /// The chosen entry: Ingress, rule index, path index.
        by: (ObjectKey, usize, usize),
        /// Which precedence rule decided.
        reason: String,
    },
}

/// Explains how `host` and `path` route in `state` under `config` (see the module docs).
pub fn explain(
    state: &ClusterState,
    config: &TableConfig,
    host: Option<&str>,
    path: &str,
) -> Explanation {
    let router = ReferenceRouter::new(state, config);
    let decision = router.route(host, path);
    let host = host.and_then(normalize::host).map(|h| h.into_owned());
    let path = normalize::path(path).into_owned();
    let scope = router.scope(host.as_deref());
    let chosen = decision.rule.clone();
    let winner = router
        .entries()
        .into_iter()
        .find(|e| chosen.as_ref() == Some(&(router.valid[e.0].key.clone(), e.1, e.2)));
    let candidates = router
        .entries()
        .into_iter()
        .map(|(i, r, p, rule_host, entry)| {
            let key = router.valid[i].key.clone();
            let host_matches = match (rule_host, host.as_deref()) {
                (None, _) => true,
                (Some(pattern), Some(h)) => pattern.matches(h),
                (Some(_), None) => false,
            };
            let verdict = if chosen.as_ref() == Some(&(key.clone(), r, p)) {
                Verdict::Chosen
            } else if !host_matches {
                Verdict::HostDoesNotMatch
            } else if scope != Some(rule_host) {
                Verdict::OtherHostChosen {
                    chosen: scope.flatten().map(ToString::to_string),
                }
            } else if !entry.path.matches(&path) {
                Verdict::PathDoesNotMatch
            } else {
                match &winner {
                    Some((wi, wr, wp, _, w)) => Verdict::Outranked {
                        by: (router.valid[*wi].key.clone(), *wr, *wp),
                        reason: outranked_reason(&w.path, &entry.path, *wi == i),
                    },
                    // A matching entry in the chosen scope always yields a winner.
                    None => Verdict::PathDoesNotMatch,
                }
            };
            Candidate {
                rule: MatchedRule {
                    ingress: key,
                    rule_index: r,
                    path_index: p,
                    host: rule_host.map(|h| h.to_string().into()),
                    path: entry.path.raw().clone(),
                    path_type: entry.path.path_type(),
                    policy: router.valid[i].policy.clone(),
                    rewrite: crate::validate::rewrite_of(&entry.path, &router.valid[i].policy),
                    canary: entry.canary.clone().map(std::sync::Arc::new),
                },
                backend: match &entry.backend {
                    BackendRef::Service(s) => DecisionTarget::Service(s.clone()),
                    BackendRef::Resource(r) => DecisionTarget::Resource((**r).clone()),
                },
                verdict,
            }
        })
        .collect();
    Explanation {
        host,
        path,
        host_entry: scope.map(|h| h.map(HostPattern::to_string)),
        decision,
        candidates,
    }
}

/// Which precedence rule (SEMANTICS §2.4) puts `winner` before `loser`, both matching.
fn outranked_reason(winner: &RulePath, loser: &RulePath, same_ingress: bool) -> String {
    let (w, l) = (
        winner.key().trim_end_matches('/'),
        loser.key().trim_end_matches('/'),
    );
    if winner.precedence(loser).is_lt() {
        if w.len() != l.len() {
            format!(
                "a longer path matches ({} over {})",
                winner.raw(),
                loser.raw()
            )
        } else if winner.path_type().is_prefix() != loser.path_type().is_prefix() {
            "Exact beats Prefix for the same path".to_owned()
        } else {
            format!(
                "the longer path as written wins ({} over {})",
                winner.raw(),
                loser.raw()
            )
        }
    } else if same_ingress {
        "same path, earlier in the same Ingress".to_owned()
    } else {
        "same path in an older Ingress (a conflict: this entry is never used)".to_owned()
    }
}

impl fmt::Display for Explanation {
    /// A human-readable report: the decision, then each candidate with its verdict.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = self.host.as_deref().unwrap_or("(none)");
        writeln!(f, "request: host {host}, path {}", self.path)?;
        match &self.host_entry {
            Some(Some(entry)) => writeln!(f, "host entry: {entry}")?,
            Some(None) => writeln!(f, "host entry: the host-less rules")?,
            None => writeln!(f, "host entry: none matches")?,
        }
        let source = describe_source(self.decision.source);
        writeln!(
            f,
            "decision: {} via {source}",
            target(&self.decision.target)
        )?;
        if self.decision.https_redirect {
            writeln!(
                f,
                "plain HTTP is redirected to HTTPS (the host has a tls entry)"
            )?;
        }
        for c in &self.candidates {
            let rule = &c.rule;
            let host = rule.host.as_deref().unwrap_or("*");
            writeln!(
                f,
                "  {} rule {}/{}: {host} {} ({}) → {}: {}",
                rule.ingress,
                rule.rule_index,
                rule.path_index,
                rule.path,
                rule.path_type,
                target(&c.backend),
                c.verdict
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Verdict {
    /// The verdict as the report words it (`CHOSEN`, `path does not match`, …).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Verdict::Chosen => f.write_str("CHOSEN"),
            Verdict::HostDoesNotMatch => f.write_str("host does not match"),
            Verdict::OtherHostChosen { chosen: Some(h) } => {
                write!(f, "host matches, but host entry {h} is more specific")
            }
            Verdict::OtherHostChosen { chosen: None } => {
                f.write_str("host-less rules are not used when a host rule matches")
            }
            Verdict::PathDoesNotMatch => f.write_str("path does not match"),
            Verdict::Outranked { by, reason } => {
                write!(f, "outranked by {} rule {}/{}: {reason}", by.0, by.1, by.2)
            }
        }
    }
}

/// Why a decision was taken, as the report words it (`a path rule`, …).
pub fn describe_source(source: MatchSource) -> &'static str {
    match source {
        MatchSource::Path => "a path rule",
        MatchSource::HostDefaultBackend => "the host's default backend (no path matched)",
        MatchSource::GlobalDefaultBackend => "the oldest Ingress's spec.defaultBackend",
        MatchSource::ControllerDefault => "the controller's default backend",
    }
}

/// A decision's target as the report words it (`Service default/web:80`, …).
pub fn describe_target(target: &DecisionTarget) -> String {
    self::target(target)
}

fn target(target: &DecisionTarget) -> String {
    match target {
        DecisionTarget::Service(s) => format!("Service {s}"),
        DecisionTarget::Resource(r) => format!("resource {}/{}", r.kind, r.name),
        DecisionTarget::NotFound => "the built-in 404".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClassSelection, Ingress, PathType, ServiceBackend};

    /// One Ingress per `(name, host, path type, path)`, oldest first.
    fn state(entries: &[(&str, Option<&str>, PathType, &str)]) -> ClusterState {
        let mut state = ClusterState::default();
        for (age, (name, host, path_type, path)) in entries.iter().enumerate() {
            let ingress = Ingress::new("default", name, Some(age as i64 + 1))
                .with_class(ClassSelection::DEFAULT_CLASS)
                .with_path(*host, *path_type, path, ServiceBackend::number(name, 80));
            state.ingresses.insert(ingress.meta.key(), ingress);
        }
        state
    }

    fn verdicts(state: &ClusterState, host: &str, path: &str) -> Vec<(String, Verdict)> {
        explain(state, &TableConfig::default(), Some(host), path)
            .candidates
            .into_iter()
            .map(|c| (c.rule.ingress.name.to_string(), c.verdict))
            .collect()
    }

    fn reason(verdict: &Verdict) -> &str {
        match verdict {
            Verdict::Outranked { reason, .. } => reason,
            _ => "",
        }
    }

    #[test]
    fn exact_host_beats_wildcard_and_hostless() {
        let s = state(&[
            ("wild", Some("*.a.com"), PathType::Prefix, "/"),
            ("any", None, PathType::Prefix, "/"),
            ("exact", Some("x.a.com"), PathType::Prefix, "/"),
            ("other", Some("b.com"), PathType::Prefix, "/"),
        ]);
        let v = verdicts(&s, "X.A.COM:80", "/p");
        assert_eq!(
            v[0].1,
            Verdict::OtherHostChosen {
                chosen: Some("x.a.com".into())
            }
        );
        assert_eq!(
            v[1].1,
            Verdict::OtherHostChosen {
                chosen: Some("x.a.com".into())
            }
        );
        assert_eq!(v[2].1, Verdict::Chosen);
        assert_eq!(v[3].1, Verdict::HostDoesNotMatch);
    }

    #[test]
    fn path_precedence_reasons_are_named() {
        let s = state(&[
            ("prefix", Some("a.com"), PathType::Prefix, "/api"),
            ("exact", Some("a.com"), PathType::Exact, "/api"),
            ("root", Some("a.com"), PathType::Prefix, "/"),
            ("foo", Some("a.com"), PathType::Prefix, "/foo"),
        ]);
        let v = verdicts(&s, "a.com", "/api");
        assert_eq!(v[1].1, Verdict::Chosen);
        assert_eq!(reason(&v[0].1), "Exact beats Prefix for the same path");
        assert!(
            reason(&v[2].1).starts_with("a longer path matches"),
            "{v:?}"
        );
        assert_eq!(v[3].1, Verdict::PathDoesNotMatch);
    }

    #[test]
    fn a_conflict_loser_is_explained_as_such() {
        let s = state(&[
            ("old", Some("a.com"), PathType::Prefix, "/"),
            ("new", Some("a.com"), PathType::Prefix, "/"),
        ]);
        let v = verdicts(&s, "a.com", "/x");
        assert_eq!(v[0].1, Verdict::Chosen);
        assert!(reason(&v[1].1).contains("older Ingress"), "{v:?}");
    }

    #[test]
    fn the_report_names_the_decision_and_each_verdict() {
        let s = state(&[("web", Some("a.com"), PathType::Prefix, "/")]);
        let text = explain(&s, &TableConfig::default(), Some("a.com"), "/x").to_string();
        assert!(
            text.contains("decision: Service default/web:80 via a path rule"),
            "{text}"
        );
        assert!(
            text.contains(
                "default/web rule 0/0: a.com / (Prefix) → Service default/web:80: CHOSEN"
            ),
            "{text}"
        );
    }
}
