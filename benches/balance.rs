//! Cost of one pick per algorithm of `ingress_core::balance` (10 peers, weights 1–3).

use std::hint::black_box;
use std::time::Instant;

use criterion::{Criterion, criterion_group, criterion_main};
use ingress_core::balance::{Algorithm, Balancer, PeerOptions, PickContext};

fn group(algorithm: Algorithm) -> Balancer<String> {
    let peers = (0..10).map(|i| {
        (
            format!("10.0.0.{i}:80"),
            PeerOptions {
                weight: 1 + i % 3,
                ..PeerOptions::default()
            },
        )
    });
    match Balancer::new(algorithm, peers) {
        Ok(balancer) => balancer,
        Err(error) => panic!("bench group is valid: {error}"),
    }
}

fn picks(c: &mut Criterion) {
    let now = Instant::now();
    let algorithms = [
        ("round_robin", Algorithm::RoundRobin),
        ("least_conn", Algorithm::LeastConn),
        ("two_choices", Algorithm::PowerOfTwoChoices),
        ("consistent_hash", Algorithm::ConsistentHash),
    ];
    for (name, algorithm) in algorithms {
        let mut balancer = group(algorithm);
        let mut random = 0x9e37_79b9_7f4a_7c15u64;
        c.bench_function(&format!("pick/{name}"), |b| {
            b.iter(|| {
                random = random
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1);
                let key = random.to_le_bytes();
                let context = PickContext::at(now).with_random(random).with_hash_key(&key);
                let mut attempt = balancer.attempt();
                black_box(balancer.pick(&mut attempt, &context))
            })
        });
    }
}

criterion_group!(benches, picks);
criterion_main!(benches);
