//! nginx's `least_conn` (`ngx_http_upstream_get_least_conn_peer`).
//!
//! The peer with the fewest outstanding connections per unit of weight wins
//! (`a.conns * b.weight < b.conns * a.weight`); when several share the lowest ratio, smooth
//! weighted round-robin chooses among them, so equal loads still rotate by weight.

use super::{PeerState, smooth};

/// Chooses among the peers for which `eligible` holds; `None` if there is none.
pub(super) fn pick(
    states: &mut [PeerState],
    eligible: impl Fn(usize, &PeerState) -> bool,
) -> Option<usize> {
    let mut tied: Vec<usize> = Vec::new();
    for (index, state) in states.iter().enumerate() {
        if !eligible(index, state) {
            continue;
        }
        let Some(&best) = tied.first() else {
            tied.push(index);
            continue;
        };
        let best = &states[best];
        let ours = u64::from(state.outstanding) * u64::from(best.options.weight);
        let theirs = u64::from(best.outstanding) * u64::from(state.options.weight);
        if ours < theirs {
            tied.clear();
            tied.push(index);
        } else if ours == theirs {
            tied.push(index);
        }
    }
    match tied.as_slice() {
        [] => None,
        [only] => Some(*only),
        _ => smooth::pick_among(states, &tied),
    }
}
