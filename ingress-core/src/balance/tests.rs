//! Behaviour tests of [`Balancer`] across algorithms, and property tests.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::*;

fn options(weight: u32) -> PeerOptions {
    PeerOptions {
        weight,
        ..PeerOptions::default()
    }
}

fn group(algorithm: Algorithm, peers: &[(&'static str, PeerOptions)]) -> Balancer<&'static str> {
    match Balancer::new(algorithm, peers.iter().cloned()) {
        Ok(balancer) => balancer,
        Err(error) => panic!("test group is valid: {error}"),
    }
}

/// One fresh attempt per pick, as for independent client connections.
fn picks(balancer: &mut Balancer<&'static str>, count: usize, now: Instant) -> Vec<&'static str> {
    (0..count)
        .filter_map(|_| {
            let mut attempt = balancer.attempt();
            balancer
                .pick(&mut attempt, &PickContext::at(now))
                .map(|id| *balancer.peer(id))
        })
        .collect()
}

#[test]
fn round_robin_sequences_match_nginx() {
    type Case = (&'static str, &'static [(&'static str, u32)], &'static str);
    let cases: &[Case] = &[
        ("equal_weights_alternate", &[("a", 1), ("b", 1)], "abab"),
        (
            "nginx_5_1_1_is_smooth",
            &[("a", 5), ("b", 1), ("c", 1)],
            "aabacaa",
        ),
        (
            "tutorial_5_5_alternates",
            &[("a", 5), ("b", 5)],
            "abababababab",
        ),
        ("heavy_peer_first_on_tie", &[("a", 2), ("b", 1)], "abaaba"),
    ];
    let now = Instant::now();
    for (name, weights, want) in cases {
        let peers: Vec<_> = weights.iter().map(|(n, w)| (*n, options(*w))).collect();
        let mut balancer = group(Algorithm::RoundRobin, &peers);
        let got: String = picks(&mut balancer, want.len(), now).concat();
        assert_eq!(&got, want, "{name}");
    }
}

#[test]
fn unavailable_peers_are_skipped_by_every_algorithm() {
    let now = Instant::now();
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::LeastConn,
        Algorithm::PowerOfTwoChoices,
        Algorithm::ConsistentHash,
    ] {
        let down = PeerOptions {
            down: true,
            ..options(1)
        };
        let mut balancer = group(
            algorithm,
            &[
                ("down", down),
                ("ejected", options(1)),
                ("unreachable", options(1)),
                ("ok", options(1)),
            ],
        );
        balancer.report_failure(PeerId(1), now);
        balancer.set_reachable(PeerId(2), false);
        for random in 0..64u64 {
            let key = random.to_string();
            let context = PickContext::at(now)
                .with_random(random.wrapping_mul(0x9e37_79b9_7f4a_7c15))
                .with_hash_key(key.as_bytes());
            let mut attempt = balancer.attempt();
            let id = balancer.pick(&mut attempt, &context);
            assert_eq!(id.map(|id| *balancer.peer(id)), Some("ok"), "{algorithm:?}");
            assert_eq!(
                balancer.pick(&mut attempt, &context),
                None,
                "{algorithm:?}: only one usable peer"
            );
        }
    }
}

#[test]
fn backups_only_when_every_primary_is_unavailable() {
    let now = Instant::now();
    for algorithm in [
        Algorithm::RoundRobin,
        Algorithm::LeastConn,
        Algorithm::PowerOfTwoChoices,
        Algorithm::ConsistentHash,
    ] {
        let backup = PeerOptions {
            backup: true,
            ..options(10)
        };
        let mut balancer = group(
            algorithm,
            &[("p1", options(1)), ("p2", options(1)), ("b", backup)],
        );
        let got = picks(&mut balancer, 20, now);
        assert!(got.iter().all(|p| *p != "b"), "{algorithm:?}: {got:?}");
        balancer.report_failure(PeerId(0), now);
        assert!(
            picks(&mut balancer, 20, now).iter().all(|p| *p == "p2"),
            "{algorithm:?}"
        );
        balancer.report_failure(PeerId(1), now);
        assert!(
            picks(&mut balancer, 20, now).iter().all(|p| *p == "b"),
            "{algorithm:?}"
        );
        // Readmitted after fail_timeout: the probe goes to a primary again.
        let later = now + DEFAULT_FAIL_TIMEOUT + Duration::from_secs(1);
        assert_ne!(picks(&mut balancer, 1, later), ["b"], "{algorithm:?}");
    }
}

#[test]
fn retry_walks_every_peer_once_then_gives_up() {
    let now = Instant::now();
    let backup = PeerOptions {
        backup: true,
        ..options(1)
    };
    let mut balancer = group(
        Algorithm::RoundRobin,
        &[("a", options(3)), ("b", options(1)), ("c", backup)],
    );
    let mut attempt = balancer.attempt();
    let mut seen = Vec::new();
    while let Some(id) = balancer.pick(&mut attempt, &PickContext::at(now)) {
        seen.push(*balancer.peer(id));
        balancer.report_failure(id, now);
    }
    assert_eq!(seen, ["a", "b", "c"]);
    assert_eq!(attempt.tried(), 3);
}

#[test]
fn single_peer_ignores_max_fails_like_nginx() {
    let now = Instant::now();
    let mut balancer = group(Algorithm::RoundRobin, &[("only", options(1))]);
    assert!(!balancer.report_failure(PeerId(0), now));
    assert_eq!(picks(&mut balancer, 1, now), ["only"]);
}

#[test]
fn zero_weight_is_rejected_with_its_position() {
    let result = Balancer::new(
        Algorithm::RoundRobin,
        [("a", options(1)), ("b", options(0))],
    );
    assert_eq!(result.err(), Some(BuildError::ZeroWeight { index: 1 }));
}

#[test]
fn least_conn_prefers_fewest_connections_per_weight() {
    let now = Instant::now();
    let mut balancer = group(
        Algorithm::LeastConn,
        &[("a", options(1)), ("b", options(2))],
    );
    // a: 1 conn / weight 1 = 1; b: 1 conn / weight 2 = 0.5 -> b.
    balancer.begin(PeerId(0));
    balancer.begin(PeerId(1));
    assert_eq!(picks(&mut balancer, 1, now), ["b"]);
    balancer.begin(PeerId(1));
    // a: 1, b: 2/2 = 1 -> tie, broken by weighted round-robin (b is heavier, first).
    assert_eq!(picks(&mut balancer, 3, now), ["b", "a", "b"]);
    balancer.end(PeerId(0));
    assert_eq!(picks(&mut balancer, 1, now), ["a"]);
}

#[test]
fn two_choices_picks_the_less_loaded_of_the_two_drawn() {
    let now = Instant::now();
    let mut balancer = group(
        Algorithm::PowerOfTwoChoices,
        &[("a", options(1)), ("b", options(1)), ("c", options(1))],
    );
    for _ in 0..5 {
        balancer.begin(PeerId(0));
    }
    balancer.begin(PeerId(2));
    // random low word 0 draws index 0 ("a"); high word 0 draws the first other ("b").
    let mut attempt = balancer.attempt();
    let id = balancer.pick(&mut attempt, &PickContext::at(now).with_random(0));
    assert_eq!(id.map(|id| *balancer.peer(id)), Some("b"));
    // low 2 ("c", 1 conn) against high 0 ("a", 5 conns).
    let mut attempt = balancer.attempt();
    let id = balancer.pick(&mut attempt, &PickContext::at(now).with_random(2));
    assert_eq!(id.map(|id| *balancer.peer(id)), Some("c"));
}

#[test]
fn consistent_hash_is_stable_per_key() {
    let now = Instant::now();
    let peers: Vec<_> = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]
        .map(|p| (p, options(1)))
        .into();
    let mut balancer = group(Algorithm::ConsistentHash, &peers);
    let mut per_peer: HashMap<&str, usize> = HashMap::new();
    for i in 0..300 {
        let key = format!("192.0.2.{i}");
        let context = PickContext::at(now).with_hash_key(key.as_bytes());
        let mut first = balancer.attempt();
        let a = balancer.pick(&mut first, &context);
        let mut second = balancer.attempt();
        let b = balancer.pick(&mut second, &context);
        assert_eq!(a, b, "key {key}");
        if let Some(a) = a {
            *per_peer.entry(*balancer.peer(a)).or_default() += 1;
        }
    }
    // Every peer receives keys: 160 points each spread the ring.
    assert_eq!(per_peer.len(), 3, "{per_peer:?}");
    assert!(per_peer.values().all(|&n| n > 50), "{per_peer:?}");
}

fn names(count: usize) -> Vec<String> {
    (0..count)
        .map(|i| format!("10.1.{}.{}:8080", i / 250, i % 250))
        .collect()
}

fn hash_map_keys(peers: &[String], keys: &[String]) -> Vec<Option<String>> {
    let now = Instant::now();
    let Ok(mut balancer) = Balancer::new(
        Algorithm::ConsistentHash,
        peers.iter().map(|p| (p.clone(), options(1))),
    ) else {
        panic!("valid group")
    };
    keys.iter()
        .map(|key| {
            let mut attempt = balancer.attempt();
            let context = PickContext::at(now).with_hash_key(key.as_bytes());
            balancer
                .pick(&mut attempt, &context)
                .map(|id| balancer.peer(id).clone())
        })
        .collect()
}

/// Persistent affinity: the preferred peer while it can serve, else the algorithm's choice,
/// never a peer already tried.
#[test]
fn a_preferred_peer_is_kept_while_usable() {
    let now = Instant::now();
    let mut balancer = group(
        Algorithm::RoundRobin,
        &[("a", options(1)), ("b", options(1)), ("c", options(1))],
    );
    let c = PeerId(2);
    for _ in 0..3 {
        let mut attempt = balancer.attempt();
        let picked = balancer.pick_preferred(&mut attempt, c, &PickContext::at(now));
        assert_eq!(picked, Some(c));
        // A retry within the same attempt moves on.
        let retry = balancer.pick_preferred(&mut attempt, c, &PickContext::at(now));
        assert!(retry.is_some() && retry != Some(c));
    }
    // Ejected by passive health: another peer serves.
    assert!(balancer.report_failure(c, now));
    let mut attempt = balancer.attempt();
    let picked = balancer.pick_preferred(&mut attempt, c, &PickContext::at(now));
    assert!(picked.is_some() && picked != Some(c));
}

proptest! {
    /// nginx's smoothness property: from a fresh state, every block of sum(weights) picks holds
    /// each peer exactly `weight` times.
    #[test]
    fn swrr_each_cycle_matches_weights_exactly(weights in prop::collection::vec(1u32..8, 1..8), cycles in 1usize..4) {
        let now = Instant::now();
        let Ok(mut balancer) = Balancer::new(Algorithm::RoundRobin, weights.iter().enumerate().map(|(i, w)| (i, options(*w)))) else {
            panic!("weights are positive")
        };
        let total: u32 = weights.iter().sum();
        for _ in 0..cycles {
            let mut counts = vec![0u32; weights.len()];
            for _ in 0..total {
                let mut attempt = balancer.attempt();
                let Some(id) = balancer.pick(&mut attempt, &PickContext::at(now)) else { panic!("a peer is available") };
                counts[id.index()] += 1;
            }
            prop_assert_eq!(&counts, &weights);
        }
    }

    /// Ejected (and down) peers are never chosen, whatever the algorithm and inputs.
    #[test]
    fn ejected_peers_are_never_picked(
        ejected in prop::collection::vec(any::<bool>(), 2..10),
        algorithm in prop::sample::select(vec![Algorithm::RoundRobin, Algorithm::LeastConn, Algorithm::PowerOfTwoChoices, Algorithm::ConsistentHash]),
        randoms in prop::collection::vec(any::<u64>(), 1..40),
    ) {
        let now = Instant::now();
        let Ok(mut balancer) = Balancer::new(algorithm, ejected.iter().enumerate().map(|(i, _)| (i, options(1 + i as u32 % 3)))) else {
            panic!("weights are positive")
        };
        for (i, out) in ejected.iter().enumerate() {
            if *out {
                balancer.report_failure(PeerId(i), now);
            }
        }
        for random in randoms {
            let key = random.to_string();
            let context = PickContext::at(now + Duration::from_secs(5)).with_random(random).with_hash_key(key.as_bytes());
            let mut attempt = balancer.attempt();
            let picked = balancer.pick(&mut attempt, &context);
            match picked {
                Some(id) => {
                    prop_assert!(!ejected[id.index()]);
                    balancer.begin(id);
                }
                None => prop_assert!(ejected.iter().all(|e| *e)),
            }
        }
    }

    /// Removing one peer moves only the keys that were on it, about 1/n of all keys.
    #[test]
    fn hash_removal_remaps_only_the_removed_peers_keys(count in 3usize..12, removed in any::<prop::sample::Index>()) {
        let peers = names(count);
        let removed = removed.index(count);
        let keys: Vec<String> = (0..2000).map(|i| format!("198.51.{}.{}", i / 256, i % 256)).collect();
        let before = hash_map_keys(&peers, &keys);
        let mut fewer = peers.clone();
        let gone = fewer.remove(removed);
        let after = hash_map_keys(&fewer, &keys);
        let mut moved = 0usize;
        for (old, new) in before.iter().zip(&after) {
            if old.as_deref() == Some(gone.as_str()) {
                moved += 1;
            } else {
                prop_assert_eq!(old, new);
            }
        }
        let share = moved as f64 / keys.len() as f64;
        let expected = 1.0 / count as f64;
        prop_assert!((share - expected).abs() < expected * 0.6 + 0.02, "moved {share}, expected about {expected}");
    }
}
