//! Per-host path routing on matchit, with precedence resolved at build time.

use std::sync::Arc;

use crate::backend::Target;
use crate::validate::RulePath;

use super::MatchedRule;

/// One path entry of one host: what it matches and where it goes.
#[derive(Debug, Clone)]
pub(crate) struct PathRoute {
    pub(crate) path: RulePath,
    pub(crate) target: Target,
    pub(crate) rule: Arc<MatchedRule>,
}

/// The path router of one host entry.
///
/// Each entry is inserted into matchit under the route strings that match exactly the request
/// paths it matches: `Exact p` as `p`; prefix-like `p` (trailing `/` dropped) as `p`, `p/` and
/// `p/{*rest}` (the root prefix as `/` and `/{*rest}`). Braces are escaped, so a rule path can
/// never be read as a parameter. Several entries can share one route string (`Exact /foo` and
/// `Prefix /foo/` both own `/foo`); each slot holds its entries best first, so the first entry
/// of the slot matchit picks is the answer. Matchit prefers the most specific route, which for
/// static routes and catch-alls is the longest matching key.
#[derive(Debug, Default)]
pub(crate) struct PathRouter {
    router: matchit::Router<u32>,
    /// Per route string, indices into `routes`, best first.
    slots: Vec<Vec<u32>>,
    routes: Vec<PathRoute>,
    /// Entries matchit refused (it should not, since braces are escaped): matched by a linear
    /// scan so that a surprise in the router can never lose a route.
    unrouted: Vec<u32>,
}

impl PathRouter {
    /// Builds a router from one host's entries, given oldest Ingress first. Entries that
    /// another entry shadows (same key, match kind and raw length: SEMANTICS §4's "same path
    /// and pathType") lose to the oldest; they are returned as `(loser, winner)` pairs.
    pub(crate) fn build(
        mut routes: Vec<PathRoute>,
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
        let routes = kept;
        let mut strings: Vec<(String, u32)> = Vec::with_capacity(routes.len() * 3);
        for (index, route) in routes.iter().enumerate() {
            let index = index as u32;
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
        // Group by route string, keeping each group in precedence order (stable sort).
        strings.sort_by(|a, b| a.0.cmp(&b.0));
        let mut router = PathRouter {
            routes,
            ..PathRouter::default()
        };
        let mut unrouted = Vec::new();
        let mut i = 0;
        while i < strings.len() {
            let mut j = i;
            let mut slot = Vec::new();
            while j < strings.len() && strings[j].0 == strings[i].0 {
                slot.push(strings[j].1);
                j += 1;
            }
            slot.sort_unstable();
            let slot_id = router.slots.len() as u32;
            if router.router.insert(strings[i].0.as_str(), slot_id).is_ok() {
                router.slots.push(slot);
            } else {
                unrouted.extend(slot);
            }
            i = j;
        }
        unrouted.sort_unstable();
        unrouted.dedup();
        router.unrouted = unrouted;
        (router, losers)
    }

    /// The best entry matching a normalised request path.
    pub(crate) fn best(&self, path: &str) -> Option<&PathRoute> {
        let routed = self
            .router
            .at(path)
            .ok()
            .and_then(|m| self.slots.get(*m.value as usize))
            .and_then(|slot| slot.first().copied());
        let scanned = self
            .unrouted
            .iter()
            .copied()
            .find(|i| self.routes[*i as usize].path.matches(path));
        // Indices are in precedence order, so the smaller one is the better entry.
        let best = match (routed, scanned) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        best.map(|i| &self.routes[i as usize])
    }

    /// Number of path entries.
    pub(crate) fn len(&self) -> usize {
        self.routes.len()
    }
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
