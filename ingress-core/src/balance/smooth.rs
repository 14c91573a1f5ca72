//! nginx's smooth weighted round-robin (`ngx_http_upstream_get_peer`).
//!
//! Every eligible peer gains its effective weight, the peer with the largest current weight
//! wins (the first one on a tie) and loses the total. Over any `sum(weights)` consecutive picks
//! from a fresh state each peer is chosen exactly `weight` times, and picks of a heavy peer are
//! spread out rather than bunched (`{5, 1, 1}` gives `a a b a c a a`).

use super::PeerState;

/// Chooses among the peers for which `eligible` holds; `None` if there is none.
pub(super) fn pick(
    states: &mut [PeerState],
    eligible: impl Fn(usize, &PeerState) -> bool,
) -> Option<usize> {
    let mut best: Option<(usize, i64)> = None;
    let mut total: i64 = 0;
    for (index, state) in states.iter_mut().enumerate() {
        if !eligible(index, state) {
            continue;
        }
        state.current_weight += state.effective_weight;
        total += state.effective_weight;
        if state.effective_weight < state.weight() {
            state.effective_weight += 1;
        }
        if best.is_none_or(|(_, current)| state.current_weight > current) {
            best = Some((index, state.current_weight));
        }
    }
    let (index, _) = best?;
    let state = states.get_mut(index)?;
    state.current_weight -= total;
    Some(index)
}

/// Weighted round-robin restricted to `members`, sorted ascending (least-connections uses it
/// to break ties).
pub(super) fn pick_among(states: &mut [PeerState], members: &[usize]) -> Option<usize> {
    pick(states, |index, _| members.binary_search(&index).is_ok())
}
