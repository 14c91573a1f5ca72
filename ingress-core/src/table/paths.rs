//! Per-host path routing, with precedence resolved at build time.

use std::sync::Arc;

use smallvec::SmallVec;

use crate::annotations::PathRegex;
use crate::backend::Target;
use crate::validate::RulePath;

use super::MatchedRule;
use super::inline_str::PathKey;

/// One path entry of one host: what it matches and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct PathRoute {
    pub(crate) path: RulePath,
    pub(crate) target: Target,
    pub(crate) rule: Arc<MatchedRule>,
}

/// Hosts with at most this many path entries are matched by a scan over their keys stored
/// contiguously: for the few paths a host usually has, that is fewer cache misses than walking
/// a radix tree whose nodes are separate allocations. Larger hosts use matchit.
pub(crate) const SCAN_LIMIT: usize = 8;

/// The path router of one host entry: its entries sorted best first (SEMANTICS §2.4), and an
/// index that finds the first entry matching a request path.
#[derive(Debug)]
pub(crate) struct PathRouter {
    len: usize,
    index: Index,
}

#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "the scan variant is large on purpose: inline in the host's bucket"
)]
enum Index {
    /// Few entries, tried in precedence order; the first match wins. Each entry carries its
    /// key inline and its target, and the entries sit inline in the host's hash-map bucket:
    /// a lookup reads one contiguous block after the hash probe, with no pointer to chase.
    Scan(SmallVec<[ScanEntry; SCAN_LIMIT]>),
    /// Many entries: a matchit radix tree.
    ///
    /// Each entry is inserted under the route strings that match exactly the request paths it
    /// matches: `Exact p` as `p`; prefix-like `p` (trailing `/` dropped) as `p`, `p/` and
    /// `p/{*rest}` (the root prefix as `/` and `/{*rest}`). Braces are escaped, so a rule path
    /// can never be read as a parameter. Several entries can share a route string (`Exact /foo`
    /// and `Prefix /foo/` both own `/foo`); the string maps to the best of them. Matchit
    /// prefers the most specific route, which for static routes and catch-alls is the longest
    /// matching key.
    Tree(Box<Tree>),
}

/// The radix-tree index (boxed: rare, and large next to a scan index).
#[derive(Debug)]
struct Tree {
    /// The entries, best first; the router's values index into it.
    routes: Vec<PathRoute>,
    router: matchit::Router<u32>,
    /// Regular-expression entries, and entries matchit refused (it should not, since braces
    /// are escaped): matched by a linear scan, so a surprise in the router can never lose a
    /// route.
    unrouted: Vec<u32>,
}

/// One entry of [`Index::Scan`].
#[derive(Debug)]
struct ScanEntry {
    key: PathKey,
    prefix: bool,
    /// A regular-expression path matches by this, not by `key` (boxed: rare, and the entry
    /// stays small).
    regex: Option<Box<PathRegex>>,
    target: Target,
    rule: Arc<MatchedRule>,
}

impl PathRouter {
    /// Builds a router from one host's entries, given oldest Ingress first. Entries that
    /// another entry shadows (same key, match kind and raw length: SEMANTICS §4's "same path
    /// and pathType") lose to the oldest; they are returned as `(loser, winner)` pairs. Up to
    /// `scan_limit` entries are indexed for a scan, more in a radix tree ([`SCAN_LIMIT`]).
    pub(crate) fn build(
        mut routes: Vec<PathRoute>,
        scan_limit: usize,
    ) -> (PathRouter, Vec<(PathRoute, Arc<MatchedRule>)>) {
        // Stable: among indistinguishable entries the oldest stays first.
        routes.sort_by(|a, b| {
            a.path
                .precedence(&b.path)
                .then_with(|| a.path.key().cmp(b.path.key()))
        });
        let mut losers = Vec::new();
        let mut kept: Vec<PathRoute> = Vec::with_capacity(routes.len());
        for route in routes {
            match kept.last() {
                Some(winner) if winner.path.shadows(&route.path) => {
                    let winner = winner.rule.clone();
                    losers.push((route, winner));
                }
                _ => kept.push(route),
            }
        }
        let len = kept.len();
        let index = if len <= scan_limit {
            scan_index(kept)
        } else {
            tree_index(kept)
        };
        (PathRouter { len, index }, losers)
    }

    /// The target and rule of the best entry matching a normalised request path.
    pub(crate) fn best(&self, path: &str) -> Option<(&Target, &Arc<MatchedRule>)> {
        match &self.index {
            Index::Scan(entries) => entries
                .iter()
                .find(|e| {
                    let (key, path_bytes) = (e.key.as_bytes(), path.as_bytes());
                    if let Some(regex) = &e.regex {
                        regex.is_match(path)
                    } else if e.prefix {
                        // Element-wise: the key, then the end of the path or a '/'.
                        path_bytes
                            .strip_prefix(key)
                            .is_some_and(|rest| rest.first().is_none_or(|b| *b == b'/'))
                    } else {
                        path_bytes == key
                    }
                })
                .map(|e| (&e.target, &e.rule)),
            Index::Tree(tree) => {
                let Tree {
                    routes,
                    router,
                    unrouted,
                } = &**tree;
                let routed = router.at(path).ok().map(|m| *m.value as usize);
                let scanned = unrouted
                    .iter()
                    .map(|i| *i as usize)
                    .find(|i| routes[*i].path.matches(path));
                // Indices are in precedence order, so the smaller one is the better entry.
                let best = match (routed, scanned) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                best.and_then(|i| routes.get(i))
                    .map(|r| (&r.target, &r.rule))
            }
        }
    }

    /// Number of path entries.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Every entry, best first (SEMANTICS §2.4), with where it goes.
    pub(crate) fn entries(&self) -> Vec<(&Arc<MatchedRule>, &Target)> {
        match &self.index {
            Index::Scan(entries) => entries.iter().map(|e| (&e.rule, &e.target)).collect(),
            Index::Tree(tree) => tree.routes.iter().map(|r| (&r.rule, &r.target)).collect(),
        }
    }
}

fn scan_index(routes: Vec<PathRoute>) -> Index {
    Index::Scan(
        routes
            .into_iter()
            .map(|route| ScanEntry {
                key: PathKey::new(route.path.key()),
                prefix: route.path.path_type().is_prefix(),
                regex: route.path.regex().cloned().map(Box::new),
                target: route.target,
                rule: route.rule,
            })
            .collect(),
    )
}

fn tree_index(routes: Vec<PathRoute>) -> Index {
    let mut strings: Vec<(String, u32)> = Vec::with_capacity(routes.len() * 3);
    let mut unrouted = Vec::new();
    for (index, route) in routes.iter().enumerate() {
        let index = index as u32;
        if route.path.regex().is_some() {
            // A regular expression has no route string: scanned, in precedence order.
            unrouted.push(index);
            continue;
        }
        let key = escape(route.path.key());
        if route.path.path_type().is_prefix() {
            if key.is_empty() {
                strings.push(("/".to_owned(), index));
                strings.push(("/{*rest}".to_owned(), index));
            } else {
                strings.push((format!("{key}/{{*rest}}"), index));
                strings.push((format!("{key}/"), index));
                strings.push((key, index));
            }
        } else {
            strings.push((key, index));
        }
    }
    // Group by route string; sorted by (string, index), a group's first is its best entry.
    strings.sort_unstable();
    let mut router = matchit::Router::new();
    for group in strings.chunk_by(|a, b| a.0 == b.0) {
        let (string, best) = &group[0]; // `chunk_by` never yields an empty group
        if router.insert(string.as_str(), *best).is_err() {
            unrouted.extend(group.iter().map(|(_, i)| *i));
        }
    }
    unrouted.sort_unstable();
    unrouted.dedup();
    Index::Tree(Box::new(Tree {
        routes,
        router,
        unrouted,
    }))
}

/// Escapes matchit's parameter syntax: `{` and `}` become `{{` and `}}`.
fn escape(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 2);
    for c in key.chars() {
        match c {
            '{' => out.push_str("{{"),
            '}' => out.push_str("}}"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::model::ObjectKey;
    use crate::normalize;
    use crate::validate::PathType;

    /// A route for `path`; `None` for `path_type` is an `ImplementationSpecific` path made a
    /// regular expression.
    fn route(path: &str, path_type: Option<PathType>, n: usize) -> Option<PathRoute> {
        let path = match path_type {
            Some(t) => RulePath::parse(Some(path), t).ok()?,
            None => RulePath::parse(Some(path), PathType::ImplementationSpecific)
                .ok()?
                .to_regex()?
                .ok()?,
        };
        let path_type = path.path_type();
        Some(PathRoute {
            rule: Arc::new(MatchedRule {
                ingress: ObjectKey::new("ns", &format!("i{n}")),
                rule_index: n,
                path_index: 0,
                host: None,
                path: path.raw().clone(),
                path_type,
                policy: Arc::default(),
                rewrite: None,
                canary: None,
            }),
            path,
            target: Target::NotFound,
        })
    }

    fn segment() -> impl Strategy<Value = &'static str> {
        prop::sample::select(
            &[
                "a", "b", "ab", "{x}", "{*r}", "a.b", "%61", "~", ".", "", "A", "(a|b)", "a+",
                ".*", "[ab]$",
            ][..],
        )
    }

    fn path() -> impl Strategy<Value = String> {
        (prop::collection::vec(segment(), 0..4), any::<bool>()).prop_map(|(s, slash)| {
            let mut p = format!("/{}", s.join("/"));
            if slash && !p.ends_with('/') {
                p.push('/');
            }
            p
        })
    }

    /// A path type, or `None` for a regular expression.
    fn kind() -> impl Strategy<Value = Option<PathType>> {
        prop::sample::select(
            &[
                Some(PathType::Exact),
                Some(PathType::Prefix),
                Some(PathType::ImplementationSpecific),
                None,
            ][..],
        )
    }

    proptest! {
        /// The scan index, the radix tree, and a plain scan with `RulePath::matches` over the
        /// precedence-sorted entries all pick the same entry, regular expressions included.
        #[test]
        fn scan_and_tree_indexes_agree(
            rules in prop::collection::vec((path(), kind()), 0..24),
            requests in prop::collection::vec(path(), 1..16),
        ) {
            let routes: Vec<PathRoute> = rules
                .iter()
                .enumerate()
                .filter_map(|(n, (p, t))| route(p, *t, n))
                .collect();
            let (scan, _) = PathRouter::build(routes.clone(), usize::MAX);
            let (tree, _) = PathRouter::build(routes.clone(), 0);
            // The naive answer: the first matching entry in precedence order, the oldest first
            // among equals (entries here never shadow each other: rule indexes differ).
            let mut sorted = routes;
            sorted.sort_by(|a, b| a.path.precedence(&b.path).then_with(|| a.path.key().cmp(b.path.key())));
            let scan_kind = matches!(scan.index, Index::Scan(_));
            let tree_kind = matches!(tree.index, Index::Tree(_)) || tree.len == 0;
            prop_assert!(scan_kind);
            prop_assert!(tree_kind);
            for request in &requests {
                let request = normalize::path(request);
                let naive = sorted.iter().find(|r| r.path.matches(&request));
                let naive = naive.map(|r| r.rule.rule_index);
                let id = |r: Option<(&Target, &Arc<MatchedRule>)>| r.map(|(_, rule)| rule.rule_index);
                prop_assert_eq!(id(scan.best(&request)), naive, "scan, {}", request);
                prop_assert_eq!(id(tree.best(&request)), naive, "tree, {}", request);
            }
        }
    }
}
