//! The limiter's state: burst, connections, the allow list, and the memory bound under a flood
//! of distinct client addresses.

use super::*;
use prometheus_client::metrics::counter::Counter;

fn policy(rps: u32, multiplier: u32, connections: Option<u32>) -> LimitPolicy {
    LimitPolicy {
        zone: Arc::from("default/limited"),
        rps: RequestRate::per_second(rps, multiplier),
        rpm: None,
        connections,
        allowlist: ingress_core::CidrList::default(),
    }
}

fn client(n: u32) -> IpAddr {
    IpAddr::from(n.to_be_bytes())
}

#[test]
fn a_client_gets_its_burst_plus_one_then_is_refused_and_others_are_not_affected() {
    let limiter = Arc::new(Limiter::new(Counter::default()));
    let policy = policy(1, 5, None);
    let admitted = (0..20)
        .filter(|_| limiter.check(&policy, client(1)).is_ok())
        .count();
    assert_eq!(
        admitted, 6,
        "limit-rps 1 x limit-burst-multiplier 5: 5 + 1 at once"
    );
    assert_eq!(
        limiter.check(&policy, client(1)).err(),
        Some(Exceeded::Rate)
    );
    assert!(limiter.check(&policy, client(2)).is_ok());
    // Another Ingress's zone counts separately.
    let other = LimitPolicy {
        zone: Arc::from("default/other"),
        ..policy.clone()
    };
    assert!(limiter.check(&other, client(1)).is_ok());
}

#[test]
fn connections_are_counted_while_held_and_released_on_drop() {
    let limiter = Arc::new(Limiter::new(Counter::default()));
    let policy = policy(0, 5, Some(2));
    let first = limiter.check(&policy, client(1)).expect("first");
    let second = limiter.check(&policy, client(1)).expect("second");
    assert!(first.is_some() && second.is_some());
    assert_eq!(
        limiter.check(&policy, client(1)).err(),
        Some(Exceeded::Connections)
    );
    assert!(limiter.check(&policy, client(2)).is_ok(), "per client");
    drop(first);
    let third = limiter
        .check(&policy, client(1))
        .expect("a slot was released");
    drop((second, third));
    assert!(
        lock(&limiter.connections).is_empty(),
        "no entry outlives its requests"
    );
}

#[test]
fn allow_listed_clients_are_never_limited() {
    let limiter = Arc::new(Limiter::new(Counter::default()));
    let policy = LimitPolicy {
        allowlist: ingress_core::CidrList::parse("10.0.0.0/8").expect("cidr"),
        ..policy(1, 1, Some(1))
    };
    let inside: IpAddr = "10.1.2.3".parse().expect("ip");
    let mut held = Vec::new();
    for _ in 0..50 {
        held.push(limiter.check(&policy, inside).expect("never limited"));
    }
    assert!(held.iter().all(Option::is_none), "and never counted");
}

#[test]
fn a_flood_of_distinct_clients_stays_within_the_bound_and_evictions_are_counted() {
    let evictions = Counter::default();
    let limiter = Arc::new(Limiter::new(evictions.clone()));
    // A long interval: no bucket drains during the test, so only eviction can make room.
    let policy = LimitPolicy {
        rps: None,
        rpm: RequestRate::per_minute(1, 1),
        ..policy(0, 1, None)
    };
    let clients = u32::try_from(CAPACITY * 3).expect("fits");
    for n in 0..clients {
        assert!(
            limiter.check(&policy, client(n)).is_ok(),
            "a new client is admitted"
        );
    }
    let tracked = limiter.tracked();
    assert!(tracked <= CAPACITY, "{tracked} entries > {CAPACITY}");
    // Each shard is between full and full less the eighth evicted at once.
    assert!(tracked >= CAPACITY / 8 * 7, "the bound is used: {tracked}");
    assert_eq!(evictions.get(), u64::from(clients) - tracked as u64);
    // The memory bound is the tables' size, not only their entries: no table grew past the
    // 2048 buckets that hold PER_SHARD entries (removals must not make one reallocate).
    assert!(
        limiter.largest_table() <= PER_SHARD,
        "a table grew to {} entries",
        limiter.largest_table()
    );
    // The most recent client is still limited.
    assert!(limiter.check(&policy, client(clients - 1)).is_ok());
    assert_eq!(
        limiter.check(&policy, client(clients - 1)).err(),
        Some(Exceeded::Rate)
    );
}
