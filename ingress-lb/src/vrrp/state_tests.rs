use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::*;
use crate::vrrp::packet::{Advertisement, Authentication, Ipv4Header, VRRP_MULTICAST, Version};

const OWN: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);
const PEER_LOW: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
const PEER_HIGH: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 3);
const VIP: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 100);

fn config(priority: u8) -> RouterConfig {
    RouterConfig {
        virtual_router_id: 50,
        version: Version::V3,
        priority,
        interval_centis: 100,
        preempt: true,
        preempt_delay: Duration::ZERO,
        track_weight: 0,
        primary_address: OWN,
        virtual_addresses: vec![VIP],
        authentication: Authentication::None,
    }
}

fn advert(priority: u8) -> Advertisement {
    Advertisement {
        version: Version::V3,
        virtual_router_id: 50,
        priority,
        interval_centis: 100,
        addresses: vec![VIP],
        authentication: Authentication::None,
    }
}

fn from(source: Ipv4Addr) -> Ipv4Header {
    Ipv4Header {
        source,
        destination: VRRP_MULTICAST,
        ttl: 255,
        protocol: 112,
    }
}

fn drain(router: &mut Router) -> Vec<Action> {
    std::iter::from_fn(|| router.poll_action()).collect()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Priority 100, 1 s interval: 3 s + (256 − 100) × 1000 ms / 256 = 3609 ms.
const DOWN_100: u64 = 3609;

fn started_backup(priority: u8, t0: Instant) -> Router {
    let mut router = Router::new(config(priority));
    router.startup(t0);
    drain(&mut router);
    router
}

fn started_master(priority: u8, t0: Instant) -> Router {
    let mut router = started_backup(priority, t0);
    let at = router
        .poll_timeout()
        .expect("backup has a master-down timer");
    router.handle_timeout(at);
    drain(&mut router);
    assert_eq!(router.state(), State::Master);
    router
}

#[test]
fn backup_takes_over_exactly_at_master_down_interval() {
    let t0 = Instant::now();
    let mut router = Router::new(config(100));
    router.startup(t0);
    assert_eq!(
        drain(&mut router),
        vec![Action::Transition {
            from: State::Initialize,
            to: State::Backup
        }]
    );
    assert_eq!(router.poll_timeout(), Some(t0 + ms(DOWN_100)));
    router.handle_timeout(t0 + ms(DOWN_100 - 1));
    assert_eq!(router.state(), State::Backup);
    router.handle_timeout(t0 + ms(DOWN_100));
    assert_eq!(
        drain(&mut router),
        vec![
            Action::Transition {
                from: State::Backup,
                to: State::Master
            },
            Action::AddVirtualAddresses,
            Action::SendAdvert { priority: 100 },
            Action::GratuitousArp,
        ]
    );
}

#[test]
fn address_owner_starts_as_master() {
    let t0 = Instant::now();
    let mut router = Router::new(config(255));
    router.startup(t0);
    assert_eq!(router.state(), State::Master);
    assert!(drain(&mut router).contains(&Action::SendAdvert { priority: 255 }));
}

#[test]
fn master_advertises_every_interval_and_repeats_garp_after_five_seconds() {
    let t0 = Instant::now();
    let mut router = started_master(100, t0);
    let became = t0 + ms(DOWN_100);
    assert_eq!(router.poll_timeout(), Some(became + ms(1000)));
    router.handle_timeout(became + ms(1000));
    assert_eq!(
        drain(&mut router),
        vec![Action::SendAdvert { priority: 100 }]
    );
    for second in 2..=5 {
        router.handle_timeout(became + ms(1000 * second));
    }
    let actions = drain(&mut router);
    assert_eq!(
        actions
            .iter()
            .filter(|a| **a == Action::GratuitousArp)
            .count(),
        1
    );
    assert_eq!(
        actions
            .iter()
            .filter(|a| matches!(a, Action::SendAdvert { .. }))
            .count(),
        4
    );
}

#[test]
fn backup_follows_higher_or_equal_priority_master() {
    let t0 = Instant::now();
    let mut router = started_backup(100, t0);
    for (i, priority) in [150u8, 100].into_iter().enumerate() {
        let at = t0 + ms(3000 * (i as u64 + 1));
        router
            .handle_advert(at, &from(PEER_HIGH), &advert(priority))
            .expect("accepted");
        assert_eq!(
            router.poll_timeout(),
            Some(at + ms(DOWN_100)),
            "after priority {priority}"
        );
    }
    assert_eq!(router.state(), State::Backup);
}

#[test]
fn backup_preempts_lower_priority_master_by_letting_its_timer_run_out() {
    let t0 = Instant::now();
    let mut router = started_backup(100, t0);
    router
        .handle_advert(t0 + ms(1000), &from(PEER_HIGH), &advert(90))
        .expect("accepted");
    assert_eq!(
        router.poll_timeout(),
        Some(t0 + ms(DOWN_100)),
        "timer not reset"
    );
    router.handle_timeout(t0 + ms(DOWN_100));
    assert_eq!(router.state(), State::Master);
}

#[test]
fn nopreempt_backup_keeps_following_lower_priority_master() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig {
        preempt: false,
        ..config(100)
    });
    router.startup(t0);
    router
        .handle_advert(t0 + ms(1000), &from(PEER_HIGH), &advert(90))
        .expect("accepted");
    assert_eq!(router.poll_timeout(), Some(t0 + ms(1000 + DOWN_100)));
}

#[test]
fn preempt_delay_holds_off_preemption_until_it_passes() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig {
        preempt_delay: Duration::from_secs(10),
        ..config(100)
    });
    router.startup(t0);
    router
        .handle_advert(t0 + ms(9000), &from(PEER_HIGH), &advert(90))
        .expect("accepted");
    assert_eq!(
        router.poll_timeout(),
        Some(t0 + ms(9000 + DOWN_100)),
        "held off"
    );
    router
        .handle_advert(t0 + ms(10_000), &from(PEER_HIGH), &advert(90))
        .expect("accepted");
    assert_eq!(
        router.poll_timeout(),
        Some(t0 + ms(9000 + DOWN_100)),
        "now preempting"
    );
}

#[test]
fn master_yields_to_higher_priority_and_ignores_lower() {
    let t0 = Instant::now();
    let mut router = started_master(100, t0);
    let at = t0 + ms(5000);
    router
        .handle_advert(at, &from(PEER_HIGH), &advert(99))
        .expect("accepted");
    assert_eq!(router.state(), State::Master);
    router
        .handle_advert(at, &from(PEER_LOW), &advert(101))
        .expect("accepted");
    assert_eq!(
        drain(&mut router),
        vec![
            Action::RemoveVirtualAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Backup
            },
        ]
    );
    assert_eq!(router.poll_timeout(), Some(at + ms(DOWN_100)));
}

#[test]
fn equal_priority_tie_goes_to_the_higher_primary_address() {
    let t0 = Instant::now();
    let mut router = started_master(100, t0);
    router
        .handle_advert(t0 + ms(5000), &from(PEER_LOW), &advert(100))
        .expect("accepted");
    assert_eq!(router.state(), State::Master, "10.231.0.1 < own 10.231.0.2");
    router
        .handle_advert(t0 + ms(5000), &from(PEER_HIGH), &advert(100))
        .expect("accepted");
    assert_eq!(router.state(), State::Backup, "10.231.0.3 > own 10.231.0.2");
}

#[test]
fn priority_zero_makes_backup_take_over_after_skew_and_master_answer_at_once() {
    let t0 = Instant::now();
    let mut backup = started_backup(100, t0);
    backup
        .handle_advert(t0 + ms(1000), &from(PEER_HIGH), &advert(0))
        .expect("accepted");
    assert_eq!(backup.poll_timeout(), Some(t0 + ms(1000 + 609)));
    let mut master = started_master(100, t0);
    master
        .handle_advert(t0 + ms(4000), &from(PEER_HIGH), &advert(0))
        .expect("accepted");
    assert_eq!(
        drain(&mut master),
        vec![Action::SendAdvert { priority: 100 }]
    );
}

#[test]
fn shutdown_of_master_sends_priority_zero_and_removes_addresses() {
    let t0 = Instant::now();
    let mut router = started_master(100, t0);
    router.shutdown(t0 + ms(5000));
    assert_eq!(
        drain(&mut router),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVirtualAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Initialize
            },
        ]
    );
    assert_eq!(router.poll_timeout(), None);
}

#[test]
fn unhealthy_without_weight_is_fault_and_recovers_to_backup() {
    let t0 = Instant::now();
    let mut router = started_master(100, t0);
    router.set_health(t0 + ms(5000), false);
    assert_eq!(
        drain(&mut router),
        vec![
            Action::SendAdvert { priority: 0 },
            Action::RemoveVirtualAddresses,
            Action::Transition {
                from: State::Master,
                to: State::Fault
            },
        ]
    );
    assert_eq!(router.poll_timeout(), None);
    router
        .handle_advert(t0 + ms(5500), &from(PEER_LOW), &advert(50))
        .expect("accepted");
    assert_eq!(
        router.state(),
        State::Fault,
        "a faulty router never takes over"
    );
    router.set_health(t0 + ms(6000), true);
    assert_eq!(router.state(), State::Backup);
    assert_eq!(router.poll_timeout(), Some(t0 + ms(6000 + DOWN_100)));
}

#[test]
fn unhealthy_with_negative_weight_lowers_priority_and_advertises_at_once() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig {
        track_weight: -20,
        ..config(100)
    });
    router.startup(t0);
    router.handle_timeout(t0 + ms(DOWN_100));
    drain(&mut router);
    router.set_health(t0 + ms(5000), false);
    assert_eq!(router.effective_priority(), 80);
    assert_eq!(
        drain(&mut router),
        vec![Action::SendAdvert { priority: 80 }]
    );
    router
        .handle_advert(t0 + ms(5001), &from(PEER_LOW), &advert(90))
        .expect("accepted");
    assert_eq!(router.state(), State::Backup, "the peer at 90 now wins");
}

#[test]
fn positive_weight_raises_priority_while_healthy_and_clamps() {
    let router = Router::new(RouterConfig {
        track_weight: 200,
        ..config(100)
    });
    assert_eq!(router.effective_priority(), 254);
    let mut router = Router::new(RouterConfig {
        track_weight: -200,
        ..config(100)
    });
    router.set_health(Instant::now(), false);
    assert_eq!(router.effective_priority(), 1);
}

#[test]
fn discards_packets_failing_the_receive_checks() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig {
        version: Version::V2,
        authentication: Authentication::password("1111"),
        ..config(100)
    });
    router.startup(t0);
    let good = Advertisement {
        version: Version::V2,
        authentication: Authentication::password("1111"),
        ..advert(150)
    };
    let cases = [
        (
            Ipv4Header {
                ttl: 64,
                ..from(PEER_HIGH)
            },
            good.clone(),
            Discard::Ttl(64),
        ),
        (from(OWN), good.clone(), Discard::Own),
        (
            from(PEER_HIGH),
            Advertisement {
                virtual_router_id: 51,
                ..good.clone()
            },
            Discard::VirtualRouterId(51),
        ),
        (
            from(PEER_HIGH),
            Advertisement {
                version: Version::V3,
                ..good.clone()
            },
            Discard::Version(Version::V3),
        ),
        (
            from(PEER_HIGH),
            Advertisement {
                authentication: Authentication::password("2222"),
                ..good.clone()
            },
            Discard::Authentication,
        ),
        (
            from(PEER_HIGH),
            Advertisement {
                interval_centis: 200,
                ..good.clone()
            },
            Discard::Interval(200),
        ),
    ];
    for (header, packet, expected) in cases {
        assert_eq!(router.handle_advert(t0, &header, &packet), Err(expected));
    }
    assert_eq!(
        router.poll_timeout(),
        Some(t0 + ms(DOWN_100)),
        "no discarded packet reset the timer"
    );
    assert_eq!(
        router.handle_advert(t0 + ms(1), &from(PEER_HIGH), &good),
        Ok(())
    );
    assert_eq!(router.poll_timeout(), Some(t0 + ms(1 + DOWN_100)));
}

#[test]
fn version_2_skew_uses_whole_seconds() {
    let t0 = Instant::now();
    let mut router = Router::new(RouterConfig {
        version: Version::V2,
        interval_centis: 300,
        ..config(100)
    });
    router.startup(t0);
    // RFC 3768: 3 × 3 s + (256 − 100) / 256 s.
    assert_eq!(router.poll_timeout(), Some(t0 + ms(9000 + 609)));
}

#[test]
fn unhealthy_at_startup_without_weight_starts_in_fault_and_stays_silent() {
    let t0 = Instant::now();
    let mut router = Router::new(config(100));
    router.set_health(t0, false);
    router.startup(t0);
    assert_eq!(
        drain(&mut router),
        vec![Action::Transition {
            from: State::Initialize,
            to: State::Fault
        }]
    );
    assert_eq!(router.poll_timeout(), None);
    router.handle_timeout(t0 + ms(60_000));
    assert_eq!(router.state(), State::Fault);
    assert!(drain(&mut router).is_empty(), "no advert, no address");
}
