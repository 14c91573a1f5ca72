//! Power of two choices on outstanding connections.
//!
//! Two distinct eligible peers are drawn from the caller's random bits (low and high 32 bits);
//! the one with fewer outstanding connections per unit of weight wins, the first drawn on a
//! tie. With a single eligible peer that peer is chosen.

use super::PeerState;

/// Chooses among the peers for which `eligible` holds; `None` if there is none.
pub(super) fn pick(
    states: &[PeerState],
    random: u64,
    eligible: impl Fn(usize, &PeerState) -> bool,
) -> Option<usize> {
    let candidates: Vec<usize> = states
        .iter()
        .enumerate()
        .filter(|(index, state)| eligible(*index, state))
        .map(|(index, _)| index)
        .collect();
    let count = candidates.len() as u64;
    match count {
        0 => None,
        1 => candidates.first().copied(),
        _ => {
            let first = (random & 0xffff_ffff) % count;
            let mut second = (random >> 32) % (count - 1);
            if second >= first {
                second += 1;
            }
            let a = *candidates.get(first as usize)?;
            let b = *candidates.get(second as usize)?;
            let (sa, sb) = (&states[a], &states[b]);
            let load_a = u64::from(sa.outstanding) * u64::from(sb.options.weight);
            let load_b = u64::from(sb.outstanding) * u64::from(sa.options.weight);
            Some(if load_b < load_a { b } else { a })
        }
    }
}
