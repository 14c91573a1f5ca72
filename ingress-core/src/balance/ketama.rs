//! Ketama consistent hashing as nginx's `hash $key consistent` builds it.
//!
//! Each primary peer gets `160 × weight` points. A peer named `host:port` starts from
//! `base = crc32(host ‖ 0x00 ‖ port)` and its successive points are
//! `crc32(base ‖ previous_point as little-endian u32)`, exactly as
//! `ngx_stream_upstream_init_chash` does, so the same server names give the same ring. A key
//! maps to the first point at or after `crc32(key)`, wrapping around.
//!
//! When that point's peer cannot be used the walk continues to the next point. nginx gives up
//! after 20 points and falls back to round-robin; this ring walks every point first, so a key
//! moves only when its peer is unavailable (the round-robin fallback remains for the case where
//! no primary on the ring can be used).

/// Points per unit of weight (nginx and libketama use 160).
const POINTS_PER_WEIGHT: u32 = 160;

/// The sorted ring; empty for algorithms other than consistent hashing.
#[derive(Debug, Clone, Default)]
pub(super) struct Ring {
    /// `(point, tie-break, peer index)`, sorted. The tie-break is the peer's base hash, so two
    /// peers colliding on a point order the same way whatever other peers exist.
    points: Vec<(u32, u32, usize)>,
}

impl Ring {
    /// Builds the ring from `(name, weight, on_ring)` per peer, in peer order.
    pub(super) fn build(peers: impl Iterator<Item = (String, u32, bool)>) -> Self {
        let mut points = Vec::new();
        for (index, (name, weight, on_ring)) in peers.enumerate() {
            if !on_ring {
                continue;
            }
            let base = base_hash(&name);
            let mut previous: u32 = 0;
            for _ in 0..weight.saturating_mul(POINTS_PER_WEIGHT) {
                let point = crc32_finish(crc32_update(base, &previous.to_le_bytes()));
                points.push((point, crc32_finish(base), index));
                previous = point;
            }
        }
        points.sort_unstable();
        Self { points }
    }

    /// The first peer at or after the key's point for which `usable` holds.
    pub(super) fn lookup(&self, key: &[u8], usable: impl Fn(usize) -> bool) -> Option<usize> {
        if self.points.is_empty() {
            return None;
        }
        let hash = crc32(key);
        let start = self.points.partition_point(|(point, _, _)| *point < hash);
        let (after, before) = self.points.split_at(start);
        before
            .iter()
            .chain(after)
            .map(|(_, _, index)| *index)
            .find(|index| usable(*index))
    }
}

/// nginx splits `host:port` at the last colon (`unix:` paths have no port).
fn base_hash(name: &str) -> u32 {
    let (host, port) = match name.strip_prefix("unix:") {
        Some(path) => (path, ""),
        None => name.rsplit_once(':').unwrap_or((name, "")),
    };
    let crc = crc32_update(CRC_INIT, host.as_bytes());
    let crc = crc32_update(crc, &[0]);
    crc32_update(crc, port.as_bytes())
}

const CRC_INIT: u32 = 0xffff_ffff;

/// The IEEE CRC-32 table (reflected polynomial 0xEDB88320), as nginx's `ngx_crc32_table256`.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

fn crc32_update(mut crc: u32, bytes: &[u8]) -> u32 {
    for &byte in bytes {
        crc = CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8);
    }
    crc
}

fn crc32_finish(crc: u32) -> u32 {
    crc ^ 0xffff_ffff
}

/// CRC-32 of `bytes` (nginx `ngx_crc32_long`).
pub(super) fn crc32(bytes: &[u8]) -> u32 {
    crc32_finish(crc32_update(CRC_INIT, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_ieee_check_value() {
        assert_eq!(crc32(b"123456789"), 0xcbf4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn ring_has_160_points_per_weight_unit_for_primaries_only() {
        let ring = Ring::build(
            [
                ("a:1".to_string(), 2, true),
                ("b:1".to_string(), 1, true),
                ("c:1".to_string(), 5, false),
            ]
            .into_iter(),
        );
        assert_eq!(ring.points.len(), 480);
        assert_eq!(
            ring.points
                .iter()
                .filter(|(_, _, index)| *index == 0)
                .count(),
            320
        );
        assert!(ring.points.iter().all(|(_, _, index)| *index != 2));
    }

    #[test]
    fn unusable_peer_passes_the_key_to_the_next_point() {
        let ring = Ring::build((0..4).map(|i| (format!("10.0.0.{i}:80"), 1, true)));
        for key in 0..200u32 {
            let key = key.to_string();
            let first = ring.lookup(key.as_bytes(), |_| true);
            let Some(first) = first else {
                panic!("ring is not empty")
            };
            let next = ring.lookup(key.as_bytes(), |index| index != first);
            assert!(next.is_some_and(|next| next != first));
        }
        assert_eq!(ring.lookup(b"k", |_| false), None);
    }
}
