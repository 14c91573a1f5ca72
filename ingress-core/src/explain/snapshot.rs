//! The same explanation read from a published [`RouteTable`] instead of the objects it was
//! built from — what a running proxy can answer (its admin API's `/api/explain`), where
//! [`explain`](super::explain) needs the [`ClusterState`](crate::ClusterState) a manifest
//! directory or `check` has.
//!
//! The decision is the table's own [`RouteTable::route`] (the data plane's answer, not a
//! re-derivation); the candidates are the path rules in force ([`RouteTable::routes`]), each
//! with the [`Verdict`] that [`explain`](super::explain) gives it, worded by the same code.
//! Entries that never reach the table (a conflict's loser, a rejected Ingress) are not
//! candidates here; the table's diagnostics list them. A property test
//! (`tests/differential.rs`) holds both explanations to the same decision, the same host
//! entry ([`RouteTable::host_entry`]) and the same verdict for every rule the table lists,
//! over random Ingress sets (regular-expression hosts included) and requests.
//!
//! When the chosen rule has a canary (`canary-by-header`, `canary-by-cookie`,
//! `canary-weight`), [`CanaryAnswer`] says whether the request's headers and cookies send it
//! there, by the same [`CanaryPolicy::selects`](crate::annotations::CanaryPolicy::selects)
//! the proxy calls.
//!
//! ```
//! use ingress_core::{ClassSelection, ClusterState, Ingress, PathType, RouteTable, ServiceBackend, TableConfig};
//! use ingress_core::explain::{ExplainRequest, Verdict, explain_snapshot};
//!
//! let mut state = ClusterState::default();
//! let ingress = Ingress::new("default", "web", Some(1))
//!     .with_class(ClassSelection::DEFAULT_CLASS)
//!     .with_path(Some("shop.example"), PathType::Prefix, "/", ServiceBackend::number("web", 80));
//! state.ingresses.insert(ingress.meta.key(), ingress);
//! let table = RouteTable::build(&state, &TableConfig::default());
//! let answer = explain_snapshot(&table, &ExplainRequest { host: Some("shop.example"), path: "/cart", headers: &[], cookies: &[] });
//! assert_eq!(answer.explanation.candidates[0].verdict, Verdict::Chosen);
//! assert!(answer.canary.is_none());
//! ```

use crate::backend::Target;
use crate::normalize;
use crate::reference::{Decision, DecisionTarget};
use crate::table::{MatchedRule, RouteTable};
use crate::validate::{BackendRef, CanaryBackend, HostPattern, RulePath};

use super::{Candidate, Explanation, Verdict, outranked_reason};

/// One request, as far as routing reads it.
#[derive(Debug, Clone, Copy)]
pub struct ExplainRequest<'a> {
    /// The raw authority (`Host`), `None` when absent.
    pub host: Option<&'a str>,
    /// The raw path, with or without a query string.
    pub path: &'a str,
    /// Header fields as `(name, value)`; names compare case-insensitively.
    pub headers: &'a [(&'a str, &'a str)],
    /// Cookies as `(name, value)`.
    pub cookies: &'a [(&'a str, &'a str)],
}

/// The explanation of one request against a published table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotExplanation {
    /// Decision and candidates, as [`explain`](super::explain) words them.
    pub explanation: Explanation,
    /// The chosen rule's canary, when it has one.
    pub canary: Option<CanaryAnswer>,
}

/// What the chosen rule's canary does with the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CanaryAnswer {
    /// The canary Ingress.
    pub ingress: crate::ObjectKey,
    /// Where the canary sends requests.
    pub backend: DecisionTarget,
    /// How the request is decided.
    pub outcome: CanaryOutcome,
}

/// How a canary decides one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CanaryOutcome {
    /// The header or cookie sends it to the canary.
    Selected,
    /// The header or cookie keeps it on the main backend (`never`), or nothing selects it and
    /// the weight is 0.
    NotSelected,
    /// Nothing in the request decides: the canary takes it with probability
    /// `weight / weight_total`.
    ByWeight {
        /// `canary-weight`.
        weight: u32,
        /// `canary-weight-total`.
        weight_total: u32,
    },
}

impl std::fmt::Display for CanaryOutcome {
    /// What the canary does with the request, as `explain` reports it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CanaryOutcome::Selected => {
                f.write_str("the request's header or cookie selects the canary")
            }
            CanaryOutcome::NotSelected => f.write_str("the request stays on the main backend"),
            CanaryOutcome::ByWeight {
                weight,
                weight_total,
            } => write!(
                f,
                "nothing in the request decides: the canary takes {weight} of {weight_total} requests"
            ),
        }
    }
}

/// Explains how `request` routes in `table` (see the module docs).
pub fn explain_snapshot(table: &RouteTable, request: &ExplainRequest<'_>) -> SnapshotExplanation {
    let route = table.route(request.host, request.path);
    let decision = Decision::from_route(&route);
    let host = request
        .host
        .and_then(normalize::host)
        .map(|h| h.into_owned());
    let path = normalize::path(request.path).into_owned();
    let listings = table.routes();
    // Hosts where some Ingress asks for regular expressions: their `ImplementationSpecific`
    // paths match as regexes, whichever Ingress they come from (`validate::regex`).
    let regex_hosts: Vec<Option<&str>> = listings
        .iter()
        .filter(|listing| listing.rule.policy.enforces_regex())
        .map(|listing| listing.rule.host.as_deref())
        .collect();
    let rules: Vec<(MatchedRule, DecisionTarget, Option<RulePath>)> = listings
        .iter()
        .map(|listing| {
            let rule = (**listing.rule).clone();
            let mut parsed = RulePath::parse(Some(&rule.path), rule.path_type).ok();
            if regex_hosts.contains(&rule.host.as_deref())
                && let Some(Ok(regex)) = parsed.as_ref().and_then(RulePath::to_regex)
            {
                parsed = Some(regex);
            }
            (rule, decision_target(listing.target), parsed)
        })
        .collect();
    let scope = table.host_entry(request.host);
    let is_chosen = |rule: &MatchedRule| {
        decision.rule.as_ref() == Some(&(rule.ingress.clone(), rule.rule_index, rule.path_index))
    };
    let winner = rules.iter().find(|(rule, _, _)| is_chosen(rule));
    let candidates = rules
        .iter()
        .map(|(rule, backend, parsed)| {
            let host_matches = match (rule.host.as_deref(), host.as_deref()) {
                (None, _) => true,
                (Some(pattern), Some(h)) => HostPattern::parse(pattern).is_ok_and(|p| p.matches(h)),
                (Some(_), None) => false,
            };
            let in_scope = scope.as_ref() == Some(&rule.host.as_deref().map(str::to_owned));
            let path_matches = parsed.as_ref().is_some_and(|p| p.matches(&path));
            let verdict = if is_chosen(rule) {
                Verdict::Chosen
            } else if !host_matches {
                Verdict::HostDoesNotMatch
            } else if !in_scope {
                Verdict::OtherHostChosen {
                    chosen: scope.clone().flatten(),
                }
            } else if !path_matches {
                Verdict::PathDoesNotMatch
            } else {
                match (winner, parsed) {
                    (Some((w, _, Some(winner_path))), Some(loser_path)) => Verdict::Outranked {
                        by: (w.ingress.clone(), w.rule_index, w.path_index),
                        reason: outranked_reason(
                            winner_path,
                            loser_path,
                            w.ingress == rule.ingress,
                        ),
                    },
                    // A matching rule in the chosen host entry always yields a winner.
                    _ => Verdict::PathDoesNotMatch,
                }
            };
            Candidate {
                rule: rule.clone(),
                backend: backend.clone(),
                verdict,
            }
        })
        .collect();
    let canary = route
        .rule
        .and_then(|rule| rule.canary.as_deref())
        .map(|canary| canary_answer(canary, request));
    SnapshotExplanation {
        explanation: Explanation {
            host_entry: scope,
            host,
            path,
            decision,
            candidates,
        },
        canary,
    }
}

/// What `canary` does with `request`: its header or cookie decide, else the weight.
fn canary_answer(canary: &CanaryBackend, request: &ExplainRequest<'_>) -> CanaryAnswer {
    let policy = &canary.policy;
    let header = policy.header.as_deref().and_then(|name| {
        request
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    });
    let cookie = policy.cookie.as_deref().and_then(|name| {
        request
            .cookies
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| *v)
    });
    // A roll no weight reaches: only the header and cookie decide here.
    let outcome = if policy.selects(header, cookie, || u32::MAX) {
        CanaryOutcome::Selected
    } else if policy.weight > 0 && !decided_by_request(policy, header, cookie) {
        CanaryOutcome::ByWeight {
            weight: policy.weight,
            weight_total: policy.weight_total,
        }
    } else {
        CanaryOutcome::NotSelected
    };
    CanaryAnswer {
        ingress: canary.ingress.clone(),
        backend: match &canary.backend {
            BackendRef::Service(s) => DecisionTarget::Service(s.clone()),
            BackendRef::Resource(r) => DecisionTarget::Resource((**r).clone()),
        },
        outcome,
    }
}

/// Whether the header or cookie said `never` (the weight is then not consulted).
fn decided_by_request(
    policy: &crate::annotations::CanaryPolicy,
    header: Option<&str>,
    cookie: Option<&str>,
) -> bool {
    let header_never = header.is_some_and(|value| {
        policy.header_value.is_none() && policy.header_pattern.is_none() && value == "never"
    });
    header_never || cookie == Some("never")
}

fn decision_target(target: &Target) -> DecisionTarget {
    match target {
        Target::Service(backend) => DecisionTarget::Service(backend.service().clone()),
        Target::Resource(resource) => DecisionTarget::Resource((**resource).clone()),
        Target::NotFound => DecisionTarget::NotFound,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::explain::explain;
    use crate::{ClassSelection, ClusterState, Ingress, PathType, ServiceBackend, TableConfig};

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

    /// Both explanations agree: same decision, same host entry, and the same verdict for
    /// every rule the table lists.
    fn assert_agree(state: &ClusterState, host: &str, path: &str) {
        let config = TableConfig::default();
        let reference = explain(state, &config, Some(host), path);
        let table = RouteTable::build(state, &config);
        let request = ExplainRequest {
            host: Some(host),
            path,
            headers: &[],
            cookies: &[],
        };
        let snapshot = explain_snapshot(&table, &request).explanation;
        assert_eq!(snapshot.decision, reference.decision, "{host}{path}");
        assert_eq!(snapshot.host_entry, reference.host_entry, "{host}{path}");
        assert!(!snapshot.candidates.is_empty());
        for candidate in &snapshot.candidates {
            let twin = reference
                .candidates
                .iter()
                .find(|c| {
                    (&c.rule.ingress, c.rule.rule_index, c.rule.path_index)
                        == (
                            &candidate.rule.ingress,
                            candidate.rule.rule_index,
                            candidate.rule.path_index,
                        )
                })
                .expect("every listed rule is a reference candidate");
            assert_eq!(candidate.verdict, twin.verdict, "{host}{path}");
        }
    }

    #[test]
    fn agrees_with_the_reference_explanation() {
        let s = state(&[
            ("wild", Some("*.a.com"), PathType::Prefix, "/"),
            ("any", None, PathType::Prefix, "/"),
            ("exact", Some("x.a.com"), PathType::Prefix, "/"),
            ("api", Some("x.a.com"), PathType::Prefix, "/api"),
            ("api-exact", Some("x.a.com"), PathType::Exact, "/api"),
            ("docs", Some("x.a.com"), PathType::Prefix, "/docs/"),
        ]);
        for (host, path) in [
            ("x.a.com", "/"),
            ("x.a.com", "/api"),
            ("x.a.com", "/api/v1"),
            ("x.a.com", "/docs"),
            ("y.a.com", "/api"),
            ("b.com", "/"),
        ] {
            assert_agree(&s, host, path);
        }
    }

    #[test]
    fn the_winning_rule_and_why_the_others_lost() {
        let s = state(&[
            ("root", Some("shop.example"), PathType::Prefix, "/"),
            ("api", Some("shop.example"), PathType::Prefix, "/api"),
        ]);
        let table = RouteTable::build(&s, &TableConfig::default());
        let request = ExplainRequest {
            host: Some("SHOP.example:80"),
            path: "/api/cart?x=1",
            headers: &[],
            cookies: &[],
        };
        let answer = explain_snapshot(&table, &request).explanation;
        assert_eq!(answer.host.as_deref(), Some("shop.example"));
        let verdicts: Vec<(&str, &Verdict)> = answer
            .candidates
            .iter()
            .map(|c| (c.rule.ingress.name.as_ref(), &c.verdict))
            .collect();
        assert!(
            verdicts.contains(&("api", &Verdict::Chosen)),
            "{verdicts:?}"
        );
        assert!(
            verdicts.iter().any(|(name, v)| *name == "root"
                && matches!(v, Verdict::Outranked { reason, .. } if reason.contains("longer path"))),
            "{verdicts:?}"
        );
    }
}
